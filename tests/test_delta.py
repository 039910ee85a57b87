"""RFC 3229 + feed: an aggregator holding an older version gets only what is new."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import feedparser
import pytest
import requests

from feeds.building.build import build
from feeds.publishing.atomic import retired
from feeds.serving.server import PublicFiles

from .conftest import INGEST_TIME, SAMPLE, RunningServer, seen_by_the_server, write_article


@pytest.fixture
def versions(tmp_path, store, ingest, site):
    """public/ after three builds; the ETags each version of atom.xml and rss.xml had."""
    out = tmp_path / "public"
    ingest(SAMPLE)
    build(store, site, out, INGEST_TIME)
    server = RunningServer(PublicFiles(out, max_age=60))
    etags = {path: [requests.get(server.url + path, timeout=5).headers["ETag"]] for path in ("/atom.xml", "/rss.xml")}
    for hour, slug in ((1, "banjir"), (2, "pasar")):
        when = INGEST_TIME + timedelta(hours=hour)
        ingest(write_article(tmp_path, f"{slug}.txt", f"Berita {slug} terbaru."), now=when)
        build(store, site, out, when)
        seen_by_the_server()
        for path in etags:
            etags[path].append(requests.get(server.url + path, timeout=5).headers["ETag"])
    yield server, etags
    server.stop()


@pytest.mark.parametrize("path", ["/atom.xml", "/rss.xml"])
def test_an_older_version_gets_only_the_newer_entries(versions, path):
    server, etags = versions
    first, second, current = etags[path]
    since_first = requests.get(server.url + path, headers={"A-IM": "feed", "If-None-Match": first}, timeout=5)
    assert since_first.status_code == 226 and since_first.headers["IM"] == "feed"
    # The delta is sent uncompressed: the current version's identity ETag (requests asked for br).
    assert since_first.headers["ETag"] == current.replace("-br", "").replace("-gz", "")
    assert "no-store" in since_first.headers["Cache-Control"]
    parsed = feedparser.parse(since_first.content)
    assert parsed.bozo == 0
    assert [entry.title for entry in parsed.entries] == ["Berita pasar terbaru", "Berita banjir terbaru"]
    since_second = requests.get(server.url + path, headers={"A-IM": "feed", "If-None-Match": second}, timeout=5)
    assert [entry.title for entry in feedparser.parse(since_second.content).entries] == ["Berita pasar terbaru"]


def test_the_current_version_is_a_304_and_an_unknown_one_the_whole_feed(versions):
    server, etags = versions
    current = etags["/atom.xml"][-1]
    same = requests.get(server.url + "/atom.xml", headers={"A-IM": "feed", "If-None-Match": current}, timeout=5)
    assert same.status_code == 304
    unknown = requests.get(server.url + "/atom.xml", headers={"A-IM": "feed", "If-None-Match": '"0123"'}, timeout=5)
    assert unknown.status_code == 200 and len(feedparser.parse(unknown.content).entries) == 3


def test_without_a_im_an_old_etag_gets_the_whole_feed(versions):
    server, etags = versions
    plain = requests.get(server.url + "/atom.xml", headers={"If-None-Match": etags["/atom.xml"][0]}, timeout=5)
    assert plain.status_code == 200 and len(feedparser.parse(plain.content).entries) == 3


def test_the_delta_files_are_not_served_directly(versions):
    server, _ = versions
    assert requests.get(server.url + "/.delta/atom.xml.json", timeout=5).status_code == 404


def test_an_rss_delta_keeps_hexadecimal_references_in_plain_text(tmp_path, store, ingest, site):
    from feeds.publishing.delta import delta_from_history, read_history, version_tag

    public = tmp_path / "public"
    ingest(write_article(tmp_path, "beras.txt", "Beras naik lagi."))
    build(store, site, public, INGEST_TIME)
    older = version_tag(hashlib.sha256((public / "rss.xml").read_bytes()).hexdigest())
    ingest(write_article(tmp_path, "cabai.txt", "Cabai & Bawang <Naik>"), now=INGEST_TIME + timedelta(minutes=5))
    build(store, site, public, INGEST_TIME + timedelta(minutes=5))
    rss = (public / "rss.xml").read_bytes()
    assert b"Cabai &#x26; Bawang &#x3C;Naik&gt;" in rss
    # A client that holds the first version gets the newer entry only, its bytes as served.
    body = delta_from_history(rss, read_history(public, "rss.xml"), older)
    assert b"<title>Cabai &#x26; Bawang &#x3C;Naik&gt;</title>" in body and b"Beras" not in body
    assert [entry.title for entry in feedparser.parse(body).entries] == ["Cabai & Bawang <Naik>"]


def test_a_build_keeps_one_small_history_per_feed_and_no_delta_files(versions, tmp_path):
    deltas = tmp_path / "public" / ".delta"
    retired()   # the versions the builds replaced are removed on a thread of their own
    assert sorted(p.relative_to(deltas).as_posix() for p in deltas.rglob("*") if p.is_file()) == [
        "atom.xml.json", "rss.xml.json"]
    history = json.loads((deltas / "atom.xml.json").read_bytes())
    assert [len(version["entries"]) for version in history["versions"]] == [1, 2, 3]
    assert b"Berita" not in (deltas / "atom.xml.json").read_bytes()   # digests and offsets only


def test_a_first_build_writes_no_history_and_the_first_change_starts_it_from_the_replaced_file(
        tmp_path, store, ingest, site):
    from feeds.publishing.delta import read_history, version_tag

    public = tmp_path / "public"
    ingest(SAMPLE)
    build(store, site, public, INGEST_TIME)
    assert not (public / ".delta").exists()   # nobody can hold an older version of a new document
    first = version_tag(hashlib.sha256((public / "atom.xml").read_bytes()).hexdigest())
    later = INGEST_TIME + timedelta(hours=1)
    ingest(write_article(tmp_path, "banjir.txt", "Berita banjir terbaru."), now=later)
    build(store, site, public, later)
    current = version_tag(hashlib.sha256((public / "atom.xml").read_bytes()).hexdigest())
    history = read_history(public, "atom.xml")
    assert history["current"] == current
    assert [(version["tag"], len(version["entries"])) for version in history["versions"]] == [(first, 1), (current, 2)]


@pytest.mark.parametrize("damage", ["past the end", "out of order"])
def test_a_damaged_history_gets_the_whole_feed_not_a_wrong_delta(versions, tmp_path, damage):
    server, etags = versions
    path = tmp_path / "public" / ".delta" / "atom.xml.json"
    history = json.loads(path.read_bytes())
    if damage == "past the end":
        history["spans"] = [[0, 10 ** 9]] * len(history["spans"])
    else:
        history["spans"] = list(reversed(history["spans"]))
    path.write_text(json.dumps(history))
    seen_by_the_server()
    answer = requests.get(server.url + "/atom.xml", headers={"A-IM": "feed", "If-None-Match": etags["/atom.xml"][0]},
                          timeout=5)
    assert answer.status_code == 200 and len(feedparser.parse(answer.content).entries) == 3
