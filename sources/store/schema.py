"""The store's schema: numbered migrations, one list for both backends.

Each entry of :data:`MIGRATIONS` leads to the next schema version, on SQLite
(``PRAGMA user_version``) and on PostgreSQL (the ``schema_version`` table) alike:
a store of either kind at version N has the same tables, columns and rules.
Never edit a released one (stores in the field ran it already): append a new one.

A migration's ``both`` statements are written once and run on either backend
(after ``{text}`` and ``{int}`` are filled in: see :data:`TYPES`); ``sqlite`` and
``postgresql`` hold what the two say differently (triggers, full-text search,
JSON). An empty side is allowed where a backend needs nothing (the PostgreSQL-only
poll log, say), but every migration counts on both.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ..errors import StoreError

# Column types a portable migration names: SQLite's INTEGER is 64-bit, PostgreSQL's is
# not; and PostgreSQL orders text by the database's collation unless told otherwise,
# while every ORDER BY, prefix range scan and tie-break of the store counts on code point
# order (SQLite's BINARY): each text column is COLLATE "C" there.
TYPES = {
    "sqlite": {"text": "TEXT", "int": "INTEGER"},
    "postgresql": {"text": 'TEXT COLLATE "C"', "int": "BIGINT"},
}


@dataclass(frozen=True)
class Migration:
    both: tuple[str, ...] = ()          # portable SQL, run first on either backend
    sqlite: tuple[str, ...] = ()        # then SQLite's own
    postgresql: tuple[str, ...] = ()    # or PostgreSQL's own

    def statements(self, backend: str) -> tuple[str, ...]:
        """What this migration runs on ``backend`` ("sqlite" or "postgresql"), in order."""
        return (*(statement.format(**TYPES[backend]) for statement in self.both), *getattr(self, backend))


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

# The same as PostgreSQL says it: json_build_object spaces its output differently, which
# Placement.from_json does not mind.
PG_PLACEMENT = ("json_build_object('status', {row}.status, 'published_ts', {row}.published_ts, "
                "'deleted_ts', {row}.deleted_ts, 'categories', {row}.categories::json, "
                "'tags', {row}.tags::json, 'author', {row}.author, "
                "'title', {row}.title, 'slug', {row}.slug, 'url', {row}.url)::text")
_TEXT = TYPES["postgresql"]["text"]

# Placement.is_place (sources/placement.py) for the articles row ``a`` at the Unix time
# ``:now``: readers can see it, or could until it was deleted. SQL must say it too, so
# that a feed's history is read through indexes; tests/test_placement.py checks that the
# two agree.
PLACE = ("((a.status = 'published' OR (a.status = 'deleted' AND a.deleted_ts IS NOT NULL)) "
         "AND a.published_ts <= :now)")

# Numbered migrations: index + 1 is the schema version they lead to.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(  # 1
        sqlite=(
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
        postgresql=(
            f"""CREATE TABLE articles (
                id            {_TEXT} PRIMARY KEY,
                slug          {_TEXT} NOT NULL UNIQUE,
                url           {_TEXT},
                title         {_TEXT} NOT NULL,
                title_norm    {_TEXT} NOT NULL,
                summary       {_TEXT} NOT NULL,
                content_html  {_TEXT} NOT NULL,
                content_text  {_TEXT} NOT NULL,
                author        {_TEXT},
                city          {_TEXT},
                publication   {_TEXT},
                published     {_TEXT} NOT NULL,
                published_ts  BIGINT NOT NULL,
                updated       {_TEXT} NOT NULL,
                updated_ts    BIGINT NOT NULL,
                categories    {_TEXT} NOT NULL,
                tags          {_TEXT} NOT NULL,
                language      {_TEXT} NOT NULL,
                image_url     {_TEXT},
                image_type    {_TEXT},
                image_length  BIGINT,
                status        {_TEXT} NOT NULL CHECK (status IN ('published', 'draft', 'deleted'))
            )""",
            "CREATE INDEX articles_by_time ON articles (status, published_ts DESC, id)",
            "CREATE INDEX articles_by_title ON articles (title_norm)",
            f"""CREATE TABLE related_links (
                article_id  {_TEXT} NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
                position    BIGINT NOT NULL,
                title       {_TEXT} NOT NULL,
                title_norm  {_TEXT} NOT NULL,
                target_id   {_TEXT} REFERENCES articles (id) ON DELETE SET NULL,
                PRIMARY KEY (article_id, position)
            )""",
            "CREATE INDEX related_pending ON related_links (title_norm) WHERE target_id IS NULL",
            "CREATE INDEX related_by_target ON related_links (target_id)",
            f"CREATE TABLE meta (key {_TEXT} PRIMARY KEY, value BIGINT NOT NULL)",
            "INSERT INTO meta (key, value) VALUES ('revision', 0)",
        ),
    ),
    Migration(  # 2
        sqlite=(
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
        postgresql=(
            "ALTER TABLE articles ADD COLUMN deleted_ts BIGINT",
            "CREATE INDEX articles_deleted ON articles (deleted_ts) WHERE deleted_ts IS NOT NULL",
            f"ALTER TABLE articles ADD COLUMN source {_TEXT}",
            "CREATE INDEX articles_by_source ON articles (source) WHERE source IS NOT NULL",
            "CREATE INDEX related_by_marker ON related_links (title_norm)",
            f"ALTER TABLE articles ADD COLUMN stored {_TEXT}",
        ),
    ),
    Migration(  # 3
        sqlite=(
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
        postgresql=(
            f"""CREATE TABLE revisions (
                article_id  {_TEXT} NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
                number      BIGINT NOT NULL,
                stored      {_TEXT} NOT NULL,
                snapshot    {_TEXT} NOT NULL,
                PRIMARY KEY (article_id, number)
            )""",
            f"ALTER TABLE articles ADD COLUMN upstream_id {_TEXT}",
            f"ALTER TABLE articles ADD COLUMN via_url {_TEXT}",
            f"ALTER TABLE articles ADD COLUMN via_name {_TEXT}",
            "CREATE INDEX articles_by_upstream ON articles (via_url, upstream_id) WHERE upstream_id IS NOT NULL",
            f"""CREATE TABLE remote_sources (
                url            {_TEXT} PRIMARY KEY,
                etag           {_TEXT},
                last_modified  {_TEXT},
                last_poll      {_TEXT},
                last_status    {_TEXT},
                last_error     {_TEXT},
                failures       BIGINT NOT NULL DEFAULT 0,
                next_poll      {_TEXT}
            )""",
        ),
    ),
    Migration(  # 4
        sqlite=(
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
        postgresql=(
            "ALTER TABLE related_links ADD COLUMN suggested BIGINT NOT NULL DEFAULT 0",
            # PostgreSQL's own text search in place of FTS5: the 'simple' configuration
            # (lower case, no stemming: there is no Indonesian stemmer), title words in
            # weight class A, body words in D (sources/store/postgres.py ranks A three
            # times D, as FTS5's bm25 weighs them).
            """ALTER TABLE articles ADD COLUMN search tsvector GENERATED ALWAYS AS (
                setweight(to_tsvector('simple', title), 'A') || setweight(to_tsvector('simple', content_text), 'D')
            ) STORED""",
            "CREATE INDEX articles_search ON articles USING gin (search)",
        ),
    ),
    Migration(  # 5
        sqlite=(
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
        postgresql=(
            f"""CREATE TABLE article_terms (
                kind          {_TEXT} NOT NULL,
                name          {_TEXT} NOT NULL,
                article_id    {_TEXT} NOT NULL,
                published_ts  BIGINT NOT NULL
            )""",
            "CREATE INDEX article_terms_by_term ON article_terms (kind, name, published_ts, article_id)",
            "CREATE INDEX article_terms_by_article ON article_terms (article_id)",
            """CREATE FUNCTION article_terms_sync() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP <> 'INSERT' THEN
                    DELETE FROM article_terms WHERE article_id = OLD.id;
                END IF;
                IF TG_OP <> 'DELETE' THEN
                    INSERT INTO article_terms SELECT DISTINCT 'category', value, NEW.id, NEW.published_ts
                        FROM json_array_elements_text(NEW.categories::json);
                    INSERT INTO article_terms SELECT DISTINCT 'tag', value, NEW.id, NEW.published_ts
                        FROM json_array_elements_text(NEW.tags::json);
                    INSERT INTO article_terms SELECT 'author', NEW.author, NEW.id, NEW.published_ts
                        WHERE NEW.author IS NOT NULL;
                END IF;
                RETURN NULL;
            END $$""",
            *(f"CREATE TRIGGER article_terms_{event} AFTER {when} ON articles FOR EACH ROW "
              "EXECUTE FUNCTION article_terms_sync()"
              for event, when in (("insert", "INSERT"), ("update", "UPDATE OF categories, tags, author, published_ts"),
                                  ("delete", "DELETE"))),
            *(f"INSERT INTO article_terms SELECT DISTINCT '{kind}', j.value, a.id, a.published_ts "
              f"FROM articles a, json_array_elements_text(a.{column}::json) j (value)"
              for kind, column in (("category", "categories"), ("tag", "tags"))),
            "INSERT INTO article_terms SELECT 'author', author, id, published_ts FROM articles WHERE author IS NOT NULL",
            # ``seq``: the order the changes were made in, as SQLite's rowid gives it.
            f"""CREATE TABLE changes (
                seq         BIGSERIAL PRIMARY KEY,
                revision    BIGINT NOT NULL,
                article_id  {_TEXT} NOT NULL,
                before      {_TEXT}
            )""",
            "CREATE INDEX changes_by_revision ON changes (revision, seq)",
            "CREATE INDEX articles_by_published ON articles (published_ts, id)",
            "INSERT INTO meta (key, value) SELECT 'changes_floor', value FROM meta WHERE key = 'revision'",
            f"""CREATE FUNCTION changes_article() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO changes (revision, article_id, before) VALUES ({_REVISION}, NEW.id,
                    CASE WHEN TG_OP = 'UPDATE' THEN {PG_PLACEMENT.format(row="OLD")} END);
                RETURN NULL;
            END $$""",
            "CREATE TRIGGER changes_insert AFTER INSERT ON articles FOR EACH ROW EXECUTE FUNCTION changes_article()",
            "CREATE TRIGGER changes_update AFTER UPDATE ON articles FOR EACH ROW EXECUTE FUNCTION changes_article()",
            f"""CREATE FUNCTION changes_link() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO changes (revision, article_id, before)
                    SELECT {_REVISION}, a.id, {PG_PLACEMENT.format(row="a")} FROM articles a
                    WHERE a.id = CASE WHEN TG_OP = 'DELETE' THEN OLD.article_id ELSE NEW.article_id END;
                RETURN NULL;
            END $$""",
            *(f"CREATE TRIGGER changes_links_{event} AFTER {when} ON related_links FOR EACH ROW "
              "EXECUTE FUNCTION changes_link()"
              for event, when in (("insert", "INSERT"), ("update", "UPDATE OF target_id"), ("delete", "DELETE"))),
        ),
    ),
    Migration(  # 6
        both=(
            # A feed's places (feeds/archive.py) with whether each is visible, from indexes alone:
            # status and deleted_ts sit after the article's content in its row, so reading them
            # walked its overflow pages (docs/BENCHMARKS.md, "The store's queries").
            "DROP INDEX articles_by_published",
            "CREATE INDEX articles_by_published ON articles (published_ts, id, status, deleted_ts)",
            "CREATE INDEX articles_place ON articles (id, status, published_ts, deleted_ts)",
        ),
    ),
    Migration(  # 7
        # Self-contained (PostgreSQL only): a shared store tells the instances of each commit,
        # and keeps their feed polls. SQLite needs neither: one machine's processes watch the
        # file's revision, and polls go to stats.sqlite3 beside it (feeds/serving/stats.py).
        postgresql=(
            # Every commit that moves the revision wakes each instance's store watcher at once
            # (NOTIFY is delivered on commit, never for a rolled-back write); the payload names
            # the schema, so stores in other schemas of one database ignore it.
            """CREATE FUNCTION notify_revision() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('feedpub_revision', current_schema() || ' ' || NEW.value);
                RETURN NULL;
            END $$""",
            "CREATE TRIGGER meta_notify AFTER UPDATE ON meta FOR EACH ROW WHEN (NEW.key = 'revision') "
            "EXECUTE FUNCTION notify_revision()",
            # The feed polls of every instance (feeds/serving/stats.py): one row per client, feed,
            # status and second, with how many polls it stands for.
            f"""CREATE TABLE polls (
                at          DOUBLE PRECISION NOT NULL,
                path        {_TEXT} NOT NULL,
                status      BIGINT NOT NULL,
                bytes       BIGINT NOT NULL,
                user_agent  {_TEXT} NOT NULL,
                client      {_TEXT} NOT NULL,
                count       BIGINT NOT NULL DEFAULT 1
            )""",
            "CREATE INDEX polls_by_time ON polls (at)",
        ),
    ),
    Migration(  # 8
        both=(
            # The sample article ``feedpub serve`` puts in a new store (Article.sample): deleting
            # it leaves no trace. A store that took it before this column holds it as the file
            # in the installed package's sources/sample/ folder.
            "ALTER TABLE articles ADD COLUMN sample {int} NOT NULL DEFAULT 0",
            "UPDATE articles SET sample = 1 WHERE source LIKE '%/sources/sample/okes-forkopimda-oku-pilkada-2024.txt'",
        ),
    ),
    Migration(  # 9
        both=(
            # A lead image's size in pixels, read from its header when it is measured (partners
            # refuse images below their minimum; every feed's media:content carries it). NULL: not
            # read yet (images measured before this column are measured again); 0 and 0: read, and
            # its header gives no size (measured, never asked again).
            "ALTER TABLE articles ADD COLUMN image_width {int}",
            "ALTER TABLE articles ADD COLUMN image_height {int}",
        ),
    ),
    Migration(  # 10
        both=(
            # When an article readers had seen was unpublished (`feedpub unpublish`): partner feeds
            # announce it as a take-down for feeds.tombstone_days (feeds/building/partners.py).
            # NULL for every other article, and for one unpublished before it was ever seen.
            "ALTER TABLE articles ADD COLUMN unpublished_ts {int}",
            "CREATE INDEX articles_unpublished ON articles (unpublished_ts) WHERE unpublished_ts IS NOT NULL",
        ),
    ),
    Migration(  # 11
        both=(
            # The dateline as the newsroom wrote it ("BATURAJA - OKES.NEWS -"), shown at the start of
            # the content. Articles stored before it kept its city and publication: it is written
            # again from those, as the newsroom's format has it.
            "ALTER TABLE articles ADD COLUMN dateline {text}",
            "UPDATE articles SET dateline = city || ' - ' || publication || ' -' "
            "WHERE city IS NOT NULL AND publication IS NOT NULL",
            "UPDATE articles SET dateline = city || ' -' WHERE city IS NOT NULL AND publication IS NULL",
        ),
    ),
    Migration(  # 12
        both=(
            # Every headline an article has had, its current one included (normalised): a
            # "Baca juga" marker written after a correction still resolves against the former one.
            # Stores from before it know each article's current headline only.
            """CREATE TABLE article_titles (
                article_id  {text} NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
                title_norm  {text} NOT NULL,
                PRIMARY KEY (title_norm, article_id)
            )""",
            "CREATE INDEX article_titles_by_article ON article_titles (article_id)",
            "INSERT INTO article_titles (article_id, title_norm) SELECT id, title_norm FROM articles",
            # When a pending link resolved in an article readers already saw (Unix seconds): from then,
            # or from its target's release, the article's ``updated`` is that time. NULL: resolved as
            # part of the article's own first publication or edit, or before this column.
            "ALTER TABLE related_links ADD COLUMN bound_ts {int}",
        ),
    ),
    Migration(  # 13
        both=(
            # Each category, tag and author's feed: its address, assigned once when the name first
            # came and never moved (a later name with the same slug gets "-2"); and since when it
            # is published (an article carrying it visible). A published feed stays, empty or not.
            # Filled for the names stored before it at the first build (sources/store/sql.py).
            """CREATE TABLE sections (
                kind          {text} NOT NULL,
                name          {text} NOT NULL,
                slug          {text} NOT NULL,
                published_ts  {int},
                PRIMARY KEY (kind, name),
                UNIQUE (kind, slug)
            )""",
            # When an article last left a feed (deleted, unpublished, moved out of it): the feed's
            # time never goes back past it. kind '' is the main feed.
            """CREATE TABLE feed_changes (
                kind        {text} NOT NULL,
                name        {text} NOT NULL,
                changed_ts  {int} NOT NULL,
                PRIMARY KEY (kind, name)
            )""",
        ),
    ),
    Migration(  # 14
        both=(
            # The suggestion index (sources/suggest.py): each live article's distinctive words and
            # their weight, with the store's revision when it was saved (``seq``), so that a
            # suggestion looks at each word's most recent saves alone, through (term, seq).
            # Articles stored before it enter the index when they are saved again.
            """CREATE TABLE suggestion_terms (
                term        {text} NOT NULL,
                seq         {int} NOT NULL,
                article_id  {text} NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
                weight      {int} NOT NULL,
                PRIMARY KEY (term, seq, article_id)
            )""",
            "CREATE INDEX suggestion_terms_of ON suggestion_terms (article_id)",
        ),
        # The full-text index of migration 4 had one reader, suggestions, which this index
        # replaces: kept in step on every write, it was the largest part of storing an article.
        sqlite=(
            "DROP TRIGGER IF EXISTS articles_fts_insert",
            "DROP TRIGGER IF EXISTS articles_fts_delete",
            "DROP TRIGGER IF EXISTS articles_fts_update",
            "DROP TABLE IF EXISTS articles_fts",
        ),
        postgresql=(
            "DROP INDEX IF EXISTS articles_search",
            "ALTER TABLE articles DROP COLUMN IF EXISTS search",
        ),
    ),
    Migration(  # 15
        both=(
            # The `feedpub serve` instances sharing the store, each beating once a second: the
            # store revision its files were last built from, and when it last said so (Unix
            # milliseconds). The leader pings WebSub hubs for a change only once every instance
            # seen lately has built it (scheduler.py).
            """CREATE TABLE instances (
                id          {text} PRIMARY KEY,
                built       {int} NOT NULL,
                seen_ms     {int} NOT NULL
            )""",
        ),
    ),
    Migration(  # 16
        both=(
            # The store's clock: the last second given to a change readers' documents show. The
            # next such change takes a later one, however many land in one second, so two versions
            # of a document never share a time (nor nginx's ETag of time and size). A batch of
            # saves is one change: it commits whole.
            "INSERT INTO meta (key, value) SELECT 'clock', (SELECT coalesce(max(changed_ts), 0) FROM feed_changes) "
            "WHERE NOT EXISTS (SELECT 1 FROM meta WHERE key = 'clock')",
            # Where a feed's places came, went or moved (kept 0), one was deleted and kept its
            # place (kept 1), or one came after every other (kept 2: written by saves since this
            # migration's release, read only as what closed an archive page), at which position, and
            # when last: an archive page's time includes every such change that moved its entries or
            # its links.
            # kind '' is the main feed.
            """CREATE TABLE place_changes (
                kind          {text} NOT NULL,
                name          {text} NOT NULL,
                published_ts  {int} NOT NULL,
                article_id    {text} NOT NULL,
                kept          {int} NOT NULL,
                changed_ts    {int} NOT NULL,
                PRIMARY KEY (kind, name, kept, published_ts, article_id)
            )""",
        ),
    ),
    Migration(  # 17
        # The suggestion index (sources/suggest.py) in two parts: each save of an article's
        # words (``seq``, the store revision of that save) and the words it indexed, and each
        # word's saves with their weight, whose rows are their (term, seq) key alone (WITHOUT
        # ROWID on SQLite). A suggestion reads a few hundred rows of the second and maps the few
        # it may show to their articles through the first. Each word keeps about 50 saves
        # (KEPT_PER_TERM): the older rows of a common word were most of the index and were never
        # read, and with the article's id in every row and an index by article, letting them go
        # wrote a page of that index for nearly every row (docs/BENCHMARKS.md, "Ingest").
        both=(
            """CREATE TABLE suggestion_saves (
                seq         {int} PRIMARY KEY,
                article_id  {text} NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
                words       {text} NOT NULL
            )""",
        ),
        sqlite=(
            "INSERT INTO suggestion_saves (seq, article_id, words) "
            "SELECT seq, min(article_id), group_concat(term, ' ') FROM suggestion_terms GROUP BY seq ORDER BY seq",
            """CREATE TABLE suggestion_words (
                term    TEXT NOT NULL,
                seq     INTEGER NOT NULL,
                weight  INTEGER NOT NULL,
                PRIMARY KEY (term, seq)
            ) WITHOUT ROWID""",
            """INSERT INTO suggestion_words (term, seq, weight) SELECT term, seq, max(weight) FROM (
                SELECT *, row_number() OVER (PARTITION BY term ORDER BY seq DESC) AS newest FROM suggestion_terms
            ) WHERE newest <= 50 GROUP BY term, seq""",
            "DROP TABLE suggestion_terms",
            "ALTER TABLE suggestion_words RENAME TO suggestion_terms",
            "CREATE INDEX suggestion_saves_of ON suggestion_saves (article_id)",
        ),
        postgresql=(
            "INSERT INTO suggestion_saves (seq, article_id, words) SELECT seq, min(article_id), string_agg(term, ' ') "
            "FROM suggestion_terms GROUP BY seq",
            f"""CREATE TABLE suggestion_words (
                term    {_TEXT} NOT NULL,
                seq     BIGINT NOT NULL,
                weight  BIGINT NOT NULL,
                PRIMARY KEY (term, seq)
            )""",
            """INSERT INTO suggestion_words (term, seq, weight) SELECT term, seq, max(weight) FROM (
                SELECT *, row_number() OVER (PARTITION BY term ORDER BY seq DESC) AS newest FROM suggestion_terms
            ) AS ranked WHERE newest <= 50 GROUP BY term, seq""",
            "DROP TABLE suggestion_terms",
            "ALTER TABLE suggestion_words RENAME TO suggestion_terms",
            "CREATE INDEX suggestion_saves_of ON suggestion_saves (article_id)",
        ),
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
    for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
        for statement in migration.statements("sqlite"):
            cur.execute(statement)
        cur.execute(f"PRAGMA user_version = {number}")
