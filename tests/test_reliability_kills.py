"""Crash safety: ``feedpub serve`` killed with SIGKILL 100 times, mid-build and mid-ingest.

Each round starts the real command on a store and public/ on disk that outlive it,
and kills it (no signal handler, no ``finally``) at a random moment of one of three
kinds, in turn:

``ingest``  a client posts articles through the ingest API one after the other,
            the kill comes while it does: most kills land inside a request.
``build``   a burst of posts, then, once the store watcher's build of them is
            seen writing public/, the kill at a random moment of the next 50 ms.
``start``   the kill at a random moment of the start-up, whose first build
            takes in what the round before left unbuilt.

After each kill: the store passes SQLite's integrity check and opens, every article
whose POST was answered 201 is in it as posted, and every file in public/ is whole
(parses, decompresses, matches the manifest where listed). A build's temporary files
and documents swapped in before their manifest are expected after a kill mid-build;
what matters is that the server never serves a temporary file and answers every
document whole, under an ETag that names its bytes. The next round's start proves
the service comes back; the last round is a clean start, which leaves public/
exactly as its manifest says.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import itertools
import json
import os
import random
import select
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import brotli
import pytest
from lxml import etree

from feedpub.settings import utc_now
from feeds.building.fragments import CACHE_NAME
from feeds.publishing.publish import MANIFEST_NAME, read_manifest
from feeds.serving.server import PublicFiles
from scheduler import TEMPORARY_NAME as TEMPORARY
from sources.store import SQLiteStore

from .conftest import RunningServer
from .test_reliability_reads import DECODE, ETAG, SUFFIX
from .harness import FEEDPUB

KILLS = 100
KINDS = ("ingest", "start", "build")
DEADLINE = 300            # seconds for all rounds: a hung start fails the test instead of the suite
START_TIMEOUT = 30        # seconds for one start to announce its address
TOKEN = "kill-test-token-0123456789"
CATEGORIES = ("Politik", "Ekonomi")
FIRST_PUBLISHED = datetime(2024, 9, 18, 8, 0, tzinfo=timezone.utc)
ENCODINGS = (None, "gzip", "br")
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}


class Newsroom:
    """Posts articles through the ingest API and remembers which ones were acknowledged."""

    def __init__(self) -> None:
        self.numbers = itertools.count()
        self.acknowledged: dict[str, str] = {}   # id -> title, every 201 of the whole test
        self.unanswered = 0                      # requests the kill cut off (stored or not: both are fine)
        self.refused: list[str] = []             # answers other than 201
        # Set just before each SIGKILL: a server worker outlives its serve process by up to a
        # second (feeds/serving/workers.py) and answers 502 for a request it can no longer pass on.
        self.killed = threading.Event()

    def post(self, connection: http.client.HTTPConnection) -> bool:
        """One article; False once the service is gone."""
        n = next(self.numbers)
        title = f"Kiriman nomor {n}"
        body = {
            "title": title,
            "body": f"BATURAJA - OKES.NEWS - Laporan nomor {n}.\n" + f"Paragraf {n} berisi rincian kejadian. " * 4,
            "categories": [CATEGORIES[n % len(CATEGORIES)]],
            "published": (FIRST_PUBLISHED + timedelta(minutes=n)).isoformat(),
        }
        try:
            connection.request("POST", "/api/articles", body=json.dumps(body),
                               headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
            response = connection.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException):
            self.unanswered += 1
            return False
        if response.status == 201:
            self.acknowledged[json.loads(answer)["id"]] = title
        elif response.status == 502 and self.killed.is_set():   # cut off by the kill, as a reset is
            self.unanswered += 1
            return False
        else:
            self.refused.append(f"{response.status} {answer[:200]!r}")
        return True

    def post_until(self, url: str, stop: threading.Event) -> None:
        connection = connect(url)
        while not stop.is_set() and self.post(connection):
            pass
        connection.close()


def connect(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)


class Serve:
    """One ``feedpub serve`` process, to be killed."""

    def __init__(self, cwd: Path, log: Path):
        with open(log, "ab") as errors:
            self.process = subprocess.Popen([*FEEDPUB, "serve", "--port", "0"], cwd=cwd, env=ENV,
                                            stdout=subprocess.PIPE, stderr=errors)
        self.log = log

    def address(self) -> str:
        """The URL it announces once its start build is done."""
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT)
        line = self.process.stdout.readline().decode() if ready else ""
        if "serving http://" not in line:
            self.kill()
            tail = self.log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"feedpub serve did not start (exit {self.process.returncode}): {line!r}\n{tail}")
        return line.split("serving ", 1)[1].strip().rstrip("/")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process.stdout.close()


def cache_problem(path: Path) -> str | None:
    """SQLite's own check of the build's kept entries (feeds/building/fragments.py)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        result = db.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        return f"does not open: {exc}"
    finally:
        db.close()
    return None if result == "ok" else f"quick_check: {result}"


def whole(name: str, data: bytes) -> str | None:
    """What is wrong with a file of public/, judged by its kind alone; None when it is whole."""
    try:
        if name.endswith(".gz"):
            data, name = gzip.decompress(data), name[:-3]
        elif name.endswith(".br"):
            data, name = brotli.decompress(data), name[:-3]
    except Exception as exc:   # zlib.error, EOFError, brotli.error: a cut variant
        return f"does not decompress: {exc}"
    try:
        if name.endswith(".json"):
            json.loads(data)
        elif name.endswith((".xml", ".xsl", ".opml")):
            etree.fromstring(data)
        elif name.endswith(".html") or name.startswith("articles/"):   # article pages have no suffix
            if not data.rstrip().endswith(b"</html>"):
                return "HTML cut short"
        elif name.endswith(".css"):
            if not data.rstrip().endswith(b"}"):
                return "CSS cut short"
        elif name.endswith(".png"):
            if not (data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")):
                return "PNG cut short"
        else:
            return "a file no build writes"
    except (ValueError, etree.XMLSyntaxError) as exc:
        return f"does not parse: {exc}"
    return None


class PublicFolder:
    """public/ as the kills leave it, looked at after each one.

    A file is read again only when a kill has replaced it since (another inode, size
    or time): the ~200 files are not all parsed a hundred times over.
    """

    def __init__(self, root: Path, server: RunningServer):
        self.root, self.server = root, server
        self.checked: dict[str, tuple[tuple[int, int, int], str]] = {}   # path -> (identity, sha256) found whole
        self.temporary: set[str] = set()                     # every temporary file seen
        self.ahead: set[tuple[str, str]] = set()             # (path, sha256) out of step with the manifest

    def check(self, tally: Counter) -> list[str]:
        """Every file whole, every document out of step with the manifest served whole; the problems."""
        problems = []
        manifest = read_manifest(self.root)   # empty when killed before the first build finished
        temporary, ahead = [], []
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            relative = path.relative_to(self.root).as_posix()
            if TEMPORARY.fullmatch(path.name):
                temporary.append(relative)   # a write cut short: allowed, never served (checked below)
                continue
            if path.name == MANIFEST_NAME:   # the main one and each archive folder's: never served
                continue
            if path.name.startswith(CACHE_NAME):   # the kept entries: SQLite's files, never served
                if path.name == CACHE_NAME:
                    problem = cache_problem(path)
                    if problem:
                        problems.append(f"{relative}: {problem}")
                continue
            stat = path.stat()
            identity = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            known = self.checked.get(relative)
            if known and known[0] == identity:
                digest = known[1]
            else:
                data = path.read_bytes()
                problem = whole(relative, data)
                if problem:
                    problems.append(f"{relative}: {problem}")
                    continue
                digest = hashlib.sha256(data).hexdigest()
                self.checked[relative] = (identity, digest)
            entry = manifest.get(relative)
            if entry is not None and digest != entry["sha256"]:
                ahead.append((relative, digest))   # swapped in by the build the kill stopped before its manifest
            elif entry is None and not relative.startswith(".delta/") and not relative.endswith((".gz", ".br")):
                ahead.append((relative, digest))   # a new document whose manifest never came
        new_temporary = set(temporary) - self.temporary
        new_ahead = set(ahead) - self.ahead
        self.temporary |= new_temporary
        self.ahead |= new_ahead
        tally["temporary files left by a kill"] += len(new_temporary)
        tally["documents left ahead of the manifest by a kill"] += len(new_ahead)
        tally["kills that left a build unfinished"] += bool(new_temporary or new_ahead)
        for relative in temporary:
            status, _, _ = fetch(self.server, "/" + relative)
            if status != 404:
                problems.append(f"the temporary file {relative} is served ({status})")
        # The documents out of step with the manifest, and the main feeds, in every coding:
        # each answer whole and named by its ETag.
        served = {path for path, _ in ahead if not path.startswith(".")} | {"rss.xml", "atom.xml", "feed.json"}
        for relative in sorted(served):
            if not (self.root / relative).exists():
                continue
            for coding in ENCODINGS:
                status, headers, body = fetch(self.server, "/" + relative, coding)
                tally["answers checked"] += 1
                problem = answer_problem(relative, status, headers, body)
                if problem:
                    problems.append(f"served /{relative} ({coding}): {problem}")
        return problems


def answer_problem(relative: str, status: int, headers: http.client.HTTPMessage, body: bytes) -> str | None:
    """An answer must be 200, its ETag the SHA-256 of the decoded bytes, and those bytes whole."""
    if status != 200:
        return f"status {status}"
    coding = headers.get("Content-Encoding", "identity")
    match = ETAG.fullmatch(headers.get("ETag", ""))
    if coding not in DECODE or not match or match.group(2) != SUFFIX[coding]:
        return f"ETag {headers.get('ETag')!r} with Content-Encoding {coding}"
    try:
        document = DECODE[coding](body)
    except Exception as exc:   # a cut variant
        return f"does not decode: {exc}"
    if hashlib.sha256(document).hexdigest()[:40] != match.group(1):
        return "the ETag is not the body's SHA-256"
    return whole(relative, document)


def catch_a_build(public: Path, timeout: float = 2.0) -> bool:
    """Wait until a build is seen writing public/: the first file a build that changes the
    main feed replaces is ``rss.xml.br`` (the variants go first, rss.xml is the first
    document). False when it was not replaced within ``timeout`` seconds."""
    def identity() -> tuple[int, int] | None:
        try:
            stat = os.stat(public / "rss.xml.br")
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns

    before = identity()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if identity() != before:
            return True
        time.sleep(0.001)
    return False


def fetch(server: RunningServer, path: str, coding: str | None = None):
    connection = connect(server.url)
    try:
        connection.request("GET", path, headers={"Accept-Encoding": coding} if coding else {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def check_store(path: Path, newsroom: Newsroom, ids: list[str]) -> list[str]:
    """The store is sound after the kill and holds each of ``ids`` as it was acknowledged."""
    raw = sqlite3.connect(path)
    try:
        verdict = raw.execute("PRAGMA integrity_check").fetchall()
    finally:
        raw.close()
    problems = [] if verdict == [("ok",)] else [f"integrity_check: {verdict}"]
    store = SQLiteStore(path, clock=utc_now)   # the project's own opening: WAL recovery and migrations
    try:
        for article_id in ids:
            found = store.get(article_id)
            if found is None or found.title != newsroom.acknowledged[article_id]:
                problems.append(f"acknowledged article {article_id} is {'missing' if found is None else 'changed'}")
    finally:
        store.close()
    return problems


def test_a_start_removes_only_the_temporary_files_of_interrupted_writes(tmp_path, monkeypatch):
    from feeds.publishing import atomic
    from feeds.publishing.atomic import write_atomic
    from scheduler import remove_interrupted_writes

    (tmp_path / "category" / "politik").mkdir(parents=True)
    cut_short = [tmp_path / ".rss.xml.k3j_9x2a.tmp", tmp_path / "category" / "politik" / ".atom.xml.0abcdefg.tmp"]
    for path in cut_short:
        path.write_bytes(b"<rss><chan")
    kept = [tmp_path / ".notes.tmp", tmp_path / ".notes.2024-01.tmp", tmp_path / "draft.tmp", tmp_path / "rss.xml"]
    for path in kept:
        path.write_bytes(b"the operator's")
    assert remove_interrupted_writes(tmp_path, recursive=True) == 2
    assert not any(path.exists() for path in cut_short) and all(path.exists() for path in kept)
    # The names it looks for are the names write_atomic gives its temporary files.
    made = []
    real_open_temp = atomic._open_temp
    monkeypatch.setattr(atomic, "_open_temp", lambda path: made.append(real_open_temp(path)) or made[-1])
    write_atomic(tmp_path / "feed.json", b"{}")
    assert len(made) == 1 and TEMPORARY.fullmatch(Path(made[0][1]).name)


@pytest.mark.heavy
def test_sigkill_at_random_points_loses_no_acknowledged_article_and_leaves_public_whole(memory_path, record_property):
    tmp_path = memory_path   # 100 starts each rebuild the site: see the fixture
    (tmp_path / "feedpub.toml").write_text(
        # A small site (main and category feeds, 5 items): each of the 100 starts builds it
        # all again, and the starts are most of the test's time.
        f'[feeds]\nitems = 5\ntags = false\nauthors = false\n[schedule]\nrebuild_minutes = 60\n'
        f'[api]\ntoken = "{TOKEN}"\n', encoding="utf-8")
    public, store_path, log = tmp_path / "public", tmp_path / "data" / "feedpub.sqlite3", tmp_path / "serve.log"
    public.mkdir()
    checker = RunningServer(PublicFiles(public, max_age=60))   # a server of public/ that outlives the kills
    folder = PublicFolder(public, checker)
    chance = random.Random(8)
    newsroom = Newsroom()
    tally: Counter = Counter()
    problems: list[str] = []
    deadline = time.monotonic() + DEADLINE
    started = time.monotonic()
    try:
        for round_number in range(KILLS):
            assert time.monotonic() < deadline, f"only {round_number} kills within {DEADLINE} s"
            kind = KINDS[round_number % len(KINDS)]   # "ingest" first: that start makes the store
            before = set(newsroom.acknowledged)
            newsroom.killed.clear()
            serve = Serve(tmp_path, log)
            try:
                if kind == "start":
                    time.sleep(chance.uniform(0.2, 0.8))   # imports, store, start build, or already serving
                else:
                    url = serve.address()
                    if kind == "ingest":
                        stop = threading.Event()
                        client = threading.Thread(target=newsroom.post_until, args=(url, stop))
                        client.start()
                        time.sleep(chance.uniform(0.02, 0.3))
                    else:
                        connection = connect(url)
                        for _ in range(3):
                            newsroom.post(connection)
                        connection.close()
                        # The store watcher builds the burst within a second: the kill comes at
                        # a random moment of the 50 ms after its first write is seen.
                        tally["builds caught writing"] += catch_a_build(public)
                        time.sleep(chance.uniform(0.0, 0.05))
            finally:
                newsroom.killed.set()
                serve.kill()
            if kind == "ingest":
                stop.set()
                client.join(timeout=10)
            tally[f"kills during {kind}"] += 1
            new = [article_id for article_id in newsroom.acknowledged if article_id not in before]
            problems += [f"round {round_number} ({kind}): {p}" for p in check_store(store_path, newsroom, new)]
            problems += [f"round {round_number} ({kind}): {p}" for p in folder.check(tally)]
            assert not problems, problems
        elapsed = time.monotonic() - started

        # A clean start after the last kill: everything acknowledged is there, public/ is what
        # its manifest says, and the feeds serve the newest acknowledged article.
        final = check_store(store_path, newsroom, list(newsroom.acknowledged))
        problems += final
        serve = Serve(tmp_path, log)
        try:
            url = serve.address()
            newest = max(newsroom.acknowledged.values(), key=lambda title: int(title.rsplit(" ", 1)[1]))
            connection = connect(url)
            connection.request("GET", "/atom.xml")
            assert newest.encode() in connection.getresponse().read()
            connection.close()
        finally:
            serve.process.send_signal(signal.SIGTERM)
            assert serve.process.wait(timeout=30) == 0
            serve.process.stdout.close()
        manifest = read_manifest(public)   # archive pages included
        for relative, entry in manifest.items():
            assert hashlib.sha256((public / relative).read_bytes()).hexdigest() == entry["sha256"], relative
        leftovers = sorted(p.relative_to(public).as_posix() for p in public.rglob("*") if TEMPORARY.fullmatch(p.name))
    finally:
        checker.stop()

    figures = {
        "kills": sum(n for key, n in tally.items() if key.startswith("kills during")),
        "kills_by_kind": {kind: tally[f"kills during {kind}"] for kind in KINDS},
        "seconds": round(elapsed, 1),
        "acknowledged_articles": len(newsroom.acknowledged),
        "acknowledged_articles_missing_or_changed": len(final),
        "posts_cut_off_by_a_kill": newsroom.unanswered,
        "builds_caught_writing_before_a_kill": tally["builds caught writing"],
        "kills_that_left_a_build_unfinished": tally["kills that left a build unfinished"],
        "temporary_files_left_by_kills": tally["temporary files left by a kill"],
        "temporary_files_after_a_clean_start": len(leftovers),
        "documents_left_ahead_of_the_manifest": tally["documents left ahead of the manifest by a kill"],
        "served_answers_checked": tally["answers checked"],
    }
    for name, value in figures.items():
        record_property(name, value)
    print("\ncrash safety:", json.dumps(figures, sort_keys=True))
    assert problems == []
    assert newsroom.refused == []
    # The kills did land where they were meant to: inside requests and inside builds.
    assert newsroom.unanswered > 0 and tally["kills that left a build unfinished"] > 0
    # A start removes what interrupted writes left behind (scheduler.remove_interrupted_writes).
    assert leftovers == []
