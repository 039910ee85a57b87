"""The SQLite store itself: schema, migrations, concurrent opening."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import pytest

from feedpub.settings import utc_now
from sources.errors import StoreError
from sources.store import SQLiteStore
from sources.store.schema import MIGRATIONS

ROOT = Path(__file__).resolve().parent.parent


def schema_version(path: Path) -> int:
    with closing(sqlite3.connect(path)) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


def test_a_new_store_is_wal_and_at_the_latest_schema(tmp_path):
    store = SQLiteStore(tmp_path / "new" / "feedpub.sqlite3", clock=utc_now)
    assert schema_version(store.path) == len(MIGRATIONS)
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_an_old_store_is_migrated_in_order(tmp_path):
    path = tmp_path / "v1.sqlite3"
    db = sqlite3.connect(path)
    for statement in MIGRATIONS[0].statements("sqlite"):
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    store = SQLiteStore(path, clock=utc_now)
    assert schema_version(path) == len(MIGRATIONS)
    columns = {row[1] for row in store._db.execute("PRAGMA table_info(articles)")}
    assert {"deleted_ts", "source"} <= columns
    store.close()


def test_a_store_from_a_newer_feedpub_is_refused(tmp_path):
    path = tmp_path / "future.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer than this feedpub knows"):
        SQLiteStore(path, clock=utc_now)


def test_a_file_that_is_not_a_store_is_named(tmp_path):
    path = tmp_path / "notes.sqlite3"
    path.write_text("not a database " * 100)
    with pytest.raises(StoreError, match=r"notes\.sqlite3: cannot open the store"):
        SQLiteStore(path, clock=utc_now)


def test_processes_opening_a_fresh_store_at_once_all_succeed(tmp_path):
    path = tmp_path / "race.sqlite3"
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from feedpub.settings import utc_now; from sources.store import SQLiteStore; SQLiteStore({str(path)!r}, clock=utc_now).close()"
    for _ in range(5):
        path.unlink(missing_ok=True)
        processes = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(4)]
        errors = [p.communicate(timeout=60)[1] for p in processes]
        assert [p.returncode for p in processes] == [0, 0, 0, 0], errors


@pytest.mark.parametrize("feed", [(None, None), ("tag", "Pilkada 2024")])
def test_a_feeds_places_come_from_indexes_alone(tmp_path, feed):
    """An article's row holds its content: reading status from it walked its overflow pages
    (docs/BENCHMARKS.md, "The store's queries")."""
    from datetime import datetime, timezone

    store = SQLiteStore(tmp_path / "feedpub.sqlite3", clock=utc_now)
    queries = []
    store._db.set_trace_callback(queries.append)   # each statement with its parameters written in
    store.places(*feed, datetime(2024, 9, 20, tzinfo=timezone.utc))
    store._db.set_trace_callback(None)
    plan = " ".join(row[3] for row in store._db.execute(f"EXPLAIN QUERY PLAN {queries[-1]}"))
    searched = [step for step in plan.split("SEARCH ") if step.startswith("a ")]   # the articles table
    assert searched and all("COVERING INDEX" in step for step in searched), plan
    store.close()


NOW = datetime(2024, 9, 20, tzinfo=timezone.utc)
READS = {   # every read of every role (sources/store/roles.py)
    "revision": lambda store: store.revision(),
    "count": lambda store: store.count(),
    "get": lambda store: store.get("tag:okes.example,2024:a"),
    "lookup": lambda store: store.lookup(article_id=None, slug="a", source="a.txt"),
    "page": lambda store: store.page(10),
    "terms": lambda store: store.terms("tag", NOW),
    "has_term": lambda store: store.has_term("tag", "Banjir", NOW),
    "latest_ids": lambda store: store.latest_ids("tag", "Banjir", NOW, 10),
    "articles": lambda store: store.articles(["tag:okes.example,2024:a"], NOW),
    "places": lambda store: store.places(None, None, NOW),
    "place_near": lambda store: store.place_near(None, None, NOW, NOW, before=True),
    "changes_since": lambda store: store.changes_since(0),
    "placements": lambda store: store.placements(["tag:okes.example,2024:a"]),
    "released_between": lambda store: store.released_between(NOW, NOW),
    "linking_to": lambda store: store.linking_to(["tag:okes.example,2024:a"]),
    "deleted_since": lambda store: store.deleted_since(NOW, NOW),
    "upcoming": lambda store: store.upcoming(NOW),
    "find_image": lambda store: store.find_image("https://okes.example/a.jpg"),
    "unmeasured_images": lambda store: store.unmeasured_images(10),
    "history": lambda store: store.history("a"),
    "find_upstream": lambda store: store.find_upstream("https://mitra.example/feed.xml", "1"),
    "find_by_url": lambda store: store.find_by_url("https://mitra.example/a"),
    "source_state": lambda store: store.source_state("https://mitra.example/feed.xml"),
}


@pytest.mark.parametrize("read", sorted(READS))
def test_a_read_that_fails_is_a_store_error_naming_the_store(tmp_path, read):
    store = SQLiteStore(tmp_path / "feedpub.sqlite3", clock=utc_now)
    store.close()   # every statement now fails in SQLite
    with pytest.raises(StoreError, match=rf"^{re.escape(str(store.path))}: cannot read "):
        READS[read](store)


def test_a_version_stored_without_a_time_takes_the_stores_clock(tmp_path):
    from sources.model import Article, SaveResult, Status

    clock = datetime(2024, 9, 20, 8, 30, tzinfo=timezone.utc)
    store = SQLiteStore(tmp_path / "feedpub.sqlite3", clock=lambda: clock)
    article = Article(
        id="tag:okes.example,2024:a", slug="a", url=None, title="Rapat Pilkada OKU", summary="Ringkasan.",
        content_html="<p>Isi.</p>", content_text="Isi.", author=None, city=None, publication=None,
        published=NOW, updated=NOW, categories=(), tags=(), language="id", status=Status.PUBLISHED, stored=None)
    store.save(lambda existing: SaveResult("created", article), article_id=article.id, slug=article.slug)
    assert [revision.stored for revision in store.history("a")] == [clock]
    store.close()


# --- the shared store (PostgreSQL) ---------------------------------------------------------

# What only one backend has: PostgreSQL's change log's sequence (SQLite's rowid), its schema
# version table and the instances' poll log (SQLite keeps polls in stats.sqlite3).
SQLITE_ONLY: set[str] = set()
POSTGRES_ONLY = {"schema_version": None, "polls": None, "changes": {"seq"}}


def sqlite_tables(path: Path) -> dict[str, set[str]]:
    with closing(sqlite3.connect(path)) as db:
        names = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: {row[1] for row in db.execute(f"PRAGMA table_info({name})")}
                for name in names if not name.startswith(("sqlite_", "articles_fts_"))}


def test_both_backends_reach_the_same_schema(tmp_path, postgres_url):
    from sources.store.postgres import PostgresStore

    SQLiteStore(tmp_path / "feedpub.sqlite3", clock=utc_now).close()
    shared = PostgresStore(postgres_url, clock=utc_now)
    try:
        assert schema_version(tmp_path / "feedpub.sqlite3") == shared.schema_version() == len(MIGRATIONS)
        with shared._connection() as cur:
            rows = cur.execute("SELECT table_name, column_name FROM information_schema.columns "
                               "WHERE table_schema = current_schema()").fetchall()
    finally:
        shared.close()
    postgres: dict[str, set[str]] = {}
    for table, column in rows:
        postgres.setdefault(table, set()).add(column)
    for table, only in POSTGRES_ONLY.items():
        if only is None:
            postgres.pop(table)
        else:
            postgres[table] -= only
    embedded = {table: columns for table, columns in sqlite_tables(tmp_path / "feedpub.sqlite3").items()
                if table not in SQLITE_ONLY}
    assert postgres == embedded


def test_every_text_column_of_a_shared_store_sorts_by_code_point(postgres_url):
    """Ids break ties in every feed; prefixes resolve links: both must compare as SQLite does,
    whatever collation the database was created with."""
    from sources.store.postgres import PostgresStore

    PostgresStore(postgres_url, clock=utc_now).close()
    import psycopg

    with psycopg.connect(postgres_url) as conn:
        other = conn.execute("SELECT table_name, column_name, collation_name FROM information_schema.columns "
                             "WHERE table_schema = current_schema() AND data_type = 'text' "
                             "AND collation_name IS DISTINCT FROM 'C'").fetchall()
    assert other == []


def test_processes_opening_a_fresh_shared_store_at_once_all_succeed(postgres_url):
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from feedpub.settings import utc_now; "
            f"from sources.store.postgres import PostgresStore; PostgresStore({postgres_url!r}, clock=utc_now).close()")
    processes = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(4)]
    errors = [p.communicate(timeout=60)[1] for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0, 0], errors
    from sources.store.postgres import PostgresStore

    store = PostgresStore(postgres_url, clock=utc_now)
    try:
        assert store.schema_version() == len(MIGRATIONS) and store.revision() == 0
    finally:
        store.close()


def test_a_shared_store_from_a_newer_feedpub_is_refused(postgres_url):
    from sources.store.postgres import PostgresStore

    PostgresStore(postgres_url, clock=utc_now).close()
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_version SET version = version + 1")
    with pytest.raises(StoreError, match="newer than this feedpub knows"):
        PostgresStore(postgres_url, clock=utc_now)


def test_an_unreachable_database_is_named_without_its_password():
    from sources.store.postgres import PostgresStore

    with pytest.raises(StoreError, match=r"^postgresql://feedpub:\*\*\*@127\.0\.0\.1:1/none\?connect_timeout=1: "
                                         r"cannot open the store: .*refused"):
        PostgresStore("postgresql://feedpub:geheim@127.0.0.1:1/none?connect_timeout=1", clock=utc_now)
