"""Shared fixtures: real files, a real SQLite store, fixed clocks."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from feedpub.settings import utc_now
from feeds.site import SiteSettings
from sources.ingest import ingest_paths
from sources.model import Article, IngestSettings
from sources.store import SQLiteStore

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SAMPLE = ROOT / "sources" / "sample" / "okes-forkopimda-oku-pilkada-2024.txt"
JAKARTA = ZoneInfo("Asia/Jakarta")
LOGO_BYTES = (ROOT / "feeds" / "rendering" / "assets" / "logo.png").read_bytes()
# The morning the sample's meeting was reported.
INGEST_TIME = datetime(2024, 9, 18, 14, 30, tzinfo=JAKARTA)


@pytest.fixture
def site() -> SiteSettings:
    return SiteSettings(
        title="OKES.NEWS",
        description="Berita Ogan Komering Ulu",
        base_url="https://okes.example",
        language="id",
        timezone="Asia/Jakarta",
        author="Redaksi OKES.NEWS",
        items_per_feed=50,
        rebuild_minutes=15,
    )


@pytest.fixture
def ingest_settings() -> IngestSettings:
    return IngestSettings(tag_authority="okes.example", timezone="Asia/Jakarta", language="id")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "data" / "feedpub.sqlite3", clock=utc_now)
    yield opened
    opened.close()


@pytest.fixture
def ingest(store, ingest_settings):
    """ingest(path_or_text, now=..., **overrides) -> IngestSummary, with messages collected."""
    messages: list[str] = []

    def run(*paths: Path, now: datetime = INGEST_TIME, **overrides):
        return ingest_paths(store, list(paths), settings=ingest_settings, now=lambda: now,
                            overrides=overrides, report=messages.append)

    run.messages = messages
    return run


def write_article(folder: Path, name: str, text: str, *, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def latest_published(store: SQLiteStore, now: datetime, limit: int, *, kind: str | None = None,
                     name: str | None = None) -> list[Article]:
    """The newest ``limit`` articles readers see at ``now`` in the main feed, or in the feed
    of a category, tag or author (``kind``, ``name``), read as a build reads them."""
    return store.articles(store.latest_ids(kind, name, now, limit), now)


def store_dump(store: SQLiteStore) -> list[str]:
    """Every row of the store, to prove a failed write changed nothing."""
    with store._lock:  # test-only peek under the store's own lock
        return list(store._db.iterdump())


def seen_by_the_server() -> None:
    """A build is served within RECHECK_SECONDS of its manifest landing (the server looks at
    the manifest at most that often): a test that built waits that long before asking."""
    from feeds.serving.server import RECHECK_SECONDS

    time.sleep(RECHECK_SECONDS)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningServer:
    """A real waitress server on a free loopback port, in a thread."""

    def __init__(self, app):
        from feeds.serving.server import create_server

        self.server = create_server(app, "127.0.0.1", 0, threads=4)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        # Closed from inside its own loop (waitress's trigger runs the call there):
        # closing the socket from this thread races the loop's select().
        try:
            self.server.trigger.pull_trigger(self.server.close)
        except OSError:   # the trigger is already closed: the loop is ending or has ended
            pass
        self.thread.join(timeout=5)
        self.server.task_dispatcher.shutdown()


@pytest.fixture
def public(tmp_path, store, ingest, site) -> Path:
    """public/ built from the sample article (a test module may define its own)."""
    from feeds.building.build import build

    ingest(SAMPLE)
    out = tmp_path / "public"
    build(store, site, out, INGEST_TIME)
    return out


@pytest.fixture
def server(public) -> Iterator[RunningServer]:
    """The real server on a free loopback port over ``public``."""
    from feeds.serving.server import PublicFiles

    running = RunningServer(PublicFiles(public, max_age=900))
    yield running
    running.stop()


@pytest.fixture
def memory_path(tmp_path) -> Iterator[Path]:
    """A folder in memory (tmpfs, /dev/shm) when the machine has one, else ``tmp_path``.

    For tests that build hundreds of times: each build fsyncs every file it replaces and
    its folder, up to a second a build on a shared disk busy with other work, and
    nothing on tmpfs. Everything else is the same there: rename(2) swapping a complete
    file in, SQLite's WAL, and what a killed process leaves (its writes are in the page
    cache either way; fsync only matters when the power goes).
    """
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    made = Path(tempfile.mkdtemp(prefix="feedpub-test-", dir=shm))
    try:
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)


def pytest_terminal_summary(terminalreporter) -> None:
    """The figures the reliability tests recorded with ``record_property``, shown after
    every run so that a CI log holds what docs/RELIABILITY.md quotes."""
    lines = [f"{report.nodeid}: {name} = {value}"
             for outcome in ("passed", "failed")
             for report in terminalreporter.getreports(outcome)
             if report.when == "call"
             for name, value in report.user_properties]
    if lines:
        terminalreporter.section("figures")
        for line in lines:
            terminalreporter.write_line(line)
