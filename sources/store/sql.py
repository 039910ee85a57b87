"""The source store's logic, written once for both backends: articles, their related
links and revisions, the store's revision and change log.

Callers use the role Protocols of sources/store/roles.py and never SQL.
:class:`SQLStore` holds every query and write of those roles; a backend
(sources/store/sqlite.py, sources/store/postgres.py) gives it connections and
transactions, and says the few things the two dialects say differently (index
hints, JSON, the change log's order). Statements use SQLite's
placeholders (``?``, ``:name``); the PostgreSQL backend translates them once per
statement text. Every write is one transaction (or a savepoint of a batch,
:meth:`SQLStore.batch`): a failed write leaves the store as it was.

Related links are resolved here, at write time, by normalised title: an exact
match of a current headline wins, then of a former one (``article_titles`` keeps
every headline an article has had); otherwise a marker that was cut short
resolves to the one article whose current (then former) headline it begins
(never when two do). Deleted articles and the link's own article never match.
A link without a match stays pending, and is resolved again by every save or
delete whose headlines it may match, until one does. Once resolved, a link is
*bound* to its target's id: corrections of the target's headline, or a later
article with the same one, never move it, and it shows the editor's words as
its label. Only a change of the marker's text in the citing article resolves it
again. Whether the target is *shown* is decided at read time: an embargoed,
unpublished or deleted target is not linked (its label shows as text).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Collection, Container, Iterable, Iterator, Sequence
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit

from ..errors import StoreError
from ..model import (Article, ArticleCounts, Image, LinkTarget, RelatedLink, Revision, SaveResult, SourceState,
                     Status, Tombstone)
from ..placement import Placement
from ..revisions import build_history, dumps as revision_snapshot
from ..suggest import (CANDIDATES, KEPT_PER_TERM, MAX_SUGGESTIONS, PER_TERM, PRUNE_EVERY, choose_related,
                       index_terms, query_terms, rank_candidates)
from ..text import normalise_title, section_slug
from .roles import Decide, FeedQueries, Leadership, PageSpan
from .schema import PLACE

# A batch of saves (SQLStore.batch) commits after this many saves or this long, whichever
# comes first: a commit (an fsync on SQLite) per article was much of an import's time, and
# other writers (the API, partner polls) wait no longer than one batch for theirs. A batch
# takes one second of the store's clock (``_change_second``). The time is what ends a batch
# of an import: each commit writes every page its saves changed, and the longer the batch,
# the more saves share a page (an index's last page, a feed's), so fewer pages an article.
BATCH_SAVES = 1000
BATCH_SECONDS = 1.0
# Questions of one compound statement (SQLStore._each): SQLite takes at most 500 SELECTs in one.
EACH_CHUNK = 200

_ARTICLE_COLUMNS = (
    "id, slug, url, title, summary, content_html, content_text, author, city, publication, "
    "published, updated, categories, tags, language, image_url, image_type, image_length, status, source, stored, "
    "upstream_id, via_url, via_name, sample, image_width, image_height, dateline"
)


# A related link as _load reads it: the link (r), and the article it is bound to (t), if any.
LINK_COLUMNS = ("r.title, r.target_id, r.suggested, t.slug, t.url, t.title, t.status, t.published_ts, t.published, "
                 "r.bound_ts")


def display_url(url: str) -> str:
    """A store URL as messages show it: without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=f"{parts.username or ''}:***@{parts.netloc.rsplit('@', 1)[-1]}").geturl()


def _ms(moment: datetime) -> int:
    """Unix milliseconds of an aware time."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime reached the store")
    return int(moment.timestamp() * 1000)


def _ts(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("naive datetime reached the store")
    return int(moment.timestamp())


class Cursor(Protocol):
    """What the shared code asks of a backend's cursor (sqlite3.Cursor is one)."""

    rowcount: int

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ..., /) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], /) -> Any: ...


def _next_second(previous: datetime | None, moment: datetime) -> datetime:
    """When a new version of an article is stored: ``moment`` in whole seconds, or the second
    after the article's previous version when that is not earlier. A document's time is the
    newest change in it: two versions of an article never share a second, so a web server
    whose validators are a file's time and size (nginx) tells their documents apart.

    Deletions and unpublishing keep their clock reading: a build at that reading must see
    their tombstones (``deleted_since`` ends at the build's time)."""
    moment = moment.replace(microsecond=0)
    if previous is not None and moment <= previous:
        return previous.replace(microsecond=0) + timedelta(seconds=1)
    return moment


def _gone_time(stored: str | None, updated: str, published: str) -> datetime:
    """When a deleted or unpublished article last changed what readers see: the second the store
    gave its removal (or a later change of it), which is after every version readers saw; its
    ``updated`` and publication time may since have moved anywhere (a draft edited)."""
    if stored:
        return datetime.fromisoformat(stored)
    return min(datetime.fromisoformat(updated), datetime.fromisoformat(published))


class _Including:
    """``ids`` and ``one`` more, for ``in`` alone: an import's articles created so far (all of
    them ``fresh``) grow to hundreds of thousands, too many to copy for each save."""

    def __init__(self, ids: Container[str], one: str):
        self.ids, self.one = ids, one

    def __contains__(self, item: object) -> bool:
        return item == self.one or item in self.ids


class _Batch:
    """The open transaction of :meth:`SQLStore.batch`, committed every few saves."""

    def __init__(self, store: SQLStore):
        self.store = store
        self.thread = threading.get_ident()
        self.cursor: Cursor | None = None
        self._context: AbstractContextManager[Cursor] | None = None
        self._saves = 0
        self._started = 0.0
        # The store clock's reading + 1 when this transaction first took a second: every save
        # of the batch commits at once, so all of them may share it (:meth:`SQLStore._change_second`).
        self.floor: int | None = None

    def open(self) -> Cursor:
        if self.cursor is None:
            self._context = self.store._transaction(write=True)
            with self.store._failing("cannot begin a batch of writes"):
                self.cursor = self._context.__enter__()
            self._saves, self._started, self.floor = 0, time.monotonic(), None
        return self.cursor

    def saved(self) -> None:
        self._saves += 1
        if self._saves >= BATCH_SAVES or time.monotonic() - self._started >= BATCH_SECONDS:
            self.commit()

    def commit(self) -> None:
        context, self.cursor, self._context, self.floor = self._context, None, None, None
        if context is not None:
            with self.store._failing("the batch of writes failed and was rolled back"):
                context.__exit__(None, None, None)

    def roll_back(self, exc: BaseException) -> None:
        context, self.cursor, self._context, self.floor = self._context, None, None, None
        if context is not None:
            context.__exit__(type(exc), exc, exc.__traceback__)


class SQLStore(ABC):
    """The store in every role of sources/store/roles.py (``ArticleStore``), over a
    backend's connections: a subclass opens them and fills in the hooks below.

    ``clock``: when a version is stored, for a writer that says nothing of it; a build's
    second process opens the store again with it (:meth:`opener`), so it must pickle
    (a module-level function such as ``feedpub.settings.utc_now``)."""

    name: str                       # how errors name the store: a path, or a URL without its password
    clock: Callable[[], datetime]
    suggest_related: bool
    ERRORS: ClassVar[tuple[type[Exception], ...]]       # the driver's errors
    CONFLICTS: ClassVar[tuple[type[Exception], ...]]    # its unique-constraint violations
    PLACEMENT: ClassVar[str]        # an article row's placement as JSON text (schema.PLACEMENT)
    CHANGE_ORDER: ClassVar[str]     # the change log in the order its rows were written
    UNINDEXED: ClassVar[str]        # prefix that keeps a column's index out of a plan ("" if none)
    # An article row's related links as one JSON list of LINK_COLUMNS lists, in their order ("": the
    # dialect cannot order an aggregate, and they are read by a second statement).
    LINKS_JSON: ClassVar[str] = ""
    _batch: _Batch | None = None    # the open batch of writes (:meth:`batch`), if any
    _sections_filled = False        # every section has its address (:meth:`_fill_sections`)

    # --- what a backend provides -------------------------------------------------------

    @abstractmethod
    def _transaction(self, *, write: bool) -> AbstractContextManager[Cursor]:
        """A cursor in one transaction: committed when the block ends, rolled back if it
        raises. Write transactions of one store exclude each other."""

    @abstractmethod
    def _connection(self) -> AbstractContextManager[Cursor]:
        """A cursor outside any explicit transaction: each statement sees the last commit."""

    @abstractmethod
    def _indexed_by(self, index: str) -> str:
        """An index hint for the planner ("" where the planner takes none)."""

    @abstractmethod
    def _conflict(self, exc: Exception) -> str | None:
        """Which unique key a write ran into: "slug", "id", or None for another."""

    @abstractmethod
    def table_columns(self, table: str) -> list[str]:
        """The stored (not generated) columns of ``table``, in their order."""

    @abstractmethod
    def opener(self) -> Callable[[], FeedQueries]:
        """A picklable way to open this store again (a build's second process)."""

    @abstractmethod
    def close(self) -> None:
        """Let go of the connections."""

    @abstractmethod
    def exclusive(self, name: str) -> AbstractContextManager[None]:
        """Hold the lock ``name`` of this store against every other process (roles.Instances)."""

    @abstractmethod
    def on_change(self, callback: Callable[[], None]) -> Callable[[], None] | None:
        """Call ``callback`` when any process commits a change, if the backend can tell (roles.Instances)."""

    def loaded(self) -> None:
        """Many rows were just written at once (``feedpub store copy``): the backend updates what
        its query planner knows of the tables, if it keeps such figures. None here."""

    @abstractmethod
    def leadership(self, name: str) -> Leadership:
        """This process's claim to lead the store's instances (roles.Instances)."""

    # --- plumbing --------------------------------------------------------------------

    @contextmanager
    def _failing(self, doing: str) -> Iterator[None]:
        """A driver error in the block becomes a StoreError naming the store and ``doing``."""
        try:
            yield
        except self.ERRORS as exc:
            raise StoreError(f"{self.name}: {doing}: {exc}") from exc

    def _batch_cursor(self) -> Cursor | None:
        """The cursor of this thread's open batch: its reads must see its own writes."""
        batch = self._batch
        if batch is None or batch.thread != threading.get_ident():
            return None
        return batch.cursor

    @contextmanager
    def _read(self, what: str) -> Iterator[Cursor]:
        """A cursor for statements that read ``what``."""
        batched = self._batch_cursor()
        with self._failing(f"cannot read {what}"):
            if batched is not None:
                yield batched
                return
            with self._connection() as cur:
                yield cur

    @contextmanager
    def _snapshot(self, what: str) -> Iterator[Cursor]:
        """A cursor in one read transaction, for statements that read ``what`` and must
        see one state of the store."""
        batched = self._batch_cursor()
        with self._failing(f"cannot read {what}"):
            if batched is not None:
                yield batched
                return
            with self._transaction(write=False) as cur:
                yield cur

    @contextmanager
    def batch(self) -> Iterator[Callable[[], None]]:
        """Saves of this thread within the block share transactions of up to
        :data:`BATCH_SAVES` saves (or :data:`BATCH_SECONDS`). Each save is a savepoint of
        its own: one that fails is undone alone and the others stay. Each transaction
        commits whole or not at all, so a process killed mid-batch leaves the store as
        the batch before left it. Leaving the block commits; an exception leaving it
        rolls back the saves since the last commit. The block is handed a function that
        commits at once (before a slow step, so that other writers need not wait for it)."""
        if self._batch is not None:
            raise StoreError(f"{self.name}: a batch of writes is already open")
        batch = self._batch = _Batch(self)
        try:
            yield batch.commit
        except BaseException as exc:
            batch.roll_back(exc)
            raise
        else:
            batch.commit()
        finally:
            self._batch = None

    @contextmanager
    def _write_transaction(self) -> Iterator[Cursor]:
        """One write: a transaction of its own, or a savepoint in this thread's batch."""
        batch = self._batch
        if batch is None or batch.thread != threading.get_ident():
            with self._transaction(write=True) as cur:
                yield cur
            return
        cur = batch.open()
        cur.execute("SAVEPOINT feedpub_save")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK TO SAVEPOINT feedpub_save")
            cur.execute("RELEASE SAVEPOINT feedpub_save")
            raise
        cur.execute("RELEASE SAVEPOINT feedpub_save")
        batch.saved()

    # --- reads -----------------------------------------------------------------------

    def revision(self) -> int:
        with self._read("the store's revision") as db:
            return db.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()[0]

    def count(self) -> int:
        with self._read("the number of articles") as db:
            return db.execute("SELECT count(*) FROM articles").fetchone()[0]

    def counts(self, now: datetime) -> ArticleCounts:
        with self._read("the number of articles in each state") as db:
            row = db.execute(
                "SELECT count(*) FILTER (WHERE status = 'published' AND published_ts <= :now), "
                "count(*) FILTER (WHERE status = 'published' AND published_ts > :now), "
                "count(*) FILTER (WHERE status = 'draft'), count(*) FILTER (WHERE status = 'deleted') "
                "FROM articles", {"now": _ts(now)}).fetchone()
        return ArticleCounts(*row)

    def sample(self) -> Article | None:
        with self._snapshot("the sample article") as cur:
            found = self._load(cur, "sample = 1 LIMIT 1", (), now=None)
        return found[0] if found else None

    def get(self, article_id: str) -> Article | None:
        with self._snapshot(f"article {article_id}") as cur:
            found = self._load(cur, "id = ?", (article_id,), now=None)
        return found[0] if found else None

    def lookup(self, *, article_id: str | None, slug: str, source: str | None = None) -> Article | None:
        # The article ``save`` would hand to ``decide`` (``feedpub ingest --dry-run``, the API).
        with self._snapshot(f"the article with id {article_id!r}, source {source!r} or slug {slug!r}") as cur:
            return self._find(cur, article_id, slug, source)

    def _find(self, cur: Cursor, article_id: str | None, slug: str, source: str | None) -> Article | None:
        # An explicit id is the identity; without one, the file it came from;
        # only then the slug (``decide`` refuses a slug owned by another file).
        if article_id:
            found = self._load(cur, "id = ?", (article_id,), now=None)
        else:
            found = self._load(cur, "source = ?", (source,), now=None) if source else []
            if not found:
                found = self._load(cur, "slug = ?", (slug,), now=None)
        return found[0] if found else None

    def page(self, limit: int, offset: int = 0) -> list[Article]:
        with self._snapshot(f"a page of articles (offset {offset})") as cur:
            return self._load(cur, "status != 'deleted' ORDER BY published_ts DESC, id LIMIT ? OFFSET ?",
                              (limit, offset), now=None)

    def terms(self, kind: str, now: datetime) -> list[str]:
        return sorted(self.section_slugs(kind, now))

    def has_term(self, kind: str, name: str, now: datetime) -> bool:
        """Whether the term's feed is published at ``now``: an article carrying it was visible by then."""
        return (kind, name) in self.published_terms([(kind, name)], now)

    def published_terms(self, terms: Sequence[tuple[str, str]], now: datetime) -> set[tuple[str, str]]:
        """Those of ``terms`` ((kind, name) pairs) whose feed is published at ``now``."""
        if not terms:
            return set()
        self._fill_sections()
        found: set[tuple[str, str]] = set()
        with self._read(f"whether the feeds of {len(terms)} names are published") as db:
            for start in range(0, len(terms), EACH_CHUNK):
                chunk = terms[start:start + EACH_CHUNK]
                either = " OR ".join("(kind = ? AND name = ?)" for _ in chunk)
                found.update((kind, name) for kind, name in db.execute(
                    f"SELECT kind, name FROM sections WHERE published_ts <= ? AND ({either})",
                    (_ts(now), *(value for term in chunk for value in term))).fetchall())
        return found

    def section_slugs(self, kind: str, now: datetime) -> dict[str, str]:
        self._fill_sections()
        with self._read(f"the addresses of each {kind}") as db:
            rows = db.execute("SELECT name, slug FROM sections WHERE kind = ? AND published_ts <= ? ORDER BY name",
                              (kind, _ts(now))).fetchall()
        return dict(rows)

    def feed_changed(self, kind: str | None, name: str | None) -> datetime | None:
        with self._read(f"when {self._feed_name(kind, name)} last lost an article") as db:
            row = db.execute("SELECT changed_ts FROM feed_changes WHERE kind = ? AND name = ?",
                             (kind or "", name or "")).fetchone()
        return datetime.fromtimestamp(row[0], timezone.utc) if row else None

    def place_changed_each(self, pages: Sequence[PageSpan]) -> list[datetime | None]:
        """When each archive page (kind, name, since_ts, last, witness, first) last changed other
        than in its entries' own versions: a place at or after ``since_ts`` and up to its
        ``witness`` (else its ``last`` place) came, went or moved; without a witness, a place after
        its last went or moved; or one of its places, ``first`` to ``last``, was deleted in place.
        A statement for up to :data:`EACH_CHUNK` pages (a full build asks it of every archive page:
        on a server, a round trip each otherwise)."""
        def branch(i: int, params: dict[str, Any]) -> str:
            kind, name, since_ts, last, witness, first = pages[i]
            upper = witness or last
            params.update({f"kind{i}": kind or "", f"name{i}": name or "",
                           f"since{i}": -2**62 if since_ts is None else since_ts,
                           f"upper_ts{i}": upper[0], f"upper_id{i}": upper[1], f"last_ts{i}": last[0],
                           f"last_id{i}": last[1], f"first_ts{i}": first[0], f"first_id{i}": first[1]})
            # One range of the feed's (kept, published_ts, article_id) order each: as one condition
            # with ORs, the planner read every row of the feed for each page, and a feed has a row
            # for each of its articles (kept 2), so a full build grew with the square of the store.
            rows = (f"SELECT max(changed_ts) AS changed FROM place_changes WHERE kind = :kind{i} "
                    f"AND name = :name{i} AND ")
            span = f"published_ts >= :since{i} AND (published_ts, article_id) <= (:upper_ts{i}, :upper_id{i})"
            ranges = [f"{rows}kept = 0 AND {span}", f"{rows}kept = 2 AND {span}",
                      f"{rows}kept = 1 AND (published_ts, article_id) >= (:first_ts{i}, :first_id{i}) "
                      f"AND (published_ts, article_id) <= (:last_ts{i}, :last_id{i})"]
            if not witness:   # no page closed after it yet: a place after it going (or moving) may open one again
                ranges.append(f"{rows}kept = 0 AND (published_ts, article_id) > (:last_ts{i}, :last_id{i})")
            return f"SELECT {i}, (SELECT max(changed) FROM ({' UNION ALL '.join(ranges)}) AS u{i})"
        what = ("when a page of " + self._feed_name(*pages[0][:2]) if len(pages) == 1
                else f"when {len(pages)} archive pages last changed")
        found = self._each(what, len(pages), branch, {}) if pages else []
        return [datetime.fromtimestamp(rows[0][0], timezone.utc) if rows and rows[0][0] is not None else None
                for rows in found]

    def feeds_changed(self) -> dict[tuple[str | None, str | None], datetime]:
        """(kind, name) -> :meth:`feed_changed` of every feed that ever lost an article ((None, None):
        the main feed): one row a feed at most, read at once."""
        with self._read("when each feed last lost an article") as db:
            rows = db.execute("SELECT kind, name, changed_ts FROM feed_changes").fetchall()
        return {(kind or None, name or None): datetime.fromtimestamp(ts, timezone.utc) for kind, name, ts in rows}

    def _fill_sections(self) -> None:
        """Give the names stored before sections were kept their address, once (a store migrated
        from an older feedpub): in sorted order, as builds made them then, and published since the
        first article carrying each that readers could see. Asked once per store object: once
        filled, a store stays so (and on a server store each question is a round trip)."""
        if self._sections_filled:
            return
        with self._read("whether every section has its address") as db:
            if db.execute("SELECT 1 FROM meta WHERE key = 'sections_filled'").fetchone():
                self._sections_filled = True
                return
        with self._failing("the sections' addresses were not stored"), self._transaction(write=True) as cur:
            self._fill_sections_in(cur)
        self._sections_filled = True

    def _fill_sections_in(self, cur: Cursor) -> None:
        """:meth:`_fill_sections` in the caller's write transaction."""
        if cur.execute("SELECT 1 FROM meta WHERE key = 'sections_filled'").fetchone():
            return
        rows = cur.execute(
            "SELECT t.kind, t.name, min(CASE WHEN a.status = 'published' OR a.deleted_ts IS NOT NULL "
            "OR a.unpublished_ts IS NOT NULL THEN a.published_ts END) FROM article_terms t "
            "JOIN articles a ON a.id = t.article_id WHERE NOT EXISTS (SELECT 1 FROM sections s "
            "WHERE s.kind = t.kind AND s.name = t.name) GROUP BY t.kind, t.name ORDER BY t.kind, t.name").fetchall()
        for kind, name, published_ts in rows:
            self._add_section(cur, kind, name, published_ts)
        cur.execute("INSERT INTO meta (key, value) VALUES ('sections_filled', 1)")

    @staticmethod
    def _add_section(cur: Cursor, kind: str, name: str, published_ts: int | None) -> None:
        taken = {row[0] for row in cur.execute("SELECT slug FROM sections WHERE kind = ?", (kind,)).fetchall()}
        cur.execute("INSERT INTO sections (kind, name, slug, published_ts) VALUES (?, ?, ?, ?)",
                    (kind, name, section_slug(name, taken), published_ts))

    @staticmethod
    def _terms_of(article: Article | None) -> set[tuple[str, str]]:
        if article is None:
            return set()
        found = {("category", name) for name in article.categories} | {("tag", name) for name in article.tags}
        return found | ({("author", article.author)} if article.author else set())

    def _place_sections(self, cur: Cursor, before: Article | None, after: Article, at: datetime) -> None:
        """Keep the sections of an article changed from ``before`` to ``after`` at ``at``: a new name
        gets its address; a feed is published from its first visible article on, and once its time
        came it stays; before then, it follows the articles that still carry it (an embargoed
        article unpublished, or moved, before its release publishes nothing)."""
        self._fill_sections_in(cur)   # names stored before sections first: they keep their addresses
        ours = self._terms_of(after)
        terms = sorted(self._terms_of(before) | ours)
        if not terms:
            return
        # One statement for all of them (each pair is a lookup of the key; a kind's name that
        # is another kind's too comes back as well, and is left out).
        kinds, names = sorted({kind for kind, _ in terms}), sorted({name for _, name in terms})
        known = {(kind, name): published_ts for kind, name, published_ts in cur.execute(
            f"SELECT kind, name, published_ts FROM sections WHERE kind IN ({','.join('?' * len(kinds))}) "
            f"AND name IN ({','.join('?' * len(names))})", (*kinds, *names)).fetchall()}
        for kind, name in terms:
            if (kind, name) not in known:
                if (kind, name) not in ours:
                    continue   # a name of ``before`` alone that never had a section
                self._add_section(cur, kind, name, None)
            elif known[kind, name] is not None and known[kind, name] <= _ts(at):
                continue   # published for good
            # The term's earliest published article, walking the term's own rows in time order:
            # a join led by the articles read every published article for a term none carried.
            cur.execute(
                "UPDATE sections SET published_ts = (SELECT t.published_ts FROM article_terms t "
                "CROSS JOIN articles a WHERE a.id = t.article_id AND t.kind = ? AND t.name = ? "
                "AND a.status = 'published' ORDER BY t.published_ts LIMIT 1) WHERE kind = ? AND name = ?",
                (kind, name, kind, name))

    def _change_second(self, cur: Cursor, moment: datetime) -> datetime:
        """The second a change that readers' documents show is stored at: ``moment``'s, or the one
        after the store's clock (migration 16) when an earlier change already took it. Every
        document such a change touches then has a later time than its version before, however
        many changes land in one second. The saves of one batch commit as one change: they share
        the first second the batch could take."""
        batch = self._batch
        in_batch = batch is not None and batch.cursor is cur
        if in_batch and batch.floor is not None:
            floor = batch.floor
        else:
            # An UPDATE, not a SELECT: on PostgreSQL it locks the row until the commit, so two
            # writers never read the same clock and take the same second.
            floor = cur.execute("UPDATE meta SET value = value WHERE key = 'clock' RETURNING value").fetchone()[0] + 1
            if in_batch:
                batch.floor = floor
        second = moment.replace(microsecond=0)
        if _ts(second) < floor:
            second = datetime.fromtimestamp(floor, timezone.utc).astimezone(moment.tzinfo)
        cur.execute("UPDATE meta SET value = ? WHERE key = 'clock' AND value < ?", (_ts(second), _ts(second)))
        return second

    @staticmethod
    def _kept_place(cur: Cursor, article: Article | None) -> bool:
        """Whether ``article`` is deleted and keeps its place in its feeds (readers saw it)."""
        if article is None or article.status is not Status.DELETED:
            return False
        row = cur.execute("SELECT deleted_ts FROM articles WHERE id = ?", (article.id,)).fetchone()
        return bool(row and row[0] is not None)

    @staticmethod
    def _announced(cur: Cursor, article: Article | None) -> bool:
        """Whether the partners' feeds announce, or may come to announce again, ``article``'s
        removal (feeds/building/partners.py ``takedowns``): it was deleted, or unpublished, after
        readers saw it, whatever it is now. Any change to it may start, change or end that."""
        if article is None:
            return False
        row = cur.execute("SELECT 1 FROM articles WHERE id = ? AND (deleted_ts IS NOT NULL "
                          "OR unpublished_ts IS NOT NULL)", (article.id,)).fetchone()
        return row is not None

    @staticmethod
    def _takedowns_changed(cur: Cursor, at: datetime) -> None:
        """Record at ``at`` that an announced removal changed or ended: the partners' feeds' time
        moves on (``feed_changes``' pseudo-feed ``takedowns``: feeds/building/partners.py)."""
        cur.execute("INSERT INTO feed_changes (kind, name, changed_ts) VALUES ('takedowns', '', ?) "
                    "ON CONFLICT (kind, name) DO UPDATE SET changed_ts = excluded.changed_ts "
                    "WHERE feed_changes.changed_ts < excluded.changed_ts", (_ts(at),))

    def _places_changed(self, cur: Cursor, before: Article | None, kept_before: bool, after: Article,
                        kept_after: bool, now: datetime, at: datetime) -> None:
        """Record at ``at`` what a change from ``before`` to ``after`` at ``now`` did to the feeds:
        each feed readers saw it in and no longer see it in (its subscription documents' time,
        migration 13), and in each feed where its place came, went or moved, or stayed and was
        deleted or shown again (its archive pages' time, migration 16). ``kept_*``: a deleted
        article that keeps its place."""
        def places(article: Article | None, kept: bool) -> dict[tuple[str, str], tuple[int, bool]]:
            if article is None or article.published > now or not (article.is_visible(now) or kept):
                return {}
            position = (_ts(article.published), article.is_visible(now))
            return {feed: position for feed in [("", ""), *sorted(self._terms_of(article))]}
        was, now_in = places(before, kept_before), places(after, kept_after)
        at_ts = _ts(at)
        # A feed it leaves, or where it turns from an entry to a tombstone or back (the planner's
        # ``_feeds_left`` renders those feeds again: feeds/building/planner.py).
        for kind, name in sorted(feed for feed, (_, visible) in was.items()
                                 if feed not in now_in or now_in[feed][1] != visible):
            cur.execute("INSERT INTO feed_changes (kind, name, changed_ts) VALUES (?, ?, ?) ON CONFLICT (kind, name) "
                        "DO UPDATE SET changed_ts = excluded.changed_ts WHERE feed_changes.changed_ts < excluded.changed_ts",
                        (kind, name, at_ts))
        rows = []
        for feed, (published_ts, visible) in was.items():
            if feed not in now_in or now_in[feed][0] != published_ts:
                rows.append((*feed, published_ts, before.id, 0))      # went, or moved from here
            elif now_in[feed][1] != visible:
                rows.append((*feed, published_ts, before.id, 1))      # deleted (or shown again) in place
        came = [(*feed, published_ts, after.id, 0) for feed, (published_ts, _) in now_in.items()
                if feed not in was or was[feed][0] != published_ts]
        # A place that came after every other one moves none: it is recorded as an arrival (kept 2),
        # which only the page it closes and the page before that one count (feeds/rendering/archive.py
        # ``witness_of``). Walked from that place on along (published_ts, id): with status indexed
        # (articles_by_time), SQLite read every place before it too, each save of an archive imported
        # oldest first.
        later = PLACE.replace(":now", "?").replace("a.status", f"{self.UNINDEXED}a.status")
        if came and cur.execute(
                f"SELECT 1 FROM articles a WHERE {later} AND (a.published_ts, a.id) > (?, ?) LIMIT 1",
                (_ts(now), came[0][2], after.id)).fetchone():
            rows += came
        else:
            rows += [(*row[:4], 2) for row in came]
        for row in sorted(rows):
            cur.execute("INSERT INTO place_changes (kind, name, published_ts, article_id, kept, changed_ts) "
                        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, name, kept, published_ts, article_id) "
                        "DO UPDATE SET changed_ts = excluded.changed_ts "
                        "WHERE place_changes.changed_ts < excluded.changed_ts", (*row, at_ts))

    # --- what builds ask (feeds/building/build.py) ----------------------------------------------
    #
    # A feed's history is its *places* (sources/placement.py): what readers see, and
    # what they saw until it was deleted.

    def places(self, kind: str | None, name: str | None, now: datetime,
               start: datetime | None = None, end: datetime | None = None) -> list[tuple[str, int, bool]]:
        """(id, published_ts, visible) of the feed's places with start <= published < end, oldest first.

        ``kind`` None is the main feed (every article)."""
        return self.places_each([(kind, name, start, end)], now)[0]

    def places_each(self, spans: Sequence[tuple[str | None, str | None, datetime | None, datetime | None]],
                    now: datetime) -> list[list[tuple[str, int, bool]]]:
        """:meth:`places` of each (kind, name, start, end), in one statement."""
        def branch(i: int, params: dict[str, Any]) -> str:
            kind, name, start, end = spans[i]
            rows_of, ts, id_ = self._feed_rows(kind, i, covered=True)
            params.update({f"kind{i}": kind, f"name{i}": name, f"start{i}": _ts(start) if start else -2**62,
                           f"end{i}": _ts(end) if end else 2**62})
            return (f"SELECT {i} AS q, a.id, a.published_ts, a.status FROM {rows_of} {ts} >= :start{i} "
                    f"AND {ts} < :end{i} AND {PLACE} ORDER BY {ts}, {id_}")
        found = self._each(f"the places of {self._feeds_name([(k, n) for k, n, _, _ in spans])}", len(spans),
                           branch, {"now": _ts(now)})
        return [[(id_, ts, status == Status.PUBLISHED.value) for id_, ts, status in
                 (rows if len(spans) == 1 else sorted(rows, key=lambda row: (row[1], row[0])))] for rows in found]

    def place_near(self, kind: str | None, name: str | None, now: datetime, moment: datetime, *,
                   before: bool) -> int | None:
        """published_ts of the feed's last place before ``moment`` (``before``), or its first at or after it."""
        return self.place_near_each([(kind, name, moment, before)], now)[0]

    def place_near_each(self, questions: Sequence[tuple[str | None, str | None, datetime, bool]],
                        now: datetime) -> list[int | None]:
        """:meth:`place_near` of each (kind, name, moment, before), in one statement."""
        def branch(i: int, params: dict[str, Any]) -> str:
            kind, name, moment, before = questions[i]
            op, order = ("<", "DESC") if before else (">=", "ASC")
            rows_of, ts, _ = self._feed_rows(kind, i)
            params.update({f"kind{i}": kind, f"name{i}": name, f"moment{i}": _ts(moment)})
            # UNINDEXED ("+a.status" on SQLite): no index on status here. With one, SQLite gathers every place
            # on that side of ``moment`` through both halves of the OR and sorts them, instead of walking
            # the time index to the first (docs/BENCHMARKS.md, "The store's queries").
            place = PLACE.replace("a.status", f"{self.UNINDEXED}a.status")
            return (f"SELECT {i} AS q, {ts} FROM {rows_of} {ts} {op} :moment{i} AND {place} "
                    f"ORDER BY {ts} {order} LIMIT 1")
        found = self._each(f"the places of {self._feeds_name([(k, n) for k, n, _, _ in questions])}",
                           len(questions), branch, {"now": _ts(now)})
        return [rows[0][0] if rows else None for rows in found]

    def _each(self, what: str, count: int, branch: Callable[[int, dict[str, Any]], str],
              params: dict[str, Any]) -> list[list[tuple]]:
        """The rows of ``count`` questions of one kind, in as few statements as SQLite allows (a
        compound statement of at most :data:`EACH_CHUNK`): a server store answers each statement
        in a round trip, which costs more than the question (docs/BENCHMARKS.md, "PostgreSQL
        beside SQLite"). ``branch(i, params)`` gives question ``i``'s SELECT, whose first column is
        ``i``, and adds its parameters; a question alone is its SELECT as it is. A branch's rows
        keep its ORDER BY only when it is alone: the caller orders the others."""
        found: list[list[tuple]] = [[] for _ in range(count)]
        with self._read(what) as db:
            for first in range(0, count, EACH_CHUNK):
                chunk = dict(params)
                numbers = range(first, min(count, first + EACH_CHUNK))
                branches = [branch(i, chunk) for i in numbers]
                sql = branches[0] if count == 1 else " UNION ALL ".join(
                    f"SELECT * FROM ({sql}) AS q{i}" for i, sql in zip(numbers, branches))
                for row in db.execute(sql, chunk).fetchall():
                    found[row[0]].append(tuple(row[1:]))
        return found

    def _feed_name(self, kind: str | None, name: str | None) -> str:
        return "the main feed" if kind is None else f"the feed of the {kind} {name!r}"

    def _feeds_name(self, feeds: Sequence[tuple[str | None, str | None]]) -> str:
        return self._feed_name(*feeds[0]) if len(feeds) == 1 else f"{len(feeds)} feeds"

    def _feed_rows(self, kind: str | None, i: int, *, covered: bool = False) -> tuple[str, str, str]:
        """(FROM ... WHERE, publication-time column, id column) of a feed's articles: every
        article for the main feed (kind None), else through the article_terms index, the term
        named by the parameters ``kind{i}`` and ``name{i}``.
        ``covered``: through the indexes that hold what ``PLACE`` reads (the planner
        prefers the primary key, whose rows hold the articles' content too)."""
        if kind is None:
            return f"articles a {self._indexed_by('articles_by_published') if covered else ''}WHERE", "a.published_ts", "a.id"
        return (f"article_terms t JOIN articles a {self._indexed_by('articles_place') if covered else ''}"
                f"ON a.id = t.article_id WHERE t.kind = :kind{i} AND t.name = :name{i} AND", "t.published_ts",
                "t.article_id")

    def latest_ids(self, kind: str | None, name: str | None, now: datetime, limit: int) -> list[str]:
        """The ids of the feed's newest ``limit`` articles visible at ``now``, newest first."""
        return self.latest_ids_each([(kind, name)], now, limit)[0]

    def latest_ids_each(self, feeds: Sequence[tuple[str | None, str | None]], now: datetime,
                        limit: int) -> list[list[str]]:
        """:meth:`latest_ids` of each (kind, name), in one statement."""
        def branch(i: int, params: dict[str, Any]) -> str:
            kind, name = feeds[i]
            if kind is None:
                return (f"SELECT {i} AS q, id, published_ts FROM articles WHERE status = 'published' "
                        "AND published_ts <= :now ORDER BY published_ts DESC, id DESC LIMIT :limit")
            params.update({f"kind{i}": kind, f"name{i}": name})
            return (f"SELECT {i} AS q, t.article_id, t.published_ts FROM article_terms t JOIN articles a "
                    f"ON a.id = t.article_id WHERE t.kind = :kind{i} AND t.name = :name{i} AND a.status = 'published' "
                    "AND a.published_ts <= :now ORDER BY t.published_ts DESC, t.article_id DESC LIMIT :limit")
        found = self._each(f"the newest articles of {self._feeds_name(feeds)}", len(feeds), branch,
                           {"now": _ts(now), "limit": limit})
        # Newest first in the order of the feeds' places (sources/placement.py): the same second's
        # by id, the last first, so the newest entries are the open archive page's and never miss one.
        return [[id_ for id_, _ in (rows if len(feeds) == 1 else sorted(rows, key=lambda row: (row[1], row[0]),
                                                                        reverse=True))] for rows in found]

    def articles(self, ids: Sequence[str], now: datetime) -> list[Article]:
        """The articles with these ids, in this order (links resolved as seen at ``now``)."""
        found: dict[str, Article] = {}
        # Links in the articles' rows (LINKS_JSON): one statement, one state of the store, without a
        # transaction's two more round trips on a server.
        one_statement = self.LINKS_JSON and len(ids) <= 500
        with (self._read if one_statement else self._snapshot)(f"{len(ids)} articles") as cur:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start:start + 500])
                for article in self._load(cur, f"id IN ({','.join('?' * len(chunk))})", chunk, now=now):
                    found[article.id] = article
        return [found[id_] for id_ in ids if id_ in found]

    def changes_since(self, revision: int) -> dict[str, Placement | None] | None:
        """id -> how each article changed after store revision ``revision`` was placed before
        (None: it is new); None when the change log no longer reaches back that far."""
        # One statement (one state of the store without a transaction's round trips on a server):
        # the floor on every row, and on the one row of an empty log.
        order = ", ".join(f"c.{column.strip()}" for column in self.CHANGE_ORDER.split(","))
        with self._read(f"the changes since revision {revision}") as db:
            rows = db.execute(f"SELECT f.value, c.article_id, c.before FROM meta f LEFT JOIN changes c "
                              f"ON c.revision >= ? WHERE f.key = 'changes_floor' ORDER BY {order}",
                              (revision,)).fetchall()
        if revision < rows[0][0]:
            return None
        changed: dict[str, Placement | None] = {}
        for _, article_id, before in rows:
            if article_id is None:
                continue                       # the log holds nothing since
            if article_id not in changed:      # the oldest record tells how it was
                changed[article_id] = Placement.from_json(before) if before is not None else None
        return changed

    def forget_changes(self, before: int) -> None:
        """Drop the change log older than store revision ``before`` (no build needs it any more)."""
        with self._failing("the change log was not trimmed"), self._transaction(write=True) as cur:
            cur.execute("DELETE FROM changes WHERE revision < ?", (before,))
            cur.execute("UPDATE meta SET value = ? WHERE key = 'changes_floor' AND value < ?", (before, before))

    def placements(self, ids: Sequence[str]) -> dict[str, Placement]:
        """id -> the current placement (``changes_since`` gives the old one)."""
        found: dict[str, Placement] = {}
        with self._read(f"the placements of {len(ids)} articles") as db:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start:start + 500])
                for id_, placement in db.execute(
                        f"SELECT a.id, {self.PLACEMENT.format(row='a')} FROM articles a "
                        f"WHERE a.id IN ({','.join('?' * len(chunk))})", chunk):
                    found[id_] = Placement.from_json(placement)
        return found

    def released_between(self, after: datetime, until: datetime) -> list[str]:
        """Articles whose publication time came in (after, until]: they became visible."""
        with self._read("the articles released since the last build") as db:
            rows = db.execute(
                "SELECT id FROM articles WHERE status = 'published' AND published_ts > ? AND published_ts <= ?",
                (_ts(after), _ts(until))).fetchall()
        return [row[0] for row in rows]

    def linking_to(self, ids: Sequence[str]) -> set[str]:
        """Articles with a related link resolved to one of ``ids`` (their content shows its title)."""
        found: set[str] = set()
        with self._read(f"the articles linking to {len(ids)} articles") as db:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start:start + 500])
                found.update(row[0] for row in db.execute(
                    f"SELECT DISTINCT article_id FROM related_links WHERE target_id IN ({','.join('?' * len(chunk))})",
                    chunk))
        return found

    def upcoming(self, now: datetime) -> list[Article]:
        with self._snapshot("the articles still embargoed") as cur:
            return self._load(cur, "status = 'published' AND published_ts > ? ORDER BY published_ts, id",
                              (_ts(now),), now=now)

    def unpublish(self, key: str, now: datetime) -> Article:
        return self._set_status(key, Status.DRAFT, now)

    def find_image(self, url: str) -> Image | None:
        with self._read(f"the measurement of {url}") as db:
            row = db.execute(
                "SELECT image_type, image_length, image_width, image_height FROM articles WHERE image_url = ? "
                "AND image_type IS NOT NULL AND image_length IS NOT NULL AND image_width IS NOT NULL LIMIT 1",
                (url,),
            ).fetchone()
        return Image(url, *row) if row else None

    def unmeasured_images(self, limit: int) -> list[str]:
        with self._read("the images still to measure") as db:
            rows = db.execute(
                # A length without a size: measured before sizes were read, or given by a partner's feed.
                "SELECT DISTINCT image_url FROM articles WHERE image_url IS NOT NULL "
                "AND (image_length IS NULL OR image_width IS NULL) "
                "AND status != 'deleted' ORDER BY image_url LIMIT ?", (limit,)).fetchall()
        return [row[0] for row in rows]

    def record_image(self, image: Image) -> int:
        with self._failing("the image measurement was not stored"), self._transaction(write=True) as cur:
            changed = cur.execute(
                "UPDATE articles SET image_type = ?, image_length = ?, image_width = ?, image_height = ? "
                "WHERE image_url = ? AND (image_length IS NULL OR image_width IS NULL)",
                (image.media_type, image.length, image.width or 0, image.height or 0, image.url)).rowcount
            if changed:   # the feeds change (an enclosure appears, a size): a build must follow
                cur.execute("UPDATE meta SET value = value + 1 WHERE key = 'revision'")
        return changed

    def deleted_since(self, since: datetime, now: datetime, kind: str | None = None,
                      name: str | None = None) -> list[Tombstone]:
        of_term = ("AND id IN (SELECT article_id FROM article_terms WHERE kind = ? AND name = ?) "
                   if kind is not None else "")
        with self._read("the articles deleted lately") as db:
            rows = db.execute(
                "SELECT id, slug, url, deleted_ts, published, stored, updated FROM articles WHERE status = 'deleted' "
                f"AND deleted_ts BETWEEN ? AND ? AND published_ts <= deleted_ts {of_term}"
                "ORDER BY deleted_ts DESC, id",
                (_ts(since), _ts(now), *((kind, name) if kind is not None else ())),
            ).fetchall()
        return [Tombstone(id_, slug, url, datetime.fromtimestamp(ts, now.tzinfo), datetime.fromisoformat(published),
                          _gone_time(stored, updated, published))
                for id_, slug, url, ts, published, stored, updated in rows]

    def deleted_before_by_feed(self, before: datetime) -> dict[tuple[str | None, str | None], datetime]:
        with self._read("when the latest tombstone gone from each feed was deleted") as db:
            rows = db.execute(
                "SELECT '', '', max(deleted_ts) FROM articles WHERE status = 'deleted' AND deleted_ts < ? "
                "AND published_ts <= deleted_ts UNION ALL "
                "SELECT t.kind, t.name, max(a.deleted_ts) FROM articles a JOIN article_terms t ON t.article_id = a.id "
                "WHERE a.status = 'deleted' AND a.deleted_ts < ? AND a.published_ts <= a.deleted_ts "
                "GROUP BY t.kind, t.name", (_ts(before), _ts(before))).fetchall()
        return {(kind or None, name or None): datetime.fromtimestamp(ts, timezone.utc)
                for kind, name, ts in rows if ts is not None}

    def taken_down_before(self, before: datetime) -> datetime | None:
        with self._read("when the latest take-down was announced") as db:
            row = db.execute(
                "SELECT max(ts) FROM (SELECT max(deleted_ts) AS ts FROM articles WHERE status = 'deleted' "
                "AND deleted_ts < ? AND published_ts <= deleted_ts UNION ALL SELECT max(unpublished_ts) FROM articles "
                "WHERE unpublished_ts < ? AND status != 'published' AND deleted_ts IS NULL) AS announced",
                (_ts(before), _ts(before))).fetchone()
        return datetime.fromtimestamp(row[0], timezone.utc) if row and row[0] is not None else None

    def deleted_by_feed(self, since: datetime, now: datetime) -> dict[tuple[str | None, str | None], list[Tombstone]]:
        """(kind, name) -> :meth:`deleted_since` of that feed, for every feed that has any ((None, None):
        the main feed, every one), in one statement."""
        with self._read("the articles deleted lately, by feed") as db:
            rows = db.execute(
                "SELECT a.id, a.slug, a.url, a.deleted_ts, a.published, a.stored, a.updated, t.kind, t.name "
                "FROM articles a "
                "LEFT JOIN article_terms t ON t.article_id = a.id WHERE a.status = 'deleted' "
                "AND a.deleted_ts BETWEEN ? AND ? AND a.published_ts <= a.deleted_ts ORDER BY a.deleted_ts DESC, a.id",
                (_ts(since), _ts(now))).fetchall()
        found: dict[tuple[str | None, str | None], list[Tombstone]] = {}
        made: dict[str, Tombstone] = {}
        for id_, slug, url, ts, published, stored, updated, kind, name in rows:
            if id_ not in made:
                made[id_] = Tombstone(id_, slug, url, datetime.fromtimestamp(ts, now.tzinfo),
                                      datetime.fromisoformat(published), _gone_time(stored, updated, published))
                found.setdefault((None, None), []).append(made[id_])
            if kind is not None:
                found.setdefault((kind, name), []).append(made[id_])
        return found

    def unpublished_since(self, since: datetime, now: datetime) -> list[Tombstone]:
        with self._read("the articles unpublished lately") as db:
            # Still not public again, and not deleted after it was seen (deleted_since has those).
            rows = db.execute(
                "SELECT id, slug, url, unpublished_ts, published, stored, updated FROM articles "
                "WHERE unpublished_ts BETWEEN ? AND ? AND status != 'published' AND deleted_ts IS NULL "
                "ORDER BY unpublished_ts DESC, id",
                (_ts(since), _ts(now)),
            ).fetchall()
        return [Tombstone(id_, slug, url, datetime.fromtimestamp(ts, now.tzinfo), datetime.fromisoformat(published),
                          _gone_time(stored, updated, published))
                for id_, slug, url, ts, published, stored, updated in rows]

    def history(self, key: str) -> list[Revision]:
        with self._snapshot(f"the history of {key!r}") as cur:
            found = self._load(cur, "id = ? OR slug = ?", (key, key), now=None)
            if not found:
                raise StoreError(f"no article has the id or slug {key!r}")
            article = found[0]
            rows = cur.execute("SELECT number, stored, snapshot FROM revisions WHERE article_id = ? ORDER BY number",
                               (article.id,)).fetchall()
        if not rows:
            # Stored before revisions were kept and not changed since: its one known
            # version (the same row _add_revision would record first).
            rows = [(1, (article.stored or article.updated).isoformat(), revision_snapshot(article))]
        return build_history(rows)

    def _load(self, cur: Cursor, where: str, params: Sequence, *, now: datetime | None) -> list[Article]:
        if self.LINKS_JSON:
            rows = cur.execute(f"SELECT {_ARTICLE_COLUMNS}, {self.LINKS_JSON} FROM articles WHERE {where}",
                               params).fetchall()
            link_rows = [(row[0], *link) for row in rows for link in (row[-1] or ())]
            rows = [row[:-1] for row in rows]
        else:
            rows = cur.execute(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE {where}", params).fetchall()
            link_rows = cur.execute(
                f"SELECT r.article_id, {LINK_COLUMNS} FROM related_links r LEFT JOIN articles t "
                f"ON t.id = r.target_id WHERE r.article_id IN ({','.join('?' * len(rows))}) "
                "ORDER BY r.article_id, r.position", [row[0] for row in rows]).fetchall() if rows else []
        if not rows:
            return []
        links: dict[str, list[RelatedLink]] = {row[0]: [] for row in rows}
        appeared: dict[str, int] = {}   # when a link bound late became visible, newest per article
        for (article_id, title, target_id, suggested, t_slug, t_url, t_title, t_status, t_ts, t_published,
             bound_ts) in link_rows:
            visible = (
                target_id is not None
                and now is not None
                and t_status == Status.PUBLISHED.value
                and t_ts <= _ts(now)
            )
            target = (LinkTarget(target_id, t_slug, t_url, t_title, datetime.fromisoformat(t_published))
                      if visible else None)
            if visible and bound_ts is not None:
                appeared[article_id] = max(appeared.get(article_id, 0), bound_ts, t_ts)
            links[article_id].append(RelatedLink(title, target_id, target, suggested=bool(suggested),
                                                 bound=bound_ts is not None))
        articles = [self._article(row, tuple(links[row[0]])) for row in rows]
        if now is not None:
            # As readers see it: an ``updated`` later than the moment they could first see this version
            # (stored, or released: an embargoed article moved earlier that kept its ``updated``) is
            # shown as that moment, so no feed's time runs ahead of the store's clock, where every
            # change meanwhile would share its second.
            articles = [replace(a, updated=min(a.updated, max(a.published, a.stored or a.published)))
                        for a in articles]
        # A link bound after the article was first published changed what readers see of it when
        # it appeared (see _reresolve): its ``updated`` is that time, once the link shows.
        return [replace(a, updated=max(a.updated, datetime.fromtimestamp(appeared[a.id], a.updated.tzinfo)))
                if a.id in appeared else a for a in articles]

    @staticmethod
    def _article(row: Sequence, related: tuple[RelatedLink, ...]) -> Article:
        (id_, slug, url, title, summary, content_html, content_text, author, city, publication,
         published, updated, categories, tags, language, image_url, image_type, image_length, status, source,
         stored, upstream_id, via_url, via_name, sample, image_width, image_height, dateline) = row
        return Article(
            id=id_, slug=slug, url=url, title=title, summary=summary, content_html=content_html,
            content_text=content_text, author=author, city=city, publication=publication,
            published=datetime.fromisoformat(published), updated=datetime.fromisoformat(updated),
            categories=tuple(json.loads(categories)), tags=tuple(json.loads(tags)), language=language,
            image=Image(image_url, image_type, image_length, image_width, image_height) if image_url else None,
            related=related, status=Status(status), source=source,
            stored=datetime.fromisoformat(stored) if stored else None,
            upstream_id=upstream_id, via_url=via_url, via_name=via_name, sample=bool(sample), dateline=dateline,
        )

    # --- remote sources (sources/remote.py) ------------------------------------------

    def find_upstream(self, via_url: str, upstream_id: str) -> Article | None:
        with self._snapshot(f"the article from item {upstream_id!r} of {via_url}") as cur:
            found = self._load(cur, "via_url = ? AND upstream_id = ? LIMIT 1", (via_url, upstream_id), now=None)
        return found[0] if found else None

    def find_by_url(self, url: str) -> Article | None:
        with self._snapshot(f"the article at {url}") as cur:
            found = self._load(cur, "url = ? ORDER BY (status = 'published') DESC, published_ts, id LIMIT 1",
                               (url,), now=None)
        return found[0] if found else None

    def source_state(self, url: str) -> SourceState | None:
        with self._read(f"the state of {url}") as db:
            row = db.execute(
                "SELECT url, etag, last_modified, last_poll, last_status, last_error, failures, next_poll "
                "FROM remote_sources WHERE url = ?", (url,)).fetchone()
        if row is None:
            return None
        url, etag, last_modified, last_poll, last_status, last_error, failures, next_poll = row
        return SourceState(url, etag, last_modified, datetime.fromisoformat(last_poll) if last_poll else None,
                           last_status, last_error, failures,
                           datetime.fromisoformat(next_poll) if next_poll else None)

    def save_source_state(self, state: SourceState) -> None:
        with self._failing(f"cannot record the state of {state.url}"), self._transaction(write=True) as cur:
            cur.execute(
                "INSERT INTO remote_sources (url, etag, last_modified, last_poll, last_status, last_error, failures, "
                "next_poll) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, "
                "last_modified = excluded.last_modified, last_poll = excluded.last_poll, "
                "last_status = excluded.last_status, last_error = excluded.last_error, "
                "failures = excluded.failures, next_poll = excluded.next_poll",
                (state.url, state.etag, state.last_modified,
                 state.last_poll.isoformat() if state.last_poll else None, state.last_status,
                 state.last_error, state.failures, state.next_poll.isoformat() if state.next_poll else None),
            )

    # --- instances sharing the store (roles.Instances) ----------------------------------

    def beat(self, instance: str, built: int, now: datetime) -> None:
        # Outside any write transaction: a beat never queues behind the article writers.
        with self._failing(f"cannot record the beat of instance {instance}"), self._connection() as db:
            db.execute("INSERT INTO instances (id, built, seen_ms) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE "
                       "SET built = excluded.built, seen_ms = excluded.seen_ms", (instance, built, _ms(now)))

    def built_by_live(self, since: datetime) -> dict[str, int]:
        with self._read("the instances' beats") as db:
            return dict(db.execute("SELECT id, built FROM instances WHERE seen_ms >= ? ORDER BY id",
                                   (_ms(since),)).fetchall())

    def silent_since(self, since: datetime) -> list[str]:
        with self._read("the instances' beats") as db:
            return [row[0] for row in db.execute("SELECT id FROM instances WHERE seen_ms < ? ORDER BY id",
                                                 (_ms(since),)).fetchall()]

    def leave(self, instance: str) -> None:
        with self._failing(f"cannot forget instance {instance}"), self._connection() as db:
            db.execute("DELETE FROM instances WHERE id = ?", (instance,))

    def record_release(self) -> int:
        with self._failing("the release was not recorded"), self._transaction(write=True) as cur:
            cur.execute("UPDATE meta SET value = value + 1 WHERE key = 'revision'")
            return cur.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()[0]

    # --- writes ----------------------------------------------------------------------

    def save(self, decide: Decide, *, article_id: str | None, slug: str, source: str | None = None,
             fresh: Collection[str] = ()) -> SaveResult:
        try:
            with self._write_transaction() as cur:
                existing = self._find(cur, article_id, slug, source)
                result = decide(existing)
                if result.action != "unchanged":
                    stored = result.article.stored
                    now = stored or self.clock()
                    at = now
                    if stored is not None:
                        at = _next_second(existing.stored if existing is not None and existing.id == result.article.id
                                          else None, stored)
                    kept_before = self._kept_place(cur, existing)
                    announced = self._announced(cur, existing)
                    if (kept_before or announced or (existing is not None and existing.is_visible(now))
                            or result.article.is_visible(now)):
                        at = self._change_second(cur, at)
                    if stored is not None:
                        result = replace(result, article=replace(result.article, stored=at))
                    moved = self._links_moved(cur, existing, result.article, at) if existing else set()
                    written = self._write(cur, result.article, replacing=existing is not None)
                    if announced:
                        self._takedowns_changed(cur, at)
                    self._place_sections(cur, existing, result.article, at)
                    self._places_changed(cur, existing, kept_before, result.article, False, now, at)
                    # The version as stored: its links as they resolved.
                    self._add_revision(cur, existing, written or self._load(cur, "id = ?", (result.article.id,),
                                                                            now=None)[0])
                    self._reresolve(cur, result.article, at, fresh=_Including(fresh, result.article.id))
                    self._redate(cur, {owner for owner in moved if owner != result.article.id and owner not in fresh},
                                 at)
                    cur.execute("UPDATE meta SET value = value + 1 WHERE key = 'revision'")
        except self.CONFLICTS as exc:
            raise StoreError(self._explain_conflict(exc, slug)) from exc
        except self.ERRORS as exc:
            raise StoreError(f"{self.name}: the write failed and was rolled back: {exc}") from exc
        return result

    def delete(self, key: str, now: datetime) -> Article:
        return self._set_status(key, Status.DELETED, now)

    def _set_status(self, key: str, status: Status, now: datetime) -> Article:
        with self._failing("the change failed and was rolled back"), self._transaction(write=True) as cur:
            found = self._load(cur, "id = ? OR slug = ?", (key, key), now=None)
            if not found:
                raise StoreError(f"no article has the id or slug {key!r}")
            article = found[0]
            if article.status is status:
                return article
            if status is Status.DELETED and article.sample:
                return self._remove_sample(cur, article, now)
            # Only an article readers could see gets a tombstone: a draft or an
            # embargoed article deleted unseen must leave no trace at all.
            was_public = article.status is Status.PUBLISHED and article.published <= now
            # The tombstone keeps the clock reading: a build at that reading shows it. The
            # documents it changes take the store's next second (migration 16).
            deleted_ts = _ts(now) if status is Status.DELETED and was_public else None
            kept_before = self._kept_place(cur, article)
            announced = self._announced(cur, article)
            # Else no document changes; its time never goes back before the last (taken from the clock).
            at = (self._change_second(cur, now) if was_public or kept_before or announced
                  else max(now, article.stored or now))
            cur.execute("UPDATE articles SET status = ?, deleted_ts = ?, stored = ? WHERE id = ?",
                        (status.value, deleted_ts, at.isoformat(), article.id))
            if status is Status.DRAFT:
                # Unpublishing what readers saw is a take-down for partner feeds (feeds/building/partners.py).
                cur.execute("UPDATE articles SET unpublished_ts = ? WHERE id = ?",
                            (_ts(now) if was_public else None, article.id))
            changed = replace(article, status=status, stored=at)
            if announced:
                self._takedowns_changed(cur, at)
            self._place_sections(cur, article, changed, now)
            self._places_changed(cur, article, kept_before, changed, deleted_ts is not None, now, at)
            moved = self._links_moved(cur, article, changed, now)
            if status is Status.DELETED:
                self._unindex(cur, article.id)
            self._add_revision(cur, article, changed)
            self._reresolve(cur, changed, at, fresh={article.id})
            self._redate(cur, moved - {article.id}, at)
            cur.execute("UPDATE meta SET value = value + 1 WHERE key = 'revision'")
        return changed

    def _remove_sample(self, cur: Cursor, article: Article, now: datetime) -> Article:
        """Delete the sample article without a trace, in the caller's transaction: a demo
        leaves no tombstone, no 410 page and no stored version in what may become a real site."""
        # Deleted first as any article is (links to it re-resolved, suggestions of it
        # dropped: _match never picks a deleted article), then removed with its versions.
        cur.execute("UPDATE articles SET status = 'deleted', deleted_ts = NULL WHERE id = ?", (article.id,))
        gone = replace(article, status=Status.DELETED, stored=now)
        # Links bound to it lose their target with it, and may find another.
        moved = self._links_moved(cur, article, gone, now)
        cur.execute("UPDATE related_links SET target_id = NULL, bound_ts = NULL WHERE target_id = ? "
                    "AND suggested = 0", (article.id,))
        self._reresolve(cur, gone, now, fresh={article.id})
        self._redate(cur, moved - {article.id}, now)
        cur.execute("DELETE FROM revisions WHERE article_id = ?", (article.id,))
        self._unindex(cur, article.id)
        cur.execute("DELETE FROM articles WHERE id = ?", (article.id,))
        # Its sections, unless another article carries them: a demo leaves no empty feed behind.
        for kind, name in sorted(self._terms_of(article)):
            cur.execute("DELETE FROM sections WHERE kind = ? AND name = ? AND NOT EXISTS (SELECT 1 FROM article_terms "
                        "WHERE kind = ? AND name = ?)", (kind, name, kind, name))
        cur.execute("UPDATE meta SET value = value + 1 WHERE key = 'revision'")
        # The change log would keep where it stood (its slug and title) for a thousand
        # revisions: trimmed past now, so the next build is a full one, which leaves nothing
        # of it in the output folder either (its entry cache starts empty).
        cur.execute("DELETE FROM changes")
        cur.execute("UPDATE meta SET value = (SELECT value FROM meta WHERE key = 'revision') "
                    "WHERE key = 'changes_floor'")
        return gone

    def _add_revision(self, cur: Cursor, previous: Article | None, current: Article) -> None:
        """Append ``current`` as the article's next revision, in the caller's transaction.

        An article stored before revisions were kept has none: its previous version
        becomes revision 1 first, so no version is lost.
        """
        insert = "INSERT INTO revisions (article_id, number, stored, snapshot) VALUES (?, ?, ?, ?)"
        # A new article (no previous version) has none: its rows went with any earlier article of its id.
        last = 0 if previous is None else cur.execute(
            "SELECT max(number) FROM revisions WHERE article_id = ?", (current.id,)).fetchone()[0] or 0
        if not last and previous is not None and previous.id == current.id:
            last = 1
            cur.execute(insert, (current.id, last, (previous.stored or previous.updated).isoformat(),
                                 revision_snapshot(previous)))
        # A writer that sets no ``stored`` time still gets a truthful one.
        stored = current.stored or self.clock()
        cur.execute(insert, (current.id, last + 1, stored.isoformat(), revision_snapshot(current)))

    def _explain_conflict(self, exc: Exception, slug: str) -> str:
        conflict = self._conflict(exc)
        if conflict == "slug":
            with self._read(f"the owner of the slug {slug!r}") as db:
                owner = db.execute("SELECT id FROM articles WHERE slug = ?", (slug,)).fetchone()
            return f"slug {slug!r} already belongs to article {owner[0] if owner else '?'}; give this one another slug"
        if conflict == "id":
            return "that id already belongs to another article"
        return f"the store refused the write: {exc}"

    def _write(self, cur: Cursor, article: Article, *, replacing: bool) -> Article | None:
        """Store ``article``; return it as :meth:`_load` would read it back (its links as they
        resolved), or None when it kept suggestions stored before, which only a read tells."""
        a = article
        values = (
            a.slug, a.url, a.title, normalise_title(a.title), a.summary, a.content_html, a.content_text,
            a.author, a.city, a.publication, a.published.isoformat(), _ts(a.published),
            a.updated.isoformat(), _ts(a.updated), json.dumps(list(a.categories), ensure_ascii=False),
            json.dumps(list(a.tags), ensure_ascii=False), a.language,
            a.image.url if a.image else None, a.image.media_type if a.image else None,
            a.image.length if a.image else None, a.status.value, None, a.source,
            a.stored.isoformat() if a.stored else None, a.upstream_id, a.via_url, a.via_name, int(a.sample),
            a.image.width if a.image else None, a.image.height if a.image else None, a.dateline,
        )
        columns = ("slug, url, title, title_norm, summary, content_html, content_text, author, city, "
                   "publication, published, published_ts, updated, updated_ts, categories, tags, "
                   "language, image_url, image_type, image_length, status, deleted_ts, source, stored, "
                   "upstream_id, via_url, via_name, sample, image_width, image_height, dateline")
        if replacing:
            assignments = ", ".join(f"{c.strip()} = ?" for c in columns.split(","))
            cur.execute(f"UPDATE articles SET {assignments} WHERE id = ?", (*values, a.id))
        else:
            cur.execute(f"INSERT INTO articles (id, {columns}) VALUES ({','.join('?' * (len(values) + 1))})",
                        (a.id, *values))
        # Every headline it has had: markers written against a former one still find it.
        cur.execute("INSERT INTO article_titles (article_id, title_norm) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    (a.id, normalise_title(a.title)))
        terms = query_terms(a)   # once: for its suggestions and for the suggestion index
        links = self._replace_links(cur, a, terms, created=not replacing, at=a.stored or self.clock())
        self._index_terms(cur, a, terms, created=not replacing)
        return None if links is None else replace(a, related=links)

    @staticmethod
    def _link_view(article: Article, at: datetime) -> tuple | None:
        """What a link to ``article`` shows at ``at``: where it leads while readers can see it."""
        if not article.is_visible(at):
            return None
        return article.slug, article.url, article.published

    def _links_moved(self, cur: Cursor, before: Article, after: Article, at: datetime) -> set[str]:
        """The articles holding a link to ``before`` that shows otherwise now it is ``after``
        (it leads elsewhere, or turns to text, or back to a link)."""
        if self._link_view(before, at) == self._link_view(after, at):
            return set()
        return {row[0] for row in cur.execute("SELECT DISTINCT article_id FROM related_links WHERE target_id = ?",
                                              (before.id,)).fetchall()}

    def _redate(self, cur: Cursor, ids: Iterable[str], at: datetime) -> None:
        """Move ``updated`` of each of these articles readers already see to ``at``, and record the
        version: a link of theirs now shows otherwise (it leads elsewhere, or turned to text).
        One not yet published (a draft, or embargoed) takes the change into its first publication."""
        for article_id in sorted(ids):
            found = self._load(cur, "id = ?", (article_id,), now=None)
            if not found or not found[0].is_visible(at):
                continue
            article = found[0]
            updated = max(at.astimezone(article.updated.tzinfo).replace(microsecond=0), article.updated)
            cur.execute("UPDATE articles SET updated = ?, updated_ts = ?, stored = ? WHERE id = ?",
                        (updated.isoformat(), _ts(updated), at.isoformat(), article_id))
            self._add_revision(cur, article, replace(article, updated=updated, stored=at))

    def _replace_links(self, cur: Cursor, article: Article, terms: list[str], *, created: bool,
                       at: datetime) -> tuple[RelatedLink, ...] | None:
        """The article's own links as ``article`` names them. The store's suggestions are
        decided once, when it is first stored (among the articles readers see then), and
        kept through its edits while the newsroom names none; naming some replaces them.
        Returns the links as stored, or None when it kept the suggestions stored before.

        A ``created`` article has no rows yet (its id's earlier rows went with its article)."""
        # A marker whose text is the same as before keeps the target it is bound to.
        bound: dict[str, list[tuple[str, int | None]]] = {}
        for title, target_id, bound_ts in () if created else cur.execute(
                "SELECT title, target_id, bound_ts FROM related_links WHERE article_id = ? AND suggested = 0 "
                "AND target_id IS NOT NULL ORDER BY position", (article.id,)).fetchall():
            bound.setdefault(title, []).append((target_id, bound_ts))
        # Suggestions in a value read back from the store are the store's, not the
        # newsroom's: never stored as the newsroom's picks.
        named = [link for link in article.related if not link.suggested]
        if not created:
            cur.execute("DELETE FROM related_links WHERE article_id = ?" + ("" if named else " AND suggested = 0"),
                        (article.id,))
        stored: list[RelatedLink] = []
        for position, link in enumerate(named):
            norm = normalise_title(link.title)
            kept = bound.get(link.title)
            target, bound_ts = kept.pop(0) if kept else (self._match(cur, norm, exclude=article.id), None)
            cur.execute(
                "INSERT INTO related_links (article_id, position, title, title_norm, target_id, bound_ts) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (article.id, position, link.title, norm, target, bound_ts),
            )
            stored.append(RelatedLink(link.title, target, bound=bound_ts is not None))
        if not named and not created:
            return None
        if not named and self.suggest_related:
            for position, (target_id, title) in enumerate(self._suggest(cur, article, terms, at)):
                cur.execute(
                    "INSERT INTO related_links (article_id, position, title, title_norm, target_id, suggested) "
                    "VALUES (?, ?, ?, ?, ?, 1)",
                    (article.id, position, title, normalise_title(title), target_id),
                )
                stored.append(RelatedLink(title, target_id, suggested=True))
        return tuple(stored)

    def _reresolve(self, cur: Cursor, article: Article, at: datetime, *, fresh: Container[str]) -> None:
        """Resolve the pending links ``article``'s arrival, retitling or deletion at ``at`` may
        settle: those whose marker one of its headlines (current or former) equals or begins
        with. Bound links stay as they are (see the module docstring).

        A link that resolves in an article readers already see (not in ``fresh``: not first
        published by the same run) is a change of that article: it is bound *late*, at ``at``
        (``bound_ts``), and a version of the article is recorded then. Its ``updated`` as feeds
        show it moves to when the link appears: ``at``, or the target's release if it is
        embargoed (:meth:`_load`), so nothing tells of an embargoed article before its time."""
        if article.status is Status.DELETED:
            # A suggestion is only worth showing while its article exists.
            cur.execute("DELETE FROM related_links WHERE target_id = ? AND suggested = 1", (article.id,))
        prefixes: set[str] = set()
        for (norm,) in cur.execute("SELECT title_norm FROM article_titles WHERE article_id = ?",
                                   (article.id,)).fetchall():
            prefixes.update(norm[:end] for end in range(1, len(norm) + 1))
        rows = []
        ordered = sorted(prefixes)
        # Through the pending links' own index: SQLite otherwise took related_by_target for
        # "target_id IS NULL" and read every pending link of the store for each save.
        pending = self._indexed_by("related_pending")
        for start in range(0, len(ordered), 500):
            chunk = ordered[start:start + 500]
            rows += cur.execute(
                f"SELECT article_id, position, title_norm FROM related_links {pending}"
                f"WHERE suggested = 0 AND target_id IS NULL AND title_norm IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
        before: dict[str, Article | None] = {}   # owners readers see: as they were
        settled: set[str] = set()   # owners first published by this run: the link is part of that
        for owner, position, link_norm in rows:
            target = self._match(cur, link_norm, exclude=owner)
            if target is None:
                continue
            if owner in fresh:
                settled.add(owner)
            if owner not in fresh and owner not in before:
                found = self._load(cur, "id = ?", (owner,), now=None)
                before[owner] = found[0] if found and found[0].is_visible(at) else None
            cur.execute("UPDATE related_links SET target_id = ?, bound_ts = ? WHERE article_id = ? AND position = ?",
                        (target, _ts(at) if before.get(owner) else None, owner, position))
        for owner, previous in sorted(before.items()):
            if previous is not None:   # the version readers see from then (or from the target's release)
                self._add_revision(cur, previous, replace(self._load(cur, "id = ?", (owner,), now=at)[0], stored=at))
        for owner in sorted(settled):
            self._restate_last_revision(cur, owner)

    def _restate_last_revision(self, cur: Cursor, article_id: str) -> None:
        """Write the article as it is now into its last version, keeping that version's time: a
        link that resolved later in the import that first published it is part of that first
        publication, so the version must hold it (else `feedpub history` would show the link
        bound by whatever change comes next, a delete say)."""
        last = cur.execute("SELECT number, stored FROM revisions WHERE article_id = ? ORDER BY number DESC LIMIT 1",
                           (article_id,)).fetchone()
        found = self._load(cur, "id = ?", (article_id,), now=None)
        if last is None or not found:
            return
        number, stored = last
        cur.execute("UPDATE revisions SET snapshot = ? WHERE article_id = ? AND number = ?",
                    (revision_snapshot(replace(found[0], stored=datetime.fromisoformat(str(stored)))), article_id,
                     number))

    @staticmethod
    def _match(cur: Cursor, norm: str, *, exclude: str) -> str | None:
        """The one article whose current headline is ``norm``, failing that whose former one is;
        failing both, the one whose current headline begins with it, then whose former one does.
        None when none does, or when two do at the first step that finds any."""
        if not norm:
            return None
        # Range scans on the indexes: every string that starts with ``norm`` sorts between it
        # and ``norm`` followed by the highest code point.
        upper = norm + "\U0010ffff"
        steps = (
            ("SELECT id FROM articles WHERE title_norm = ? AND id != ? AND status != 'deleted' LIMIT 2", (norm,)),
            ("SELECT DISTINCT t.article_id FROM article_titles t JOIN articles a ON a.id = t.article_id "
             "WHERE t.title_norm = ? AND a.id != ? AND a.status != 'deleted' LIMIT 2", (norm,)),
            ("SELECT id FROM articles WHERE title_norm > ? AND title_norm < ? AND id != ? "
             "AND status != 'deleted' LIMIT 2", (norm, upper)),
            ("SELECT DISTINCT t.article_id FROM article_titles t JOIN articles a ON a.id = t.article_id "
             "WHERE t.title_norm > ? AND t.title_norm < ? AND a.id != ? AND a.status != 'deleted' LIMIT 2",
             (norm, upper)),
        )
        for sql, bounds in steps:
            found = [row[0] for row in cur.execute(sql, (*bounds, exclude))]
            if found:
                return found[0] if len(found) == 1 else None
        return None

    def _index_terms(self, cur: Cursor, article: Article, terms: list[str], *, created: bool = False) -> None:
        """The article's words in the suggestion index (sources/suggest.py), as this save's, the
        newest; each word's saves beyond its :data:`~sources.suggest.KEPT_PER_TERM` most recent
        let go once in :data:`~sources.suggest.PRUNE_EVERY` saves. A ``created`` article has none
        there yet."""
        if not created:
            self._unindex(cur, article.id)
        rows = index_terms(article, terms)
        if article.status is Status.DELETED or not rows:
            return
        seq = cur.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()[0]
        cur.execute("INSERT INTO suggestion_saves (seq, article_id, words) VALUES (?, ?, ?)",
                    (seq, article.id, " ".join(term for term, _ in rows)))
        cur.executemany("INSERT INTO suggestion_terms (term, seq, weight) VALUES (?, ?, ?)",
                        [(term, seq, weight) for term, weight in rows])
        if seq % PRUNE_EVERY == 0:
            cur.executemany("DELETE FROM suggestion_terms WHERE term = ? AND seq <= (SELECT seq FROM suggestion_terms "
                            "WHERE term = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                            [(term, term, KEPT_PER_TERM) for term, _ in rows])

    @staticmethod
    def _unindex(cur: Cursor, article_id: str) -> None:
        """Take the article's words out of the suggestion index (those not let go already)."""
        for seq, words in cur.execute("SELECT seq, words FROM suggestion_saves WHERE article_id = ?",
                                      (article_id,)).fetchall():
            cur.executemany("DELETE FROM suggestion_terms WHERE term = ? AND seq = ?",
                            [(word, seq) for word in words.split()])
            cur.execute("DELETE FROM suggestion_saves WHERE seq = ?", (seq,))

    def _candidates(self, cur: Cursor, terms: list[str], exclude: str, limit: int,
                    now_ts: int) -> list[tuple[str, str, int]]:
        """(id, title, how many of ``terms`` matched) of up to ``limit`` other articles readers see
        at ``now_ts`` (Unix seconds) sharing any of ``terms``, ranked by
        :func:`~sources.suggest.rank_candidates`. Each word looks at the
        :data:`~sources.suggest.PER_TERM` most recent saves that hold it, through the index's
        (term, seq) order: the cost of a suggestion does not grow with the store. The rows are
        ranked here rather than in SQL: joined to the articles before ranking, each of a few
        hundred rows was a lookup of its own (docs/BENCHMARKS.md, "Ingest")."""
        recent = " UNION ALL ".join(
            f"SELECT * FROM (SELECT seq, weight FROM suggestion_terms WHERE term = ? ORDER BY seq DESC "
            f"LIMIT {PER_TERM:d}) AS t" for _ in terms)
        ranked = rank_candidates(cur.execute(recent, terms))
        found: list[tuple[str, str, int]] = []
        # Best first, ``limit`` at a time: in an archive nearly all are visible, so one statement.
        for start in range(0, len(ranked), limit):
            chunk = ranked[start:start + limit]
            # From the saves to their articles: SQLite otherwise led with the articles by time and
            # read every visible one for each suggestion.
            visible = {seq: (article_id, title) for seq, article_id, title in cur.execute(
                "SELECT s.seq, a.id, a.title FROM suggestion_saves s JOIN articles a ON a.id = s.article_id "
                f"WHERE s.seq IN ({','.join('?' * len(chunk))}) AND a.id != ? "
                f"AND {self.UNINDEXED}a.status = 'published' AND {self.UNINDEXED}a.published_ts <= ?",
                (*(seq for seq, _ in chunk), exclude, now_ts)).fetchall()}
            found += [(*visible[seq], matched) for seq, matched in chunk if seq in visible]
            if len(found) >= limit:
                break
        return found[:limit]

    def _suggest(self, cur: Cursor, article: Article, terms: list[str], at: datetime) -> list[tuple[str, str]]:
        """(id, title) of the articles readers see at ``at`` the store suggests as related
        (sources/suggest.py) for ``article``, whose :func:`~sources.suggest.query_terms` are
        ``terms``: none that appears later, so no suggestion shows up afterwards."""
        if not terms:
            return []

        def content(article_id: str) -> str:
            return cur.execute("SELECT content_html FROM articles WHERE id = ?", (article_id,)).fetchone()[0]

        return choose_related(terms, self._candidates(cur, terms, article.id, CANDIDATES, _ts(at)), content,
                              MAX_SUGGESTIONS)
