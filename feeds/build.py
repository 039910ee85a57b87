"""One build: read the store, render every document, publish what changed.

The clock is a parameter: ``now`` decides which articles are visible (an
embargoed article is invisible until its publish time), and nothing else in a
document depends on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from sources.store import ArticleStore

from .catalogue import term_feed, term_slugs
from .entries import feed_view, main_feed
from .logo import render_logo
from .publish import publish
from .document import Document
from .render import FEED_RENDERERS, RENDERERS
from .site import SiteSettings
from .websub import changed_topics


@dataclass(frozen=True)
class BuildReport:
    now: datetime
    revision: int                 # store revision the build reflects
    seconds: float
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]
    topics: tuple[str, ...] = ()  # URLs of the feeds among ``written`` (for WebSub)

    def summary(self) -> str:
        return (f"built revision {self.revision}: {len(self.written)} written, "
                f"{len(self.unchanged)} unchanged, {len(self.removed)} removed "
                f"in {self.seconds * 1000:.0f} ms")


def render_documents(store: ArticleStore, site: SiteSettings, now: datetime) -> list[Document]:
    articles = store.latest_published(now, site.items_per_feed)
    tombstones = store.deleted_since(now - timedelta(days=site.tombstone_days), now)
    # One feed per category, tag and author with a visible article (feeds/catalogue.py).
    documents: list[Document | None] = []
    catalogue = []
    for kind in site.catalogue:
        for name, slug in term_slugs(store.terms(kind, now)).items():
            definition = term_feed(kind, name, slug, site)
            catalogue.append(definition)
            term_view = feed_view(definition, store.latest_published_with(kind, name, now, site.items_per_feed), site)
            documents += [render(term_view, site) for render in FEED_RENDERERS]
    view = replace(feed_view(main_feed(site), articles, site, tombstones), catalogue=tuple(catalogue))
    documents = [render(view, site) for render in (*RENDERERS, render_logo)] + documents
    return [doc for doc in documents if doc is not None]


def build(store: ArticleStore, site: SiteSettings, output_dir: Path, now: datetime) -> BuildReport:
    started = time.perf_counter()
    revision = store.revision()   # read first: a write racing the build triggers another
    documents = render_documents(store, site, now)
    report = publish(output_dir, documents)
    types = {doc.path: doc.content_type for doc in documents}
    topics = changed_topics(((path, types[path]) for path in report.written), site)
    return BuildReport(now, revision, time.perf_counter() - started,
                       report.written, report.unchanged, report.removed, tuple(topics))
