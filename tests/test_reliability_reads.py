"""No partial reads: readers polling without pause through 200 content-changing rebuilds.

The service's own parts: public/ served by granian's worker processes and the ingest
API behind them on loopback (composed as ``feedpub serve`` composes them), builds through
:meth:`scheduler.Service.build_now`, each after a change made through the API.
A reader process fetches every feed document (main, category, tag, author; RSS,
Atom, JSON Feed) in every representation (identity, gzip, brotli) on a keep-alive
connection, one request after the other with no pause. Each answer must be a
whole document that parses, and its ETag must name its bytes: the identity ETag
is the first 40 hex digits of the document's SHA-256, a variant's the same with
``-gz`` / ``-br`` (feeds/serving/server.py), so the decoded body's digest must match
whatever the coding.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import multiprocessing
import re
import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote, urlsplit

import brotli
import pytest
from lxml import etree

from feedpub.settings import load_config, open_store, utc_now, with_address
from feeds.publishing.publish import read_manifest
from feeds.serving.dispatch import PathDispatch
from feeds.serving.health import Observed
from feeds.serving.server import PublicFiles, create_server
from feeds.serving.stats import SQLitePolls
from feeds.serving.workers import WorkerSettings, listen, run_workers
from scheduler import Service, feed_urls_for
from sources.api import IngestAPI
from sources.api_gate import BodyGate

REBUILDS = 200
READERS = 1             # reader processes: one keeps a core busy with requests and checks
DEADLINE = 240          # seconds for the whole run: a stuck build fails the test instead of hanging the suite
TOKEN = "reliability-token-0123456789"
FEED_TYPES = {"application/rss+xml", "application/atom+xml", "application/feed+json"}
ATOM = "{http://www.w3.org/2005/Atom}"
# Accept-Encoding as readers send it: none, one coding, both.
ACCEPTS = (None, "gzip", "br", "gzip, deflate, br")
ETAG = re.compile(r'"([0-9a-f]{40})(-gz|-br)?"')
SUFFIX = {"identity": None, "gzip": "-gz", "br": "-br"}
DECODE = {"identity": lambda body: body, "gzip": gzip.decompress, "br": brotli.decompress}
FIRST_PUBLISHED = datetime(2024, 9, 18, 8, 0, tzinfo=timezone.utc)
CATEGORY, TAG, AUTHOR = "Politik", "Pilkada 2024", "Rahmad Hidayat"


def problem_with(path: str, status: int, headers: http.client.HTTPMessage, body: bytes) -> str | None:
    """What is wrong with one answer, or None when it is a whole document its ETag names."""
    if status != 200:
        return f"status {status}"
    coding = headers.get("Content-Encoding", "identity")
    if coding not in DECODE:
        return f"unknown Content-Encoding {coding!r}"
    match = ETAG.fullmatch(headers.get("ETag", ""))
    if not match or match.group(2) != SUFFIX[coding]:
        return f"ETag {headers.get('ETag')!r} does not fit Content-Encoding {coding}"
    try:
        document = DECODE[coding](body)
    except Exception as exc:   # a truncated variant is exactly what this test looks for
        return f"{coding} body does not decode: {exc}"
    if hashlib.sha256(document).hexdigest()[:40] != match.group(1):
        return f"ETag {match.group(0)} is not the body's SHA-256"
    try:
        if path.endswith(".json"):
            parsed = json.loads(document)
            whole = parsed.get("version", "").startswith("https://jsonfeed.org/version/") and "items" in parsed
        else:
            root = etree.fromstring(document)
            whole = root.tag == "rss" and root.find("channel") is not None or root.tag == f"{ATOM}feed"
    except (ValueError, etree.XMLSyntaxError) as exc:   # json.JSONDecodeError is a ValueError
        return f"does not parse: {exc}"
    return None if whole else "parses, but is not a feed"


@dataclass
class Tally:
    polls: int = 0
    bad: list[str] = field(default_factory=list)
    codings: Counter = field(default_factory=Counter)   # (asked, served) -> polls
    versions: dict[str, set[str]] = field(default_factory=dict)   # path -> ETags seen


def poll_without_pause(url: str, paths: list[str], offset: int, stop, results) -> None:
    """One reader process: polls until ``stop`` is set, then puts its :class:`Tally` on ``results``."""
    tally = Tally()
    host = urlsplit(url)
    connection = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
    requests = [(path, accept) for path in paths for accept in ACCEPTS]
    n = offset
    while not stop.is_set():
        path, accept = requests[n % len(requests)]
        n += 1
        try:
            connection.request("GET", path, headers={"Accept-Encoding": accept} if accept else {})
            response = connection.getresponse()
            body = response.read()   # raises IncompleteRead when fewer bytes come than announced
            problem = problem_with(path, response.status, response.headers, body)
        except (OSError, http.client.HTTPException) as exc:
            connection.close()   # reconnected by the next request
            problem = f"no complete answer: {type(exc).__name__}: {exc}"
            response = None
        tally.polls += 1
        if problem:
            tally.bad.append(f"{path} (Accept-Encoding {accept}): {problem}")
            continue
        tally.codings[(accept or "none", response.headers.get("Content-Encoding", "identity"))] += 1
        tally.versions.setdefault(path, set()).add(ETAG.fullmatch(response.headers["ETag"]).group(1))
    connection.close()
    results.put(tally)


def serve_files_and_api(config_file: str, announce) -> None:
    """The serving half of ``feedpub serve``: public/ answered by granian's workers, the
    ingest API by waitress on a private Unix socket they forward to, as
    :func:`scheduler.serve` composes them, on a free loopback port announced on ``announce``.

    It runs in a process of its own, as the serve process does: in the builds'
    interpreter, the API's thread would take turns with the builds (the interpreter
    lock). What this test checks (files replaced by rename, the manifest last, the
    workers' view of both) is the same across processes. Stopped with SIGTERM.
    """
    config = load_config(Path(config_file))
    store = open_store(config)
    listener = listen("127.0.0.1", 0)
    config = with_address(config, "127.0.0.1", listener.getsockname()[1])
    private = Path(tempfile.mkdtemp(prefix="feedpub-reads-"))
    (private / "counts").mkdir()
    public = PublicFiles(config.output_dir, max_age=3600, base_url=config.site.base_url)
    api = IngestAPI(store, settings=config.ingest, token=TOKEN, max_body_bytes=config.api_max_body_bytes,
                    clock=utc_now, feed_urls=feed_urls_for(config.site))
    max_request_body = 2 * config.api_max_body_bytes + 65536
    internal = create_server(Observed(PathDispatch(public, api), lambda: None), unix_socket=str(private / "api.sock"),
                             threads=4, max_request_body=max_request_body)
    threading.Thread(target=internal.run, daemon=True).start()
    announce.put(config.site.base_url)
    try:
        run_workers(listener, WorkerSettings(
            root=config.output_dir.resolve(), max_age=3600, hubs=(), base_url=config.site.base_url, gone=(), moved=(),
            upstream=str(private / "api.sock"), counters=private / "counts", stats=partial(SQLitePolls, private / "stats.sqlite3"),
            max_request_body=max_request_body, body_gate=BodyGate.for_token(TOKEN)))
    finally:
        shutil.rmtree(private, ignore_errors=True)


class Newsroom:
    """Writes through the ingest API over HTTP, as an editor's tool would."""

    def __init__(self, url: str):
        host = urlsplit(url)
        self.connection = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
        self.live: list[str] = []

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        self.connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = self.connection.getresponse()
        answer = json.loads(response.read())
        assert response.status in (200, 201), (method, path, response.status, answer)
        return answer

    def change(self, step: int) -> None:
        """One change that every feed of the catalogue polled here sees: a new article in
        the category, and now and then an edit or a deletion of an older one."""
        created = self.call("POST", "/api/articles", {
            "title": f"Berita nomor {step} dari Baturaja",
            "body": f"BATURAJA - OKES.NEWS - Laporan nomor {step}.\n" + f"Paragraf {step} berisi rincian. " * 3,
            "categories": [CATEGORY], "tags": [TAG], "author": AUTHOR,
            # A minute apart: each new article is the newest, whatever the wall clock does.
            "published": (FIRST_PUBLISHED + timedelta(minutes=step)).isoformat(),
        })
        self.live.append(created["id"])
        if step % 4 == 0 and len(self.live) > 2:
            self.call("PATCH", f"/api/articles/{quote(self.live[-2], safe='')}", {"title": f"Berita nomor {step - 1} (diperbarui)"})
        if step % 10 == 0 and len(self.live) > 6:
            self.call("DELETE", f"/api/articles/{quote(self.live.pop(-5), safe='')}")


def answer(document: bytes, coding: str = "identity") -> http.client.HTTPMessage:
    """The headers the server sends with ``document`` in ``coding``."""
    headers = http.client.HTTPMessage()
    headers["ETag"] = f'"{hashlib.sha256(document).hexdigest()[:40]}{SUFFIX[coding] or ""}"'
    if coding != "identity":
        headers["Content-Encoding"] = coding
    return headers


def test_the_check_refuses_cut_bodies_foreign_etags_and_non_feeds():
    """The check the readers apply can fail: a whole feed passes, each kind of damage does not."""
    feed = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
    cut = feed[:-7]
    assert problem_with("/rss.xml", 200, answer(feed), feed) is None
    assert problem_with("/rss.xml", 200, answer(feed, "gzip"), gzip.compress(feed)) is None
    assert problem_with("/rss.xml", 200, answer(feed, "br"), brotli.compress(feed)) is None
    assert "not the body's SHA-256" in problem_with("/rss.xml", 200, answer(feed), cut)
    assert "does not parse" in problem_with("/rss.xml", 200, answer(cut), cut)
    assert "does not decode" in problem_with("/rss.xml", 200, answer(feed, "gzip"), gzip.compress(feed)[:-9])
    mislabelled = answer(feed)   # gzip bytes under the identity ETag
    mislabelled["Content-Encoding"] = "gzip"
    assert "does not fit" in problem_with("/rss.xml", 200, mislabelled, gzip.compress(feed))
    page = b"<html/>"
    assert problem_with("/rss.xml", 200, answer(page), page) == "parses, but is not a feed"
    assert problem_with("/feed.json", 200, answer(b'{"items": []}'), b'{"items": []}') == "parses, but is not a feed"
    assert problem_with("/rss.xml", 304, answer(feed), b"") == "status 304"


@pytest.mark.heavy
def test_readers_never_see_a_partial_document_during_200_rebuilds(memory_path, record_property):
    tmp_path = memory_path   # a build replaces some 140 files: see the fixture
    (tmp_path / "feedpub.toml").write_text(
        f'[feeds]\nitems = 5\n[schedule]\nrebuild_minutes = 60\n[api]\ntoken = "{TOKEN}"\n'
        f'[store]\npath = "{tmp_path / "data" / "feedpub.sqlite3"}"\n[output]\npath = "{tmp_path / "public"}"\n',
        encoding="utf-8")
    config = load_config(tmp_path / "feedpub.toml")
    store = open_store(config)   # creates the store before the server opens it too
    config.output_dir.mkdir(parents=True)
    # Spawned, not forked: the test process runs threads already.
    spawn = multiprocessing.get_context("spawn")
    announce, stop, results = spawn.Queue(), spawn.Event(), spawn.Queue()
    # Not a daemon: it starts the workers, its own children.
    server = spawn.Process(target=serve_files_and_api, args=(str(tmp_path / "feedpub.toml"), announce))
    server.start()
    readers: list = []
    tallies: list[Tally] = []
    try:
        url = announce.get(timeout=60)
        config = with_address(config, "127.0.0.1", urlsplit(url).port)
        service = Service(config, store)
        newsroom = Newsroom(url)
        for step in range(4):
            newsroom.change(step)
        assert service.build_now("start") is not None
        feeds = sorted(path for path, entry in read_manifest(config.output_dir).items()
                       if entry["content_type"].split(";")[0] in FEED_TYPES)
        assert len(feeds) == 3 * 4, feeds   # the main feed, the category, the tag and the author, in 3 formats
        paths = ["/" + path for path in feeds]
        readers = [spawn.Process(target=poll_without_pause, args=(url, paths, n * 7, stop, results), daemon=True)
                   for n in range(READERS)]
        for reader in readers:
            reader.start()

        deadline = time.monotonic() + DEADLINE
        started = time.monotonic()
        changed_builds, building = 0, 0.0
        for step in range(4, 4 + REBUILDS):
            assert time.monotonic() < deadline, f"only {changed_builds} rebuilds within {DEADLINE} s"
            newsroom.change(step)
            report = service.build_now("reliability")
            assert report is not None, service.last_error
            # Every rebuild changes what readers get: the main feeds at least.
            assert {"rss.xml", "atom.xml", "feed.json"} <= set(report.written), report.written
            changed_builds += 1
            building += report.seconds
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        for _ in readers:
            tallies.append(results.get(timeout=30))
        for reader in readers:
            reader.join(timeout=10)
        server.terminate()
        server.join(timeout=10)
        if server.is_alive():   # its workers end themselves within a second of it
            server.kill()
            server.join()
        store.close()

    polls = sum(t.polls for t in tallies)
    bad = [line for t in tallies for line in t.bad]
    codings = sum((t.codings for t in tallies), Counter())
    versions: dict[str, set[str]] = {}
    for tally in tallies:
        for path, seen in tally.versions.items():
            versions.setdefault(path, set()).update(seen)
    figures = {
        "rebuilds": changed_builds,
        "seconds": round(elapsed, 1),
        "share_of_time_building": round(building / elapsed, 2),
        "documents_polled": len(paths),
        "polls": polls,
        "bad_responses": len(bad),
        "versions_seen_of_rss_xml": len(versions.get("/rss.xml", ())),
        "answers_by_coding": {f"{asked}->{served}": n for (asked, served), n in sorted(codings.items())},
    }
    for name, value in figures.items():
        record_property(name, value)
    print("\nno partial reads:", json.dumps(figures, sort_keys=True))
    assert changed_builds == REBUILDS
    assert bad == [], f"{len(bad)} bad of {polls} polls; first: {bad[:5]}"
    # The readers really polled through the changes: they saw the main feed in many versions.
    assert len(versions["/rss.xml"]) > 1 and polls > REBUILDS
