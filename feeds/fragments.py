"""Rendered entries kept between builds: each entry is rendered once per format.

An article is an entry of many documents: the main feed, its category, tag and
author feeds, and an archive page of each (about six documents per article in a
newsroom-shaped corpus, docs/BENCHMARKS.md). Its bytes are the same in all of them
(feeds/render.py splices them into each document), so they are rendered once and
kept here, in ``public/.fragments.sqlite3`` (a dot-file: never served), with the
times a document's ``updated`` is worked out from.

What keeps a kept entry right: a full build starts from an empty cache; an
incremental build forgets every article its changes touched (an edited, deleted,
released or unpublished article, and the articles whose related links show one of
them: feeds/build.py) before it renders anything. The settings and feedpub's code
are in the fingerprint; any other fingerprint empties the cache. A missing or
unreadable cache only costs rendering: entries not found are rendered from the store.

Durability: SQLite's WAL with ``synchronous=NORMAL`` writes without syncing; the
build syncs the file system before its manifest and build state (feeds/publish.py),
so the cache is on disk before any build state that relies on it.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_NAME = ".fragments.sqlite3"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fragments (
    id TEXT NOT NULL,
    format TEXT NOT NULL,          -- atom, rss, json
    updated INTEGER NOT NULL,      -- microseconds since the epoch
    changed INTEGER,               -- when the store last took a version of it
    image INTEGER NOT NULL,        -- has a lead image (the document declares Media RSS)
    body BLOB NOT NULL,
    PRIMARY KEY (id, format)
);
"""
_BATCH = 500   # ids per query: SQLite's default limit on variables is 32,766


def microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def moment(value: int, zone) -> datetime:
    return (_EPOCH + timedelta(microseconds=value)).astimezone(zone)


@dataclass(frozen=True)
class Fragment:
    body: bytes
    updated: int                  # microseconds since the epoch
    changed: int | None
    image: bool


class FragmentCache:
    """``path`` None: in memory, for builds that write nothing (tests, tools)."""

    def __init__(self, path: Path | None, fingerprint: str, *, fresh: bool = False):
        self.path, self.fingerprint = path, fingerprint
        self._connection: sqlite3.Connection | None = None
        if fresh:   # now, not at first use: a second build process may open it next
            self._connect(fresh=True)

    @property
    def _db(self) -> sqlite3.Connection:
        # Opened at first use: a build that finds nothing changed never touches it.
        return self._connection or self._connect(fresh=False)

    def _connect(self, *, fresh: bool) -> sqlite3.Connection:
        try:
            self._connection = self._open(self.fingerprint, fresh)
        except sqlite3.DatabaseError as exc:
            # A cache that cannot be read is rebuilt, never trusted.
            log.warning("%s: unreadable (%s): starting an empty one", self.path, exc)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            self._connection = self._open(self.fingerprint, True)
        return self._connection

    def _open(self, fingerprint: str, fresh: bool) -> sqlite3.Connection:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(":memory:" if self.path is None else self.path, timeout=60, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            row = db.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
            if fresh or row is None or row[0] != fingerprint:
                self._clear(db, fingerprint)
            return db
        except BaseException:
            db.close()
            raise

    @staticmethod
    def _clear(db: sqlite3.Connection, fingerprint: str) -> None:
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM fragments")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?)", (fingerprint,))

    def clear(self) -> None:
        """Forget every entry: a full build renders everything."""
        self._clear(self._db, self.fingerprint)

    def get(self, fmt: str, ids: Sequence[str]) -> dict[str, Fragment]:
        found: dict[str, Fragment] = {}
        for start in range(0, len(ids), _BATCH):
            chunk = ids[start:start + _BATCH]
            for article_id, updated, changed, image, body in self._db.execute(
                    f"SELECT id, updated, changed, image, body FROM fragments "
                    f"WHERE format = ? AND id IN ({','.join('?' * len(chunk))})", (fmt, *chunk)):
                found[article_id] = Fragment(body, updated, changed, bool(image))
        return found

    def put(self, fmt: str, fragments: Iterable[tuple[str, Fragment]]) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT OR REPLACE INTO fragments (id, format, updated, changed, image, body) VALUES (?, ?, ?, ?, ?, ?)",
                [(article_id, fmt, f.updated, f.changed, int(f.image), f.body) for article_id, f in fragments])

    def forget(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for start in range(0, len(ids), _BATCH):
                chunk = ids[start:start + _BATCH]
                self._db.execute(f"DELETE FROM fragments WHERE id IN ({','.join('?' * len(chunk))})", chunk)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
