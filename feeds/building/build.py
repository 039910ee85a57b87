"""One build: read the store, render the documents a change touched, publish them.

Two paths, one result. A *full* build renders every document: the main feed and
the site's pages, a feed per category, tag and author (feeds/rendering/catalogue.py) and
every archive page (feeds/rendering/archive.py), each with its page for people, and every
article's page (feeds/rendering/pages.py). An *incremental* build starts from what
the last build left in public/ (``.build-state.json``: the store revision and
clock it reflected, a fingerprint of the settings and of this code, the
catalogue's slugs; ``.manifest.json``: what each feed and archive document was
rendered from) and the store's change log, and renders only the documents whose
entries, links or position a change touched. ``feedpub build --full`` and the
incremental path give byte-identical public/ (tests/test_incremental.py checks it
after random sequences of ingests, edits, deletions and releases).

What a change touches is the planner's to say (:mod:`.planner`); how each document is
made, the builder's (:mod:`.builder`); a large full build runs in two processes
(:mod:`.parallel`).

A build is full when there is no usable state: first build, other settings or
code, the clock went back, the change log was trimmed past the state, or a new
category/tag/author feed would move (a section's address is assigned once and stored, so
only a store that lost it can).

The clock is a parameter: ``now`` decides which articles are visible (an
embargoed article is invisible until its publish time), and nothing else in a
document depends on it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sources.placement import Placement
from sources.store.roles import FeedQueries

from ..publishing.atomic import sync_filesystem, write_atomic
from ..publishing.publish import Manifest, publish
from ..publishing.websub import changed_topics
from ..rendering.document import Document
from ..site import SiteSettings
from .builder import Builder, Progress, fingerprint
from .fragments import CACHE_NAME, FragmentCache
from .parallel import PARALLEL_FROM, full_in_two
from .partners import partner_documents, partners_moved, private_paths
from .planner import IncrementalPlan

STATE_NAME = ".build-state.json"   # hidden: the server never serves dot-files
STATE_VERSION = 1


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


def read_state(output_dir: Path) -> dict | None:
    try:
        state = json.loads((output_dir / STATE_NAME).read_bytes())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and state.get("version") == STATE_VERSION else None


def render_documents(store: FeedQueries, site: SiteSettings, now: datetime) -> list[Document]:
    """Every document of a full build, in memory (tests, tools)."""
    slugs = {kind: store.section_slugs(kind, now) for kind in site.catalogue}
    fragments = FragmentCache(None, fingerprint(site))
    try:
        return list(Builder(store, site, now, slugs, fragments).everything())
    finally:
        fragments.close()


def build(store: FeedQueries, site: SiteSettings, output_dir: Path, now: datetime, *,
          full: bool = False, progress: Progress | None = None) -> BuildReport:
    started = time.perf_counter()
    revision = store.revision()   # read first: a write racing the build triggers another
    digest = fingerprint(site)
    state = None if full else read_state(output_dir)
    why = "asked for" if full else _unusable(state, digest, now)
    changed = None
    if not why:
        # The revision has not moved: no change was logged since (nothing to read; on a shared
        # store that saves a read transaction's four round trips on every idle build).
        changed = {} if revision == state["revision"] else store.changes_since(state["revision"])
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
        # on disk before the state that relies on it (feeds/building/fragments.py).
        sync_filesystem(output_dir)
    _write_state(output_dir, {"version": STATE_VERSION, "revision": revision, "now": now.isoformat(),
                              "fingerprint": digest, "slugs": slugs})
    if state and not why and revision - state["revision"] > 1000:
        store.forget_changes(state["revision"])
    types, private = report.types, private_paths(site)
    topics = changed_topics(((path, types[path]) for path in report.written if path in types and path not in private),
                            site)
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
        aged = [tombstone.id for tombstone in store.deleted_since(since - days, now - days)]   # their tombstones go
        tombstones_moved = bool(aged or deleted)
        if not (changed or released or tombstones_moved or partners_moved(store, site, since, now)):
            # Nothing changed: nothing read beyond the store's log, nothing written.
            return None, {}, ""
        builder = Builder(store, site, now, {kind: dict(names) for kind, names in state["slugs"].items()}, fragments)
        incremental = IncrementalPlan(builder, Manifest(output_dir), since)
        why = incremental.plan(changed, released, tombstones_moved, state["slugs"], deleted, aged)
        if not why:
            if site.partners:   # each reflects the whole store: rendered again whenever anything is
                incremental.render["partners/"] = lambda: partner_documents(store, site, now, builder.slugs)
            report = publish(output_dir, incremental.documents(), only=True, remove=incremental.remove,
                             previous=incremental.manifest)
        else:
            fragments.clear()
    if why:
        builder = Builder(store, site, now, {kind: store.section_slugs(kind, now) for kind in site.catalogue},
                           fragments)
        if len(builder.keys()) >= PARALLEL_FROM and (os.cpu_count() or 1) > 1:
            report = full_in_two(builder, store.opener(), output_dir, progress)
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
