"""Moving a site: `feedpub store copy SRC DST` copies an SQLite store to PostgreSQL whole
(articles and tombstones, revisions, bound links and stored suggestions, source states,
the revision), checks counts and per-article digests, and a build from the copy gives the
same bytes as a build from the original."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from feedpub.settings import utc_now
from feeds.building.build import build
from sources.errors import StoreError
from sources.model import Image, SourceState
from sources.store import SQLiteStore
from sources.store.copy import COPIED, DERIVED, _check, article_digests

from .conftest import DATA, INGEST_TIME, SAMPLE, write_article

NOW = INGEST_TIME + timedelta(days=1)


def files(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture
def original(tmp_path, ingest_settings) -> SQLiteStore:
    """A store with something of everything: suggestions, bound and pending links, edits,
    a tombstone, a draft, an embargoed article, a measured image, a partner's state."""
    from sources.ingest import ingest_paths

    store = SQLiteStore(tmp_path / "site" / "feedpub.sqlite3", clock=utc_now)

    def ingest(path, now=INGEST_TIME, **overrides):
        ingest_paths(store, [path], settings=ingest_settings, now=lambda: now, overrides=overrides,
                     report=lambda _: None)

    ingest(DATA / "articles" / "topik")
    ingest(SAMPLE)
    edited = write_article(tmp_path / "in", "banjir.txt", "---\ntitle: Bhabinkamtibmas Dituntut Mampu Ciptakan "
                           "Situasi Aman dan Kondusif Selama Pemilukada\nimage: https://img.example/a.jpg\n---\n"
                           "BATURAJA - OKES.NEWS - Isi pertama.\n")
    ingest(edited)
    edited.write_text(edited.read_text(encoding="utf-8").replace("pertama", "kedua"), encoding="utf-8")
    ingest(edited, now=INGEST_TIME + timedelta(hours=1))
    ingest(write_article(tmp_path / "in", "hapus.txt", "Berita yang dihapus."))
    store.delete("hapus", INGEST_TIME + timedelta(hours=2))
    ingest(write_article(tmp_path / "in", "draf.txt", "Berita draf."))
    store.unpublish("draf", INGEST_TIME + timedelta(hours=2))
    ingest(write_article(tmp_path / "in", "nanti.txt", "Berita terembargo."), published=(NOW + timedelta(days=1)).isoformat())
    store.record_image(Image("https://img.example/a.jpg", "image/jpeg", 4321))
    store.save_source_state(SourceState("https://mitra.example/feed.xml", etag='"v3"', last_poll=INGEST_TIME,
                                        last_status="200"))
    yield store
    store.close()


def test_a_copy_to_postgresql_builds_the_same_bytes(original, postgres_url, tmp_path, site, capsys, monkeypatch):
    import psycopg

    from feedpub.cli import main
    from sources.store.postgres import PostgresStore

    monkeypatch.chdir(tmp_path)
    assert main(["store", "copy", f"sqlite:///{original.path}", postgres_url]) == 0
    summary = capsys.readouterr().out
    assert f"at revision {original.revision()}" in summary and f"{original.count()} articles checked" in summary
    copy = PostgresStore(postgres_url, clock=utc_now)
    try:
        assert copy.revision() == original.revision() and copy.count() == original.count()
        with psycopg.connect(postgres_url) as conn:   # the planner knows the copied tables at once
            assert conn.execute("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE schemaname = "
                                "current_schema() AND relname = 'articles'").fetchone()[0]
        assert article_digests(copy) == article_digests(original)
        assert copy.history("banjir") == original.history("banjir")
        assert copy.source_state("https://mitra.example/feed.xml") == original.source_state(
            "https://mitra.example/feed.xml")
        related = [link for article in copy.page(50) for link in article.related]
        assert any(link.suggested for link in related) and any(link.target_id and not link.suggested
                                                               for link in related)   # stored, not computed again
        build(original, site, tmp_path / "from-sqlite", NOW)
        build(copy, site, tmp_path / "from-postgresql", NOW)
        assert files(tmp_path / "from-sqlite") == files(tmp_path / "from-postgresql")
        # A second copy into it is refused: the target is not empty.
        assert main(["store", "copy", str(original.path), postgres_url]) == 1
        assert "not empty" in capsys.readouterr().err
    finally:
        copy.close()


def test_the_check_names_an_article_that_differs(original, postgres_url):
    from sources.store.copy import copy_store
    from sources.store.postgres import PostgresStore

    copy = PostgresStore(postgres_url, clock=utc_now)
    try:
        report = copy_store(original, copy)
        with copy._connection() as cur:
            cur.execute("UPDATE revisions SET snapshot = replace(snapshot, 'kedua', 'ketiga') "
                        "WHERE article_id = (SELECT id FROM articles WHERE slug = 'banjir') AND number = 2")
        with pytest.raises(StoreError, match=r"1 articles differ from .*, e\.g\. tag:okes\.example,2024-09-18:banjir$"):
            _check(original, copy, report.rows)
    finally:
        copy.close()


def test_a_missing_source_is_named_and_nothing_is_made(tmp_path, capsys, postgres_url):
    from feedpub.cli import main

    assert main(["store", "copy", str(tmp_path / "nope.sqlite3"), postgres_url]) == 2
    assert "SRC_URL: no store at" in capsys.readouterr().err
    assert not (tmp_path / "nope.sqlite3").exists()


def test_every_table_is_copied_or_derived(tmp_path, postgres_url):
    """A table a later migration adds must be copied (COPIED) or made by the store (DERIVED)."""
    import psycopg

    from sources.store.postgres import PostgresStore

    SQLiteStore(tmp_path / "s.sqlite3", clock=utc_now).close()
    PostgresStore(postgres_url, clock=utc_now).close()
    with closing(sqlite3.connect(tmp_path / "s.sqlite3")) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                  if not row[0].startswith(("sqlite_", "articles_fts_"))}
    with psycopg.connect(postgres_url) as conn:
        tables |= {row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").fetchall()}
    assert tables == {table for table, _, _ in COPIED} | DERIVED
