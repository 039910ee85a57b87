"""The embedded backend of the source store: one SQLite file on one machine.

:class:`SQLiteStore` gives sources/store/sql.py its connection: one file, WAL
mode, the numbered migrations of sources/store/schema.py, every write one
``BEGIN IMMEDIATE`` transaction (writers of every process queue on the file,
and a failed write leaves it as it was).
"""

from __future__ import annotations

import fcntl
import functools
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from ..errors import StoreError
from .roles import FeedQueries
from .schema import PLACEMENT, migrate
from .sql import SQLStore


CACHE_KIB = 128 * 1024


class SQLiteStore(SQLStore):
    """The embedded store, in every role of sources/store/roles.py (``ArticleStore``).
    Thread-safe: one connection behind a lock."""

    ERRORS = (sqlite3.Error,)
    CONFLICTS = (sqlite3.IntegrityError,)
    PLACEMENT = PLACEMENT
    # Ordered by the index (revision, then rowid within it): "ORDER BY rowid" alone
    # made SQLite walk the whole log in rowid order.
    CHANGE_ORDER = "revision, rowid"
    UNINDEXED = "+"

    def __init__(self, path: str | Path, *, clock: Callable[[], datetime], suggest_related: bool = True):
        self.path = Path(path)
        self.name = str(self.path)
        self.clock = clock
        self.suggest_related = suggest_related
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
            self._enable_wal()
            # FULL: an ingest that was acknowledged survives a power cut.
            self._db.execute("PRAGMA synchronous = FULL")
            # A 128 MB page cache (SQLite's default is 2 MB): an import's index lookups and
            # inserts stay in it instead of reading the file again for each article
            # (docs/BENCHMARKS.md, "Ingest"). Memory is taken only as pages are read.
            self._db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            self._db.execute("PRAGMA foreign_keys = ON")
            # Temporary files in memory: each save of a batch is a savepoint, and SQLite copies
            # every page the save changes first to a sub-journal, a temporary file otherwise
            # (in /var/tmp): writes to it were most of an import's system calls
            # (docs/BENCHMARKS.md, "Ingest"). It holds one save's pages at a time.
            self._db.execute("PRAGMA temp_store = MEMORY")
            self._lock = threading.RLock()
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from exc

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cursor = self._db.cursor()
            cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            else:
                cursor.execute("COMMIT")
            finally:
                cursor.close()

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    def _enable_wal(self) -> None:
        # Switching a new file to WAL takes a lock that SQLite's busy handler does
        # not wait for, so two processes opening a fresh store at once retry here.
        deadline = time.monotonic() + 10
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _migrate(self) -> None:
        with self._transaction(write=True) as cur:
            migrate(cur, self.path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def opener(self) -> Callable[[], FeedQueries]:
        return functools.partial(SQLiteStore, self.path, clock=self.clock, suggest_related=self.suggest_related)

    def table_columns(self, table: str) -> list[str]:
        with self._read(f"the columns of {table}") as db:
            return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]

    def _indexed_by(self, index: str) -> str:
        return f"INDEXED BY {index} "

    def _conflict(self, exc: Exception) -> str | None:
        text = str(exc)
        return "slug" if "articles.slug" in text else "id" if "articles.id" in text else None

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold the lock ``name`` of this store against every other process on the machine
        (a lock file beside the store; the system drops it when the holder dies)."""
        lock_path = self.path.with_name(f".{self.path.name}.{name}.lock")
        try:
            handle = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"{lock_path}: cannot take the lock {name!r}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        finally:
            os.close(handle)   # closing the descriptor releases the lock

    def on_change(self, callback: Callable[[], None]) -> Callable[[], None] | None:
        """None: a file tells nobody of its commits; the service compares revisions instead."""
        return None

    def leadership(self, name: str) -> SoleLeader:
        """The one process serving an embedded store leads it, as it always did."""
        return SoleLeader()


class SoleLeader:
    """The lead of an embedded store: its one ``feedpub serve`` process holds it, always."""

    alone = True

    def held(self) -> bool:
        return True

    def resign(self) -> None:
        pass
