"""The builder: renders the documents of one build from one store at one clock.

:class:`Builder` knows how each document is made (a feed's subscription documents and
pages, an archive page, an article's page, the site's own pages) and keeps each entry
rendered once per format between builds (:mod:`.fragments`). A full build walks every
document with :meth:`Builder.everything`, month by month; with :class:`Claims` shared
between two processes (:mod:`.parallel`), each renders the months and feeds it claims.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources

from sources.model import Tombstone
from sources.store.roles import FeedQueries, PageSpan

from ..rendering.archive import Page, Place, changes_from, month_of, paginate
from ..rendering.catalogue import term_feed
from ..rendering.document import Document
from ..rendering.entries import (
    EPOCH,
    Entry,
    FeedDefinition,
    FeedView,
    History,
    deleted_entries,
    main_feed,
    make_entry,
    newest,
)
from ..rendering.formats import Rendered, entry_fragments, render_atom, render_json_feed, render_rss
from ..rendering.logo import render_logo
from ..rendering.opml import render_opml
from ..rendering.pages import (render_article_page, render_feed_page, render_gone_page, render_index,
                               render_not_found_page, render_stylesheet)
from ..site import SiteSettings
from .fragments import Fragment, FragmentCache, microseconds
from .partners import partner_documents

FeedKey = tuple[str, str] | None    # (kind, name) of a catalogue feed; None: the main feed
# (done, in all) of a full build's feed documents: archive pages, and 3 per subscription
Progress = Callable[[int, int], None]


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """Changed rendering code must not leave documents of the old code in place."""
    digest = hashlib.sha256()
    for name, body in _package_files(resources.files("feeds"), ""):
        digest.update(name.encode() + body)
    return digest.hexdigest()


def _package_files(folder, prefix: str) -> Iterator[tuple[str, bytes]]:
    """Every file of the feeds package (code, templates, strings, assets) but compiled code, sorted."""
    for item in sorted(folder.iterdir(), key=lambda item: item.name):
        if item.is_dir():
            if item.name != "__pycache__":
                yield from _package_files(item, f"{prefix}{item.name}/")
        elif not item.name.endswith(".pyc"):
            yield prefix + item.name, item.read_bytes()


def fingerprint(site: SiteSettings) -> str:
    return hashlib.sha256((repr(site) + _code_digest()).encode()).hexdigest()


class Builder:
    """Renders the documents of one build from one store at one clock."""

    def __init__(self, store: FeedQueries, site: SiteSettings, now: datetime, slugs: dict[str, dict[str, str]],
                 fragments: FragmentCache):
        self.store, self.site, self.now, self.slugs = store, site, now, slugs
        self.fragments = fragments
        self.size = site.archive_entries
        self._keys: dict[str, FeedKey] | None = None   # a feed definition's key -> (kind, name)
        # Read once for every feed (a question per feed is a round trip each on a server store):
        self._deleted: dict[tuple[str | None, str | None], list[Tombstone]] | None = None   # each feed's tombstones
        # When each last lost an article, or its newest tombstone went:
        self._left: dict[tuple[str | None, str | None], datetime] | None = None

    # --- feeds and their definitions -------------------------------------------------

    def definition(self, key: FeedKey) -> FeedDefinition:
        if key is None:
            return main_feed(self.site)
        kind, name = key
        return term_feed(kind, name, self.slugs[kind][name], self.site)

    def catalogue(self) -> tuple[FeedDefinition, ...]:
        return tuple(term_feed(kind, name, slug, self.site)
                     for kind in self.site.catalogue for name, slug in sorted(self.slugs.get(kind, {}).items()))

    def keys(self) -> list[FeedKey]:
        return [None] + [(kind, name) for kind in self.site.catalogue for name in sorted(self.slugs.get(kind, {}))]

    def window(self, key: FeedKey) -> list[str]:
        kind, name = key if key else (None, None)
        return self.store.latest_ids(kind, name, self.now, self.site.items_per_feed)

    # --- entries -----------------------------------------------------------------------

    def rendered(self, ids: list[str], fmt: str) -> tuple[Rendered, list[Fragment]]:
        """The entries ``ids`` in format ``fmt``: kept ones, the others rendered (and kept)."""
        return self.rendered_in(ids, (fmt,))[fmt]

    def rendered_in(self, ids: list[str], formats: tuple[str, ...]) -> dict[str, tuple[Rendered, list[Fragment]]]:
        """:meth:`rendered` for several formats, each article read and sanitised once for all."""
        found = {fmt: self.fragments.get(fmt, ids) for fmt in formats}
        missing = [article_id for article_id in ids if any(article_id not in found[fmt] for fmt in formats)]
        if missing:
            entries = self.entries(missing)
            for fmt in formats:
                self.keep([entry for entry in entries if entry.id not in found[fmt]], fmt, found[fmt])
        return {fmt: _as_rendered(found[fmt], ids) for fmt in formats}

    def entries(self, ids: list[str]) -> list[Entry]:
        """The articles ``ids`` read and sanitised, ready to render."""
        return [make_entry(article, self.site, self.slugs) for article in self.store.articles(ids, self.now)]

    def keep(self, entries: list[Entry], fmt: str, into: dict[str, Fragment]) -> None:
        """Render ``entries`` in ``fmt`` into ``into`` and the cache (for later builds)."""
        made = {entry.id: Fragment(body, microseconds(entry.updated),
                                   microseconds(entry.changed) if entry.changed else None, entry.image is not None)
                for entry, body in zip(entries, entry_fragments(entries, self.site, fmt))}
        self.fragments.put(fmt, made.items())
        into.update(made)

    # --- documents ---------------------------------------------------------------------

    def feed_documents(self, key: FeedKey, prev_archive: str | None, ids: list[str] | None = None, *,
                       articles: list[str] | None = None) -> list[Document]:
        """The subscription documents of a feed and its page (and for the main feed, the site's
        pages); ``ids``: its newest entries, when the caller has read them already. ``articles``
        (a full build's main feed): the articles whose pages are written with it, and every
        deleted article's page, and the partners' feeds (feeds/building/partners.py)."""
        site = self.site
        ids = self.window(key) if ids is None else ids
        deleted = self.tombstones(key)
        rendered = self.rendered_in(ids, ("rss", "atom", "json", "html"))
        view = FeedView(self.definition(key), (), self.updated(key, rendered["atom"][1], deleted), deleted,
                        history=History(prev=prev_archive))
        page = render_feed_page(view, site, rendered["html"][0].fragments)
        basis = {"entries": short_ids(ids), "prev_archive": prev_archive}
        atom = render_atom(view, site, rendered["atom"][0])
        documents = [replace(render_rss(view, site, rendered["rss"][0]), page=page.path),
                     replace(atom, basis=basis, page=page.path),
                     replace(render_json_feed(view, site, rendered["json"][0]), page=page.path), page]
        if key is None:
            documents += self.site_documents(view, ids)
        if articles is not None:
            documents += self.article_documents(articles) + self.gone_documents()
            documents += partner_documents(self.store, self.site, self.now, self.slugs)
        return documents

    def article_documents(self, ids: list[str], known: list[Entry] | None = None) -> list[Document]:
        """The pages of the articles ``ids`` that have one here (``known``: read already)."""
        entries = self.entries(ids) if known is None else known
        return [render_article_page(entry, self.site, entry.page) for entry in entries if entry.page]

    def gone_documents(self) -> list[Document]:
        """What the address of every article deleted after readers saw it answers (410)."""
        found = []
        for tombstone in self.store.deleted_since(EPOCH, self.now):
            path = self.site.article_path(tombstone.url, tombstone.slug, tombstone.published)
            if path:
                found.append(render_gone_page(path, self.site, self.site.local(max(
                    tombstone.deleted, tombstone.changed or tombstone.deleted))))
        return found

    def gone_document(self, path: str, article_id: str, deleted: datetime) -> Document:
        """What the address of an article deleted at ``deleted`` answers (410), at the second the
        store gave its deletion."""
        found = self.store.articles([article_id], self.now)
        # Never before its page's last version (an ``updated`` ahead of the deletion).
        times = [deleted, *((found[0].updated, found[0].stored or deleted) if found else ())]
        return render_gone_page(path, self.site, self.site.local(max(times)))

    def tombstones(self, key: FeedKey = None) -> tuple:
        """The feed's entries deleted within ``feeds.tombstone_days``: every feed announces its own."""
        if self._deleted is None:
            self._deleted = self.store.deleted_by_feed(self.now - timedelta(days=self.site.tombstone_days), self.now)
        return deleted_entries(self._deleted.get(key or (None, None), []), self.site)

    def updated(self, key: FeedKey, fragments: list[Fragment], deleted: tuple) -> datetime:
        """A feed's time: its newest entry, version or tombstone, when an article last left it, or
        when its newest tombstone gone went (removals included: it never goes back, so
        If-Modified-Since sees a removal)."""
        if self._left is None:
            self._left = self.store.feeds_changed()
            window = timedelta(days=self.site.tombstone_days)
            # The newest tombstone gone from each feed since (older than ``feeds.tombstone_days``)
            # left at the second after its last day: the feed changed then.
            aged = self.store.deleted_before_by_feed(self.now - window)
            for feed, latest in aged.items():
                gone = latest + window + timedelta(seconds=1)
                self._left[feed] = max(self._left.get(feed, gone), gone)
        left = self._left.get(key or (None, None))
        shown = newest(fragments, deleted, self.site)
        return max(shown, self.site.local(left)) if left is not None else shown

    def site_documents(self, main_view: FeedView, ids: list[str]) -> list[Document]:
        # The home page lists the newest ten entries.
        latest = tuple(self.entries(ids[:10]))
        view = replace(main_view, entries=latest, catalogue=self.catalogue())
        found = [render(view, self.site) for render in (render_index, render_not_found_page,
                                                          render_stylesheet, render_opml, render_logo)]
        return [doc for doc in found if doc is not None]

    def main_view(self) -> tuple[FeedView, list[str]]:
        ids = self.window(None)
        deleted = self.tombstones()
        view = FeedView(main_feed(self.site), (), self.updated(None, self.rendered(ids, "atom")[1], deleted), deleted)
        return view, ids

    def page_document(self, page: Page, known: dict[str, dict[str, Fragment]] | None = None,
                      changed: datetime | None = None) -> list[Document]:
        """An archive page and its page for people; ``known``: format -> its entries' fragments,
        and ``changed``: its :meth:`page_changed`, when the caller holds them (both or neither)."""
        feed = page.feed
        ids = list(page.visible)
        found = self.rendered_in(ids, ("atom", "html")) if known is None else {
            fmt: _as_rendered(known[fmt], ids) for fmt in ("atom", "html")}
        history = History(archive=True, current=feed.atom_path, prev=page.prev, next=page.next)
        if known is None:
            changed = self.page_changed([page])[0]
        view = FeedView(replace(feed, atom_path=page.path), (), self.page_time(page, found["atom"][1], changed),
                        history=history)
        html = render_feed_page(replace(view, feed=feed), self.site, found["html"][0].fragments, page=page)
        atom = render_atom(view, self.site, found["atom"][0])
        return [replace(atom, basis=page_basis(page), archive=True, page=html.path), html]

    def page_time(self, page: Page, fragments: list[Fragment], changed: datetime | None) -> datetime:
        """An archive page's time: its newest entry, or the last change that moved its entries or
        its links (``changed``: :meth:`page_changed`), or the moment its witness (the place that
        closed the page after it: feeds/rendering/archive.py ``witness_of``) was published, when it
        came by its release; so it never goes back, and each change of its entries or links gives
        it a new second."""
        times = [newest(fragments, (), self.site)]
        times += [self.site.local(changed)] if changed is not None else []
        times += [datetime.fromtimestamp(page.witness[1], self.site.zone)] if page.witness else []
        return max(times)

    def page_changed(self, pages: list[Page]) -> list[datetime | None]:
        """When each page's places or links last moved, or one of its places was deleted in place
        (``place_changed_each``), asked of all of them at once. A page's links follow the pages
        either side: the changes from the start of the month of the page before it (a month that
        came or went between them, or gained or lost a page) up to its witness."""
        spans: list[PageSpan] = []
        for page in pages:
            kind, name = self.feed_key(page.feed) or (None, None)
            first, last, witness = page.places[0], page.places[-1], page.witness
            spans.append((kind, name, changes_from(page, self.site.zone), (last[1], last[0]),
                          (witness[1], witness[0]) if witness else None, (first[1], first[0])))
        return self.store.place_changed_each(spans)

    def feed_key(self, feed: FeedDefinition) -> FeedKey:
        """The (kind, name) a feed stands for; None for the main feed."""
        if feed.kind is None:
            return None
        if self._keys is None:
            self._keys = {self.definition(key).key: key for key in self.keys() if key is not None}
        return self._keys[feed.key]

    def pages(self, key: FeedKey) -> list[Page]:
        kind, name = key if key else (None, None)
        return paginate(self.definition(key), self.store.places(kind, name, self.now), self.site.zone, self.size)

    # --- a full build -----------------------------------------------------------------

    def archives(self) -> tuple[dict[FeedKey, str | None], dict[str, list[Page]], list[str]]:
        """Each feed's newest archive page (its subscription document's ``prev-archive``),
        every closed page of every feed by month, and the articles readers see that are on
        none of the main feed's closed pages (its open page: their pages are written with the
        main feed's documents, the others' with the month of their main archive page)."""
        newest_page: dict[FeedKey, str | None] = {}
        by_month: dict[str, list[Page]] = {}
        unarchived: list[str] = []
        # One tuple per article for all its feeds: an article is in several feeds, and a copy
        # per feed would be most of a large build's memory (docs/BENCHMARKS.md).
        seen: dict[Place, Place] = {}
        for key in self.keys():
            kind, name = key if key else (None, None)
            places = [seen.setdefault(place, place) for place in self.store.places(kind, name, self.now)]
            pages = paginate(self.definition(key), places, self.site.zone, self.size)
            newest_page[key] = pages[-1].path if pages else None
            for page in pages:
                by_month.setdefault(page.month, []).append(page)
            if key is None:
                archived = sum(len(page.places) for page in pages)   # the oldest places fill the closed pages
                unarchived = [place[0] for place in places[archived:] if place[2]]
        return newest_page, by_month, unarchived

    def month_documents(self, pages: list[Page], windows: set[str]) -> Iterator[Document]:
        """One month's closed pages of every feed, and the pages of the articles on its main
        feed's pages.

        A page holds articles of one month only, so going month by month needs only that
        month's entries in memory: each is rendered once for all its pages (main, category,
        tags, author) and never read back from the cache. Those among some feed's newest
        (``windows``) are rendered in RSS and JSON Feed too, for the subscription documents.
        """
        entries = self.entries(list(dict.fromkeys(article_id for page in pages for article_id in page.visible)))
        known: dict[str, dict[str, Fragment]] = {"atom": {}, "html": {}}
        for fmt, into in known.items():
            self.keep(entries, fmt, into)
        newest_ones = [entry for entry in entries if entry.id in windows]
        for fmt in ("rss", "json"):
            self.keep(newest_ones, fmt, {})
        for page, changed in zip(pages, self.page_changed(pages)):
            yield from self.page_document(page, known, changed)
        main = {article_id for page in pages if page.feed.key == "main" for article_id in page.visible}
        yield from self.article_documents([], [entry for entry in entries if entry.id in main])

    def everything(self, progress: Progress | None = None, claims: Claims | None = None) -> Iterator[Document]:
        """Every document of a full build, or with ``claims`` shared with another process,
        those this process claims: months of archive pages first, newest first (the entries
        of subscription documents are mostly there: rendered and kept in the cache before
        those are), then subscription documents."""
        claims = claims or Claims()
        keys = self.keys()
        newest_page, by_month, unarchived = self.archives()
        windows = {key: self.window(key) for key in keys}
        windowed = {article_id for ids in windows.values() for article_id in ids}
        total = sum(len(pages) for pages in by_month.values()) + 3 * len(keys)
        done = 0
        # Months are claimed by calendar distance from now, not by position in this process's
        # plan: should a write land between the two processes' plans, every month both plans
        # hold is still taken by exactly one of them (and the write is in the change log).
        current = month_of(int(self.now.timestamp()), self.site.zone)
        oldest = min(by_month, default=current)
        while not claims.stopped() and (month := _months_before(current, claims.month())) >= oldest:
            pages = by_month.pop(month, [])
            yield from self.month_documents(pages, windowed)
            done += len(pages)
            if progress and pages:
                progress(done, total)
        while not claims.stopped() and (index := claims.feed()) < len(keys):
            key = keys[index]
            yield from self.feed_documents(key, newest_page[key], windows[key],
                                           articles=unarchived if key is None else None)
            done += 3
            if progress:
                progress(done, total)


class Claims:
    """The next month and the next feed a process of a full build renders. Shared between two
    processes (``context``: a multiprocessing context), whichever runs ahead takes more, so
    both finish together however fast each one starts and goes."""

    def __init__(self, context=None):
        # The next month, the next feed, and whether the build has failed (then neither
        # process takes more: what they wrote is removed).
        self._shared = [context.Value("q", 0) for _ in range(3)] if context is not None else None
        self._local = [0, 0, 0]

    def _next(self, which: int) -> int:
        if self._shared is None:
            self._local[which] += 1
            return self._local[which] - 1
        counter = self._shared[which]
        with counter.get_lock():
            counter.value += 1
            return counter.value - 1

    def month(self) -> int:
        """How many months before now's month the next one to render is."""
        return self._next(0)

    def feed(self) -> int:
        """The position of the next feed to render among the builder's keys."""
        return self._next(1)

    def stop(self) -> None:
        """The build failed: nothing more is to be rendered."""
        if self._shared is None:
            self._local[2] = 1
        else:
            self._shared[2].value = 1

    def stopped(self) -> bool:
        return bool(self._local[2] if self._shared is None else self._shared[2].value)


def _months_before(month: str, count: int) -> str:
    """The month ``count`` months before ``month`` ("2024-09")."""
    year, index = divmod(int(month[:4]) * 12 + int(month[5:7]) - 1 - count, 12)
    return f"{year:04d}-{index + 1:02d}"


def _as_rendered(known: dict[str, Fragment], ids: list[str]) -> tuple[Rendered, list[Fragment]]:
    # An article a concurrent write removed since ``ids`` were read is left out; that
    # write is in the change log, so the next build renders this document again.
    fragments = [known[article_id] for article_id in ids if article_id in known]
    return Rendered(tuple(f.body for f in fragments), any(f.image for f in fragments)), fragments


def short_ids(ids) -> list[str]:
    """Digests of article ids for the manifest (which every server worker reads after each
    build): a tenth of the size of the ids at 100k articles; a collision only re-renders."""
    return [hashlib.sha1(article_id.encode()).hexdigest()[:10] for article_id in ids]


def page_basis(page: Page) -> dict:
    # A digest, not the ids: a large site has tens of thousands of pages in the manifest.
    places = hashlib.sha256("\n".join(page.ids).encode()).hexdigest()[:32]
    witness = list(page.witness[:2]) if page.witness else None
    return {"places": places, "entries": len(page.visible), "prev": page.prev, "next": page.next, "witness": witness}
