"""Remote sources: partners' RSS, Atom and JSON Feed documents, polled politely, their
items stored as articles that say where they came from.

Two layers, as in :mod:`sources.ingest`:

- Pure: :func:`parse_feed` (bytes -> :class:`UpstreamFeed`), :func:`plan_item`
  (which stored article an item is, if any), :func:`decide_item` (what the store
  should hold: :func:`sources.ingest.merge` decides create/update/unchanged, so
  identity rules stay in one place), :func:`retry_after` and :func:`next_attempt`.
- I/O: :func:`poll_source` does one conditional GET (requests, through a
  :class:`sources.outbound.Exchange`) and writes the items and the source's polling
  state to the store (its ``Polling`` role). It never raises for anything the partner
  does: it records the error, backs off and returns a :class:`PollResult`.

Politeness (STYLE.md practice 8): a descriptive User-Agent; the stored ETag and
Last-Modified on every poll (304 = unchanged, not an error); one deadline for the
whole exchange (resolving, connecting, every redirect hop's head, the body: a server
that trickles its head one byte a second is cut off at the deadline too); at most
``max_bytes`` of body, counted after decompression; at most :data:`MAX_REDIRECTS`
redirects; after a failure no poll before ``Retry-After`` (RFC 9110 section
10.2.3) or an exponential backoff.

Upstream XML is untrusted. defusedxml reads it first and rejects any DTD, entity
declaration or external reference (billion laughs, XXE), anything that is not
well-formed, and markup nested too deeply or with too many tags, escaped HTML
included (:mod:`sources.markup`); only then does feedparser see the bytes, from memory (never as a
file name or URL), without the HTTP charset so that it reads the same characters
expat did. HTML is kept as the partner sent it: feeds/rendering/content.py sanitises every
article's HTML at render time, partner articles included.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import logging
import math
import re
import xml.sax
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import defusedxml
import defusedxml.sax
import feedparser
import lxml.html
import requests
import urllib3
from lxml import etree

from .drafts import SUMMARY_LIMIT, ArticleDraft, bounded, derive_title, url_problem
from .errors import FeedpubError, IngestError
from .ingest import merge, mint_id
from .markup import MAX_DEPTH, MAX_DOCUMENT_TAGS, MAX_ITEM_TAGS, FeedShape, MarkupError, html_shape
from .model import Article, Image, IngestSettings, SaveResult, SourceState, Status
from .outbound import Exchange
from .store.roles import Articles, Polling, SourceStates
from .text import LANGUAGE_TAG, cut_at_word, slugify, squash_space, xml_safe

log = logging.getLogger("feedpub.remote")

USER_AGENT = "feedpub/0.1 (+https://github.com/feedpub; polling partner feeds)"
ACCEPT = ("application/atom+xml, application/rss+xml, application/feed+json, "
          "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.1")
MAX_REDIRECTS = 5
MAX_ITEMS = 200                          # items taken from one document (feeds list the newest first)
CHUNK = 16 * 1024                        # bytes asked of the socket (and of the decompressor) at a time
BACKOFF_START = timedelta(seconds=30)    # after the first failure; doubles with each further one
MAX_DELAY = timedelta(hours=24)          # longest wait, Retry-After included
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_RSS_AUTHOR = re.compile(r"^\s*\S+@\S+\s*\((.+)\)\s*$")   # RSS 2.0 <author>: "mail@host (Name)"


def user_agent(site_url: str) -> str:
    """The User-Agent that tells a partner whose feedpub is polling (and where to complain)."""
    return f"feedpub/0.1 (+{site_url.rstrip('/')}/; polling partner feeds)"


class RemoteSourceError(FeedpubError):
    """A poll failed; ``transient`` errors are retried sooner than permanent ones."""

    def __init__(self, message: str, *, status: int | None = None, transient: bool = False,
                 retry_after: timedelta | None = None):
        super().__init__(message)
        self.status = status
        self.transient = transient
        self.retry_after = retry_after


@dataclass(frozen=True)
class RemoteSource:
    """One ``[[sources]]`` table of the configuration."""

    name: str                         # the partner, shown as the articles' source
    url: str                          # the feed: RSS, Atom or JSON Feed
    interval_minutes: float = 15.0
    enabled: bool = True
    max_bytes: int = 5 * 1024 * 1024  # larger bodies are refused
    timeout_seconds: float = 15.0     # the whole exchange: resolving, connecting, every hop, head and body

    @property
    def job_id(self) -> str:
        return f"poll:{self.name}"


@dataclass(frozen=True)
class UpstreamItem:
    """One entry of a partner's feed, as plain values."""

    upstream_id: str | None           # guid / atom:id / JSON Feed id
    url: str | None                   # absolute http(s) only
    title: str | None                 # plain text
    content_html: str                 # as the partner sent it (sanitised at render)
    summary: str | None               # plain text
    author: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    categories: tuple[str, ...] = ()
    image_url: str | None = None
    image: Image | None = None        # when the partner gave the length and type

    @property
    def key(self) -> str | None:
        """What identifies the item in its feed: its id, else its link."""
        return self.upstream_id or self.url


@dataclass(frozen=True)
class UpstreamFeed:
    format: str                       # "rss20", "atom10", ..., "json"
    title: str | None
    language: str | None
    items: tuple[UpstreamItem, ...]


@dataclass(frozen=True)
class Plan:
    """What to do with one item: save it under ``article_id``, or leave it (``note`` says why)."""

    article_id: str | None
    draft: ArticleDraft | None
    note: str | None = None
    warnings: tuple[str, ...] = ()    # what was changed to keep it within the limits (logged)


@dataclass(frozen=True)
class PollResult:
    name: str
    url: str
    outcome: str                      # "ok", "not-modified", "failed", "waiting" (backing off)
    status: int | None = None         # HTTP status of the last answer
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0                  # items left alone (see notes)
    failed: int = 0                   # items the store refused
    error: str | None = None
    next_poll: datetime | None = None  # set when backing off
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def summary(self) -> str:
        if self.outcome == "failed":
            return f"failed: {self.error}"
        if self.outcome == "waiting":
            return f"backing off until {self.next_poll.isoformat() if self.next_poll else '?'}"
        if self.outcome == "not-modified":
            return "not modified"
        return (f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.skipped} left alone, {self.failed} failed")


# --- pure: parsing -------------------------------------------------------------------------


def _http_url(value: object, base: str | None = None) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = xml_safe(value.strip())
    if base:
        try:
            text = urljoin(base, text)
        except ValueError:   # "http://[x": url_problem names it
            pass
    # The check every way in shares: what it refuses from a file or the API is dropped here.
    return None if url_problem(text) else text


def _text(value: object) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = squash_space(xml_safe(str(value)))
    return text or None


def html_text(markup: str) -> str:
    """The readable text of an HTML fragment (scripts and styles dropped), squashed."""
    if not markup or not markup.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
        for element in root.xpath(".//script|.//style"):
            element.drop_tree()
        text = root.text_content()
    except (etree.ParserError, ValueError):
        text = html.unescape(re.sub(r"<[^>]*>", " ", markup))
    return squash_space(xml_safe(text))


def _paragraphs(text: str) -> str:
    blocks = [squash_space(block) for block in re.split(r"\n\s*\n", xml_safe(text))]
    return "\n".join(f"<p>{html.escape(block, quote=False)}</p>" for block in blocks if block)


def _checked_time(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not 1900 <= moment.year <= 9000:
        return None
    return moment.replace(microsecond=0)


def _struct_time(value) -> datetime | None:
    if not value:
        return None
    try:
        return _checked_time(datetime(*value[:6], tzinfo=UTC))
    except (TypeError, ValueError):
        return None


def _iso_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        return _checked_time(datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text))
    except ValueError:
        return None


def _language(value: object) -> str | None:
    text = _text(value)
    return text if text and LANGUAGE_TAG.match(text) else None


def _image(url: object, media_type: object, length: object, base: str | None) -> tuple[str | None, Image | None]:
    href = _http_url(url, base)
    if href is None:
        return None, None
    kind = media_type.strip().lower() if isinstance(media_type, str) else ""
    size = str(length).strip() if length is not None else ""
    if kind.startswith("image/") and size.isdigit() and int(size) > 0:
        return href, Image(href, kind, int(size))
    return href, None


def _finish(item: UpstreamItem) -> UpstreamItem:
    """Dates that make sense together: an item with only ``updated`` (Atom makes
    ``published`` optional) was published then; ``updated`` is never before ``published``."""
    if item.published is None and item.updated is not None:
        return replace(item, published=item.updated)
    if item.published and item.updated and item.updated < item.published:
        return replace(item, updated=None)
    return item


def _check_xml(body: bytes) -> None:
    """Reject what must never reach an XML parser that expands entities, and markup
    that would keep feedparser busy too long (sources/markup.py)."""
    shape = FeedShape()
    try:
        defusedxml.sax.parseString(body, shape, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except MarkupError as exc:
        raise RemoteSourceError(str(exc)) from exc
    except defusedxml.DTDForbidden as exc:
        raise RemoteSourceError(f"refused: the document has a DTD (<!DOCTYPE {exc.name} ...>); DTDs, entities "
                                "and external references are never processed (billion laughs, XXE)") from exc
    except defusedxml.EntitiesForbidden as exc:
        raise RemoteSourceError(f"refused: the document declares the entity {exc.name!r}") from exc
    except defusedxml.DefusedXmlException as exc:
        raise RemoteSourceError(f"refused: {exc}") from exc
    except xml.sax.SAXParseException as exc:
        if shape.message():   # too deep or too big before it broke off: that is the first problem
            raise RemoteSourceError(shape.message()) from exc
        raise RemoteSourceError(f"not well-formed XML at line {exc.getLineNumber()}, "
                                f"column {exc.getColumnNumber()}: {exc.getMessage()}") from exc
    except xml.sax.SAXException as exc:
        raise RemoteSourceError(f"not well-formed XML: {exc}") from exc
    except LookupError as exc:   # expat asks Python for an encoding the XML declaration names
        raise RemoteSourceError(f"cannot read the XML: {exc}") from exc


def _xml_items(parsed, base: str) -> list[UpstreamItem]:
    items = []
    for entry in parsed.entries:
        title_detail = entry.get("title_detail") or {}
        title = title_detail.get("value")
        if title is not None and "html" in (title_detail.get("type") or ""):
            title = html_text(title)
        contents = entry.get("content") or []
        summary_detail = entry.get("summary_detail") or {}
        content_html = ""
        for content in contents:
            if "html" in (content.get("type") or "") and content.get("value"):
                content_html = content["value"]
                break
        else:
            for content in contents:
                if content.get("value"):
                    content_html = _paragraphs(content["value"])
                    break
        summary_value = summary_detail.get("value") or ""
        summary_is_html = "html" in (summary_detail.get("type") or "")
        if not content_html and summary_value:
            content_html = summary_value if summary_is_html else _paragraphs(summary_value)
        summary = html_text(summary_value) if summary_is_html else _text(summary_value)
        author = entry.get("author")
        if isinstance(author, str) and (match := _RSS_AUTHOR.match(author)):
            author = match.group(1)   # feedparser 6 splits "mail@host (Name)" wrongly
        image_url, image = None, None
        for enclosure in entry.get("enclosures") or []:
            if (enclosure.get("type") or "").startswith("image/"):
                image_url, image = _image(enclosure.get("href"), enclosure.get("type"), enclosure.get("length"), base)
                break
        if image_url is None:
            for media in (entry.get("media_content") or []) + (entry.get("media_thumbnail") or []):
                if media.get("medium", "image") == "image" or (media.get("type") or "").startswith("image/"):
                    image_url, image = _image(media.get("url"), media.get("type"), media.get("fileSize"), base)
                    if image_url:
                        break
        items.append(_finish(UpstreamItem(
            upstream_id=_text(entry.get("id")),
            url=_http_url(entry.get("link"), base),
            title=_text(title),
            content_html=xml_safe(content_html),
            summary=summary or None,
            author=_text(author),
            # dict.get: FeedParserDict.get("updated_parsed") falls back to the publish time, with a warning.
            published=_struct_time(dict.get(entry, "published_parsed")),
            updated=_struct_time(dict.get(entry, "updated_parsed")),
            categories=tuple(dict.fromkeys(
                text for tag in entry.get("tags") or [] if (text := _text(tag.get("label") or tag.get("term"))))),
            image_url=image_url,
            image=image,
        )))
    return items


def _parse_xml(body: bytes, base: str) -> UpstreamFeed:
    _check_xml(body)
    # From memory: feedparser.parse() would open a str or bytes that names a file or URL.
    # No HTTP charset: expat above read the bytes by their BOM / XML declaration, so must this.
    parsed = feedparser.parse(io.BytesIO(body), sanitize_html=False, resolve_relative_uris=True,
                              response_headers={"content-type": "application/xml", "content-location": base})
    if not parsed.get("version"):
        raise RemoteSourceError("not an RSS or Atom feed (well-formed XML, but no feed in it)")
    feed = parsed.get("feed") or {}
    return UpstreamFeed(parsed["version"], _text(feed.get("title")), _language(feed.get("language")),
                        tuple(_xml_items(parsed, base)))


def _parse_json(body: bytes, base: str) -> UpstreamFeed:
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RemoteSourceError(f"not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or not str(document.get("version", "")).startswith("https://jsonfeed.org/version/"):
        raise RemoteSourceError("not a JSON Feed (no https://jsonfeed.org/version/ in 'version')")
    items = document.get("items")
    if not isinstance(items, list):
        raise RemoteSourceError("not a JSON Feed: 'items' is not a list")
    found = []
    document_tags = 0
    for number, raw in enumerate(items, start=1):
        if not isinstance(raw, dict):
            continue
        content_html = raw.get("content_html") if isinstance(raw.get("content_html"), str) else ""
        # No feedparser here, but the same HTML reaches lxml now and the renderer later.
        tags, depth = html_shape(content_html, max_tags=min(MAX_ITEM_TAGS, MAX_DOCUMENT_TAGS - document_tags) + 1)
        document_tags += tags
        problem = (f"HTML nested more than {MAX_DEPTH} deep in content_html" if depth > MAX_DEPTH else
                   f"more than {MAX_ITEM_TAGS} HTML tags in content_html" if tags > MAX_ITEM_TAGS else
                   f"more than {MAX_DOCUMENT_TAGS} HTML tags in the document" if document_tags > MAX_DOCUMENT_TAGS
                   else None)
        if problem:
            name = next((f" ({key} {str(raw[key])[:200]})" for key in ("id", "url", "title")
                         if isinstance(raw.get(key), (str, int)) and str(raw[key]).strip()), "")
            raise RemoteSourceError(f"item {number}{name}: {problem}; refused before parsing")
        if not content_html and isinstance(raw.get("content_text"), str):
            content_html = _paragraphs(raw["content_text"])
        summary = _text(raw.get("summary"))
        authors = raw.get("authors") if isinstance(raw.get("authors"), list) else [raw.get("author")]
        names = [a.get("name") for a in authors if isinstance(a, dict) and isinstance(a.get("name"), str)]
        image_url = _http_url(raw.get("image"), base) or _http_url(raw.get("banner_image"), base)
        tags = raw.get("tags") if isinstance(raw.get("tags"), list) else []
        upstream_id = raw.get("id")
        found.append(_finish(UpstreamItem(
            upstream_id=_text(upstream_id) if isinstance(upstream_id, (str, int)) else None,
            url=_http_url(raw.get("url"), base),
            title=_text(raw.get("title")) if isinstance(raw.get("title"), str) else None,
            content_html=xml_safe(content_html),
            summary=summary,
            author=_text(", ".join(names)) if names else None,
            published=_iso_time(raw.get("date_published")),
            updated=_iso_time(raw.get("date_modified")),
            categories=tuple(dict.fromkeys(text for tag in tags if isinstance(tag, str) and (text := _text(tag)))),
            image_url=image_url,
        )))
    return UpstreamFeed("json", _text(document.get("title")), _language(document.get("language")), tuple(found))


def parse_feed(body: bytes, *, url: str, content_type: str = "") -> UpstreamFeed:
    """RSS, Atom (safely, see the module docstring) or JSON Feed 1.x; relative links
    resolve against ``url``. RemoteSourceError says what is wrong with the document."""
    head = body.lstrip()[:1]
    if "json" in content_type.lower() or head in (b"{", b"["):
        return _parse_json(body, url)
    if not head:
        raise RemoteSourceError("the document is empty")
    try:
        return _parse_xml(body, url)
    except RemoteSourceError as exc:
        if content_type.split(";")[0].strip().lower() == "text/html":
            raise RemoteSourceError(f"{exc} (served as text/html: a web page rather than a feed?)") from exc
        raise


# --- pure: decisions ------------------------------------------------------------------------


def partner_slug(name: str, key: str) -> str:
    """A slug from the partner's name and the item's upstream id: the same item always gets the same one."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    return f"{slugify(name)[:40].strip('-') or 'partner'}-{digest}"


def _draft(item: UpstreamItem, source: RemoteSource, feed: UpstreamFeed, slug: str, article_id: str) -> ArticleDraft:
    text = html_text(item.content_html)
    summary = item.summary or text
    title = item.title or derive_title(summary or "")
    return ArticleDraft(
        source=None,   # not a file: an article from a partner is found by its upstream id
        id=article_id,
        slug=slug,
        url=item.url,
        title=title,
        summary=cut_at_word(summary, SUMMARY_LIMIT) if summary else title,
        content_html=item.content_html or f"<p>{html.escape(summary or title, quote=False)}</p>",
        content_text=item.content_html,
        author=item.author,
        published=item.published,
        updated=item.updated,
        categories=item.categories,
        language=feed.language,
        image_url=item.image_url,
        image=item.image,
    )


def plan_item(item: UpstreamItem, source: RemoteSource, feed: UpstreamFeed, *, by_upstream: Article | None,
              by_url: Article | None, settings: IngestSettings, now: datetime) -> Plan:
    """Which stored article ``item`` is (found by upstream id, else by URL), or why it is left alone."""
    key = item.key
    if key is None:
        return Plan(None, None, "an item with neither id nor link was left out")
    if not (item.title or item.summary or html_text(item.content_html)):
        return Plan(None, None, f"item {key}: no title and no text; left out")
    existing = by_upstream
    if existing is None and by_url is not None:
        if by_url.via_url == source.url and any(other.key == by_url.upstream_id for other in feed.items):
            # Another item of this document has that link too: one article, not two taking turns.
            return Plan(None, None, f"item {key}: {item.url} is also the link of item {by_url.upstream_id}; left out")
        if by_url.via_url == source.url:
            existing = by_url   # the same item of this partner: its id changed upstream
        else:
            whose = f"from {by_url.via_name}" if by_url.via_url else "the newsroom's own"
            return Plan(None, None, f"item {key}: {item.url} is already article {by_url.id} ({whose}); left out")
    if existing is not None and existing.status is not Status.PUBLISHED:
        return Plan(None, None, f"item {key}: article {existing.id} is {existing.status.value} here; left alone")
    if existing is not None:
        article_id, slug = existing.id, existing.slug
    else:
        slug = partner_slug(source.name, key)
        article_id = mint_id(settings, slug, item.published or now)
    try:   # the limits every way in has: size, categories
        draft, warnings = bounded(_draft(item, source, feed, slug, article_id), settings)
    except IngestError as exc:
        return Plan(None, None, f"item {key}: {exc}; left out")
    return Plan(article_id, draft, warnings=tuple(f"item {key}: {warning}" for warning in warnings))


def decide_item(existing: Article | None, draft: ArticleDraft, *, key: str, source: RemoteSource,
                now: datetime, settings: IngestSettings) -> SaveResult:
    """What the store should hold for one item, inside the store's transaction."""
    if existing is not None and existing.status is not Status.PUBLISHED:
        return SaveResult("unchanged", existing)   # deleted or unpublished here meanwhile
    if existing is not None:
        draft = replace(draft, slug=existing.slug)
        if draft.updated is not None and draft.updated <= existing.updated:
            # An edit upstream that kept its date still reaches readers as an update.
            draft = replace(draft, updated=None)
        # Links the store suggested are not part of the article (the partner sends none).
        existing_own = replace(existing, related=tuple(
            link for link in existing.related if not getattr(link, "suggested", False)))
    else:
        existing_own = None
    result = merge(existing_own, draft, now, settings)
    attribution = {"upstream_id": key, "via_url": source.url, "via_name": source.name}
    if result.action == "unchanged" and existing is not None:
        if all(getattr(existing, name) == value for name, value in attribution.items()):
            return SaveResult("unchanged", existing)
        return SaveResult("updated", replace(existing, **attribution, stored=now.replace(microsecond=0)))
    return SaveResult(result.action, replace(result.article, **attribution))


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """RFC 9110 section 10.2.3: delay-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        # Capped before timedelta sees it: a day is the longest wait honoured anyway.
        return timedelta(seconds=min(int(text), 86_400))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(timedelta(0), when - now)


def polled_lately(state: SourceState | None, source: RemoteSource, now: datetime) -> bool:
    """Whether a healthy source was polled within its interval (by another instance of the
    store): the next poll is not due. A failing source follows its backoff (``next_poll``) instead."""
    if state is None or state.last_poll is None or state.failures:
        return False
    return now - state.last_poll < timedelta(minutes=source.interval_minutes)


def first_poll(state: SourceState | None, source: RemoteSource, now: datetime) -> datetime:
    """When an instance that starts to lead should poll a source: once its interval since the
    last poll, by whichever instance, is over; at once if it never was or is backing off."""
    if state is None or state.last_poll is None or state.failures:
        return now
    return max(now, state.last_poll + timedelta(minutes=source.interval_minutes))


def next_attempt(now: datetime, failures: int, interval: timedelta, *, transient: bool,
                 wait: timedelta | None = None) -> datetime:
    """When a source that failed ``failures`` times in a row may be polled again.

    ``wait`` (the server's Retry-After) wins, up to :data:`MAX_DELAY`. Otherwise
    30 s, 1 min, 2 min ... up to a day; an error that retrying soon cannot fix (a
    broken or refused document, a 404) waits at least the source's interval.
    """
    if wait is not None:
        delay = min(wait, MAX_DELAY)
    else:
        delay = min(BACKOFF_START * 2 ** min(max(failures, 1) - 1, 20), MAX_DELAY)
        if not transient:
            delay = max(delay, interval)
    # Whole seconds: the clock handed to the poll has no fractions.
    return now + timedelta(seconds=math.ceil(delay.total_seconds()))


# --- I/O -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fetched:
    status: int
    url: str                          # after redirects
    body: bytes
    content_type: str
    etag: str | None
    last_modified: str | None


def _timed_out(source: RemoteSource, when: str) -> RemoteSourceError:
    return RemoteSourceError(f"timed out after {source.timeout_seconds:g} s {when}", transient=True)


def _read_body(response: requests.Response, source: RemoteSource, exchange: Exchange) -> bytes:
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > source.max_bytes:
        raise RemoteSourceError(f"the response is {int(length)} bytes, over the limit of {source.max_bytes}")
    raw = response.raw
    body = bytearray()
    try:
        while True:
            if exchange.timed_out:
                raise _timed_out(source, "reading the response")
            # read1: whatever has arrived (a trickling server cannot hold a full-sized read
            # open); decoded at most CHUNK at a time, so a compressed bomb is stopped by the cap.
            chunk = raw.read1(CHUNK, decode_content=True)
            if not chunk:
                break
            body += chunk
            if len(body) > source.max_bytes:
                raise RemoteSourceError(f"the response is over the limit of {source.max_bytes} bytes")
    except urllib3.exceptions.DecodeError as exc:
        # Not a broken connection: the partner's body is not in the coding it names, and
        # will not be on a quick retry either.
        coding = response.headers.get("Content-Encoding", "")
        raise RemoteSourceError(f"the body is not valid {coding} (its Content-Encoding): {exc.__cause__ or exc}"
                                ) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        if exchange.timed_out or isinstance(exc, (TimeoutError, urllib3.exceptions.TimeoutError)):
            raise _timed_out(source, "reading the response") from exc
        raise RemoteSourceError(f"the connection broke while reading the response: {exc}", transient=True) from exc
    if exchange.timed_out:
        # The watchdog shut the connection: a body without a length would read as complete.
        raise _timed_out(source, "reading the response")
    return bytes(body)


def _fetch(source: RemoteSource, state: SourceState, now: datetime, user_agent: str) -> _Fetched:
    headers = {"User-Agent": user_agent, "Accept": ACCEPT}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    url, visited = source.url, [source.url]
    # One deadline for everything below: resolving, connecting, each hop's head and the body.
    with Exchange(source.timeout_seconds, max_redirects=MAX_REDIRECTS) as exchange:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = exchange.request("GET", url, headers=headers)
            except requests.RequestException as exc:
                if exchange.timed_out or isinstance(exc, requests.Timeout):
                    raise _timed_out(source, "waiting for the response") from exc
                raise RemoteSourceError(f"cannot reach {url}: {exc}", transient=True) from exc
            with response:
                if exchange.timed_out:
                    # Cut by the watchdog inside the head: http.client takes the end of the
                    # connection for the end of the headers it had read so far.
                    raise _timed_out(source, "waiting for the response")
                status = response.status_code
                if response.is_redirect:
                    target = urljoin(url, response.headers["Location"])
                    if urlsplit(target).scheme not in ("http", "https"):
                        raise RemoteSourceError(f"redirected to {target!r}, which is not http(s)", status=status)
                    if target in visited:
                        raise RemoteSourceError(f"redirect loop: {' -> '.join(visited + [target])}", status=status)
                    visited.append(target)
                    url = target
                    continue
                wait = retry_after(response.headers.get("Retry-After"), now)
                if status == 304:
                    return _Fetched(304, url, b"", "", response.headers.get("ETag"),
                                    response.headers.get("Last-Modified"))
                if status != 200:
                    reason = f"the server answered {status} {response.reason or ''}".rstrip()
                    raise RemoteSourceError(reason, status=status,
                                            transient=status in TRANSIENT_STATUS or status >= 500, retry_after=wait)
                body = _read_body(response, source, exchange)
                return _Fetched(200, url, body, response.headers.get("Content-Type", ""),
                                response.headers.get("ETag"), response.headers.get("Last-Modified"))
    raise RemoteSourceError(f"more than {MAX_REDIRECTS} redirects: {' -> '.join(visited)}")


def _store_items(store: Articles, source: RemoteSource, feed: UpstreamFeed, now: datetime,
                 settings: IngestSettings) -> tuple[dict[str, int], list[str]]:
    counts = {"created": 0, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 0}
    notes: list[str] = []
    for item in feed.items[:MAX_ITEMS]:
        key = item.key
        by_upstream = store.find_upstream(source.url, key) if key else None
        by_url = store.find_by_url(item.url) if item.url and by_upstream is None else None
        plan = plan_item(item, source, feed, by_upstream=by_upstream, by_url=by_url, settings=settings, now=now)
        for warning in plan.warnings:
            log.warning("remote source %s: %s", source.name, warning)
        if plan.draft is None:
            counts["skipped"] += 1
            notes.append(plan.note or "left out")
            continue
        try:
            result = store.save(
                lambda existing, draft=plan.draft, key=key: decide_item(
                    existing, draft, key=key, source=source, now=now, settings=settings),
                article_id=plan.article_id, slug=plan.draft.slug,
            )
        except FeedpubError as exc:   # StoreError, or merge refusing
            counts["failed"] += 1
            notes.append(f"item {key}: {exc}")
            continue
        counts[result.action] += 1
    if len(feed.items) > MAX_ITEMS:
        notes.append(f"{len(feed.items) - MAX_ITEMS} items beyond the first {MAX_ITEMS} were not read")
    return counts, notes


def poll_source(store: Polling, source: RemoteSource, now: datetime, *,
                settings: IngestSettings, user_agent: str = USER_AGENT) -> PollResult:
    """Poll one source once, unless it is backing off; never raises for what the partner does."""
    state = store.source_state(source.url) or SourceState(source.url)
    if state.next_poll is not None and now < state.next_poll:
        return PollResult(source.name, source.url, "waiting", next_poll=state.next_poll)
    try:
        fetched = _fetch(source, state, now, user_agent)
        if fetched.status == 304:
            store.save_source_state(replace(
                state, etag=fetched.etag or state.etag, last_modified=fetched.last_modified or state.last_modified,
                last_poll=now, last_status="304", last_error=None, failures=0, next_poll=None))
            log.debug("%s: not modified", source.name)
            return PollResult(source.name, source.url, "not-modified", status=304)
        feed = parse_feed(fetched.body, url=fetched.url, content_type=fetched.content_type)
    except RemoteSourceError as exc:
        failures = state.failures + 1
        due = next_attempt(now, failures, timedelta(minutes=source.interval_minutes),
                           transient=exc.transient, wait=exc.retry_after)
        store.save_source_state(replace(
            state, last_poll=now, last_status=str(exc.status) if exc.status else "error", last_error=str(exc),
            failures=failures, next_poll=due))
        log.warning("remote source %s (%s): %s; failure %d in a row, next attempt at %s",
                    source.name, source.url, exc, failures, due.isoformat())
        return PollResult(source.name, source.url, "failed", status=exc.status, error=str(exc), next_poll=due)

    counts, notes = _store_items(store, source, feed, now, settings)
    error = f"{counts['failed']} item(s) not stored: {notes[-1]}" if counts["failed"] else None
    # Validators only once every item is stored: otherwise the next poll would get a
    # 304 and never retry the items the store refused.
    store.save_source_state(replace(
        state, etag=None if counts["failed"] else fetched.etag,
        last_modified=None if counts["failed"] else fetched.last_modified,
        last_poll=now, last_status=str(fetched.status), last_error=error, failures=0, next_poll=None))
    result = PollResult(source.name, source.url, "ok", status=fetched.status, error=error,
                        notes=tuple(notes), **counts)
    for note in notes:
        log.info("remote source %s: %s", source.name, note)
    log.log(logging.INFO if result.changed or error else logging.DEBUG, "remote source %s: %s",
            source.name, result.summary())
    return result


def describe(source: RemoteSource, state: SourceState | None) -> dict:
    """A source and its polling state as ``feedpub status`` shows them (JSON-ready)."""
    state = state or SourceState(source.url)
    return {
        "name": source.name,
        "url": source.url,
        "enabled": source.enabled,
        "interval_minutes": source.interval_minutes,
        "last_poll": state.last_poll.isoformat() if state.last_poll else None,
        "last_status": state.last_status,
        "last_error": state.last_error,
        "failures": state.failures,
        "next_poll": state.next_poll.isoformat() if state.next_poll else None,
        "etag": state.etag,
        "last_modified": state.last_modified,
    }


def states(store: SourceStates, sources: tuple[RemoteSource, ...] | list[RemoteSource]) -> list[dict]:
    return [describe(source, store.source_state(source.url)) for source in sources]


__all__ = [
    "PollResult", "RemoteSource", "RemoteSourceError", "UpstreamFeed", "UpstreamItem", "decide_item",
    "describe", "next_attempt", "parse_feed", "plan_item", "poll_source", "retry_after", "states", "user_agent",
]
