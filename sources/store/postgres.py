"""The shared backend of the source store: one PostgreSQL database, any number of instances.

:class:`PostgresStore` gives sources/store/sql.py its connections (psycopg 3, a
psycopg-pool pool) and says in PostgreSQL what SQLite says otherwise: JSON, the
change log's order. The same role Protocols, the same migrations
(sources/store/schema.py, version in the ``schema_version`` table), the same
results in the same order (every text column is ``COLLATE "C"``: code point order,
as SQLite's BINARY).

Concurrency. Several processes on several machines write at once (the CLI, the
ingest API of each instance, partner feed polls). Every write transaction first
locks the store's revision row (``SELECT ... FOR UPDATE``): writers queue as they
queue on SQLite's ``BEGIN IMMEDIATE``, and since a READ COMMITTED statement sees
every commit made before it began, what a write reads after the lock (the stored
version ``decide`` is handed, the titles links resolve against, the next revision
number) is what its commit replaces. So no write is lost or applied to a stale
version, the change log's revision numbers follow the commit order (an incremental
build that saw revision R has seen every change logged below R), and no write ever
meets a serialization failure that would need a retry. Reads take no lock: a read
of several statements runs in one REPEATABLE READ snapshot.

Many instances, one start. Migrations run in one transaction under an advisory
lock: instances starting at once on an empty database wait for the first, then
find the work done. :meth:`PostgresStore.exclusive` holds a named advisory lock
for a longer task (the sample article is ingested once). Locks and notifications
are per schema, so several stores can share a database.

Every commit that moves the revision is announced with NOTIFY (migration 7):
:meth:`PostgresStore.on_change` wakes a service's store watcher at once.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
import psycopg_pool
from psycopg import errors as pg_errors

from ..errors import StoreError
from .roles import FeedQueries
from .schema import MIGRATIONS, PG_PLACEMENT
from .sql import LINK_COLUMNS, SQLStore, display_url

log = logging.getLogger("feedpub.store")

CHANNEL = "feedpub_revision"     # NOTIFY channel of migration 7; the payload is "<schema> <revision>"
POOL_SIZE = 10                   # connections per process: scheduler jobs, API threads, a build
CONNECT_SECONDS = 10             # to reach the server, and to get a connection from the pool
RELISTEN_SECONDS = 1.0           # a lost listening connection is made again this long after


_PLACEHOLDER = re.compile(r"\?|(?<![:\w]):([A-Za-z_]\w*)|%")


@functools.lru_cache(maxsize=2048)
def to_pyformat(sql: str) -> str:
    """A statement of the shared code (SQLite's ``?`` and ``:name``) in psycopg's
    placeholders (``%s``, ``%(name)s``, a literal ``%`` doubled). The shared statements
    hold no ``?`` or ``:`` in their string literals; a ``::`` cast is left alone."""
    def swap(match: re.Match) -> str:
        text = match.group(0)
        if text == "?":
            return "%s"
        if text == "%":
            return "%%"
        return f"%({match.group(1)})s"
    return _PLACEHOLDER.sub(swap, sql)


class _Cursor:
    """A psycopg cursor that takes the shared code's statements (sqlite3's cursor API)."""

    def __init__(self, cursor: psycopg.Cursor):
        self._cursor = cursor

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> _Cursor:
        self._cursor.execute(to_pyformat(sql), parameters if parameters else None)
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> _Cursor:
        self._cursor.executemany(to_pyformat(sql), rows)
        return self

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor.fetchall())

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


# The advisory lock key of a name (the parameter) in the store's schema.
_LOCK_KEY = "hashtextextended(current_schema() || ':' || %s, 0)"


class PostgresStore(SQLStore):
    """The shared store, in every role of sources/store/roles.py (``ArticleStore``).
    Thread-safe: each call takes a connection of its own from the pool.

    ``url``: a libpq URL (``postgresql://user@host:5432/db``); ``?options=-csearch_path%3Dname``
    puts the store in a schema of its own."""

    ERRORS = (psycopg.Error,)
    CONFLICTS = (pg_errors.UniqueViolation,)
    PLACEMENT = PG_PLACEMENT
    CHANGE_ORDER = "revision, seq"
    UNINDEXED = ""
    LINKS_JSON = (f"(SELECT json_agg(json_build_array({LINK_COLUMNS}) ORDER BY r.position) FROM related_links r "
                  "LEFT JOIN articles t ON t.id = r.target_id WHERE r.article_id = articles.id)")

    def __init__(self, url: str, *, clock: Callable[[], datetime], suggest_related: bool = True,
                 pool_size: int = POOL_SIZE):
        self.url = url
        self.name = display_url(url)
        self.clock = clock
        self.suggest_related = suggest_related
        self._pool_size = pool_size
        # One connection first, for the migrations: a server that does not answer, or refuses
        # the login, is reported at once (the pool would keep trying in the background).
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_SECONDS) as conn:
                self._migrate(conn)
        except psycopg.Error as exc:
            raise StoreError(f"{self.name}: cannot open the store: {exc}") from exc
        self._pool = psycopg_pool.ConnectionPool(
            url, min_size=1, max_size=pool_size, open=True, timeout=CONNECT_SECONDS, name="feedpub-store",
            kwargs={"autocommit": True, "connect_timeout": CONNECT_SECONDS})

    # --- connections -------------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[_Cursor]:
        with self._pool.connection() as conn, conn.cursor() as cursor:
            yield _Cursor(cursor)

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[_Cursor]:
        with self._pool.connection() as conn, conn.cursor() as cursor:
            cursor.execute("BEGIN" if write else "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                if write:   # writers queue here (see the module docstring)
                    cursor.execute("SELECT value FROM meta WHERE key = 'revision' FOR UPDATE")
                yield _Cursor(cursor)
            except BaseException:
                try:
                    cursor.execute("ROLLBACK")
                except psycopg.Error:
                    pass   # a lost connection: the server rolled it back; the pool drops it
                raise
            else:
                cursor.execute("COMMIT")

    def _migrate(self, conn: psycopg.Connection) -> None:
        with conn.transaction():
            conn.execute(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})", ("migrate",))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            version = row[0] if row else 0
            if version > len(MIGRATIONS):
                raise StoreError(f"{self.name}: schema version {version} is newer than this feedpub knows "
                                 f"({len(MIGRATIONS)}); upgrade feedpub")
            for migration in MIGRATIONS[version:]:
                for statement in migration.statements("postgresql"):
                    conn.execute(statement)
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (len(MIGRATIONS),))
            elif version < len(MIGRATIONS):
                conn.execute("UPDATE schema_version SET version = %s", (len(MIGRATIONS),))

    def schema_version(self) -> int:
        """The schema version the store is at (len(MIGRATIONS) once open)."""
        with self._read("the schema version") as db:
            return db.execute("SELECT version FROM schema_version").fetchone()[0]

    def close(self) -> None:
        self._pool.close()

    def opener(self) -> Callable[[], FeedQueries]:
        # Two connections: a build's second process reads from one thread.
        return functools.partial(PostgresStore, self.url, clock=self.clock, suggest_related=self.suggest_related,
                                 pool_size=2)

    # --- what the dialect says differently -----------------------------------------------

    def table_columns(self, table: str) -> list[str]:
        with self._read(f"the columns of {table}") as db:
            return [row[0] for row in db.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = ? AND is_generated = 'NEVER' ORDER BY ordinal_position", (table,)).fetchall()]

    def _indexed_by(self, index: str) -> str:
        return ""

    def _conflict(self, exc: Exception) -> str | None:
        constraint = getattr(getattr(exc, "diag", None), "constraint_name", None)
        return {"articles_slug_key": "slug", "articles_pkey": "id"}.get(constraint or "")

    # --- many instances ----------------------------------------------------------------

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold the advisory lock ``name`` of this store (its schema) against every other
        process; the server drops it when the holder's connection goes."""
        with self._failing(f"cannot take the lock {name!r}"):
            conn = self._pool.getconn()
        try:
            with self._failing(f"cannot take the lock {name!r}"):
                conn.execute(f"SELECT pg_advisory_lock({_LOCK_KEY})", (name,))
            try:
                yield
            finally:
                with self._failing(f"cannot release the lock {name!r}"):
                    conn.execute(f"SELECT pg_advisory_unlock({_LOCK_KEY})", (name,))
        finally:
            self._pool.putconn(conn)

    def on_change(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (from a thread of the store's) whenever any process commits a
        change, and once each time the listening connection is made; returns the function
        that stops listening. A notification lost while the connection was down is made up
        for by the call on reconnecting (and by the caller's own revision checks)."""
        stop = threading.Event()
        thread = threading.Thread(target=self._listen, args=(callback, stop), name="feedpub-store-listen",
                                  daemon=True)
        thread.start()

        def stop_listening() -> None:
            stop.set()
            thread.join(timeout=5)

        return stop_listening

    def _listen(self, callback: Callable[[], None], stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_SECONDS) as conn:
                    schema = conn.execute("SELECT current_schema()").fetchone()[0]
                    conn.execute(f"LISTEN {CHANNEL}")
                    callback()   # whatever was committed before LISTEN took effect
                    while not stop.is_set():
                        for notice in conn.notifies(timeout=0.5):
                            if notice.payload.split(" ", 1)[0] == schema:
                                callback()
            except psycopg.Error as exc:
                log.warning("%s: listening for changes failed (%s); trying again in %g s",
                            self.name, exc, RELISTEN_SECONDS)
                stop.wait(RELISTEN_SECONDS)


    def loaded(self) -> None:
        """ANALYZE: a table filled in one transaction has no statistics until autovacuum comes
        by, and meanwhile the planner guesses a row or two per table and joins a term's few
        articles to every published one (8 ms instead of 0.15 ms for a tag feed's newest 50 at
        1k articles, measured). SQLite's planner is left as it is: its plans are chosen
        without statistics, and the store's index hints count on that."""
        with self._failing("cannot update the planner's statistics"), self._connection() as db:
            db.execute("ANALYZE")

    def leadership(self, name: str) -> AdvisoryLeadership:
        """The lead ``name`` among the processes of this store: a session advisory lock."""
        return AdvisoryLeadership(self.url, name)


# A leader's session is dropped by the server this long after its machine stops answering
# (TCP keepalives: idle 3 s, then 3 probes 1 s apart), so its lock goes within 10 s even when
# no FIN ever comes (a power cut). A process that dies on a live machine (SIGKILL) has its
# socket closed by the kernel: the lock goes at once.
_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 3, "keepalives_interval": 1, "keepalives_count": 3}
_SERVER_KEEPALIVES = ("SET tcp_keepalives_idle = 3", "SET tcp_keepalives_interval = 1",
                      "SET tcp_keepalives_count = 3")


class AdvisoryLeadership:
    """A session-level advisory lock held on a connection of its own (not the pool's: the lock
    lives exactly as long as this one session). :meth:`held` is asked again and again (once a
    second by the service): it checks the session still holds the lock, or tries to take it
    (``pg_try_advisory_lock``, never waiting), and makes a lost connection again."""

    alone = False

    def __init__(self, url: str, name: str):
        self.url = url
        self.name = name
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()

    def held(self) -> bool:
        with self._lock:
            try:
                if self._conn is None or self._conn.closed or self._conn.broken:
                    self._connect()
                if self._conn.execute(
                        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        "AND pid = pg_backend_pid())").fetchone()[0]:
                    return True
                return bool(self._conn.execute(f"SELECT pg_try_advisory_lock({_LOCK_KEY})",
                                               (self.name,)).fetchone()[0])
            except psycopg.Error as exc:
                # The session, and the lock with it, is gone (or about to go): not the leader.
                log.warning("%s: cannot check the lead %r: %s", display_url(self.url), self.name,
                            str(exc).strip())
                self._close()
                return False

    def resign(self) -> None:
        with self._lock:
            self._close()   # the server drops a session's locks with it

    def _connect(self) -> None:
        self._close()
        self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_SECONDS, **_KEEPALIVES)
        for statement in _SERVER_KEEPALIVES:
            self._conn.execute(statement)

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
            self._conn = None


def store_exists(url: str) -> bool:
    """Whether the database (its schema) holds a store already; creates nothing."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_SECONDS) as conn:
            return conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]
    except psycopg.Error as exc:
        raise StoreError(f"{display_url(url)}: cannot reach the store: {exc}") from exc


class PostgresPolls:
    """Feed polls kept in the shared database (feeds/serving/stats.py's PollRecords): every
    instance's server workers write here and ``feedpub stats`` on any instance reads
    them all. One connection, made when first needed (a worker that never writes opens none)."""

    def __init__(self, url: str):
        self.url = url
        self.name = display_url(url)
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()

    @contextmanager
    def _cursor(self, doing: str) -> Iterator[psycopg.Cursor]:
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_SECONDS)
                with self._conn.cursor() as cursor:
                    yield cursor
            except psycopg.Error as exc:
                if self._conn is not None and self._conn.broken:
                    self._conn.close()
                raise StoreError(f"{self.name}: {doing}: {exc}") from exc

    def add_polls(self, rows: Sequence[tuple]) -> None:
        with self._cursor("cannot record feed polls") as cur:
            cur.executemany("INSERT INTO polls (at, path, status, bytes, user_agent, client, count) "
                            "VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)

    def polls_since(self, since: float) -> list[tuple]:
        with self._cursor("cannot read the feed polls") as cur:
            return cur.execute("SELECT at, path, status, bytes, user_agent, client, count FROM polls "
                               "WHERE at >= %s ORDER BY at", (since,)).fetchall()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
