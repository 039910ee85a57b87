"""Remote sources: partners' feeds served by a real HTTP server on loopback.

The upstream server below serves the fixture feeds of tests/data/upstream/ with
conditional GET, and misbehaves on demand: a body over the limit (declared or
chunked), a trickle slower than the timeout, a stall before the headers, 503 with
Retry-After, a redirect loop, an HTML page. Timeouts are tiny (0.5 s) so the whole
file stays fast.
"""

from __future__ import annotations

import html
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from feeds.building.build import render_documents
from scheduler import Service
from feedpub.settings import load_config
from sources.errors import ConfigError
from sources.model import Status
from sources.remote import (
    RemoteSource,
    next_attempt,
    parse_feed,
    poll_source,
    retry_after,
)
from feedpub.status import collect_status, format_status

from .conftest import DATA, INGEST_TIME, SAMPLE, latest_published, store_dump, write_article
from .harness import wait_for

UPSTREAM = DATA / "upstream"
NOW = INGEST_TIME            # 2024-09-18 14:30 in Jakarta
SECRET = "RAHASIA-DAPUR-7319"
NS = {"a": "http://www.w3.org/2005/Atom"}
TIMEOUT = 0.5
LIMIT = 32 * 1024
HUGE = len((UPSTREAM / "huge.xml").read_bytes())   # 42 KB

Route = Callable[[BaseHTTPRequestHandler], None]


class Upstream:
    """A partner's web server: routes by path, every request recorded with its headers."""

    def __init__(self, secret_path: Path):
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.secret_path = secret_path
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                upstream.requests.append((self.path, dict(self.headers)))
                route = upstream.routes.get(self.path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                try:
                    route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass   # the client gave up, as it should

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, path: str) -> str:
        return self.base + path

    def seen(self, path: str) -> list[dict[str, str]]:
        return [headers for seen_path, headers in self.requests if seen_path == path]

    def body(self, name: str) -> bytes:
        return (UPSTREAM / name).read_bytes().replace(b"@SECRET_PATH@", str(self.secret_path).encode())

    def file(self, name: str, *, content_type: str = "application/rss+xml; charset=utf-8", etag: str | None = None,
             last_modified: str | None = None, chunked: bool = False) -> Route:
        def route(handler: BaseHTTPRequestHandler) -> None:
            fresh = ((etag and handler.headers.get("If-None-Match") == etag)
                     or (last_modified and handler.headers.get("If-Modified-Since") == last_modified))
            handler.send_response(304 if fresh else 200)
            if etag:
                handler.send_header("ETag", etag)
            if last_modified:
                handler.send_header("Last-Modified", last_modified)
            if fresh:
                handler.end_headers()
                return
            body = self.body(name)
            handler.send_header("Content-Type", content_type)
            if chunked:   # no Content-Length: only counting while reading finds the size
                handler.send_header("Transfer-Encoding", "chunked")
                handler.end_headers()
                for start in range(0, len(body), 4096):
                    part = body[start:start + 4096]
                    handler.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                handler.wfile.write(b"0\r\n\r\n")
                return
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        return route

    def trickle(self, name: str, delay: float = 0.05) -> Route:
        """A whole, honest Content-Length, then one byte every ``delay`` seconds."""
        def route(handler: BaseHTTPRequestHandler) -> None:
            body = self.body(name)
            handler.send_response(200)
            handler.send_header("Content-Type", "application/rss+xml")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            for byte in body:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(delay)
        return route

    @staticmethod
    def trickle_head(sent: dict[str, int], *, size: int = 400, delay: float = 0.02) -> Route:
        """A response head of ``size`` bytes, one every ``delay`` seconds (8 s in all by
        default); ``sent`` counts the bytes written, and ``sent["done"]`` is 1 once all were."""
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nX-Pad: "
        head += b"x" * (size - len(head) - 4) + b"\r\n\r\n"

        def route(handler: BaseHTTPRequestHandler) -> None:
            for byte in head:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                sent["bytes"] = sent.get("bytes", 0) + 1
                time.sleep(delay)
            sent["done"] = 1
        return route

    @staticmethod
    def stall(seconds: float) -> Route:
        def route(handler: BaseHTTPRequestHandler) -> None:
            time.sleep(seconds)
            handler.send_response(204)
            handler.end_headers()
        return route

    @staticmethod
    def status(code: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Route:
        def route(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(code)
            for key, value in (headers or {}).items():
                handler.send_header(key, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        return route

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    running = Upstream(secret)
    yield running
    running.close()


def partner(upstream: Upstream, path: str, name: str = "Mitra Sumsel", **options) -> RemoteSource:
    return RemoteSource(name=name, url=upstream.url(path), **{"timeout_seconds": TIMEOUT, "max_bytes": LIMIT,
                                                              **options})


def poll(store, settings, source: RemoteSource, now=NOW):
    return poll_source(store, source, now, settings=settings)


# --- the pure part -------------------------------------------------------------------------------


def test_every_fixture_format_parses_into_items():
    rss = parse_feed((UPSTREAM / "mitra.rss.xml").read_bytes(), url="https://mitra.example/feed.xml")
    assert (rss.format, rss.title, rss.language, len(rss.items)) == ("rss20", "Mitra Sumsel", "id", 3)
    kopi = rss.items[0]
    assert kopi.upstream_id == "mitra-1001" and kopi.title == "Harga Kopi Robusta & Arabika Naik di Pagar Alam"
    assert kopi.author == "Siti Rahma" and kopi.categories == ("Ekonomi",)
    assert 'href="https://mitra.example/grafik/kopi"' in kopi.content_html   # resolved against the feed
    assert kopi.image is not None and kopi.image.length == 48213
    atom = parse_feed((UPSTREAM / "kabar.atom.xml").read_bytes(), url="https://kabar.example/atom.xml")
    assert [item.title for item in atom.items] == ["Panen Padi Serentak di Muara Enim",
                                                    "Perbaikan Jalan Lintas Sumatera Rampung"]
    assert atom.items[1].published == atom.items[1].updated   # Atom's optional published: the update time
    assert atom.items[1].content_html.count("<p>") == 2       # type="text" becomes paragraphs
    feed = parse_feed((UPSTREAM / "warta.json").read_bytes(), url="https://warta.example/feed.json",
                      content_type="application/feed+json")
    assert feed.format == "json" and [item.upstream_id for item in feed.items] == ["https://warta.example/p/77", "78"]
    assert feed.items[0].author == "Dewi Lestari" and feed.items[1].title is None


def test_retry_after_and_backoff():
    assert retry_after("120", NOW) == timedelta(seconds=120)
    assert retry_after("Wed, 18 Sep 2024 07:32:00 GMT", NOW) == timedelta(minutes=2)   # NOW is 07:30 UTC
    assert retry_after("Wed, 18 Sep 2024 07:00:00 GMT", NOW) == timedelta(0)
    assert retry_after("soon", NOW) is None and retry_after(None, NOW) is None
    fifteen = timedelta(minutes=15)
    delays = [next_attempt(NOW, n, fifteen, transient=True) - NOW for n in (1, 2, 3, 20, 40)]
    assert delays == [timedelta(seconds=30), timedelta(minutes=1), timedelta(minutes=2), timedelta(hours=24),
                      timedelta(hours=24)]
    assert next_attempt(NOW, 1, fifteen, transient=False) - NOW == fifteen   # a broken document: not sooner
    assert next_attempt(NOW, 1, fifteen, transient=True, wait=timedelta(seconds=7)) - NOW == timedelta(seconds=7)
    assert next_attempt(NOW, 1, fifteen, transient=True, wait=timedelta(days=9)) - NOW == timedelta(hours=24)


# --- polling over HTTP ---------------------------------------------------------------------------


def test_validators_are_sent_and_a_304_changes_nothing(upstream, store, ingest_settings):
    modified = "Wed, 18 Sep 2024 04:00:00 GMT"
    upstream.routes["/mitra.xml"] = upstream.file("mitra.rss.xml", etag='"v1"', last_modified=modified)
    source = partner(upstream, "/mitra.xml")
    first = poll(store, ingest_settings, source)
    assert (first.outcome, first.status, first.created) == ("ok", 200, 3)
    state = store.source_state(source.url)
    assert (state.etag, state.last_modified, state.failures, state.last_error) == ('"v1"', modified, 0, None)
    revision, dump = store.revision(), store_dump(store)

    second = poll(store, ingest_settings, source, now=NOW + timedelta(minutes=15))
    assert (second.outcome, second.status) == ("not-modified", 304)
    sent = upstream.seen("/mitra.xml")
    assert "If-None-Match" not in sent[0] and "If-Modified-Since" not in sent[0]
    assert sent[1]["If-None-Match"] == '"v1"' and sent[1]["If-Modified-Since"] == modified
    assert all(re.match(r"feedpub/\S+ \(\+\S+; polling partner feeds\)", h["User-Agent"]) for h in sent)
    assert store.revision() == revision and store.count() == 3
    assert [line for line in store_dump(store) if "remote_sources" not in line] == \
           [line for line in dump if "remote_sources" not in line]
    state = store.source_state(source.url)
    assert state.last_poll == NOW + timedelta(minutes=15) and state.last_status == "304" and state.failures == 0


def test_items_become_articles_once_and_upstream_edits_update_them(upstream, store, ingest_settings):
    upstream.routes["/mitra.xml"] = upstream.file("mitra.rss.xml")   # no validators: every poll is a full one
    source = partner(upstream, "/mitra.xml")
    assert poll(store, ingest_settings, source).created == 3
    before = {a.upstream_id: a for a in latest_published(store, NOW, 50)}
    assert set(before) == {"mitra-1001", "mitra-1002", "mitra-1003"}
    kopi = before["mitra-1001"]
    assert kopi.id.startswith("tag:okes.example,2024-09-18:mitra-sumsel-") and kopi.via_name == "Mitra Sumsel"
    assert kopi.via_url == source.url and kopi.url == "https://mitra.example/ekonomi/harga-kopi-naik"

    again = poll(store, ingest_settings, source, now=NOW + timedelta(minutes=15))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)

    # Three hours later: 1001 edited (same date), 1002 under a new URL, 1003 under a new
    # guid at its old URL, 1004 new.
    upstream.routes["/mitra.xml"] = upstream.file("mitra-v2.rss.xml")
    later = NOW + timedelta(hours=3)
    edited = poll(store, ingest_settings, source, now=later)
    assert (edited.created, edited.updated, edited.unchanged, edited.skipped) == (1, 3, 0, 0)
    assert store.count() == 4
    new_kopi = store.find_upstream(source.url, "mitra-1001")
    assert new_kopi.id == kopi.id and new_kopi.title == "Harga Kopi Robusta Naik, Petani Pagar Alam Untung"
    assert new_kopi.updated == later > kopi.updated and new_kopi.published == kopi.published
    musi = store.find_upstream(source.url, "mitra-1002")
    assert musi.id == before["mitra-1002"].id and musi.url == "https://mitra.example/2024/09/jembatan-musi-iv"
    festival = store.find_upstream(source.url, "https://mitra.example/budaya/festival-sriwijaya")
    assert festival.id == before["mitra-1003"].id
    assert poll(store, ingest_settings, source, now=later + timedelta(minutes=15)).unchanged == 4


def test_an_item_that_is_already_another_article_or_was_deleted_here_is_left_alone(
        upstream, store, ingest, ingest_settings, tmp_path):
    ingest(write_article(tmp_path, "kopi.txt", "---\ntitle: Harga Kopi Naik\n"
                         "url: https://mitra.example/ekonomi/harga-kopi-naik\n---\n"
                         "PAGAR ALAM - OKES.NEWS - Harga kopi naik."))
    upstream.routes["/mitra.xml"] = upstream.file("mitra.rss.xml")
    source = partner(upstream, "/mitra.xml")
    first = poll(store, ingest_settings, source)
    assert (first.created, first.skipped) == (2, 1)
    assert any("the newsroom's own" in note for note in first.notes)
    musi = store.find_upstream(source.url, "mitra-1002")
    store.delete(musi.id, NOW)
    upstream.routes["/mitra.xml"] = upstream.file("mitra-v2.rss.xml")
    poll(store, ingest_settings, source, now=NOW + timedelta(hours=1))
    assert store.get(musi.id).status is Status.DELETED   # a partner's edit does not bring it back


def test_two_items_with_one_link_make_one_article(upstream, store, ingest_settings):
    items = "".join(f"<item><title>Berita {n}</title><link>https://mitra.example/sama</link>"
                    f'<guid isPermaLink="false">g-{n}</guid><description>Isi {n}.</description></item>' for n in (1, 2))
    body = f'<rss version="2.0"><channel><title>Mitra</title><link>https://mitra.example/</link>{items}</channel></rss>'
    upstream.routes["/dua.xml"] = Upstream.status(200, {"Content-Type": "application/rss+xml"}, body.encode())
    source = partner(upstream, "/dua.xml")
    first = poll(store, ingest_settings, source)
    assert (first.created, first.skipped) == (1, 1) and "also the link of item g-1" in first.notes[0]
    again = poll(store, ingest_settings, source, now=NOW + timedelta(minutes=15))
    assert (again.unchanged, again.updated, again.skipped) == (1, 0, 1) and store.count() == 1


def _loop(upstream: Upstream) -> Route:
    upstream.routes["/loop-b"] = upstream.status(302, {"Location": "/loop-c"})
    upstream.routes["/loop-c"] = upstream.status(301, {"Location": upstream.url("/bad")})
    return upstream.status(302, {"Location": "/loop-b"})


# case -> (route, message the error must match, most seconds the bad poll may take)
BROKEN: dict[str, tuple[Callable[[Upstream], Route], str, float]] = {
    "malformed": (lambda up: up.file("malformed.xml"), r"^not well-formed XML at line 8, column \d+: mismatched tag", 2),
    "billion-laughs": (lambda up: up.file("billion-laughs.xml"), r"^refused: the document has a DTD", 2),
    "external-entity": (lambda up: up.file("xxe.xml"), r"^refused: the document has a DTD", 2),
    "huge-declared": (lambda up: up.file("huge.xml"), rf"^the response is {HUGE} bytes, over the limit of {LIMIT}$", 2),
    "huge-chunked": (lambda up: up.file("huge.xml", chunked=True), rf"^the response is over the limit of {LIMIT}", 2),
    "slow-trickle": (lambda up: up.trickle("mitra.rss.xml"), r"^timed out after 0.5 s reading the response$",
                     TIMEOUT + 1),
    "stalled": (lambda up: Upstream.stall(3), r"^timed out after 0.5 s", TIMEOUT + 1),
    "503-retry-after": (lambda up: Upstream.status(503, {"Retry-After": "120"}), r"^the server answered 503", 2),
    "redirect-loop": (_loop, r"^redirect loop: \S+/bad -> \S+/loop-b -> \S+/loop-c -> \S+/bad$", 2),
    "html-page": (lambda up: Upstream.status(200, {"Content-Type": "text/html"}, b"<html><body><p>Login<br></body>"
                                                  b"</html>"), r"^not well-formed XML", 2),
    "gone": (lambda up: Upstream.status(410), r"^the server answered 410 Gone$", 2),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_or_hostile_source_is_refused_and_a_healthy_one_still_polls(
        case, upstream, store, ingest_settings, caplog):
    route, message, limit = BROKEN[case]
    upstream.routes["/bad"] = route(upstream)
    upstream.routes["/kabar.xml"] = upstream.file("kabar.atom.xml", content_type="application/atom+xml")
    bad, good = partner(upstream, "/bad", "Mitra Bermasalah"), partner(upstream, "/kabar.xml", "Kabar Muara Enim")
    with caplog.at_level(logging.WARNING, logger="feedpub.remote"):
        started = time.monotonic()
        failed = poll_source(store, bad, NOW, settings=ingest_settings)
        took = time.monotonic() - started
        healthy = poll_source(store, good, NOW, settings=ingest_settings)

    assert failed.outcome == "failed" and re.search(message, failed.error), failed.error
    assert took < limit, f"{case}: took {took:.2f} s"
    state = store.source_state(bad.url)
    assert state.failures == 1 and state.last_error == failed.error and state.next_poll == failed.next_poll > NOW
    assert any("Mitra Bermasalah" in r.getMessage() and failed.error in r.getMessage() for r in caplog.records)
    assert (healthy.outcome, healthy.created) == ("ok", 2)
    assert store.count() == 2 and all(a.via_name == "Kabar Muara Enim" for a in latest_published(store, NOW, 50))
    assert not any(SECRET in line or "lollol" in line for line in store_dump(store))

    if case == "503-retry-after":
        assert state.next_poll == NOW + timedelta(seconds=120) and state.last_status == "503"
        asked = len(upstream.seen("/bad"))
        waiting = poll(store, ingest_settings, bad, now=NOW + timedelta(seconds=60))
        assert waiting.outcome == "waiting" and len(upstream.seen("/bad")) == asked   # Retry-After honoured
        again = poll(store, ingest_settings, bad, now=NOW + timedelta(seconds=120))
        assert again.outcome == "failed" and len(upstream.seen("/bad")) == asked + 1
        assert store.source_state(bad.url).failures == 2
        upstream.routes["/bad"] = upstream.file("mitra.rss.xml")
        well = poll(store, ingest_settings, bad, now=NOW + timedelta(seconds=240))
        assert well.created == 3 and store.source_state(bad.url).failures == 0
        assert store.source_state(bad.url).next_poll is None and store.source_state(bad.url).last_error is None


@pytest.mark.parametrize("hops", [0, 2])
def test_a_response_head_trickled_byte_by_byte_times_out_at_the_sources_deadline(hops, upstream, store, ingest_settings):
    """requests' timeout bounds each read; the deadline bounds the whole exchange, redirect hops included."""
    sent: dict[str, int] = {}
    upstream.routes["/slow"] = Upstream.trickle_head(sent)
    first = "/slow"
    for hop in range(hops):
        upstream.routes[f"/hop-{hop}"] = Upstream.status(302, {"Location": first})
        first = f"/hop-{hop}"
    result = poll(store, ingest_settings, partner(upstream, first))
    written = sent.get("bytes", 0)
    assert "done" not in sent and written < 400, f"the poll waited for {written} bytes of the head"
    assert result.outcome == "failed" and result.error == "timed out after 0.5 s waiting for the response", result
    assert len(upstream.seen("/slow")) == 1 and store.source_state(upstream.url(first)).failures == 1


def _rss_item(description: str, *, guid_first: bool = True) -> bytes:
    guid = "<guid>mitra-dalam</guid>"
    item = (f"<item>{guid if guid_first else ''}<title>Berita</title><description>{description}</description>"
            f"{'' if guid_first else guid}</item>")
    return f'<rss version="2.0"><channel><title>Mitra</title>{item}</channel></rss>'.encode()


def _nested(depth: int, tag: str = "a") -> str:
    return f"<{tag}>" * depth + "isi" + f"</{tag}>" * depth


DEEP = 101   # one more than the markup may nest, feed structure included

# case -> (document, content type, the error it must be refused with)
TOO_DEEP: dict[str, tuple[bytes, str, str]] = {
    "elements in <description>": (_rss_item(_nested(DEEP)), "application/rss+xml",
                                  r"^item 1 \(guid mitra-dalam\): markup nested more than 100 deep in <description>"),
    "HTML in CDATA": (_rss_item(f"<![CDATA[{_nested(DEEP)}]]>"), "application/rss+xml",
                      r"^item 1 \(guid mitra-dalam\): HTML nested more than 100 deep in <description>"),
    "escaped HTML": (_rss_item(html.escape(_nested(DEEP), quote=False)), "application/rss+xml",
                     r"^item 1 \(guid mitra-dalam\): HTML nested more than 100 deep in <description>"),
    "guid after the deep part": (_rss_item(html.escape(_nested(DEEP, "div"), quote=False), guid_first=False),
                                 "application/rss+xml",
                                 r"^item 1 \(guid mitra-dalam\): HTML nested more than 100 deep in <description>"),
    "Atom xhtml": ((f'<feed xmlns="http://www.w3.org/2005/Atom"><title>Mitra</title><entry><id>urn:x:1</id>'
                    f'<title>Berita</title><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
                    f'{_nested(DEEP, "span")}</div></content></entry></feed>').encode(), "application/atom+xml",
                   r"^item 1 \(id urn:x:1\): markup nested more than 100 deep in <content>"),
    "JSON Feed content_html": (json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Mitra", "items": [
        {"id": "j-1", "title": "Berita", "content_html": _nested(DEEP, "div")}]}).encode(), "application/feed+json",
                               r"^item 1 \(id j-1\): HTML nested more than 100 deep in content_html"),
    "10,001 tags in one item": (_rss_item(f"<![CDATA[{'<b>x</b>' * 5001}]]>"), "application/rss+xml",
                                r"^item 1 \(guid mitra-dalam\): more than 10000 tags \(XML and HTML\)"),
    "50,001 tags in the document": (
        b'<rss version="2.0"><channel><title>Mitra</title>' + b"".join(
            f"<item><guid>g-{n}</guid><description><![CDATA[{'<b>x</b>' * 4500}]]></description></item>".encode()
            for n in range(6)) + b"</channel></rss>", "application/rss+xml",
        r"^item 6 \(guid g-5\): more than 50000 tags \(XML and HTML\) in the document"),
}

# Real-world HTML as deep and as sloppy as news gets: never counted deeper than it is.
SLOPPY = ("<![CDATA[" + "<div>" * 80 + "<p>satu<p>dua<br><img src=x.png>" * 500 + "<li>a<li>b" * 200
          + "</span></em>" * 300 + "</div>" * 80 + "]]>")


@pytest.mark.parametrize("case", list(TOO_DEEP))
def test_markup_nested_too_deep_or_too_big_is_refused_before_feedparser_and_sloppy_html_is_not(
        case, upstream, store, ingest_settings, caplog):
    body, content_type, message = TOO_DEEP[case]
    upstream.routes["/dalam"] = Upstream.status(200, {"Content-Type": content_type}, body)
    upstream.routes["/longgar"] = Upstream.status(200, {"Content-Type": "application/rss+xml"}, _rss_item(SLOPPY))
    bad = partner(upstream, "/dalam", "Mitra Dalam", max_bytes=1024 * 1024)
    sloppy = partner(upstream, "/longgar", "Mitra Longgar", max_bytes=1024 * 1024)
    with caplog.at_level(logging.WARNING, logger="feedpub.remote"):
        failed = poll(store, ingest_settings, bad)
        accepted = poll(store, ingest_settings, sloppy)
    assert failed.outcome == "failed" and re.search(message + r"; refused before parsing$", failed.error), failed.error
    assert store.source_state(bad.url).failures == 1 and store.source_state(bad.url).last_error == failed.error
    assert any("Mitra Dalam" in r.getMessage() and failed.error in r.getMessage() for r in caplog.records)
    assert (accepted.outcome, accepted.created) == ("ok", 1), accepted
    assert [a.via_name for a in latest_published(store, NOW, 50)] == ["Mitra Longgar"]


def test_partner_articles_carry_attribution_in_every_feed(upstream, store, ingest, ingest_settings, site):
    ingest(SAMPLE)
    upstream.routes["/mitra.xml"] = upstream.file("mitra.rss.xml")
    upstream.routes["/warta.json"] = upstream.file("warta.json", content_type="application/feed+json")
    mitra, warta = partner(upstream, "/mitra.xml"), partner(upstream, "/warta.json", "Warta Lahat")
    assert poll(store, ingest_settings, mitra).created == 3 and poll(store, ingest_settings, warta).created == 2
    docs = {doc.path: doc.body for doc in render_documents(store, site, NOW)}

    atom = etree.fromstring(docs["atom.xml"])
    kopi_link = "https://mitra.example/ekonomi/harga-kopi-naik"
    entry = atom.xpath("a:entry[a:link[not(@rel)]/@href=$href]", namespaces=NS, href=kopi_link)[0]
    assert entry.xpath("a:link[@rel='via']/@href", namespaces=NS) == [mitra.url]
    assert entry.xpath("a:source/a:id/text()", namespaces=NS) == [mitra.url]
    assert entry.xpath("a:source/a:title/text()", namespaces=NS) == ["Mitra Sumsel"]
    assert entry.xpath("a:source/a:link[@rel='self']/@href", namespaces=NS) == [mitra.url]
    assert entry.xpath("a:source/a:updated/text()", namespaces=NS) == entry.xpath("a:updated/text()", namespaces=NS)
    own = atom.xpath("a:entry[not(a:source)]", namespaces=NS)
    assert len(own) == 1 and not own[0].xpath("a:link[@rel='via']", namespaces=NS)   # the sample article
    read = feedparser.parse(docs["atom.xml"])
    assert sorted({e.source.title for e in read.entries if "source" in e}) == ["Mitra Sumsel", "Warta Lahat"]

    rss = etree.fromstring(docs["rss.xml"])
    item = rss.xpath("channel/item[link=$href]", href=kopi_link)[0]
    assert [(s.get("url"), s.text) for s in item.findall("source")] == [(mitra.url, "Mitra Sumsel")]
    assert len(rss.xpath("channel/item[source]")) == 5 and len(rss.xpath("channel/item")) == 6

    items = json.loads(docs["feed.json"])["items"]
    serelo = next(i for i in items if i["url"] == "https://warta.example/berita/bukit-serelo")
    assert serelo["_feedpub"]["source"] == {"name": "Warta Lahat", "url": warta.url}
    assert sum("source" in i.get("_feedpub", {}) for i in items) == 5


# --- the service ---------------------------------------------------------------------------------


def test_the_service_polls_each_source_in_its_own_job(tmp_path, upstream, store, caplog):
    upstream.routes["/kabar.xml"] = upstream.file("kabar.atom.xml", content_type="application/atom+xml")
    upstream.routes["/lambat.xml"] = upstream.trickle("mitra.rss.xml")
    path = tmp_path / "feedpub.toml"
    path.write_text(
        f'[site]\nbase_url = "https://okes.example"\n[output]\npath = "{tmp_path / "public"}"\n'
        f'[store]\npath = "{tmp_path / "data" / "feedpub.sqlite3"}"\n'
        f'[[sources]]\nname = "Mitra Lambat"\nurl = "{upstream.url("/lambat.xml")}"\ntimeout_seconds = {TIMEOUT}\n'
        f'interval_minutes = 60\n'
        f'[[sources]]\nname = "Kabar Muara Enim"\nurl = "{upstream.url("/kabar.xml")}"\ninterval_minutes = 60\n'
        f'[[sources]]\nname = "Mitra Libur"\nurl = "{upstream.url("/libur.xml")}"\nenabled = false\n',
        encoding="utf-8")
    config = load_config(path)
    service = Service(config, store)
    service.start()
    try:
        slow = config.sources[0]
        def settled():   # both polls over and the slow one's retry scheduled
            jobs = {job.id for job in service.scheduler.get_jobs()}
            retry = any(job.startswith("poll:Mitra Lambat retry at ") for job in jobs)
            return jobs if retry and set(service.polls) == {"Mitra Lambat", "Kabar Muara Enim"} else None

        jobs = wait_for(settled, timeout=10)
        assert store.count() == 2 and store.source_state(slow.url).failures == 1
        assert {"poll:Mitra Lambat", "poll:Kabar Muara Enim"} <= jobs and "poll:Mitra Libur" not in jobs
        assert any(job.startswith("poll:Mitra Lambat retry at ") for job in jobs)
        reported = {s["name"]: s for s in service.status()["sources"]}
        assert reported["Kabar Muara Enim"]["failures"] == 0 and reported["Kabar Muara Enim"]["last_status"] == "200"
        assert reported["Mitra Lambat"]["failures"] == 1 and "timed out" in reported["Mitra Lambat"]["last_error"]
        assert reported["Mitra Libur"]["enabled"] is False and reported["Mitra Libur"]["last_poll"] is None
        assert not upstream.seen("/libur.xml")
        service.write_status()
        text = format_status(collect_status(config))
        assert re.search(r"^  ok +Kabar Muara Enim <\S+>: last poll .* \(200\); 2 created", text, re.MULTILINE), text
        assert re.search(r"^  failing +Mitra Lambat <\S+>: last poll .*1 failure\(s\) in a row, next try in",
                         text, re.MULTILINE), text
        assert re.search(r"^  disabled +Mitra Libur ", text, re.MULTILINE), text
    finally:
        service.stop()


# --- configuration -------------------------------------------------------------------------------


def test_sources_are_read_from_the_config(tmp_path, tmp_path_factory):
    path = tmp_path / "feedpub.toml"
    path.write_text('[[sources]]\nname = "Mitra Sumsel"\nurl = "https://mitra.example/feed.xml"\n'
                    '[[sources]]\nname = "Warta"\nurl = "https://warta.example/feed.json"\ninterval_minutes = 5\n'
                    'enabled = false\nmax_bytes = 65536\ntimeout_seconds = 3\n', encoding="utf-8")
    assert load_config(path).sources == (
        RemoteSource("Mitra Sumsel", "https://mitra.example/feed.xml"),
        RemoteSource("Warta", "https://warta.example/feed.json", 5.0, False, 65536, 3.0),
    )
    assert load_config(cwd=tmp_path_factory.mktemp("nowhere")).sources == ()


@pytest.mark.parametrize(("text", "message"), [
    ('[[sources]]\nname = "A"\nurl = "https://a.example/f"\n[[sources]]\nname = "B"\nurl = "ftp://b.example/f"\n',
     r"sources\[2\]\.url: 'ftp://b\.example/f' is not an absolute http\(s\) URL"),
    ('[[sources]]\nurl = "https://a.example/f"\n', r"sources\[1\]\.name: is required"),
    ('[[sources]]\nname = "A"\n', r"sources\[1\]\.url: is required"),
    ('[[sources]]\nname = "A"\nurl = "https://a.example/f"\nintervall_minutes = 5\n',
     r"sources\[1\]\.intervall_minutes: unknown key \(did you mean sources\[1\]\.interval_minutes\?\)"),
    ('[[sources]]\nname = "A"\nurl = "https://a.example/f"\nenabled = "yes"\n', r"sources\[1\]\.enabled: expected bool"),
    ('[[sources]]\nname = "A"\nurl = "https://a.example/f"\n[[sources]]\nname = "a"\nurl = "https://b.example/f"\n',
     r"sources\[2\]\.name: 'a' is already the name of sources\[1\]"),
    ('[[sources]]\nname = "A"\nurl = "https://a.example/f"\n[[sources]]\nname = "B"\nurl = "https://a.example/f"\n',
     r"sources\[2\]\.url: 'https://a\.example/f' is already polled as sources\[1\]"),
    ('[[sources]]\nname = "A"\nurl = "https://a.example/f"\nmax_bytes = 10\n', r"sources\[1\]\.max_bytes: must be between"),
    ('[[sources]]\nname = "A"\nurl = "https://a.example/f"\ntimeout_seconds = 0\n',
     r"sources\[1\]\.timeout_seconds: must be between"),
    ('[sources]\nname = "A"\n', r"sources: must be an array of tables: \[\[sources\]\]"),
])
def test_a_bad_source_is_named_by_its_place(tmp_path, text, message):
    path = tmp_path / "feedpub.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: {message}"):
        load_config(path)


# --- found by review ---------------------------------------------------------------------------


def test_odd_retry_after_values_never_crash_a_poll():
    assert retry_after("\u00b2", NOW) is None                         # a digit to str.isdigit, not to int()
    assert retry_after("111111111111111", NOW) == timedelta(days=1)   # capped before timedelta overflows


def test_two_partners_carrying_the_same_item_do_not_take_it_in_turns(upstream, store, ingest_settings):
    upstream.routes["/a.xml"] = upstream.file("mitra.rss.xml")
    upstream.routes["/b.xml"] = upstream.file("mitra.rss.xml")
    first, second = partner(upstream, "/a.xml", name="Mitra A"), partner(upstream, "/b.xml", name="Mitra B")
    poll(store, ingest_settings, first)
    poll(store, ingest_settings, second)
    revision = store.revision()
    for minutes in (15, 30, 45):
        poll(store, ingest_settings, first, now=NOW + timedelta(minutes=minutes))
        result = poll(store, ingest_settings, second, now=NOW + timedelta(minutes=minutes))
        assert result.updated == 0
    assert store.revision() == revision
    assert {a.via_name for a in latest_published(store, NOW + timedelta(hours=1), 50)} == {"Mitra A"}
