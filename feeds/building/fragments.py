"""Rendered entries kept between builds: each entry is rendered once per format.

An article is an entry of many documents: the main feed, its category, tag and
author feeds, and an archive page of each (about six documents per article in a
newsroom-shaped corpus, docs/BENCHMARKS.md). Its bytes are the same in all of them
(feeds/rendering/formats.py splices them into each document), so they are rendered once and
kept here, in ``public/.fragments.sqlite3`` (a dot-file: never served), with the
times a document's ``updated`` is worked out from.

What keeps a kept entry right: a full build starts from an empty cache; an
incremental build forgets every article its changes touched (an edited, deleted,
released or unpublished article, and the articles whose related links show one of
them: feeds/building/build.py) before it renders anything. The settings and feedpub's code
are in the fingerprint; any other fingerprint empties the cache. A missing or
unreadable cache only costs rendering: entries not found are rendered from the store.

Durability: SQLite's WAL with ``synchronous=NORMAL`` writes without syncing; the
build syncs the file system before its manifest and build state (feeds/publishing/publish.py),
so the cache is on disk before any build state that relies on it.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sources.errors import FeedpubError

log = logging.getLogger(__name__)


class CacheError(FeedpubError):
    """The kept entries could be neither updated nor removed."""


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


@dataclass(frozen=True)
class Fragment:
    body: bytes
    updated: int                  # microseconds since the epoch
    changed: int | None
    image: bool


class FragmentCache:
    """``path`` None: in memory, for builds that write nothing (tests, tools).

    A cache that cannot be read or written (damaged, disk full) is deleted and the
    build goes on with an empty one in memory: it is never trusted after a failed
    write, and a build never fails for want of it. Only when it cannot even be
    deleted does the build stop (:class:`CacheError`), since a later build would
    trust entries this one could not forget.
    """

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
            self._connection = self._open(self.path, fresh)
        except sqlite3.Error as exc:
            self._replace(exc, "open")
        return self._connection

    def _open(self, path: Path | None, fresh: bool) -> sqlite3.Connection:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            if fresh:
                _remove(path)
        db = sqlite3.connect(":memory:" if path is None else path, timeout=60, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            row = db.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
            if fresh or row is None or row[0] != self.fingerprint:
                self._clear(db)
            return db
        except BaseException:
            db.close()
            raise

    def _replace(self, exc: sqlite3.Error, doing: str) -> None:
        """Delete the file after a failure and go on in memory (see the class's note)."""
        log.warning("%s: cannot %s the kept entries (%s): starting an empty cache", self.path, doing, exc)
        if self._connection is not None:
            self._connection.close()
        for suffix in ("", "-wal", "-shm") if self.path is not None else ():
            try:
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            except OSError as error:
                raise CacheError(f"{self.path}{suffix}: cannot remove the kept entries after a failed "
                                 f"{doing} ({exc}): {error.strerror or error}") from exc
        self._connection = self._open(None, True)

    def _clear(self, db: sqlite3.Connection) -> None:
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM fragments")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?)", (self.fingerprint,))

    def clear(self) -> None:
        """Forget every entry: a full build renders everything."""
        try:
            self._clear(self._db)
        except sqlite3.Error as exc:
            self._replace(exc, "clear")

    def get(self, fmt: str, ids: Sequence[str]) -> dict[str, Fragment]:
        found: dict[str, Fragment] = {}
        try:
            for start in range(0, len(ids), _BATCH):
                chunk = ids[start:start + _BATCH]
                for article_id, updated, changed, image, body in self._db.execute(
                        f"SELECT id, updated, changed, image, body FROM fragments "
                        f"WHERE format = ? AND id IN ({','.join('?' * len(chunk))})", (fmt, *chunk)):
                    found[article_id] = Fragment(body, updated, changed, bool(image))
        except sqlite3.Error as exc:
            self._replace(exc, "read")
            return {}
        return found

    def put(self, fmt: str, fragments: Iterable[tuple[str, Fragment]]) -> None:
        rows = [(article_id, fmt, f.updated, f.changed, int(f.image), f.body) for article_id, f in fragments]
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("INSERT OR REPLACE INTO fragments (id, format, updated, changed, image, body) "
                                     "VALUES (?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.Error as exc:
            self._replace(exc, "write")

    def forget(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                for start in range(0, len(ids), _BATCH):
                    chunk = ids[start:start + _BATCH]
                    self._db.execute(f"DELETE FROM fragments WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        except sqlite3.Error as exc:
            self._replace(exc, "write")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _remove(path: Path) -> None:
    """Remove a cache's files so that a full build starts a new one: unlinking them is an
    order of magnitude faster than emptying a large cache with DELETE (docs/BENCHMARKS.md,
    "Figures behind choices in the code").

    The WAL is checkpointed and truncated first, so that a stop between the unlinks never
    leaves frames that a new file would take for its own. When that cannot be done (a
    reader's snapshot still needs the frames, or the file is damaged) nothing is removed: the
    caller empties it with DELETE, or replaces it as damaged, as before. A build that has
    the old file open goes on with it; what it keeps there is lost, and only rendered again.
    """
    if not path.exists():
        return
    try:
        db = sqlite3.connect(path, timeout=60, isolation_level=None)
        try:
            busy = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        finally:
            db.close()
        if not busy:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    except (sqlite3.Error, OSError) as exc:
        log.info("%s: emptying the kept entries in place (%s)", path, exc)
