"""One build: read the store, render the documents a change touched, publish them.

Two paths, one result. A *full* build renders every document: the main feed and
the site's pages, a feed per category, tag and author (feeds/catalogue.py) and
every archive page (feeds/archive.py), each with its page for people, and every
article's page (feeds/rendering/pages.py). An *incremental* build starts from what
the last build left in public/ (``.build-state.json``: the store revision and
clock it reflected, a fingerprint of the settings and of this code, the
catalogue's slugs; ``.manifest.json``: what each feed and archive document was
rendered from) and the store's change log, and renders only the documents whose
entries, links or position a change touched. ``feedpub build --full`` and the
incremental path give byte-identical public/ (tests/test_incremental.py checks it
after random sequences of ingests, edits, deletions and releases).

An article touches: the main feed and each of its category/tag/author feeds,
before and after the change; there, the subscription document when it is (or
was) among the newest entries, and the archive pages of its month (and, when a
month's pages come or go, the neighbouring months' pages, whose links change);
and its own page (written, 410 once deleted, removed when unpublished or moved).
An article whose related link points at a changed article changes with it.

A build is full when there is no usable state: first build, other settings or
code, the clock went back, the change log was trimmed past the state, or a new
category/tag/author name would move an existing feed's slug.

The clock is a parameter: ``now`` decides which articles are visible (an
embargoed article is invisible until its publish time), and nothing else in a
document depends on it.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import queue as queue_module
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path

from sources.model import Status
from sources.placement import UNKNOWN, Placement
from sources.store.roles import FeedQueries

from ..publishing.atomic import PublishError, discard_temporaries, sync_filesystem, write_atomic
from ..publishing.publish import Manifest, finish, publish, write_documents
from ..publishing.websub import changed_topics
from ..rendering.archive import (
    Page,
    Place,
    archive_folder,
    is_closed,
    link,
    month_bounds,
    month_of,
    month_pages,
    paginate,
)
from ..rendering.catalogue import term_feed, term_slugs
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
from ..rendering.pages import (
    html_path,
    render_article_page,
    render_feed_page,
    render_gone_page,
    render_index,
    render_stylesheet,
)
from ..site import SiteSettings
from .fragments import CACHE_NAME, Fragment, FragmentCache, microseconds

STATE_NAME = ".build-state.json"   # hidden: the server never serves dot-files
STATE_VERSION = 1
FeedKey = tuple[str, str] | None    # (kind, name) of a catalogue feed; None: the main feed
# (done, in all) of a full build's feed documents: archive pages, and 3 per subscription
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BuildReport:
    now: datetime
    revision: int                 # store revision the build reflects
    seconds: float
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]
    topics: tuple[str, ...] = ()  # URLs of the feeds among ``written`` (for WebSub)
    full: bool = True             # every document rendered (else only what changes touched)
    why_full: str = ""            # why an incremental build was not possible

    def summary(self) -> str:
        kind = "full" if self.full else "incremental"
        return (f"built revision {self.revision} ({kind}): {len(self.written)} written, "
                f"{len(self.unchanged)} unchanged, {len(self.removed)} removed "
                f"in {self.seconds * 1000:.0f} ms")


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


def _feed_keys(placement: Placement, site: SiteSettings) -> set[FeedKey]:
    keys: set[FeedKey] = {None}
    if "category" in site.catalogue:
        keys.update(("category", name) for name in placement.categories)
    if "tag" in site.catalogue:
        keys.update(("tag", name) for name in placement.tags)
    if "author" in site.catalogue and placement.author:
        keys.add(("author", placement.author))
    return keys


class _Builder:
    """Renders the documents of one build from one store at one clock."""

    def __init__(self, store: FeedQueries, site: SiteSettings, now: datetime, slugs: dict[str, dict[str, str]],
                 fragments: FragmentCache):
        self.store, self.site, self.now, self.slugs = store, site, now, slugs
        self.fragments = fragments
        self.size = site.archive_entries

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
        deleted article's page."""
        site = self.site
        ids = self.window(key) if ids is None else ids
        deleted = self.tombstones() if key is None else ()
        rendered = self.rendered_in(ids, ("rss", "atom", "json", "html"))
        view = FeedView(self.definition(key), (), newest(rendered["atom"][1], deleted, site), deleted,
                        history=History(prev=prev_archive))
        page = render_feed_page(view, site, rendered["html"][0].fragments)
        basis = {"entries": _short_ids(ids), "prev_archive": prev_archive}
        atom = render_atom(view, site, rendered["atom"][0])
        documents = [replace(render_rss(view, site, rendered["rss"][0]), page=page.path),
                     replace(atom, basis=basis, page=page.path),
                     replace(render_json_feed(view, site, rendered["json"][0]), page=page.path), page]
        if key is None:
            documents += self.site_documents(view, ids)
        if articles is not None:
            documents += self.article_documents(articles) + self.gone_documents()
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
                found.append(render_gone_page(path, self.site, tombstone.deleted.astimezone(self.site.zone)))
        return found

    def tombstones(self) -> tuple:
        since = self.now - timedelta(days=self.site.tombstone_days)
        return deleted_entries(self.store.deleted_since(since, self.now), self.site)

    def site_documents(self, main_view: FeedView, ids: list[str]) -> list[Document]:
        # The home page lists the newest ten entries.
        latest = tuple(self.entries(ids[:10]))
        view = replace(main_view, entries=latest, catalogue=self.catalogue())
        found = [render(view, self.site) for render in (render_index, render_stylesheet, render_opml, render_logo)]
        return [doc for doc in found if doc is not None]

    def main_view(self) -> tuple[FeedView, list[str]]:
        ids = self.window(None)
        deleted = self.tombstones()
        view = FeedView(main_feed(self.site), (), newest(self.rendered(ids, "atom")[1], deleted, self.site), deleted)
        return view, ids

    def page_document(self, page: Page, known: dict[str, dict[str, Fragment]] | None = None) -> list[Document]:
        """An archive page and its page for people; ``known``: format -> its entries' fragments,
        when the caller holds them."""
        feed = page.feed
        ids = list(page.visible)
        found = self.rendered_in(ids, ("atom", "html")) if known is None else {
            fmt: _as_rendered(known[fmt], ids) for fmt in ("atom", "html")}
        history = History(archive=True, current=feed.atom_path, prev=page.prev, next=page.next)
        view = FeedView(replace(feed, atom_path=page.path), (), newest(found["atom"][1], (), self.site),
                        history=history)
        html = render_feed_page(replace(view, feed=feed), self.site, found["html"][0].fragments, page=page)
        atom = render_atom(view, self.site, found["atom"][0])
        return [replace(atom, basis=_page_basis(page), archive=True, page=html.path), html]

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
        # One tuple per article for all its feeds: at 100k articles in ~6.4 feeds each, the
        # copies would take ~90 MB.
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
        for page in pages:
            yield from self.page_document(page, known)
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


# A full build of a site with at least this many feeds renders in two processes (one
# more interpreter costs ~0.5 s to start; below this a build takes about that long).
PARALLEL_FROM = 64


def _render_part(open_store: Callable[[], FeedQueries], site: SiteSettings, now: datetime,
                 slugs: dict[str, dict[str, str]], output_dir: Path, claims: Claims, queue) -> None:
    """The second process of a full build: render and stage what it claims, report back (the
    parent swaps it in with its own, or removes it when the build fails)."""
    done = None
    try:
        store = open_store()
        fragments = FragmentCache(output_dir / CACHE_NAME, fingerprint(site))   # emptied by the parent
        try:
            previous = Manifest(output_dir)
            progress = lambda done, total: queue.put(("progress", done))   # noqa: E731
            builder = _Builder(store, site, now, slugs, fragments)
            done = write_documents(output_dir, builder.everything(progress, claims), previous)
        finally:
            fragments.close()
            store.close()
        queue.put(("done", done))
    except BaseException as exc:   # reported to the parent, which raises it
        if done is not None:
            done.discard()
        queue.put(("error", exc))


def _full_in_two(builder: _Builder, open_store: Callable[[], FeedQueries], output_dir: Path,
                 progress: Progress | None):
    """Both cores: a second process takes months and feeds as this one does (the one that is
    ahead takes the next: the second starts ~0.2 s later); the manifest is ours."""
    context = multiprocessing.get_context("spawn")   # never fork a process with scheduler threads
    queue = context.Queue()
    claims = Claims(context)
    worker = context.Process(target=_render_part, daemon=True, args=(
        open_store, builder.site, builder.now, builder.slugs, output_dir, claims, queue))
    worker.start()
    counts = {"mine": 0, "theirs": 0, "total": 0}
    result: list = []

    def report() -> None:
        if progress and counts["total"]:
            progress(counts["mine"] + counts["theirs"], counts["total"])

    def drain(block: bool) -> None:
        while not result:
            try:
                kind, value = queue.get(timeout=1) if block else queue.get_nowait()
            except queue_module.Empty:
                if block and worker.is_alive():
                    continue
                if block:
                    raise PublishError(f"{output_dir}: the second build process stopped "
                                       f"(exit code {worker.exitcode})") from None
                return
            if kind == "progress":
                counts["theirs"] = value
            else:
                result.append((kind, value))
            report()

    def advance(done: int, total: int) -> None:
        counts["mine"], counts["total"] = done, total
        drain(block=False)
        report()

    done = None
    try:
        previous = Manifest(output_dir)
        done = write_documents(output_dir, builder.everything(advance, claims), previous)
        drain(block=True)
        kind, value = result[0]
        if kind == "error":
            raise value
    except BaseException:
        # Nothing of a failed build is published: the second process stops at its next
        # claim and what it staged goes too (feeds/publish.py).
        claims.stop()
        if done is not None:
            done.discard()
        _discard_part(worker, result, drain, output_dir)
        raise
    finally:
        worker.join()
    done.add(value)
    return finish(output_dir, previous, done)


def _discard_part(worker, result: list, drain: Callable[[bool], None], output_dir: Path) -> None:
    """Remove what the second process of a failed full build staged: its report lists it;
    when it stopped without one, its temporary files are known by its pid."""
    try:
        if worker.is_alive() or not result:
            drain(True)
    except PublishError:
        pass   # it stopped without a report
    if result and result[0][0] == "done":
        result[0][1].discard()
    elif not result:
        discard_temporaries(output_dir, worker.pid)


def _short_ids(ids) -> list[str]:
    """Digests of article ids for the manifest (which every server worker reads after each
    build): a tenth of the size of the ids at 100k articles; a collision only re-renders."""
    return [hashlib.sha1(article_id.encode()).hexdigest()[:10] for article_id in ids]


def _page_basis(page: Page) -> dict:
    # A digest, not the ids: a large site has tens of thousands of pages in the manifest.
    places = hashlib.sha256("\n".join(page.ids).encode()).hexdigest()[:32]
    return {"places": places, "entries": len(page.visible), "prev": page.prev, "next": page.next}


def read_state(output_dir: Path) -> dict | None:
    try:
        state = json.loads((output_dir / STATE_NAME).read_bytes())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and state.get("version") == STATE_VERSION else None


def render_documents(store: FeedQueries, site: SiteSettings, now: datetime) -> list[Document]:
    """Every document of a full build, in memory (tests, tools)."""
    slugs = {kind: term_slugs(store.terms(kind, now)) for kind in site.catalogue}
    fragments = FragmentCache(None, fingerprint(site))
    try:
        return list(_Builder(store, site, now, slugs, fragments).everything())
    finally:
        fragments.close()


class _Incremental:
    """Which documents the changes since the last build touched, and rendering just those."""

    def __init__(self, builder: _Builder, manifest: Manifest, since: datetime):
        self.b, self.manifest, self.since = builder, manifest, since
        self.render: dict[str, Callable[[], list[Document] | Document]] = {}
        self.remove: set[str] = set()
        self._closed: dict[tuple[FeedKey, str], list[Page]] = {}
        self._articles: dict[str, Entry] | None = None   # the articles whose pages are rendered

    def listed(self, prefix: str) -> list[str]:
        return self.manifest.paths(prefix)

    def archived(self, prefix: str) -> list[str]:
        """The archive documents listed under ``prefix`` (not their pages for people)."""
        return [path for path in self.listed(prefix) if path.endswith(".xml")]

    def closed_pages(self, key: FeedKey, month: str, newest: str | None) -> list[Page]:
        """A month's closed pages, unlinked."""
        if (key, month) not in self._closed:
            kind, name = key if key else (None, None)
            start, end = month_bounds(month, self.b.site.zone)
            places = self.b.store.places(kind, name, self.b.now, start, end)
            pages = month_pages(self.b.definition(key), month, places, self.b.size)
            self._closed[key, month] = [page for page in pages if is_closed(page, newest, self.b.size)]
        return self._closed[key, month]

    def neighbour(self, key: FeedKey, month: str, *, before: bool) -> str | None:
        """The month with places just before (or after) ``month``."""
        kind, name = key if key else (None, None)
        start, end = month_bounds(month, self.b.site.zone)
        ts = self.b.store.place_near(kind, name, self.b.now, start if before else end, before=before)
        return month_of(ts, self.b.site.zone) if ts is not None else None

    def plan(self, changed: dict[str, Placement | None], released: list[str], tombstones_moved: bool,
             state_slugs: dict[str, dict[str, str]], deleted: list[str]) -> str:
        """Fill ``render``/``remove``; why only a full build can be right, or "". ``deleted``:
        articles whose deletion time came since the last build."""
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
        b.fragments.forget(content)   # their kept entries show what they were (feeds/fragments.py)
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
        for key, months in still.items():
            touched.setdefault(key, set())
        # A deletion (or a change to a deleted article) may add or drop a tombstone in atom.xml.
        tombstones_moved = tombstones_moved or any(
            placement and placement.status is Status.DELETED
            for article_id in content for placement in (before.get(article_id), current.get(article_id)))
        if tombstones_moved:
            touched.setdefault(None, set())
        catalogue_changed = False
        for kind in b.site.catalogue:
            names = {key[1] for key in touched if key and key[0] == kind}
            if any(store.has_term(kind, name, b.now) != (name in state_slugs.get(kind, {})) for name in names):
                slugs = term_slugs(store.terms(kind, b.now))
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
        for key, months in touched.items():
            # A name only deleted articles carry has no feed (feeds exist for what readers see).
            if key is None or key[1] in b.slugs.get(key[0], {}):
                self.feed(key, months, still.get(key, set()), content, force=key is None and tombstones_moved)
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
                self.render[path] = lambda path=path, deleted=deleted: render_gone_page(path, b.site, deleted)
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
        kind, name = key if key else (None, None)
        newest_ts = b.store.place_near(kind, name, b.now, b.now + timedelta(seconds=1), before=True)
        newest = month_of(newest_ts, b.site.zone) if newest_ts is not None else None
        folder = archive_folder(b.definition(key))
        # Each touched month, and its neighbours: their links follow its pages.
        queue = sorted(months | {m for month in months for m in (self.neighbour(key, month, before=True),
                                                                  self.neighbour(key, month, before=False)) if m})
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
            for page in link(pages, first.get("prev"), last.get("next")):
                if content.intersection(page.ids) or self.manifest.get(page.path, {}).get("basis") != _page_basis(page):
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
            previous, following = self.neighbour(key, month, before=True), self.neighbour(key, month, before=False)
            earlier = self.closed_pages(key, previous, newest) if previous else []
            later = self.closed_pages(key, following, newest) if following else []
            pages = link(self.closed_pages(key, month, newest), earlier[-1].path if earlier else None,
                         later[0].path if later else None)
            new_paths = {page.path for page in pages}
            old_paths = set(self.archived(f"{folder}{month}-"))
            self.remove.update(path for gone in old_paths - new_paths for path in (gone, html_path(gone)))
            for page in pages:
                recorded = self.manifest.get(page.path, {}).get("basis")
                if recorded != _page_basis(page) or content.intersection(page.ids):
                    self.render[page.path] = lambda page=page: b.page_document(page)
            if new_paths != old_paths:   # the pages either side now link elsewhere
                queue += [m for m in (previous, following) if m and m not in done]

    def subscription(self, key: FeedKey, newest: str | None, content: set[str], *, force: bool) -> None:
        """The subscription documents: their entries, or the newest archive they link."""
        b = self.b
        newest_pages = self.closed_pages(key, newest, newest) if newest else []
        if not newest_pages and newest:
            previous = self.neighbour(key, newest, before=True)
            newest_pages = self.closed_pages(key, previous, newest) if previous else []
        prev_archive = newest_pages[-1].path if newest_pages else None
        recorded = self.manifest.get(b.definition(key).atom_path, {}).get("basis")
        window = b.window(key)
        if (force or not isinstance(recorded, dict) or recorded.get("prev_archive") != prev_archive
                or content.intersection(window) or set(_short_ids(content)).intersection(recorded.get("entries", ()))):
            self.render[b.definition(key).rss_path] = lambda: b.feed_documents(key, prev_archive, window)

    def documents(self) -> Iterator[Document]:
        for path in sorted(self.render):
            made = self.render[path]()
            yield from made if isinstance(made, list) else [made]


def build(store: FeedQueries, site: SiteSettings, output_dir: Path, now: datetime, *,
          full: bool = False, progress: Progress | None = None) -> BuildReport:
    started = time.perf_counter()
    revision = store.revision()   # read first: a write racing the build triggers another
    digest = fingerprint(site)
    state = None if full else read_state(output_dir)
    why = "asked for" if full else _unusable(state, digest, now)
    changed = None
    if not why:
        changed = store.changes_since(state["revision"])
        why = "" if changed is not None else "the store's change log no longer reaches the last build"
    fragments = FragmentCache(output_dir / CACHE_NAME, digest, fresh=bool(why))
    try:
        report, slugs, why = _build(store, site, output_dir, now, state, why, changed, fragments, progress)
    finally:
        fragments.close()
    if report is None:   # nothing changed
        return BuildReport(now, revision, time.perf_counter() - started, (), (), (), (), full=False)
    if not (report.types or report.removed):
        # Publishing synced nothing, but the kept entries may have forgotten articles:
        # on disk before the state that relies on it (feeds/fragments.py).
        sync_filesystem(output_dir)
    _write_state(output_dir, {"version": STATE_VERSION, "revision": revision, "now": now.isoformat(),
                              "fingerprint": digest, "slugs": slugs})
    if state and not why and revision - state["revision"] > 1000:
        store.forget_changes(state["revision"])
    types = report.types
    topics = changed_topics(((path, types[path]) for path in report.written if path in types), site)
    return BuildReport(now, revision, time.perf_counter() - started, report.written, report.unchanged,
                       report.removed, tuple(topics), full=bool(why), why_full=why)


def _build(store: FeedQueries, site: SiteSettings, output_dir: Path, now: datetime, state: dict | None, why: str,
           changed: dict[str, Placement | None] | None, fragments: FragmentCache, progress: Progress | None):
    """(what was published, the catalogue's slugs, why the build was full); None for the first when
    nothing changed."""
    if not why:
        since = datetime.fromisoformat(state["now"])
        released = store.released_between(since, now)
        days = timedelta(days=site.tombstone_days)
        # Deletions whose time came since the last build: a tombstone and a 410 page appear.
        deleted = [tombstone.id for tombstone in store.deleted_since(since, now)]
        tombstones_moved = bool(store.deleted_since(since - days, now - days) or deleted)
        if not (changed or released or tombstones_moved):
            # Nothing changed: nothing read beyond the store's log, nothing written.
            return None, {}, ""
        builder = _Builder(store, site, now, {kind: dict(names) for kind, names in state["slugs"].items()}, fragments)
        incremental = _Incremental(builder, Manifest(output_dir), since)
        why = incremental.plan(changed, released, tombstones_moved, state["slugs"], deleted)
        if not why:
            report = publish(output_dir, incremental.documents(), only=True, remove=incremental.remove,
                             previous=incremental.manifest)
        else:
            fragments.clear()
    if why:
        builder = _Builder(store, site, now, {kind: term_slugs(store.terms(kind, now)) for kind in site.catalogue},
                           fragments)
        if len(builder.keys()) >= PARALLEL_FROM and (os.cpu_count() or 1) > 1:
            report = _full_in_two(builder, store.opener(), output_dir, progress)
        else:
            report = publish(output_dir, builder.everything(progress))
    return report, builder.slugs, why


def _unusable(state: dict | None, digest: str, now: datetime) -> str:
    if state is None:
        return "no earlier build"
    if state.get("fingerprint") != digest:
        return "the settings or feedpub changed"
    try:
        if datetime.fromisoformat(state["now"]) > now:
            return "the clock went back"
    except (KeyError, TypeError, ValueError):
        return "unreadable build state"
    if not isinstance(state.get("revision"), int) or not isinstance(state.get("slugs"), dict):
        return "unreadable build state"
    return ""


def _write_state(output_dir: Path, state: dict) -> None:
    write_atomic(output_dir / STATE_NAME, json.dumps(state, sort_keys=True, ensure_ascii=False).encode() + b"\n")
