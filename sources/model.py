"""Typed values that travel from the source store to the feeds.

Everything here is a frozen dataclass: the store hands out values, never live
rows, so nothing downstream can change stored state by accident.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from .addresses import AddressPolicy


class Status(str, enum.Enum):
    PUBLISHED = "published"  # visible once ``published`` has passed
    DRAFT = "draft"          # never visible
    DELETED = "deleted"      # kept so ids stay reserved and feeds can retract it


@dataclass(frozen=True)
class Image:
    url: str
    media_type: str | None = None   # measured once and stored, e.g. "image/jpeg"
    length: int | None = None       # bytes, measured once and stored
    # Pixels, read from the image's header when it is measured. None: not measured (yet);
    # 0: measured, and its header gives no size (it is not asked again).
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class LinkTarget:
    """The stored article a related link points at, as readers may see it."""

    id: str
    slug: str
    url: str | None   # None = derive from the site's article URL template
    title: str
    published: datetime | None = None   # its address may hold the month (site.article_url)


@dataclass(frozen=True)
class RelatedLink:
    """A "read also" link as the newsroom wrote it, plus what it resolved to."""

    title: str                    # the marker's text, possibly cut short
    target_id: str | None = None  # the stored article it resolved to, if any
    # Filled in by read queries only when the target is visible at query time,
    # so a link to an embargoed article stays plain text until its release.
    target: LinkTarget | None = None
    suggested: bool = False       # chosen by the store's suggestion index, not by the newsroom
    # Resolved after its article was first published: when it shows, the article's ``updated``
    # is the time it appeared (sources/store/sql.py, SQLStore._reresolve).
    bound: bool = False

    @property
    def display_title(self) -> str:
        """The label readers see: the editor's words (a suggestion: the headline it was made with),
        whatever the target's headline has become since."""
        return self.title


@dataclass(frozen=True)
class Article:
    id: str                          # tag: URI (RFC 4151); never changes
    slug: str                        # file-name-safe, unique in the store
    url: str | None                  # canonical URL; None = derive from site settings
    title: str
    summary: str                     # plain text
    content_html: str                # body only; feeds append the related-links list
    content_text: str                # the source exactly as received
    author: str | None
    city: str | None                 # from the dateline
    publication: str | None          # from the dateline
    published: datetime              # aware; the article is invisible before it
    updated: datetime                # aware; >= published
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    language: str = "id"
    image: Image | None = None
    related: tuple[RelatedLink, ...] = ()
    status: Status = Status.PUBLISHED
    source: str | None = None        # the file it was imported from (absolute path), if any
    # When this version was written to the store. A back-dated article or an edit
    # that keeps ``updated`` still changes a feed: documents take their modification
    # time from this too, so If-Modified-Since never hides a change.
    stored: datetime | None = None
    # Articles taken from a partner's feed (sources/remote.py): which item of which
    # feed, and whose. None for the newsroom's own articles.
    upstream_id: str | None = None   # the item's id (guid) in the partner's feed
    via_url: str | None = None       # the partner feed's URL, as configured
    via_name: str | None = None      # the partner's name, shown as the entry's source
    # The newsroom's sample article, which ``feedpub serve`` puts in a new store so there is
    # something to read: a demo, not news. Deleting it removes it without a trace (no
    # tombstone, no 410 page, no stored version).
    sample: bool = False
    # Where the story happened, as the newsroom wrote it ("BATURAJA - OKES.NEWS -"): shown at
    # the start of the content. None: the text opened with none and none was given.
    dateline: str | None = None

    def is_visible(self, now: datetime) -> bool:
        return self.status is Status.PUBLISHED and self.published <= now

    def same_content(self, other: Article) -> bool:
        """True when nothing a reader sees differs but ``updated`` (an image's measurement,
        link resolution and where the file came from aside)."""
        def key(a: Article) -> tuple:
            return (
                a.id, a.slug, a.url, a.title, a.summary, a.content_html, a.content_text,
                a.author, a.city, a.publication, a.dateline, a.published, a.categories, a.tags,
                a.language, a.image.url if a.image else None, tuple(link.title for link in a.related if not link.suggested), a.status,
            )
        return key(self) == key(other)


@dataclass(frozen=True)
class Tombstone:
    """A deleted article that feeds still announce as deleted (RFC 6721)."""

    id: str
    slug: str
    url: str | None
    deleted: datetime
    published: datetime | None = None   # its address may hold the month (site.article_url)
    # The second the store gave the deletion (sources/store/sql.py ``_change_second``), or its
    # last ``updated`` if later: the time of its 410 page, never before its page's last version.
    # ``deleted`` keeps the clock reading, from when feeds announce it.
    changed: datetime | None = None


@dataclass(frozen=True)
class ArticleCounts:
    """How many articles the store holds in each state a person tells apart (``feedpub status``)."""

    published: int   # readers can see them
    scheduled: int   # published with a time still ahead: embargoed until then
    drafts: int
    deleted: int


@dataclass(frozen=True)
class SaveResult:
    action: str            # "created", "updated" or "unchanged"
    article: Article


@dataclass(frozen=True)
class Revision:
    """One stored version of an article (``feedpub history``)."""

    number: int                # 1 = the first version stored
    stored: datetime           # when this version was written
    article: Article           # the version itself; related links as titles only
    changed: tuple[str, ...]   # fields that differ from the previous version; ("created",) for number 1


@dataclass(frozen=True)
class SourceState:
    """How polling one remote source went; validators and backoff survive restarts."""

    url: str                           # the feed URL, as configured
    etag: str | None = None            # validators of the last full response, sent on every poll
    last_modified: str | None = None
    last_poll: datetime | None = None
    last_status: str | None = None     # HTTP status code, or "error" when there was no answer
    last_error: str | None = None      # None after a successful poll
    failures: int = 0                  # consecutive failed polls
    next_poll: datetime | None = None  # no poll before this (backoff, Retry-After); None = on schedule


@dataclass(frozen=True)
class IngestSettings:
    """What the importers need from configuration, read once at the edge."""

    tag_authority: str               # RFC 4151 authority for new ids, e.g. "news.example.com"
    timezone: str = "Asia/Jakarta"   # zone for naive times and for new ids' dates
    language: str = "id"             # default article language
    max_terms: int = 50              # categories, and tags, one article may carry; the rest are dropped
    max_article_bytes: int = 1_048_576   # the most one article may hold: a file, a JSON line, a partner's item


@dataclass(frozen=True)
class ImageLookups:
    """How lead images are looked up (``[images]`` of the configuration)."""

    timeout_seconds: float = 10.0     # the whole look-up: resolving, connecting, redirects, HEAD and GET
    policy: AddressPolicy = field(default_factory=AddressPolicy)   # what beyond public addresses may be reached
