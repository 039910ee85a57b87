"""Shared fixtures: real files, a real store (SQLite, and PostgreSQL where a module asks
for both backends), fixed clocks.

The ``store`` fixture is SQLite unless the test module is marked ``both_stores``
(``pytestmark = pytest.mark.both_stores``): then each test using it runs once per
backend, ``[sqlite]`` and ``[postgresql]``. PostgreSQL is the server at
``FEEDPUB_TEST_POSTGRES_URL`` (default postgresql://postgres@127.0.0.1:5432/test);
each test module gets a schema of its own (migrated once, emptied before each test),
and each test that needs an empty database (``postgres_url``) one of its own. When no
server answers, those tests skip saying why; with FEEDPUB_REQUIRE_POSTGRES=1 (.ci/run)
they fail instead.
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from feedpub.settings import utc_now
from feeds.site import SiteSettings
from sources.ingest import ingest_paths
from sources.model import Article, IngestSettings
from sources.store import SQLiteStore
from sources.store.sql import SQLStore

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


POSTGRES_URL = os.environ.get("FEEDPUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("FEEDPUB_REQUIRE_POSTGRES") == "1"
SCHEMA_PREFIX = "feedpub_test_"
_schemas = itertools.count()


@functools.cache
def _postgres_problem() -> str | None:
    """Why no PostgreSQL server is usable at POSTGRES_URL, or None."""
    import psycopg

    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3, autocommit=True) as conn:
            # Schemas left by test runs that died (their pid is gone): the CI machine is reused.
            for (name,) in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s",
                                        (SCHEMA_PREFIX + "%",)).fetchall():
                pid = name[len(SCHEMA_PREFIX):].split("_")[0]
                if pid.isdigit() and not _alive(int(pid)):
                    conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    except psycopg.Error as exc:
        return f"no PostgreSQL at {POSTGRES_URL} (set FEEDPUB_TEST_POSTGRES_URL): {str(exc).strip()}"
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def require_postgres() -> None:
    """Skip the calling test when no PostgreSQL answers (fail under FEEDPUB_REQUIRE_POSTGRES=1)."""
    problem = _postgres_problem()
    if problem:
        if REQUIRE_POSTGRES:
            pytest.fail(f"FEEDPUB_REQUIRE_POSTGRES=1 and {problem}")
        pytest.skip(problem)


def _schema_url(schema: str) -> str:
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def _postgres_schemas() -> Iterator[Callable[[], str]]:
    """new() -> the URL of a new, empty schema; every one is dropped when the session ends."""
    made: list[str] = []

    def new() -> str:
        import psycopg

        require_postgres()
        name = f"{SCHEMA_PREFIX}{os.getpid()}_{next(_schemas)}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        made.append(name)
        return _schema_url(name)

    yield new
    if made:
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            for name in made:
                conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def postgres_url(_postgres_schemas) -> str:
    """A PostgreSQL store URL of this test's own: an empty schema, no tables yet."""
    return _postgres_schemas()


@pytest.fixture(scope="module")
def _module_postgres(_postgres_schemas) -> str:
    """One migrated schema for every PostgreSQL test of a module (see :func:`_emptied`)."""
    from sources.store.postgres import PostgresStore

    url = _postgres_schemas()
    PostgresStore(url, clock=utc_now).close()   # the tables, once
    return url


def _emptied(url: str) -> str:
    """The module's schema as a new store has it: no rows, revision 0 (TRUNCATE costs far
    less than a schema and its migrations per test)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename NOT IN ('meta', 'schema_version') ORDER BY tablename").fetchall()]
        conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
        conn.execute("UPDATE meta SET value = 0")
    return url


def pytest_generate_tests(metafunc) -> None:
    # One fixture, both backends, for the modules that ask (see the module docstring).
    if "store" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_stores"):
        metafunc.parametrize("store", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def store(request, tmp_path: Path) -> Iterator[SQLStore]:
    if getattr(request, "param", "sqlite") == "postgresql":
        from sources.store.postgres import PostgresStore

        opened: SQLStore = PostgresStore(_emptied(request.getfixturevalue("_module_postgres")), clock=utc_now)
    else:
        opened = SQLiteStore(tmp_path / "data" / "feedpub.sqlite3", clock=utc_now)
    yield opened
    opened.close()


def store_url(store: SQLStore) -> str:
    """What FEEDPUB_STORE_URL says to reach ``store`` (for a CLI command a test runs)."""
    return str(store.path) if isinstance(store, SQLiteStore) else store.url


@pytest.fixture
def cli_store(store, tmp_path, monkeypatch) -> Path:
    """A `feedpub` command run in-process uses ``store``: the working directory is ``tmp_path``,
    with a feedpub.toml naming the site (a shared store requires its base_url); returns that file."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FEEDPUB_STORE_URL", store_url(store))
    config = tmp_path / "feedpub.toml"
    config.write_text('[site]\nbase_url = "https://okes.example"\n', encoding="utf-8")
    return config


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


def store_dump(store: SQLStore) -> list[str]:
    """Every row of the store, to prove a failed write changed nothing."""
    if isinstance(store, SQLiteStore):
        with store._lock:  # test-only peek under the store's own lock
            return list(store._db.iterdump())
    with store._connection() as cur:   # test-only peek: every table's rows as text, in order
        tables = [row[0] for row in cur.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename").fetchall()]
        return [f"{table}: {row[0]}" for table in tables
                for row in cur.execute(f"SELECT t::text FROM {table} t ORDER BY 1").fetchall()]


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
