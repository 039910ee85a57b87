"""Format renderers: (feed view, site settings) -> document bytes.

Pure and deterministic: the same view gives the same bytes, and no wall-clock
time reaches a document (feedgen 1.0.0 defaults ``updated``/``lastBuildDate``
to now(); both are always set here from the content).

RSS follows the RSS 2.0 specification and the RSS Advisory Board's best
practices profile; Atom follows RFC 4287.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from feedgen.feed import FeedGenerator

from ..site import SiteSettings
from .document import Document
from .entries import EPOCH, Entry, FeedDefinition, FeedView
from .extensions import (
    HistoryEntryExtension,
    HistoryExtension,
    HubEntryExtension,
    HubExtension,
    LinksEntryExtension,
    LinksExtension,
    MediaEntryExtension,
    MediaExtension,
    SourceEntryExtension,
    SourceExtension,
    SyndicationEntryExtension,
    SyndicationExtension,
    TombstoneEntryExtension,
    TombstoneExtension,
)
from .pages import entry_html
from .splice import splice, split_entries

RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
JSON_FEED_TYPE = "application/feed+json; charset=utf-8"
# The link relation of a related article the store suggested, apart from the newsroom's own
# picks (rel="related"). RFC 4287 section 4.2.7.2: a relation not in the IANA registry is an
# IRI; this one is a tag: URI (RFC 4151), which no one else mints.
SUGGESTED_REL = "tag:feedpub,2026:suggested"


def _categories(entry: Entry, site: SiteSettings, *, rss: bool) -> list[dict[str, str]]:
    """Categories and tags by their readable names (RFC 4287 4.2.2 lets the term be any
    string; readers show it), each with its own feed, in this document's format, as the scheme."""
    feed = "rss.xml" if rss else "atom.xml"
    return [{"term": term.name, "label": term.name, **({"scheme": site.url(term.folder + feed)} if term.folder else {})}
            for term in entry.terms if term.kind in ("category", "tag")]


def _generator(view: FeedView, site: SiteSettings, *, self_path: str, self_type: str, rss: bool,
               images: bool) -> FeedGenerator:
    """A document without its entries; feedgen writes entries after everything else in the
    feed (extensions included), so they are spliced in before the closing tag."""
    feed = view.feed
    fg = FeedGenerator()
    fg.register_extension("feedpub_links", LinksExtension, LinksEntryExtension, atom=True, rss=True)
    fg.register_extension("feedpub_media", MediaExtension, MediaEntryExtension, atom=True, rss=True)
    fg.register_extension("feedpub_source", SourceExtension, SourceEntryExtension, atom=True, rss=True)
    fg.feedpub_media.used = images     # declares Media RSS for the entries' media: elements
    if rss:
        fg.load_extension("dc", atom=False, rss=True)
        fg.register_extension("feedpub_sy", SyndicationExtension, SyndicationEntryExtension, atom=False, rss=True)
        fg.register_extension("feedpub_hubs", HubExtension, HubEntryExtension, atom=False, rss=True)
        fg.feedpub_hubs.hubs = site.hubs
    else:
        fg.register_extension("feedpub_tombstones", TombstoneExtension, TombstoneEntryExtension, atom=True, rss=False)
    # An archive document belongs to the same logical feed as its subscription document.
    history = view.history
    fg.id(site.url(history.current if history and history.archive else feed.atom_path))
    fg.title(feed.title)
    fg.subtitle(feed.description)      # also the RSS <description>
    fg.language(site.language)         # RSS <language>, Atom xml:lang
    fg.author({"name": site.publisher})
    fg.generator("feedpub")
    fg.image(url=site.image_url, title=feed.title, link=feed.html_url)  # RSS <image>, Atom <logo>
    # feedgen takes the RSS channel <link> from the last link given: self first.
    fg.link(href=site.url(self_path), rel="self", type=self_type.split(";")[0])
    if not rss:
        for hub in site.hubs:   # WebSub discovery (RSS: HubExtension)
            fg.link(href=hub, rel="hub")
    fg.link(href=feed.html_url, rel="alternate", type="text/html")
    fg.updated(view.updated)           # Atom <updated> and RSS <lastBuildDate>
    return fg


def _add_entry(fg: FeedGenerator, entry: Entry, site: SiteSettings, *, rss: bool) -> None:
    fe = fg.add_entry(order="append")  # feedgen prepends by default
    fe.id(entry.id)                    # Atom id; RSS guid isPermaLink="false"
    fe.title(entry.title)
    fe.link(href=entry.link, rel="alternate")  # RSS <link>; Atom's rel defaults to alternate
    fe.summary(entry.summary)          # Atom <summary> (plain text)
    if rss:
        # RSS <description> is HTML: a plain-text "<" must reach it as "&lt;".
        fe.description(html.escape(entry.summary, quote=False))
    fe.content(entry.content_html, type="html")  # Atom content, RSS content:encoded
    fe.published(entry.published)
    fe.updated(entry.updated)
    if entry.author:
        if rss:
            fe.dc.dc_creator(entry.author)   # RSS <author> needs an e-mail address
        else:
            fe.author({"name": entry.author})
    for category in _categories(entry, site, rss=rss):
        fe.category(category)
    for link in entry.related:
        fe.feedpub_links.add(link.href, SUGGESTED_REL if link.suggested else "related", title=link.title,
                             type="text/html")
    if entry.image:
        fe.feedpub_media.url = entry.image.url
        fe.feedpub_media.media_type = entry.image.media_type
        fe.feedpub_media.length = entry.image.length
        fe.feedpub_media.width, fe.feedpub_media.height = entry.image.width, entry.image.height
    if entry.via:                      # a partner's article: say whose
        fe.feedpub_source.name, fe.feedpub_source.url = entry.via.name, entry.via.url
        fe.feedpub_source.updated = entry.updated.isoformat()


def entry_fragments(entries: Sequence[Entry], site: SiteSettings, fmt: str) -> list[bytes]:
    """Each entry's bytes in format ``fmt`` ("rss", "atom", "json", or "html" for the feeds' pages),
    as documents hold them.

    Documents are assembled from these (feeds/rendering/splice.py), so an entry in many documents
    is sanitised and serialised once."""
    if fmt == "html":
        return entry_html(entries, site)
    if fmt == "json":
        # An item of the feed's "items" list, four spaces in, as json.dumps(indent=2) writes the
        # rest of the document; orjson writes the same bytes, faster (docs/BENCHMARKS.md,
        # "Figures behind choices in the code").
        return [b"    " + orjson.dumps(_json_item(entry), option=orjson.OPT_INDENT_2).replace(b"\n", b"\n    ")
                for entry in entries]
    if not entries:
        return []
    rss = fmt == "rss"
    view = FeedView(feed=FeedDefinition("fragments", "-", "-", site.url(""), "rss.xml", "atom.xml", "feed.json"),
                    entries=(), updated=EPOCH)
    fg = _generator(view, site, self_path="atom.xml", self_type=ATOM_TYPE, rss=rss, images=True)
    for entry in entries:
        _add_entry(fg, entry, site, rss=rss)
    if rss:
        body = hex_escape_plain_text(fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True))
    else:
        body = fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    found = split_entries(body, fmt)[1]
    if len(found) != len(entries):   # a boundary inside an entry: never from feedgen's serialiser
        raise ValueError(f"{len(entries)} entries rendered as {len(found)} {fmt} fragments")
    return found


@dataclass(frozen=True)
class Rendered:
    """A document's entries, already rendered in its format (newest first)."""

    fragments: tuple[bytes, ...]
    images: bool          # some entry has a lead image (RSS/Atom declare Media RSS then)


def _images(view: FeedView, rendered: Rendered | None) -> bool:
    return rendered.images if rendered is not None else any(entry.image for entry in view.entries)


def _spliced(body: bytes, fmt: str, rendered: Rendered | None) -> bytes:
    return body if rendered is None else splice(body, fmt, rendered.fragments)


def update_schedule(minutes: float) -> tuple[str, int]:
    """(sy:updatePeriod, sy:updateFrequency) closest to a rebuild every ``minutes``."""
    for period, length in (("hourly", 60), ("daily", 1440), ("weekly", 10080)):
        if minutes <= length:
            return period, max(1, round(length / minutes))
    return "monthly", max(1, round(43200 / minutes))


def render_rss(view: FeedView, site: SiteSettings, rendered: Rendered | None = None) -> Document:
    """The RSS document of ``view``: its entries ``rendered`` already (feeds/building/build.py), or
    when None, ``view.entries`` rendered by feedgen along with the rest."""
    fg = _generator(view, site, self_path=view.feed.rss_path, self_type=RSS_TYPE, rss=True,
                    images=_images(view, rendered))
    fg.ttl(max(1, math.ceil(site.rebuild_minutes)))
    fg.feedpub_sy.period, fg.feedpub_sy.frequency = update_schedule(site.rebuild_minutes)
    if rendered is None:   # feedgen renders the whole document (the same bytes: tests/test_feeds.py)
        for entry in view.entries:
            _add_entry(fg, entry, site, rss=True)
    body = _spliced(hex_escape_plain_text(fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)),
                    "rss", rendered)
    return Document(view.feed.rss_path, body, RSS_TYPE, view.updated.isoformat())


# RSS elements that hold plain text (the others hold HTML or URLs).
_PLAIN_TEXT = re.compile(rb"(<(title|category|dc:creator|source)(?: [^>]*)?>)([^<]*)(</\2>)")


def hex_escape_plain_text(body: bytes) -> bytes:
    """Write & and < in plain-text elements as &#x26; and &#x3C;.

    The same characters to any XML parser; but RSS readers that treat every
    element as possibly HTML would decode "&amp;lt;" twice. RSS Best Practices
    Profile, "Encoding & and < in plain text"; the W3C validator warns otherwise.
    """
    def fix(match: re.Match) -> bytes:
        text = match.group(3).replace(b"&amp;", b"&#x26;").replace(b"&lt;", b"&#x3C;")
        return match.group(1) + text + match.group(4)

    return _PLAIN_TEXT.sub(fix, body)


def render_atom(view: FeedView, site: SiteSettings, rendered: Rendered | None = None) -> Document:
    """The Atom document of ``view``; ``rendered`` as for :func:`render_rss`."""
    fg = _generator(view, site, self_path=view.feed.atom_path, self_type=ATOM_TYPE, rss=False,
                    images=_images(view, rendered))
    fg.feedpub_tombstones.deleted = [(d.id, d.deleted.isoformat(), d.link) for d in view.deleted]
    if view.history:
        fg.register_extension("feedpub_history", HistoryExtension, HistoryEntryExtension, atom=True, rss=False)
        history = fg.feedpub_history
        history.archive = view.history.archive
        history.links = [(rel, site.url(path)) for rel, path in (
            ("current", view.history.current), ("prev-archive", view.history.prev),
            ("next-archive", view.history.next)) if path]
    if rendered is None:
        for entry in view.entries:
            _add_entry(fg, entry, site, rss=False)
    body = _spliced(fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True), "atom", rendered)
    return Document(view.feed.atom_path, body, ATOM_TYPE, view.updated.isoformat())


def _json_item(entry: Entry) -> dict:
    item: dict = {
        "id": entry.id,
        "url": entry.link,
        "title": entry.title,
        "content_html": entry.content_html,
        "summary": entry.summary,
        "date_published": entry.published.isoformat(),
        "date_modified": entry.updated.isoformat(),
    }
    if entry.author:
        item["authors"] = [{"name": entry.author}]
    if entry.categories or entry.tags:
        item["tags"] = list(dict.fromkeys(entry.categories + entry.tags))
    item["language"] = entry.language
    if entry.image:
        item["image"] = entry.image.url
    for key, suggested in (("related", False), ("suggested", True)):
        links = [{"url": link.href, "title": link.title} for link in entry.related if link.suggested is suggested]
        if links:
            # Extension objects start with "_" (JSON Feed 1.1, "Extensions").
            item.setdefault("_feedpub", {})[key] = links
    if entry.dateline:
        item.setdefault("_feedpub", {})["dateline"] = entry.dateline
    if entry.via:
        item.setdefault("_feedpub", {})["source"] = {"name": entry.via.name, "url": entry.via.url}
    return item


def render_json_feed(view: FeedView, site: SiteSettings, rendered: Rendered | None = None) -> Document:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1); related links in a ``_feedpub`` extension."""
    feed = view.feed
    if rendered is None:
        rendered = Rendered(tuple(entry_fragments(view.entries, site, "json")), False)
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed.title,
        "home_page_url": feed.html_url,
        "feed_url": site.url(feed.json_path),
        "description": feed.description,
        "language": site.language,
        "icon": site.image_url,
        **({"hubs": [{"type": "WebSub", "url": hub} for hub in site.hubs]} if site.hubs else {}),
        "authors": [{"name": site.publisher}],
        "items": [],   # last: the items are spliced in where this closes
    }
    body = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
    if rendered.fragments:
        body = body[:-len(b"[]\n}\n")] + b"[\n" + b",\n".join(rendered.fragments) + b"\n  ]\n}\n"
    return Document(feed.json_path, body, JSON_FEED_TYPE, view.updated.isoformat())


FEED_RENDERERS = (render_rss, render_atom, render_json_feed)   # every feed of the catalogue
