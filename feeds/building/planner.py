"""The incremental plan: from the store's change log to the documents a change touched.

An article touches: the main feed and each of its category/tag/author feeds,
before and after the change; there, the subscription document when it is (or
was) among the newest entries, and the archive pages of its month (and, when a
month's pages come or go, the neighbouring months' pages, whose links change);
and its own page (written, 410 once deleted, removed when unpublished or moved).
An article whose related link points at a changed article changes with it.

What an article was at the last build and is now are :class:`~sources.placement.Placement`
values (the store's change log keeps the old one); :class:`IncrementalPlan` turns them into
the documents to render and to remove, or says why only a full build can be right.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime

from sources.model import Status
from sources.placement import UNKNOWN, Placement

from ..publishing.publish import Manifest
from ..rendering.archive import (Page, Place, archive_folder, changes_from, is_closed, link, month_of, month_pages,
                                witness_of)
from ..rendering.catalogue import term_feed
from ..rendering.document import Document
from ..rendering.entries import Entry
from ..rendering.pages import html_path
from ..site import SiteSettings
from .asking import FeedAnswers
from .builder import Builder, FeedKey, page_basis, short_ids


def _same_place(before: Placement | None, after: Placement | None, t0: int, t1: int) -> bool:
    """An article that was a place at the last build and still is, in the same month and feeds:
    every page keeps its entries (only the one holding it changes)."""
    return bool(before and after and before.is_place(t0) and after.is_place(t1)
                and (before.published_ts, before.status, before.categories, before.tags, before.author)
                == (after.published_ts, after.status, after.categories, after.tags, after.author))


def _link_changed(before: Placement | None, after: Placement | None, t0: int, t1: int) -> bool:
    """Whether a related link to the article shows something else at ``t1`` than at ``t0``."""
    was = before.link_view(t0) if before else None
    shows = after.link_view(t1) if after else None
    # A placement logged before titles were recorded says nothing: its view is UNKNOWN,
    # which no current placement shows, so the link counts as changed.
    return was != shows


def _feeds_left(before: Placement | None, after: Placement | None, t0: int, t1: int,
                site: SiteSettings) -> set[FeedKey]:
    """The feeds readers saw the article in at ``t0``, as an entry or a tombstone, that show it
    otherwise at ``t1`` (their time moves: the store's ``feed_changes``)."""
    def seen(placement: Placement | None, at: int) -> dict[FeedKey, bool]:
        if not placement or not placement.is_place(at):
            return {}
        return dict.fromkeys(_feed_keys(placement, site), placement.status is Status.PUBLISHED)
    was, now = seen(before, t0), seen(after, t1)
    return {key for key, visible in was.items() if now.get(key) is not visible}


def _page_state(placement: Placement | None, now_ts: int) -> str | None:
    """What an article's address serves: "page" while readers see it, "gone" once deleted after
    they saw it (410, as the store's tombstones: ``deleted_since``), else None (no document)."""
    if not placement:
        return None
    if placement.status is Status.PUBLISHED and placement.published_ts <= now_ts:
        return "page"
    if (placement.status is Status.DELETED and placement.deleted_ts is not None
            and placement.published_ts <= placement.deleted_ts <= now_ts):
        return "gone"
    return None


def _page_path(placement: Placement | None, site: SiteSettings) -> str | None:
    """Where the page of an article so placed is (None: it has none here)."""
    if not placement:
        return None
    published = datetime.fromtimestamp(placement.published_ts, site.zone)
    return site.article_path(placement.url, placement.slug, published)


def _recorded_witness(basis: dict) -> Place | None:
    """The witness a page's recorded basis names, as (id, publication time)."""
    witness = basis.get("witness")
    return (witness[0], witness[1]) if isinstance(witness, list) and len(witness) == 2 else None


def _feed_keys(placement: Placement, site: SiteSettings) -> set[FeedKey]:
    keys: set[FeedKey] = {None}
    if "category" in site.catalogue:
        keys.update(("category", name) for name in placement.categories)
    if "tag" in site.catalogue:
        keys.update(("tag", name) for name in placement.tags)
    if "author" in site.catalogue and placement.author:
        keys.add(("author", placement.author))
    return keys


class IncrementalPlan:
    """Which documents the changes since the last build touched, and rendering just those."""

    def __init__(self, builder: Builder, manifest: Manifest, since: datetime):
        self.b, self.manifest, self.since = builder, manifest, since
        self.render: dict[str, Callable[[], list[Document] | Document]] = {}
        self.remove: set[str] = set()
        self._closed: dict[tuple[FeedKey, str], list[Page]] = {}
        # Where each feed's places came, went or moved (publication time, id, where it came):
        # the store recorded a change there, which moves the time of the pages whose span holds it.
        self.moved: dict[FeedKey, set[tuple[int, str, bool]]] = {}
        self._articles: dict[str, Entry] | None = None   # the articles whose pages are rendered
        self.asked = FeedAnswers(builder)   # what the store said of the feeds, asked ahead

    def listed(self, prefix: str) -> list[str]:
        return self.manifest.paths(prefix)

    def archived(self, prefix: str) -> list[str]:
        """The archive documents listed under ``prefix`` (not their pages for people)."""
        return [path for path in self.listed(prefix) if path.endswith(".xml")]

    def witnessed(self, key: FeedKey, month: str, newest: str | None) -> list[Page]:
        """A month's closed pages, unlinked, each with its witness (feeds/rendering/archive.py
        ``witness_of``), read from the pages that follow them."""
        pages = self.closed_pages(key, month, newest)
        if not pages:
            return []
        size = self.b.size
        run = month_pages(self.b.definition(key), month, self.asked.places(key, month), size)
        following = self.asked.neighbour(key, month, before=False)
        if following:
            run += month_pages(self.b.definition(key), following, self.asked.places(key, following), size)[:2]
            # A page past the next one decides whether that one is closed (there is none past the newest month).
            after = self.asked.neighbour(key, following, before=False) if following != newest else None
            if len(run) < len(pages) + 2 and after:
                run += month_pages(self.b.definition(key), after, self.asked.places(key, after), size)[:1]
        return [replace(page, witness=witness_of(index, run, newest, size)) for index, page in enumerate(pages)]

    def moved_within(self, key: FeedKey, page: Page) -> bool:
        """Whether a change of this plan moved a place within the span that decides the page's time
        (``place_changed_each``): from :func:`changes_from` up to its witness, or, with none yet, a
        place after it going or moving (an arrival after every other place is recorded as one, which
        counts only as a witness: the page's ``basis`` shows that)."""
        since = changes_from(page, self.b.site.zone)
        last = (page.places[-1][1], page.places[-1][0])
        upper = (page.witness[1], page.witness[0]) if page.witness else last
        for ts, article_id, came in self.moved.get(key, ()):
            if (since is None or ts >= since) and (ts, article_id) <= upper:
                return True
            arrived = came and self.last_place() == (ts, article_id)
            if page.witness is None and (ts, article_id) > last and not arrived:
                return True
        return False

    def last_place(self) -> tuple[int, str] | None:
        """The newest place of the main feed: a place that came there came after every other one."""
        newest = self.asked.newest(None)
        places = self.asked.places(None, newest) if newest else []
        return (places[-1][1], places[-1][0]) if places else None

    def closed_pages(self, key: FeedKey, month: str, newest: str | None) -> list[Page]:
        """A month's closed pages, unlinked."""
        if (key, month) not in self._closed:
            pages = month_pages(self.b.definition(key), month, self.asked.places(key, month), self.b.size)
            self._closed[key, month] = [page for page in pages if is_closed(page, newest, self.b.size)]
        return self._closed[key, month]

    def plan(self, changed: dict[str, Placement | None], released: list[str], tombstones_moved: bool,
             state_slugs: dict[str, dict[str, str]], deleted: list[str], aged: list[str] = ()) -> str:
        """Fill ``render``/``remove``; why only a full build can be right, or "". ``deleted``:
        articles whose deletion time came since the last build; ``aged``: those whose tombstone
        left the feeds since (older than ``feeds.tombstone_days``)."""
        b, store = self.b, self.b.store
        before = dict(changed)
        direct = set(changed) | set(released)
        t0, t1 = int(self.since.timestamp()), int(b.now.timestamp())
        current = store.placements(sorted(direct))
        # A link shows its target's title and address, and only while the target is
        # visible: the articles linking to one whose link would look different change too.
        shown = {article_id for article_id in direct
                 if _link_changed(before.get(article_id), current.get(article_id), t0, t1)}
        linkers = store.linking_to(sorted(shown)) - direct if shown else set()
        content = direct | linkers
        b.fragments.forget(content)   # their kept entries show what they were (feeds/building/fragments.py)
        current.update(store.placements(sorted(linkers)))
        for article_id in content - set(changed):
            before[article_id] = current.get(article_id)   # released: not a place at ``since`` anyway
        touched: dict[FeedKey, set[str]] = {}
        still: dict[FeedKey, set[str]] = {}   # months whose places did not move (an edit in place)
        for article_id in content:
            was, now_at = before.get(article_id), current.get(article_id)
            stays = _same_place(was, now_at, t0, t1)
            for placement, moment in ((was, t0), (now_at, t1)):
                if placement and placement.is_place(moment):
                    month = month_of(placement.published_ts, b.site.zone)
                    for key in _feed_keys(placement, b.site):
                        (still if stays else touched).setdefault(key, set()).add(month)
                        if not stays:
                            self.moved.setdefault(key, set()).add(
                                (placement.published_ts, article_id, placement is now_at))
        for key, months in still.items():
            touched.setdefault(key, set())
        # A deletion (or a change to a deleted article) may add or drop a tombstone in the atom.xml
        # of each feed it was in; an article leaving a feed moves the feed's time: their
        # subscription documents are rendered again whatever their entries.
        tombstoned = {article_id for article_id in content if any(
            placement and placement.status is Status.DELETED
            for placement in (before.get(article_id), current.get(article_id)))}
        tombstones_moved = tombstones_moved or bool(tombstoned)
        forced: set[FeedKey] = {None} if tombstones_moved else set()
        timed = store.placements(sorted(set(deleted) | set(aged)))
        for article_id in tombstoned | set(timed):
            for placement in (before.get(article_id), current.get(article_id), timed.get(article_id)):
                if placement:
                    forced |= _feed_keys(placement, b.site)
        for article_id in content:
            forced |= _feeds_left(before.get(article_id), current.get(article_id), t0, t1, b.site)
        for key in forced:
            touched.setdefault(key, set())
        catalogue_changed = False
        published = store.published_terms([key for key in touched if key], b.now)
        for kind in b.site.catalogue:
            names = {key[1] for key in touched if key and key[0] == kind}
            if any(((kind, name) in published) != (name in state_slugs.get(kind, {})) for name in names):
                slugs = store.section_slugs(kind, b.now)
                old = state_slugs.get(kind, {})
                if any(name in slugs and slugs[name] != slug for name, slug in old.items()):
                    return "a new name moved the slug of an existing feed"
                b.slugs[kind] = slugs
                for name in set(old) - set(slugs):   # the feed is gone: all its documents
                    feed = term_feed(kind, name, old[name], b.site)
                    self.remove.update(self.listed(feed.atom_path.rpartition("/")[0] + "/"))
                    touched.pop((kind, name), None)
                for name in set(slugs) - set(old):   # a new feed: everything of it
                    touched.pop((kind, name), None)
                    self.whole_feed((kind, name))
                catalogue_changed = True
        # A name only deleted articles carry has no feed (feeds exist for what readers see).
        planned = [key for key in touched if key is None or key[1] in b.slugs.get(key[0], {})]
        self.asked.ask_ahead(planned, touched, still)
        for key in planned:
            self.feed(key, touched[key], still.get(key, set()), content, force=key in forced)
        if catalogue_changed and "rss.xml" not in self.render:
            self.render["index.html"] = lambda: b.site_documents(*b.main_view())
        others = sorted(set(deleted) - content)
        current.update(store.placements(others))
        for article_id in others:
            before[article_id] = current.get(article_id)
        return self.article_pages(content | set(others), before, current, t1)

    def article_pages(self, content: set[str], before: dict[str, Placement | None], current: dict[str, Placement],
                      now_ts: int) -> str:
        """The pages of the articles whose content changed: written, 410 once deleted, removed
        when unpublished or moved; why not, when a logged placement cannot say where a page was."""
        b = self.b
        wanted: list[str] = []
        for article_id in sorted(content):
            was, now_at = before.get(article_id), current.get(article_id)
            if any(placement and (placement.slug is UNKNOWN or placement.url is UNKNOWN) for placement in (was, now_at)):
                return "the change log predates article pages"   # logged before addresses were (as link_view)
            old_path, path = _page_path(was, b.site), _page_path(now_at, b.site)
            state = _page_state(now_at, now_ts)
            if state == "page" and path:
                self.render[path] = lambda article_id=article_id: self.article_page(article_id, wanted)
                wanted.append(article_id)
            elif state == "gone" and path:
                deleted = datetime.fromtimestamp(now_at.deleted_ts, b.site.zone)
                self.render[path] = lambda path=path, article_id=article_id, deleted=deleted: b.gone_document(
                    path, article_id, deleted)
            stale = {old_path, path} if state is None or not path else {old_path} - {path}
            for gone_from in stale - {None}:
                if self.manifest.get(gone_from) is not None:
                    self.remove.add(gone_from)
        return ""

    def article_page(self, article_id: str, wanted: list[str]) -> list[Document]:
        """The page of one of the articles ``wanted``: all of them read at the first one's turn."""
        if self._articles is None:
            self._articles = {entry.id: entry for entry in self.b.entries(wanted)}
        entry = self._articles.get(article_id)   # gone since the plan: the change log has it
        return self.b.article_documents([], [entry]) if entry is not None else []

    def whole_feed(self, key: FeedKey) -> None:
        pages = self.b.pages(key)
        self.render[self.b.definition(key).rss_path] = (
            lambda: self.b.feed_documents(key, pages[-1].path if pages else None))
        for page in pages:
            self.render[page.path] = lambda page=page: self.b.page_document(page)

    def feed(self, key: FeedKey, months: set[str], still: set[str], content: set[str], *, force: bool) -> None:
        """``months``: where places came, went or moved; ``still``: where articles changed in place."""
        b = self.b
        newest = self.asked.newest(key)
        folder = archive_folder(b.definition(key))
        # Each touched month, and its neighbours: their links follow its pages.
        around = {m for month in months for m in (self.asked.neighbour(key, month, before=True),
                                                  self.asked.neighbour(key, month, before=False)) if m}
        # And the month before the one before, past a month of less than a page: a page's witness
        # is then two months on.
        around |= {m for month in months if (before := self.asked.neighbour(key, month, before=True))
                   and len(self.asked.places(key, before)) < b.size
                   for m in [self.asked.neighbour(key, before, before=True)] if m}
        queue = sorted(months | around)
        done: set[str] = set()
        self.months(key, queue, done, newest, folder, content)
        # A month where nothing moved keeps its pages and their links (which the manifest
        # recorded): only the pages holding a changed entry are rendered again.
        for month in sorted(still - done):
            pages = self.closed_pages(key, month, newest)
            if not pages and not self.archived(f"{folder}{month}-"):
                continue   # its articles are all on the open page (the subscription document's)
            first = self.manifest.get(pages[0].path, {}).get("basis") if pages else None
            last = self.manifest.get(pages[-1].path, {}).get("basis") if pages else None
            if (not (isinstance(first, dict) and isinstance(last, dict))
                    or {page.path for page in pages} != set(self.archived(f"{folder}{month}-"))):
                self.months(key, [month], done, newest, folder, content)
                continue
            # Nor what follows it within a witness's reach (those months would be in ``done``).
            recorded = {page.path: self.manifest.get(page.path, {}).get("basis") or {} for page in pages}
            for page in link([replace(page, witness=_recorded_witness(recorded[page.path])) for page in pages],
                             first.get("prev"), last.get("next")):
                if content.intersection(page.ids) or recorded[page.path] != page_basis(page):
                    self.render[page.path] = lambda page=page: b.page_document(page)
        self.subscription(key, newest, content, force=force)

    def months(self, key: FeedKey, queue: list[str], done: set[str], newest: str | None, folder: str,
               content: set[str]) -> None:
        """Each month's closed pages, linked, rendered where they changed; on to the months
        either side whenever a month's pages came or went."""
        b = self.b
        while queue:
            month = queue.pop()
            if month in done:
                continue
            done.add(month)
            previous = self.asked.neighbour(key, month, before=True)
            following = self.asked.neighbour(key, month, before=False)
            earlier = self.closed_pages(key, previous, newest) if previous else []
            later = self.closed_pages(key, following, newest) if following else []
            pages = link(self.witnessed(key, month, newest), earlier[-1].path if earlier else None,
                         later[0].path if later else None)
            new_paths = {page.path for page in pages}
            old_paths = set(self.archived(f"{folder}{month}-"))
            self.remove.update(path for gone in old_paths - new_paths for path in (gone, html_path(gone)))
            for page in pages:
                recorded = self.manifest.get(page.path, {}).get("basis")
                if recorded != page_basis(page) or content.intersection(page.ids) or self.moved_within(key, page):
                    self.render[page.path] = lambda page=page: b.page_document(page)
            if new_paths != old_paths:   # the pages either side now link elsewhere
                queue += [m for m in (previous, following) if m and m not in done]

    def subscription(self, key: FeedKey, newest: str | None, content: set[str], *, force: bool) -> None:
        """The subscription documents: their entries, or the newest archive they link."""
        b = self.b
        newest_pages = self.closed_pages(key, newest, newest) if newest else []
        if not newest_pages and newest:
            previous = self.asked.neighbour(key, newest, before=True)
            newest_pages = self.closed_pages(key, previous, newest) if previous else []
        prev_archive = newest_pages[-1].path if newest_pages else None
        recorded = self.manifest.get(b.definition(key).atom_path, {}).get("basis")
        window = self.asked.window(key)
        if (force or not isinstance(recorded, dict) or recorded.get("prev_archive") != prev_archive
                or content.intersection(window) or set(short_ids(content)).intersection(recorded.get("entries", ()))):
            self.render[b.definition(key).rss_path] = lambda: b.feed_documents(key, prev_archive, window)

    def documents(self) -> Iterator[Document]:
        for path in sorted(self.render):
            made = self.render[path]()
            yield from made if isinstance(made, list) else [made]
