"""What each part of feedpub may ask of the source store, one Protocol per role.

Callers name the narrowest role they use, so a backend (sources/store/sqlite.py,
sources/store/postgres.py) is held to what is asked of it, and a reader of a caller
sees at once what it can do to the store:

- :class:`FeedQueries`: what a build reads (feeds/building/build.py);
- :class:`Articles`: article reads and writes of importers, the API and the CLI;
- :class:`SourceStates`: the polling state of remote sources;
- :class:`ImageQueue`: lead images still to measure;
- :class:`Instances`: what several processes sharing the store coordinate with;
- :class:`ArticleStore`: all of them, for the composition root (scheduler.py) only;
- :class:`PollRecords`: where feed polls are kept (feeds/serving/stats.py): beside an
  embedded store, in a shared one.

Times are aware datetimes; a naive one is refused. Reads and writes that fail
raise :class:`sources.errors.StoreError` naming the store.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from ..model import Article, ArticleCounts, Image, Revision, SaveResult, SourceState, Tombstone
from ..placement import Placement

# An archive page as :meth:`FeedQueries.place_changed_each` takes it: (kind, name, since_ts, last, witness,
# first), ``last`` and ``first`` its newest and oldest places and ``witness`` the place that closed the page
# after it (feeds/rendering/archive.py ``witness_of``; None: none yet), as (publication time, id).
PageSpan = tuple[str | None, str | None, int | None, tuple[int, str], tuple[int, str] | None, tuple[int, str]]

# Chooses what to store given the stored version (None: there is none), inside the write.
Decide = Callable[[Article | None], SaveResult]


class FeedQueries(Protocol):
    """What a build reads (feeds/building/build.py, through feeds/rendering/archive.py's places).

    ``kind``/``name`` select a catalogue feed ("category", "tag" or "author" and its
    name); ``kind`` None is the main feed (every article). An article is visible at
    ``now`` when it is published and its publish time has passed.

    The questions a build asks feed by feed have a form that asks them of many feeds at
    once (``..._each``, :meth:`published_terms`, :meth:`feeds_changed`, :meth:`deleted_by_feed`):
    the same answers, in one statement, for a store on a server, where each statement is a
    round trip."""

    def revision(self) -> int:
        """A number that grows with every committed change."""

    def terms(self, kind: str, now: datetime) -> list[str]:
        """The categories, tags or authors ("category", "tag", "author") whose feed is published at
        ``now``: an article carrying it was visible at some time up to ``now`` (it stays so)."""

    def has_term(self, kind: str, name: str, now: datetime) -> bool:
        """Whether the feed of this category, tag or author is published at ``now`` (see :meth:`terms`)."""

    def published_terms(self, terms: Sequence[tuple[str, str]], now: datetime) -> set[tuple[str, str]]:
        """Those of ``terms`` ((kind, name) pairs) for which :meth:`has_term` holds."""

    def section_slugs(self, kind: str, now: datetime) -> dict[str, str]:
        """name -> address (slug) of each of :meth:`terms`: assigned once, when the name first came,
        and kept."""

    def feed_changed(self, kind: str | None, name: str | None) -> datetime | None:
        """When an article readers saw last left the feed (deleted, unpublished, moved out of it), if
        ever; ``kind`` None: the main feed."""

    def place_changed_each(self, pages: Sequence[PageSpan]) -> list[datetime | None]:
        """When each archive page last changed other than in its entries' own versions, if ever: a
        place at or after ``since_ts`` (Unix seconds; None: any) and up to its ``witness`` (else its
        ``last`` place) came (at the end too, for a witness), went or moved; without a witness, a
        place after its ``last`` went or moved; or one of its own places, ``first`` to ``last``, was
        deleted (or shown again) in place. In as few statements as the store allows (a full build
        asks it of every archive page)."""

    def feeds_changed(self) -> dict[tuple[str | None, str | None], datetime]:
        """(kind, name) -> :meth:`feed_changed`, for every feed that ever lost an article ((None, None):
        the main feed)."""

    def latest_ids(self, kind: str | None, name: str | None, now: datetime, limit: int) -> list[str]:
        """The ids of the feed's newest ``limit`` articles visible at ``now``, newest first."""

    def latest_ids_each(self, feeds: Sequence[tuple[str | None, str | None]], now: datetime,
                        limit: int) -> list[list[str]]:
        """:meth:`latest_ids` of each (kind, name) of ``feeds``, in their order."""

    def articles(self, ids: Sequence[str], now: datetime) -> list[Article]:
        """These articles in this order, links resolved as seen at ``now``."""

    def places(self, kind: str | None, name: str | None, now: datetime,
               start: datetime | None = None, end: datetime | None = None) -> list[tuple[str, int, bool]]:
        """(id, publication time, visible) of a feed's history in [start, end), oldest first."""

    def places_each(self, spans: Sequence[tuple[str | None, str | None, datetime | None, datetime | None]],
                    now: datetime) -> list[list[tuple[str, int, bool]]]:
        """:meth:`places` of each (kind, name, start, end) of ``spans``, in their order."""

    def place_near(self, kind: str | None, name: str | None, now: datetime, moment: datetime, *,
                   before: bool) -> int | None:
        """Publication time of the feed's last place before ``moment``, or first at or after it."""

    def place_near_each(self, questions: Sequence[tuple[str | None, str | None, datetime, bool]],
                        now: datetime) -> list[int | None]:
        """:meth:`place_near` of each (kind, name, moment, before) of ``questions``, in their order."""

    def changes_since(self, revision: int) -> dict[str, Placement | None] | None:
        """id -> placement before the first change after ``revision`` (None: a new article);
        None if the log is trimmed."""

    def forget_changes(self, before: int) -> None:
        """Trim the change log below store revision ``before`` (no build needs it any more)."""

    def placements(self, ids: Sequence[str]) -> dict[str, Placement]:
        """id -> current placement."""

    def released_between(self, after: datetime, until: datetime) -> list[str]:
        """Articles whose publication time falls in (after, until]."""

    def linking_to(self, ids: Sequence[str]) -> set[str]:
        """Articles holding a related link resolved to one of ``ids``."""

    def deleted_since(self, since: datetime, now: datetime, kind: str | None = None,
                      name: str | None = None) -> list[Tombstone]:
        """Articles deleted in [since, now], newest deletion first, that had been public; with
        ``kind`` and ``name``, those of that category, tag or author only."""

    def deleted_by_feed(self, since: datetime, now: datetime) -> dict[tuple[str | None, str | None], list[Tombstone]]:
        """(kind, name) -> :meth:`deleted_since` of that feed, for every feed with any ((None, None): the
        main feed)."""

    def deleted_before_by_feed(self, before: datetime) -> dict[tuple[str | None, str | None], datetime]:
        """(kind, name) -> the latest deletion before ``before`` of an article of that feed that had
        been public, for every feed with one ((None, None): the main feed)."""

    def taken_down_before(self, before: datetime) -> datetime | None:
        """The latest deletion or take-down (:meth:`unpublished_since`) before ``before`` of an
        article readers saw, if any: when the partners' feeds last stopped announcing one, less
        ``feeds.tombstone_days``."""

    def unpublished_since(self, since: datetime, now: datetime) -> list[Tombstone]:
        """Articles unpublished in [since, now] after readers saw them and not public again (nor
        deleted since: :meth:`deleted_since` has those), newest first; ``deleted`` is when."""

    def opener(self) -> Callable[[], FeedQueries]:
        """A picklable way to open this store again (a build's second process)."""

    def close(self) -> None:
        """Release the store (a build closes the one its second process opened)."""


class Articles(Protocol):
    """Article reads and writes of importers (sources/ingest.py, sources/remote.py),
    the ingest API (sources/api.py) and the CLI."""

    def save(self, decide: Decide, *, article_id: str | None, slug: str, source: str | None = None,
             fresh: Collection[str] = ()) -> SaveResult:
        """In one transaction: look the article up (by id if given, else by source file,
        else by slug), let ``decide`` choose, and write its choice unless it is "unchanged".

        A write that changes what readers see of other articles already published (a pending
        link of theirs resolves, a link of theirs now leads elsewhere or nowhere) moves their
        ``updated`` to its time and records them a version each, except those in ``fresh``:
        articles first published by the same run (an import), whose first publication it is part of."""

    def batch(self) -> AbstractContextManager[Callable[[], None]]:
        """Saves of this thread within the block share a transaction every few saves, each
        save a savepoint of its own (one that fails is undone alone): a bulk import's writes.
        The block gets a function that commits at once (before a slow step)."""

    def get(self, article_id: str) -> Article | None:
        """The article with this id, whatever its status."""

    def lookup(self, *, article_id: str | None, slug: str, source: str | None = None) -> Article | None:
        """Read-only: the article :meth:`save` would hand to ``decide`` (same keys, same order)."""

    def page(self, limit: int, offset: int = 0) -> list[Article]:
        """Every article not deleted (drafts and embargoed ones too), newest publish time first."""

    def count(self) -> int:
        """How many articles the store holds, whatever their status."""

    def counts(self, now: datetime) -> ArticleCounts:
        """How many articles are published (visible at ``now``), scheduled, drafts and deleted."""

    def sample(self) -> Article | None:
        """The sample article (``Article.sample``), while the store holds it."""

    def find_upstream(self, via_url: str, upstream_id: str) -> Article | None:
        """The article taken from item ``upstream_id`` of the partner feed ``via_url``, whatever its status."""

    def find_by_url(self, url: str) -> Article | None:
        """An article whose canonical URL is ``url`` (a published one first), whatever its status."""

    def find_image(self, url: str) -> Image | None:
        """A measured image with this URL, if any article holds one."""

    def delete(self, key: str, now: datetime) -> Article:
        """Mark the article with this id or slug deleted at ``now``; it leaves every feed.
        The sample article is removed instead, with its versions: no tombstone, no trace."""

    def unpublish(self, key: str, now: datetime) -> Article:
        """Turn the article with this id or slug into a draft: it leaves every feed."""

    def history(self, key: str) -> list[Revision]:
        """Every stored version of the article with this id or slug, oldest first;
        StoreError naming the key when there is no such article."""


class SourceStates(Protocol):
    """The polling state of remote sources (sources/remote.py)."""

    def source_state(self, url: str) -> SourceState | None:
        """The polling state of the remote source with this feed URL, if it was ever polled."""

    def save_source_state(self, state: SourceState) -> None:
        """Record a remote source's polling state (not an article change: the revision stays)."""


class Polling(Articles, SourceStates, Protocol):
    """What polling a partner feed uses (sources/remote.py): its items become articles,
    its validators and backoff are kept."""


class ImageQueue(Protocol):
    """Lead images stored unmeasured, measured off every request path (scheduler.py)."""

    def unmeasured_images(self, limit: int) -> list[str]:
        """Lead image URLs of live articles still without a length and type."""

    def record_image(self, image: Image) -> int:
        """Store a measurement on every article with that image URL; how many changed."""


class Leadership(Protocol):
    """One process's claim to lead the instances of a store (:meth:`Instances.leadership`):
    what must happen once (hub pings, releases recorded, partner polls) is done by the
    process whose claim holds."""

    alone: bool   # True: this process is the store's only instance (SQLite), nothing to coordinate

    def held(self) -> bool:
        """Whether this process leads now: takes the lead if nobody holds it, makes a lost
        connection again. Never raises (a store that cannot be reached: False)."""

    def resign(self) -> None:
        """Give the lead up (another process may take it at once)."""


class Instances(Protocol):
    """What the processes that share a store (several ``feedpub serve`` instances, the CLI)
    coordinate with (scheduler.py)."""

    def leadership(self, name: str) -> Leadership:
        """This process's claim to the lead ``name``, not taken yet (:meth:`Leadership.held` takes it)."""

    def beat(self, instance: str, built: int, now: datetime) -> None:
        """Record that ``instance`` is alive at ``now`` and has built store revision ``built``."""

    def built_by_live(self, since: datetime) -> dict[str, int]:
        """instance -> the revision it has built, of the instances that beat at or after ``since``."""

    def leave(self, instance: str) -> None:
        """``instance`` stops (or has long stopped): it is no longer waited for."""

    def silent_since(self, since: datetime) -> list[str]:
        """The instances whose last beat came before ``since``."""

    def record_release(self) -> int:
        """An embargo lifted: move the store's revision on (every instance builds again and says
        so in its beat) and return the new revision. No article changes."""

    def exclusive(self, name: str) -> AbstractContextManager[None]:
        """Hold the lock ``name`` of this store for the block: no other process holding it
        meanwhile; released when the block ends or its holder dies."""

    def on_change(self, callback: Callable[[], None]) -> Callable[[], None] | None:
        """Have ``callback`` called (from another thread) soon after any process commits a
        change; returns the function that stops it, or None when the store cannot tell
        (then :meth:`FeedQueries.revision` is compared now and then instead). Either way
        ``revision()`` stays the truth: a call may come without a change, or late."""


class ArticleStore(FeedQueries, Polling, ImageQueue, Instances, Protocol):
    """Every role: what the composition root (scheduler.py) opens and hands out."""

    def upcoming(self, now: datetime) -> list[Article]:
        """Published articles whose publish time is still ahead of ``now``, soonest first
        (the service's release jobs)."""


class PollRecords(Protocol):
    """Where the server workers' feed polls are kept (feeds/serving/stats.py) and ``feedpub stats``
    reads them. Rows are (time, path, status, bytes, user agent, client address, count)."""

    def add_polls(self, rows: Sequence[tuple]) -> None:
        """Append these rows (StoreError or StatsError when they cannot be written)."""

    def polls_since(self, since: float) -> list[tuple]:
        """The rows of polls at or after Unix time ``since``, oldest first."""

    def close(self) -> None:
        """Let go of the file or connection."""
