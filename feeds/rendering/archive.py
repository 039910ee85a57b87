"""RFC 5005 archived feeds: every feed's whole history, in documents that do not change.

The rule (also in README, "Archives"):

* A feed's *places* are its articles readers can see, oldest first by publication
  time (then id), plus the ones deleted after readers saw them: a deletion leaves
  its place, so the pages after it keep their entries.
* Places are grouped by calendar month of publication in the site's time zone,
  and each month's places fill pages of ``page_size`` (``feeds.archive_entries``):
  ``archive/2024-09-1.xml``, ``archive/2024-09-2.xml``, ... (under the feed's
  folder: ``category/politik/archive/2024-09-1.xml``).
* A page is an archive document once it is *closed*: full, or in a month before
  the month of the feed's newest place. The one open page (the newest month's
  last page while not full) is not published: its entries are the feed's newest,
  fewer than ``page_size`` <= ``feeds.items``, so all of them are in the
  subscription document.
* So every article the feed ever showed is in exactly one archive document or in
  the open page, and the subscription document links the newest archive
  (``prev-archive``). Archive documents are Atom (RFC 5005 is an Atom extension);
  each carries ``fh:archive``, ``current`` (the subscription document),
  ``prev-archive`` and, once there is one, ``next-archive``.
* A closed page changes only when an article on it is edited or deleted, when an
  article is backdated into its month, when the pages either side of it come or go
  (a month between them gains or loses a page), or (once) when the page after it
  closes and it gains its ``next-archive`` link. Its time moves with each: the store
  records where places come and go (:func:`witness_of` says how far that reaches).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from .entries import FeedDefinition

Place = tuple[str, int, bool]   # (article id, publication time in Unix seconds, visible now)


@dataclass(frozen=True)
class Page:
    feed: FeedDefinition
    month: str                  # "2024-09"
    number: int                 # 1 = the month's first page
    places: tuple[Place, ...]   # oldest first
    prev: str | None = None     # path of the closed page before it (any month)
    next: str | None = None     # path of the closed page after it
    witness: Place | None = None   # what closed the page after it (:func:`witness_of`)

    @property
    def path(self) -> str:
        return page_path(self.feed, self.month, self.number)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(place[0] for place in self.places)

    @property
    def visible(self) -> tuple[str, ...]:
        """The ids shown on the page, newest first (the order of every feed document)."""
        return tuple(place[0] for place in reversed(self.places) if place[2])


def archive_folder(feed: FeedDefinition) -> str:
    folder = feed.atom_path.rpartition("/")[0]
    return f"{folder}/archive/" if folder else "archive/"


def page_path(feed: FeedDefinition, month: str, number: int) -> str:
    return f"{archive_folder(feed)}{month}-{number}.xml"


def month_of(ts: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts, zone).strftime("%Y-%m")


def month_bounds(month: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a calendar month in the site's zone."""
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=zone)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start, end


def month_pages(feed: FeedDefinition, month: str, places: list[Place], size: int) -> list[Page]:
    """One month's places cut into pages of ``size``, oldest first; no links yet."""
    return [Page(feed, month, index // size + 1, tuple(places[index:index + size]))
            for index in range(0, len(places), size)]


def is_closed(page: Page, newest_month: str | None, size: int) -> bool:
    return len(page.places) >= size or page.month != newest_month


def link(pages: list[Page], before: str | None = None, after: str | None = None) -> list[Page]:
    """Chain consecutive closed pages; ``before``/``after``: the closed pages either side of the run."""
    paths = [before] + [page.path for page in pages] + [after]
    return [Page(page.feed, page.month, page.number, page.places, paths[index], paths[index + 2], page.witness)
            for index, page in enumerate(pages)]


def changes_from(page: Page, zone: ZoneInfo) -> int | None:
    """Where the changes that can move a page's entries or its links begin (Unix seconds): the start
    of its month, or of the month of the page before it for a month's first page (a month that
    comes or goes between them, or gains or loses a page, moves its ``prev-archive`` link); None
    for a feed's first page (any place that comes before it gives it one)."""
    if page.prev is None:
        return None
    month = page.prev.rpartition("/")[2][:7] if page.number == 1 else page.month   # "archive/2024-09-2.xml"
    return int(month_bounds(month, zone)[0].timestamp())


def witness_of(index: int, pages: list[Page], newest_month: str | None, size: int) -> Place | None:
    """The place that made the page after ``pages[index]`` a closed one, which gave this page its
    ``next-archive`` link: that page's last when it is full, else the first place after it (a
    later month began). None while no closed page follows. ``pages``: consecutive pages of a
    feed, open or closed, reaching two pages past ``index`` where the feed has them.

    A page's link to the page after it changes only when a place up to its witness comes, goes
    or moves, or when a later place closes the page after it: so its time takes in the changes
    up to its witness, and the witness's own arrival (sources/store/sql.py ``_places_changed``)."""
    following = pages[index + 1] if index + 1 < len(pages) else None
    if following is None or not is_closed(following, newest_month, size):
        return None
    if len(following.places) >= size:
        return following.places[-1]
    return pages[index + 2].places[0] if index + 2 < len(pages) else None


def paginate(feed: FeedDefinition, places: list[Place], zone: ZoneInfo, size: int) -> list[Page]:
    """Every closed page of a feed, oldest first, linked: its whole archive."""
    by_month: dict[str, list[Place]] = {}
    start = end = 0
    bucket: list[Place] = []
    for place in places:
        if not start <= place[1] < end:   # places come oldest first: a month at a time
            month = month_of(place[1], zone)
            first, after = month_bounds(month, zone)
            start, end = int(first.timestamp()), int(after.timestamp())
            bucket = by_month.setdefault(month, [])
        bucket.append(place)
    newest = max(by_month, default=None)
    pages = [page for month in sorted(by_month) for page in month_pages(feed, month, by_month[month], size)]
    # Only the newest page can be open: the closed ones are the first of ``pages``.
    closed = [replace(page, witness=witness_of(index, pages, newest, size))
              for index, page in enumerate(pages) if is_closed(page, newest, size)]
    return link(closed)
