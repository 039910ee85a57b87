"""Moving a site: every stored row of one store into a new, empty one (``feedpub store copy``).

SQLite to PostgreSQL when a site outgrows one machine (or back): the articles with
their tombstones (deleted articles keep their row and deletion time), every revision,
every headline each article has had (markers resolve against former ones too), the related
links as they are bound and the suggestions as they were stored (copied,
not computed again: a build from the copy gives the same bytes), the remote sources'
polling state, each section's address and since when its feed is published, the time each
feed last lost an article and where each feed's places last changed, the suggestion index,
and the store's revision and clock. What the store
derives from those rows (the term index) is made by the destination's own triggers; the
change log starts empty at the copied revision (a build from the copy is a full build: its
output folder is new).

Then it checks: the same number of rows in every copied table, and for every article
the same digest of its rows (the article, its links, its revisions) on both sides.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import StoreError
from .sql import SQLStore

# The tables copied, parents first (foreign keys); the key each table's rows belong to an
# article by (None: not an article's), and the order rows are read in.
COPIED: tuple[tuple[str, str | None, str], ...] = (
    ("articles", "id", "id"),
    ("related_links", "article_id", "article_id, position"),
    ("revisions", "article_id", "article_id, number"),
    ("article_titles", "article_id", "article_id, title_norm"),
    ("suggestion_saves", "article_id", "seq"),
    ("suggestion_terms", None, "term, seq"),
    ("remote_sources", None, "url"),
    ("sections", None, "kind, name"),
    ("feed_changes", None, "kind, name"),
    ("place_changes", None, "kind, name, kept, published_ts, article_id"),
)
# Made by the destination itself: the term index and change log (triggers), the store's
# counters (meta: set from the source's revision and clock), the schema version, the instances' feed
# polls (a PostgreSQL store's; SQLite keeps them beside the store), and the running instances'
# beats (the destination's instances beat there once they start).
DERIVED = frozenset({"article_terms", "changes", "meta", "schema_version", "polls", "instances"})
BATCH = 1000


@dataclass(frozen=True)
class CopyReport:
    rows: dict[str, int]      # table -> rows copied (and found again in the destination)
    articles_checked: int     # articles whose digests agree
    revision: int             # the store revision both now have
    seconds: float

    def summary(self) -> str:
        counts = ", ".join(f"{count} {table}" for table, count in self.rows.items())
        return (f"copied {counts} at revision {self.revision}; {self.articles_checked} articles checked "
                f"by digest ({self.seconds:.1f} s)")


def copy_store(source: SQLStore, target: SQLStore, *,
               progress: Callable[[int, int], None] | None = None) -> CopyReport:
    """Copy every row of ``source`` into the empty store ``target``, in one transaction of
    the target's (all of it or nothing), then check counts and per-article digests."""
    started = time.perf_counter()
    if target.count() or target.revision():
        raise StoreError(f"{target.name}: not empty ({target.count()} articles, revision {target.revision()}): "
                         "copy into a new store")
    rows: dict[str, int] = {}
    columns_of = {table: source.table_columns(table) for table, _, _ in COPIED}
    with source._snapshot("every row to copy") as read, \
            target._failing("the copy failed and was rolled back"), target._transaction(write=True) as write:
        total = read.execute("SELECT count(*) FROM articles").fetchone()[0]
        revision = read.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()[0]
        clock = read.execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()[0]
        for table, _, order in COPIED:
            columns = ", ".join(columns_of[table])
            insert = f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(columns_of[table]))})"
            rows[table] = 0
            for batch in _batches(read.execute(f"SELECT {columns} FROM {table} ORDER BY {order}").fetchall()):
                write.executemany(insert, batch)
                rows[table] += len(batch)
                if progress and table == "articles":
                    progress(rows[table], total)
        # The change log the inserts wrote describes no change a build of the copy needs.
        write.execute("DELETE FROM changes")
        write.execute("UPDATE meta SET value = ? WHERE key IN ('revision', 'changes_floor')", (revision,))
        # The copy's next change takes a later second than any the source gave.
        write.execute("UPDATE meta SET value = ? WHERE key = 'clock'", (clock,))
    target.loaded()
    checked = _check(source, target, rows)
    return CopyReport(rows, checked, revision, time.perf_counter() - started)


def _batches(rows: list) -> Iterable[list]:
    for start in range(0, len(rows), BATCH):
        yield rows[start:start + BATCH]


def article_digests(store: SQLStore) -> dict[str, str]:
    """id -> SHA-256 of the article's rows in every copied table, as stored."""
    digests: dict[str, Any] = {}
    columns_of = {table: store.table_columns(table) for table, key, _ in COPIED if key is not None}
    with store._snapshot("every article's rows") as cur:
        for table, key, order in COPIED:
            if key is None:
                continue
            columns = columns_of[table]
            at = columns.index(key)
            for row in cur.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}").fetchall():
                digest = digests.setdefault(row[at], hashlib.sha256())
                digest.update(json.dumps([table, dict(zip(columns, row))], ensure_ascii=False,
                                         sort_keys=True).encode())
    return {id_: digest.hexdigest() for id_, digest in digests.items()}


def _check(source: SQLStore, target: SQLStore, rows: dict[str, int]) -> int:
    with target._snapshot("the copied rows") as cur:
        for table, count in rows.items():
            found = cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if found != count:
                raise StoreError(f"{target.name}: {table} holds {found} rows after copying {count}")
    expected, found = article_digests(source), article_digests(target)
    differing = sorted(id_ for id_ in expected.keys() | found.keys() if expected.get(id_) != found.get(id_))
    if differing:
        raise StoreError(f"{target.name}: {len(differing)} articles differ from {source.name} after the copy, "
                         f"e.g. {differing[0]}")
    return len(expected)
