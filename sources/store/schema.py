"""The store's schema: numbered migrations keyed on ``PRAGMA user_version``.

Each entry of :data:`MIGRATIONS` leads to the next schema version. Never edit a
released one (stores in the field ran it already): append a new one.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..errors import StoreError

# The article_terms rows of one article (``new``), for the triggers of migration 5.
_TERM_ROWS = """INSERT INTO article_terms SELECT DISTINCT 'category', value, new.id, new.published_ts
                FROM json_each(new.categories);
            INSERT INTO article_terms SELECT DISTINCT 'tag', value, new.id, new.published_ts
                FROM json_each(new.tags);
            INSERT INTO article_terms SELECT 'author', new.author, new.id, new.published_ts
                WHERE new.author IS NOT NULL;"""
_REVISION = "(SELECT value FROM meta WHERE key = 'revision')"
# What decides which documents an article is in, and what a link to it shows, as JSON
# (sources/placement.py reads it back). Migration 5 once logged it without title, slug
# and url: stores made then hold placements that lack them.
PLACEMENT = ("json_object('status', {row}.status, 'published_ts', {row}.published_ts, "
             "'deleted_ts', {row}.deleted_ts, 'categories', json({row}.categories), "
             "'tags', json({row}.tags), 'author', {row}.author, "
             "'title', {row}.title, 'slug', {row}.slug, 'url', {row}.url)")

# Placement.is_place (sources/placement.py) for the articles row ``a`` at the Unix time
# ``:now``: readers can see it, or could until it was deleted. SQL must say it too, so
# that a feed's history is read through indexes; tests/test_placement.py checks that the
# two agree.
PLACE = ("((a.status = 'published' OR (a.status = 'deleted' AND a.deleted_ts IS NOT NULL)) "
         "AND a.published_ts <= :now)")

# Numbered migrations: index + 1 is the schema version they lead to.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE articles (
            id            TEXT PRIMARY KEY,
            slug          TEXT NOT NULL UNIQUE,
            url           TEXT,
            title         TEXT NOT NULL,
            title_norm    TEXT NOT NULL,
            summary       TEXT NOT NULL,
            content_html  TEXT NOT NULL,
            content_text  TEXT NOT NULL,
            author        TEXT,
            city          TEXT,
            publication   TEXT,
            published     TEXT NOT NULL,     -- ISO 8601 with its offset, as given
            published_ts  INTEGER NOT NULL,  -- Unix seconds, for ordering and embargo checks
            updated       TEXT NOT NULL,
            updated_ts    INTEGER NOT NULL,
            categories    TEXT NOT NULL,     -- JSON array of names
            tags          TEXT NOT NULL,     -- JSON array of names
            language      TEXT NOT NULL,
            image_url     TEXT,
            image_type    TEXT,
            image_length  INTEGER,
            status        TEXT NOT NULL CHECK (status IN ('published', 'draft', 'deleted'))
        )""",
        "CREATE INDEX articles_by_time ON articles (status, published_ts DESC, id)",
        "CREATE INDEX articles_by_title ON articles (title_norm)",
        """CREATE TABLE related_links (
            article_id  TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
            position    INTEGER NOT NULL,
            title       TEXT NOT NULL,
            title_norm  TEXT NOT NULL,
            target_id   TEXT REFERENCES articles (id) ON DELETE SET NULL,
            PRIMARY KEY (article_id, position)
        )""",
        "CREATE INDEX related_pending ON related_links (title_norm) WHERE target_id IS NULL",
        "CREATE INDEX related_by_target ON related_links (target_id)",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        "INSERT INTO meta (key, value) VALUES ('revision', 0)",
    ),
    (
        # When an article was deleted: Atom feeds carry a tombstone (RFC 6721) for a while.
        "ALTER TABLE articles ADD COLUMN deleted_ts INTEGER",
        "CREATE INDEX articles_deleted ON articles (deleted_ts) WHERE deleted_ts IS NOT NULL",
        # The file an article came from: an edited file is the same article even when
        # its slug changes, and another file with the same name is not.
        "ALTER TABLE articles ADD COLUMN source TEXT",
        "CREATE INDEX articles_by_source ON articles (source) WHERE source IS NOT NULL",
        # Every link whose marker a title change may affect is found through this.
        "CREATE INDEX related_by_marker ON related_links (title_norm)",
        "ALTER TABLE articles ADD COLUMN stored TEXT",
    ),
    (
        # Every version an article had before its latest (feedpub history, the API).
        """CREATE TABLE revisions (
            article_id  TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
            number      INTEGER NOT NULL,   -- 1 = the first version stored
            stored      TEXT NOT NULL,      -- when this version was stored (ISO 8601)
            snapshot    TEXT NOT NULL,      -- the version as JSON
            PRIMARY KEY (article_id, number)
        )""",
        # Articles taken from partner feeds: which item of which feed, and whose.
        "ALTER TABLE articles ADD COLUMN upstream_id TEXT",
        "ALTER TABLE articles ADD COLUMN via_url TEXT",
        "ALTER TABLE articles ADD COLUMN via_name TEXT",
        "CREATE INDEX articles_by_upstream ON articles (via_url, upstream_id) WHERE upstream_id IS NOT NULL",
        # Polling state of each remote source: validators and backoff survive restarts.
        """CREATE TABLE remote_sources (
            url            TEXT PRIMARY KEY,
            etag           TEXT,
            last_modified  TEXT,
            last_poll      TEXT,
            last_status    TEXT,
            last_error     TEXT,
            failures       INTEGER NOT NULL DEFAULT 0,
            next_poll      TEXT
        )""",
    ),
    (
        # Related articles the store suggests when the newsroom named none.
        "ALTER TABLE related_links ADD COLUMN suggested INTEGER NOT NULL DEFAULT 0",
        # Full-text index over title and text (bm25 ranking), kept in step by triggers.
        """CREATE VIRTUAL TABLE articles_fts USING fts5(
            title, content_text, content='articles', content_rowid='rowid',
            tokenize='unicode61 remove_diacritics 2'
        )""",
        """CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
            INSERT INTO articles_fts (rowid, title, content_text) VALUES (new.rowid, new.title, new.content_text);
        END""",
        """CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
            INSERT INTO articles_fts (articles_fts, rowid, title, content_text)
            VALUES ('delete', old.rowid, old.title, old.content_text);
        END""",
        """CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, content_text ON articles BEGIN
            INSERT INTO articles_fts (articles_fts, rowid, title, content_text)
            VALUES ('delete', old.rowid, old.title, old.content_text);
            INSERT INTO articles_fts (rowid, title, content_text) VALUES (new.rowid, new.title, new.content_text);
        END""",
        "INSERT INTO articles_fts (articles_fts) VALUES ('rebuild')",
    ),
    (
        # Which articles carry which category, tag and author, by publication time:
        # a category feed or one month of its archive is a range scan, not a pass
        # over every article's JSON. Kept in step by triggers.
        """CREATE TABLE article_terms (
            kind          TEXT NOT NULL,     -- 'category', 'tag', 'author'
            name          TEXT NOT NULL,
            article_id    TEXT NOT NULL,
            published_ts  INTEGER NOT NULL
        )""",
        "CREATE INDEX article_terms_by_term ON article_terms (kind, name, published_ts, article_id)",
        "CREATE INDEX article_terms_by_article ON article_terms (article_id)",
        *(f"""CREATE TRIGGER article_terms_{event} AFTER {when} ON articles BEGIN
            {'DELETE FROM article_terms WHERE article_id = old.id;' if event != 'insert' else ''}
            {_TERM_ROWS if event != 'delete' else ''}
        END""" for event, when in (("insert", "INSERT"), ("update", "UPDATE OF categories, tags, author, published_ts"),
                                   ("delete", "DELETE"))),
        *(f"INSERT INTO article_terms SELECT DISTINCT '{kind}', j.value, a.id, a.published_ts "
          f"FROM articles a, json_each(a.{column}) j" for kind, column in (("category", "categories"), ("tag", "tags"))),
        "INSERT INTO article_terms SELECT 'author', author, id, published_ts FROM articles WHERE author IS NOT NULL",
        # What changed since a given store revision, and what the article looked like
        # before: an incremental build finds the documents a change touches from the
        # old and the new version (feeds/building/build.py). ``revision`` is the store revision
        # the change was made on top of. Links re-resolved by another article's arrival
        # count as a change of the article that holds them.
        """CREATE TABLE changes (
            revision    INTEGER NOT NULL,
            article_id  TEXT NOT NULL,
            before      TEXT              -- JSON placement of the previous version; NULL for a new article
        )""",
        "CREATE INDEX changes_by_revision ON changes (revision)",
        "CREATE INDEX articles_by_published ON articles (published_ts, id)",
        "INSERT INTO meta (key, value) SELECT 'changes_floor', value FROM meta WHERE key = 'revision'",
        f"""CREATE TRIGGER changes_insert AFTER INSERT ON articles BEGIN
            INSERT INTO changes VALUES ({_REVISION}, new.id, NULL);
        END""",
        f"""CREATE TRIGGER changes_update AFTER UPDATE ON articles BEGIN
            INSERT INTO changes VALUES ({_REVISION}, new.id, {PLACEMENT.format(row="old")});
        END""",
        *(f"""CREATE TRIGGER changes_links_{event} AFTER {when} ON related_links BEGIN
            INSERT INTO changes SELECT {_REVISION}, a.id, {PLACEMENT.format(row="a")}
            FROM articles a WHERE a.id = {row}.article_id;
        END""" for event, when, row in (("insert", "INSERT", "new"), ("update", "UPDATE OF target_id", "new"),
                                        ("delete", "DELETE", "old"))),
    ),
    (
        # A feed's places (feeds/rendering/archive.py) with whether each is visible, from indexes alone:
        # status and deleted_ts sit after the article's content in its row, so reading them
        # walked its overflow pages (docs/BENCHMARKS.md, "The store's queries").
        "DROP INDEX articles_by_published",
        "CREATE INDEX articles_by_published ON articles (published_ts, id, status, deleted_ts)",
        "CREATE INDEX articles_place ON articles (id, status, published_ts, deleted_ts)",
    ),
    (
        # The sample article ``feedpub serve`` puts in a new store (Article.sample): deleting it
        # leaves no trace. A store that took it before this column holds it as the file
        # in the installed package's sources/sample/ folder.
        "ALTER TABLE articles ADD COLUMN sample INTEGER NOT NULL DEFAULT 0",
        "UPDATE articles SET sample = 1 WHERE source LIKE '%/sources/sample/okes-forkopimda-oku-pilkada-2024.txt'",
    ),
    (
        # A lead image's size in pixels, read from its header when it is measured (partners
        # refuse images below their minimum; every feed's media:content carries it). NULL: not
        # read yet (images measured before this column are measured again); 0 and 0: read, and
        # its header gives no size (measured, never asked again).
        "ALTER TABLE articles ADD COLUMN image_width INTEGER",
        "ALTER TABLE articles ADD COLUMN image_height INTEGER",
    ),
    (
        # When an article readers had seen was unpublished (`feedpub unpublish`): partner feeds
        # announce it as a take-down for feeds.tombstone_days (feeds/building/partners.py).
        # NULL for every other article, and for one unpublished before it was ever seen.
        "ALTER TABLE articles ADD COLUMN unpublished_ts INTEGER",
        "CREATE INDEX articles_unpublished ON articles (unpublished_ts) WHERE unpublished_ts IS NOT NULL",
    ),
)


def migrate(cur: sqlite3.Cursor, path: Path) -> None:
    """Bring the store at ``path`` to the latest schema, in the caller's write transaction.

    The version is read inside that transaction: a second process opening the same
    new store waits, then finds the work done."""
    version = cur.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise StoreError(f"{path}: schema version {version} is newer than this feedpub knows "
                         f"({len(MIGRATIONS)}); upgrade feedpub")
    for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
        for statement in statements:
            cur.execute(statement)
        cur.execute(f"PRAGMA user_version = {number}")
