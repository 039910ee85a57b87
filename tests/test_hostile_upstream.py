"""Hostile upstream feeds at full size and speed.

tests/test_remote_sources.py refuses small fixtures (42 KB over a 32 KB cap, a
0.05 s-per-byte trickle against a 0.5 s timeout). Here the attacks are the real
thing, generated on the loopback server as they are sent (nothing stored): 100 MB
with and without a Content-Length, a gzip bomb that inflates to 100 MB, one byte
a second (of the body, and of the response head), bodies in encodings that do not decode, and billion laughs, XXE and a
redirect loop polled by the running service while its feeds are being served.
Each test prints its figures (``pytest -s``): time to reject and bytes sent
before the client gave up.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

import feedparser
import pytest
import requests

from feeds.serving.server import PublicFiles
from scheduler import Service
from feedpub.settings import load_config
from sources.remote import RemoteSource, poll_source

from .conftest import RunningServer, latest_published, store_dump
from .test_remote_sources import NOW, SECRET, Upstream, _loop, upstream  # noqa: F401 - the fixture
from .harness import wait_for

pytestmark = pytest.mark.heavy

MB = 1024 * 1024
ATTACK_SIZE = 100 * MB
DEFAULT_CAP = RemoteSource("x", "http://x").max_bytes       # 5 MB: what a source gets unless configured
BLOCK = b"<item><title>x</title></item>" * 2048                # 60 KB of a feed that never ends

Route = Callable[[BaseHTTPRequestHandler], None]


class Sent:
    """Bytes each attack wrote to the socket before the client hung up."""

    def __init__(self):
        self.bytes: dict[str, int] = {}

    def count(self, name: str, handler: BaseHTTPRequestHandler, data: bytes) -> None:
        handler.wfile.write(data)
        handler.wfile.flush()
        self.bytes[name] = self.bytes.get(name, 0) + len(data)


def endless(sent: Sent, name: str, *, declared: bool) -> Route:
    """100 MB made as they are sent: with an honest Content-Length, or chunked (no length)."""
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        if declared:
            handler.send_header("Content-Length", str(ATTACK_SIZE))
        else:
            handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        written = 0
        while written < ATTACK_SIZE:
            part = BLOCK[: ATTACK_SIZE - written]
            sent.count(name, handler, part if declared else b"%x\r\n%s\r\n" % (len(part), part))
            written += len(part)
        if not declared:
            sent.count(name, handler, b"0\r\n\r\n")
    return route


def gzip_bomb(sent: Sent, name: str) -> Route:
    """About 100 KB on the wire that inflate to 100 MB (Content-Encoding: gzip)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)   # 31: a gzip header and trailer
    body = compressor.compress(b"<rss><channel>") + b"".join(compressor.compress(b" " * MB) for _ in range(100))
    body += compressor.flush()

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for start in range(0, len(body), 16 * 1024):
            sent.count(name, handler, body[start:start + 16 * 1024])
    return route


def one_byte_a_second(sent: Sent, name: str, body: bytes) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for byte in body:
            sent.count(name, handler, bytes([byte]))
            time.sleep(1.0)
    return route


def head_one_byte_a_second(sent: Sent, name: str) -> Route:
    """The review's attack: a 120-byte response head, one byte a second (two minutes)."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nX-Pad: "
    head += b"x" * (120 - len(head) - 4) + b"\r\n\r\n"

    def route(handler: BaseHTTPRequestHandler) -> None:
        for byte in head:
            sent.count(name, handler, bytes([byte]))
            time.sleep(1.0)
    return route


def document(body: bytes, content_type: str = "application/rss+xml", **headers: str) -> Route:
    return Upstream.status(200, {"Content-Type": content_type, **headers}, body)


RSS_HEAD = b'<rss version="2.0"><channel><title>Mitra</title><item><title>'
RSS_TAIL = b"</title><guid>x-1</guid><description>Isi.</description></item></channel></rss>"

# case -> (route maker, timeout of the source, the error it must be refused with)
ATTACKS: dict[str, tuple[Callable[[Upstream, Sent], Route], float, str]] = {
    "100 MB, declared": (lambda up, sent: endless(sent, "100 MB, declared", declared=True), 15,
                         rf"^the response is {ATTACK_SIZE} bytes, over the limit of {DEFAULT_CAP}$"),
    "100 MB, chunked": (lambda up, sent: endless(sent, "100 MB, chunked", declared=False), 15,
                        rf"^the response is over the limit of {DEFAULT_CAP} bytes$"),
    "gzip bomb to 100 MB": (lambda up, sent: gzip_bomb(sent, "gzip bomb to 100 MB"), 15,
                            rf"^the response is over the limit of {DEFAULT_CAP} bytes$"),
    "one byte a second": (lambda up, sent: one_byte_a_second(sent, "one byte a second", up.body("mitra.rss.xml")), 3,
                          r"^timed out after 3 s reading the response$"),
    "head one byte a second": (lambda up, sent: head_one_byte_a_second(sent, "head one byte a second"), 3,
                               r"^timed out after 3 s waiting for the response$"),
    "100k nested <a> (700 KB)": (
        lambda up, sent: document(b'<rss version="2.0"><channel><title>Mitra</title><item><guid>x-1</guid><description>'
                                  + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</description></item></channel></rss>"), 15,
        r"^item 1 \(guid x-1\): markup nested more than 100 deep in <description>; refused before parsing$"),
    "4.9 MB of tags in CDATA": (
        lambda up, sent: document(b'<rss version="2.0"><channel><title>Mitra</title><item><guid>x-2</guid><description>'
                                  b"<![CDATA[" + b"<b>x</b>" * 640_000 + b"]]></description></item></channel></rss>"), 15,
        r"^item 1 \(guid x-2\): more than 10000 tags \(XML and HTML\); refused before parsing$"),
    "invalid UTF-8": (lambda up, sent: document(RSS_HEAD + b"Harga \xff\xfe naik" + RSS_TAIL), 15,
                      r"^not well-formed XML at line 1, column \d+: not well-formed \(invalid token\)$"),
    "unknown declared encoding": (
        lambda up, sent: document(b'<?xml version="1.0" encoding="x-klingon"?>' + RSS_HEAD + b"x" + RSS_TAIL), 15,
        r"^cannot read the XML: unknown encoding: x-klingon$"),   # a LookupError escaped poll_source before
    "UTF-16 declared, UTF-8 sent": (
        lambda up, sent: document(b'<?xml version="1.0" encoding="UTF-16"?>' + RSS_HEAD + b"x" + RSS_TAIL), 15,
        r"^not well-formed XML at line 1, column \d+: encoding specified in XML declaration is incorrect$"),
    "JSON Feed in Latin-1": (
        lambda up, sent: document(b'{"version": "https://jsonfeed.org/version/1.1", "title": "Caf\xe9", "items": []}',
                                  "application/feed+json"), 15,
        r"^not valid JSON: 'utf-8' codec can't decode byte 0xe9"),
    "gzip declared, not gzip": (lambda up, sent: document(RSS_HEAD + b"x" + RSS_TAIL, **{"Content-Encoding": "gzip"}),
                                15, r"^the body is not valid gzip \(its Content-Encoding\): .*incorrect header check"),
    "brotli declared, garbage": (lambda up, sent: document(b"\x00garbage" * 10, **{"Content-Encoding": "br"}),
                                 15, r"^the body is not valid br \(its Content-Encoding\): "),
    "billion laughs": (lambda up, sent: up.file("billion-laughs.xml"), 15, r"^refused: the document has a DTD"),
    "external entity": (lambda up, sent: up.file("xxe.xml"), 15, r"^refused: the document has a DTD"),
    "redirect loop": (lambda up, sent: _loop(up), 15, r"^redirect loop: "),
}


@pytest.mark.parametrize("case", list(ATTACKS))
def test_an_attack_is_refused_within_its_limits_logged_and_a_healthy_source_still_polls(
        case, upstream, store, ingest_settings, caplog):
    sent = Sent()
    make_route, timeout, message = ATTACKS[case]
    upstream.routes["/bad"] = make_route(upstream, sent)
    upstream.routes["/kabar.xml"] = upstream.file("kabar.atom.xml", content_type="application/atom+xml")
    bad = RemoteSource("Mitra Jahat", upstream.url("/bad"), timeout_seconds=timeout)
    good = RemoteSource("Kabar Muara Enim", upstream.url("/kabar.xml"), timeout_seconds=timeout)
    with caplog.at_level(logging.WARNING, logger="feedpub.remote"):
        started = time.monotonic()
        failed = poll_source(store, bad, NOW, settings=ingest_settings)
        took = time.monotonic() - started
        healthy = poll_source(store, good, NOW, settings=ingest_settings)

    on_wire = sent.bytes.get(case, 0)
    counted = f" after {on_wire:,} bytes sent" if case in sent.bytes else ""
    print(f"\n{case}: refused in {took:.2f} s{counted}: {failed.error}")
    assert failed.outcome == "failed" and re.search(message, failed.error), failed.error
    assert took < timeout + 5, f"{case}: took {took:.2f} s"   # within the source's deadline (and a margin)
    # Never far past the cap: what the sockets' buffers hold on top of 5 MB at most.
    assert on_wire < DEFAULT_CAP + 16 * MB
    assert any("Mitra Jahat" in r.getMessage() and failed.error in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)
    assert store.source_state(bad.url).failures == 1
    assert (healthy.outcome, healthy.created) == ("ok", 2)
    assert {a.via_name for a in latest_published(store, NOW, 50)} == {"Kabar Muara Enim"}
    assert not any(SECRET in line or "lollol" in line for line in store_dump(store))


def test_the_running_service_polls_every_attack_at_once_and_keeps_serving(tmp_path, upstream, store, caplog):
    """All the attacks as sources of one service, with a healthy partner beside them, while
    a client polls the served feeds without pause: every answer is a whole feed (200), and
    the healthy partner's articles reach the feeds."""
    sent = Sent()
    tables = []
    for number, (case, (make_route, timeout, _)) in enumerate(ATTACKS.items()):
        upstream.routes[f"/bad-{number}"] = make_route(upstream, sent)
        tables.append(f'[[sources]]\nname = "Jahat {number}"\nurl = "{upstream.url(f"/bad-{number}")}"\n'
                      f"timeout_seconds = {timeout}\ninterval_minutes = 60\n")
    upstream.routes["/kabar.xml"] = upstream.file("kabar.atom.xml", content_type="application/atom+xml")
    tables.append(f'[[sources]]\nname = "Kabar Muara Enim"\nurl = "{upstream.url("/kabar.xml")}"\n'
                  "interval_minutes = 60\n")
    path = tmp_path / "feedpub.toml"
    path.write_text(f'[site]\nbase_url = "https://okes.example"\n[output]\npath = "{tmp_path / "public"}"\n'
                    f'[store]\npath = "{tmp_path / "data" / "feedpub.sqlite3"}"\n' + "".join(tables), encoding="utf-8")
    config = load_config(path, env={})
    service = Service(config, store)
    service.build_now("start")
    server = RunningServer(PublicFiles(config.output_dir, max_age=900))
    answers: list[tuple[int, bool]] = []
    stop = threading.Event()

    def poll_feeds() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                for feed in ("/atom.xml", "/rss.xml"):
                    response = session.get(server.url + feed, timeout=10)
                    answers.append((response.status_code, feedparser.parse(response.content).bozo == 0))

    client = threading.Thread(target=poll_feeds)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="feedpub.remote"):
        client.start()
        service.start()
        try:
            def kabar_served():
                entries = feedparser.parse(requests.get(server.url + "/atom.xml", timeout=10).content).entries
                return len(service.polls) == len(ATTACKS) + 1 and sum(
                    "source" in entry and entry.source.title == "Kabar Muara Enim" for entry in entries) == 2

            wait_for(kabar_served, timeout=60)
            took = time.monotonic() - started
        finally:
            stop.set()
            client.join(timeout=15)
            service.stop()
            server.stop()

    failed = {name: result.error for name, result in service.polls.items() if result.outcome == "failed"}
    print(f"\n{len(ATTACKS)} attacks polled at once, all refused within {took:.1f} s; {sum(sent.bytes.values()):,} "
          f"bytes sent by them; {len(answers)} feed polls meanwhile, "
          f"{sum(status != 200 or not whole for status, whole in answers)} not a whole 200")
    assert sorted(failed) == sorted(f"Jahat {number}" for number in range(len(ATTACKS)))
    assert service.polls["Kabar Muara Enim"].created == 2
    assert answers and all(status == 200 and whole for status, whole in answers)
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert all(f"Jahat {number}" in logged for number in range(len(ATTACKS)))
