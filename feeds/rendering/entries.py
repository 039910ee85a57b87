"""From stored articles to feed entries: every decision shared by all formats.

Pure: (article, site settings) -> :class:`Entry`, and what a :class:`FeedView`
is dated by. The format renderers only lay these values out, so RSS and Atom can
never disagree about a link, a date or a piece of content.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sources.model import Article, Image, Tombstone

from ..site import SiteSettings
from .content import safe_html, safe_text
from .language import strings

# Shown for a feed with no entries yet, so that even an empty feed renders the
# same bytes every time (feedgen would put the wall clock there).
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

@dataclass(frozen=True)
class FeedDefinition:
    key: str             # "main"
    title: str
    description: str
    html_url: str        # the page the feed stands for
    rss_path: str        # under public/
    atom_path: str
    json_path: str
    page_path: str = ""  # its page for people (feeds/rendering/pages.py); "": none
    label: str = ""      # what people call it: "Kategori: Politik"; "": the site itself (the main feed)

    @property
    def kind(self) -> str | None:
        """"category", "tag" or "author" for a catalogue feed (feeds/rendering/catalogue.py); None for the main feed."""
        return self.key.partition("/")[0] if "/" in self.key else None


@dataclass(frozen=True)
class EntryLink:
    href: str
    title: str
    suggested: bool = False   # found by the store, not picked by the newsroom


@dataclass(frozen=True)
class Via:
    """The partner feed a syndicated entry was taken from."""

    name: str                         # the partner, as configured
    url: str                          # its feed


@dataclass(frozen=True)
class Term:
    """A category, tag or author of an entry, and where its feed is."""

    kind: str                         # "category", "tag", "author"
    name: str
    slug: str | None                  # of its feed (feeds/rendering/catalogue.py); None: the site has no feed for it

    @property
    def folder(self) -> str | None:
        """Where its feeds and page are under public/: "category/politik/"."""
        return term_folder(self.kind, self.slug) if self.slug else None


@dataclass(frozen=True)
class Entry:
    id: str
    link: str
    title: str
    summary: str                      # plain text
    content_html: str                 # body plus the readable related list
    author: str | None
    published: datetime               # in the site's zone (SiteSettings.local)
    updated: datetime                 # in the site's zone (SiteSettings.local)
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    language: str
    related: tuple[EntryLink, ...]    # resolved and visible targets only
    image: Image | None = None        # lead image
    changed: datetime | None = None   # when the store last took a version of it (site zone)
    via: Via | None = None            # set for an article taken from a partner's feed
    body_html: str = ""               # the article's own content; ``content_html`` is it and ``related_html``
    related_html: str = ""            # the readable "Baca juga" list ("" when there is none)
    terms: tuple[Term, ...] = ()      # its categories, tags and author, with their feeds
    page: str | None = None           # where the build writes its page under public/; None: its address is elsewhere
    dateline: str | None = None       # "BATURAJA - OKES.NEWS -": where the story happened (also in ``body_html``)


@dataclass(frozen=True)
class DeletedEntry:
    id: str
    link: str
    deleted: datetime                 # in the site's zone


@dataclass(frozen=True)
class History:
    """RFC 5005 links of an Atom document (feeds/rendering/archive.py): paths under public/."""

    archive: bool = False             # an archive document; False: the subscription document
    current: str | None = None        # an archive's subscription document
    prev: str | None = None           # prev-archive
    next: str | None = None           # next-archive


@dataclass(frozen=True)
class FeedView:
    feed: FeedDefinition
    entries: tuple[Entry, ...]        # newest first
    updated: datetime                 # newest entry update or deletion: never the wall clock
    deleted: tuple[DeletedEntry, ...] = ()
    catalogue: tuple[FeedDefinition, ...] = ()   # on the main view: the category/tag/author feeds
    history: History | None = None    # Atom: archive links (feeds/rendering/archive.py)

    @property
    def is_empty(self) -> bool:
        return not self.entries


def main_feed(site: SiteSettings) -> FeedDefinition:
    return FeedDefinition(
        key="main",
        title=site.title,
        description=site.description,
        html_url=site.url(""),
        rss_path="rss.xml",
        atom_path="atom.xml",
        json_path="feed.json",
        page_path="feed.html",
    )


def term_folder(kind: str, slug: str) -> str:
    """The folder of a category, tag or author's feeds and page: "category/politik/"."""
    return f"{kind}/{slug}/"


def shown_links(article: Article) -> list:
    """The related links readers may see: the newsroom's all (unresolved ones as
    text), the store's suggestions only when their article is public."""
    return [link for link in article.related if not link.suggested or link.target is not None]


def related_block(article: Article, site: SiteSettings) -> str:
    """The lists readers see at the end of the content: the newsroom's "Baca juga", then the
    store's suggestions under a label of their own."""
    text = strings(site.language)
    blocks = []
    for suggested, label in ((False, text["related"]), (True, text["suggested"])):
        links = [link for link in shown_links(article) if link.suggested is suggested]
        if not links:
            continue
        items = []
        for link in links:
            words = html.escape(link.display_title, quote=False)
            if link.target is not None:
                target = link.target
                href = html.escape(site.article_link(target.url, target.slug, target.published), quote=True)
                items.append(f'<li><a href="{href}">{words}</a></li>')
            else:  # pending, or its target is not public: text without a link
                items.append(f"<li>{words}</li>")
        blocks.append(f'\n<p><strong>{label}:</strong></p>\n<ul>\n' + "\n".join(items) + "\n</ul>")
    return "".join(blocks)


def with_dateline(body_html: str, dateline: str | None) -> str:
    """The body opening with the dateline as the newsroom writes it: in bold at the start of
    the first paragraph ("<p><strong>BATURAJA - OKES.NEWS -</strong> Menjelang ..."), or a
    paragraph of its own when the body does not open with one."""
    if not dateline:
        return body_html
    marked = f"<strong>{html.escape(dateline, quote=False)}</strong>"
    if body_html.startswith("<p>"):
        return f"<p>{marked} {body_html[3:]}"
    return f"<p>{marked}</p>\n{body_html}"


def entry_terms(article: Article, site: SiteSettings, slugs: Mapping[str, Mapping[str, str]]) -> tuple[Term, ...]:
    """The article's categories, tags and author, each with its feed's folder when the site has one."""
    named = [("category", name) for name in article.categories] + [("tag", name) for name in article.tags]
    named += [("author", article.author)] if article.author else []
    found = []
    for kind, name in named:
        slug = slugs.get(kind, {}).get(name) if kind in site.catalogue else None
        found.append(Term(kind, safe_text(name), slug))
    return tuple(found)


def make_entry(article: Article, site: SiteSettings, slugs: Mapping[str, Mapping[str, str]] | None = None) -> Entry:
    """``slugs``: kind -> name -> slug of the site's catalogue feeds (feeds/rendering/catalogue.py), which
    an entry's categories, tags and author link to; None: it links to none."""
    link = site.article_link(article.url, article.slug, article.published)
    body = safe_html(with_dateline(article.content_html, article.dateline), base_url=link)
    related = safe_html(related_block(article, site), base_url=link)
    return Entry(
        id=article.id,
        link=link,
        title=safe_text(article.title),
        summary=safe_text(article.summary),
        content_html=body + related,
        author=safe_text(article.author) if article.author else None,
        published=site.local(article.published),
        updated=site.local(article.updated),
        categories=tuple(safe_text(name) for name in article.categories),
        tags=tuple(safe_text(name) for name in article.tags),
        language=article.language,
        related=tuple(
            EntryLink(site.article_link(related.target.url, related.target.slug, related.target.published),
                      safe_text(related.display_title), related.suggested)
            for related in article.related
            if related.target is not None
        ),
        image=article.image,
        changed=site.local(article.stored) if article.stored else None,
        via=Via(safe_text(article.via_name or article.via_url), article.via_url) if article.via_url else None,
        body_html=body,
        related_html=related,
        terms=entry_terms(article, site, slugs or {}),
        page=site.article_path(article.url, article.slug, article.published),
        dateline=safe_text(article.dateline) if article.dateline else None,
    )


def deleted_entries(tombstones: Sequence[Tombstone], site: SiteSettings) -> tuple[DeletedEntry, ...]:
    return tuple(
        DeletedEntry(t.id, site.article_link(t.url, t.slug, t.published), site.local(t.deleted)) for t in tombstones
    )


def newest(entries: Sequence, deleted: Sequence[DeletedEntry], site: SiteSettings) -> datetime:
    """When a document changed: its newest entry update, newly stored version or deletion,
    never the wall clock. ``entries`` carry ``updated``/``changed`` as datetimes
    (:class:`Entry`) or as microseconds since the epoch (kept fragments: feeds/building/fragments.py)."""
    times = [entry.updated for entry in entries] + [e.changed for e in entries if e.changed is not None]
    times = [EPOCH + timedelta(microseconds=t) if isinstance(t, int) else t for t in times]
    return site.local(max(times + [d.deleted for d in deleted], default=EPOCH))

