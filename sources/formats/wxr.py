"""WordPress exports (WXR, "WordPress eXtended RSS": Tools > Export in WordPress).

    feedpub ingest export.xml

An export is an RSS 2.0 document whose ``<item>`` elements are every post, page,
attachment, revision and menu item of the site. Each post becomes an article:

    title        <title>
    body         <content:encoded>, paragraphs as WordPress shows them (a blank line
                 between them in the classic editor, ``<p>`` in the block editor)
    summary      <excerpt:encoded>; else the lead
    author       the display name of <dc:creator>'s login (<wp:author> in the channel)
    categories   <category domain="category">      tags   <category domain="post_tag">
    published    <wp:post_date_gmt> (UTC), shown in the site's zone; a draft that has
                 none yet: <wp:post_date>, in the site's zone
    updated      <wp:post_modified_gmt>, when later than published
    image        the URL of the attachment that ``_thumbnail_id`` names (featured image)
    url          <link>, the post's permalink, so that old addresses keep working
    slug         <wp:post_name>; else derived from the title

``<wp:status>``: ``publish`` is published, ``future`` is published at its time (an
embargo until then), ``draft`` and ``pending`` are drafts (in no feed); ``private``,
``trash`` and the rest are skipped. Pages, attachments, revisions, menu items and every
other item that is not a post are counted as skipped (comments are never articles).

A "Baca Juga" paragraph in any form Indonesian WordPress sites write it (a paragraph of
its own, the marker bold, the title linked: ``<p><strong>Baca Juga: <a href="...">...</a>
</strong></p>``) becomes a related link, as in every format; one that links another post
of the export by its permalink names that post by its exact title, so it resolves
whatever the link's text says.

The file is read as a stream, one item at a time (lxml's iterparse, no entity resolved,
nothing fetched from the network), twice: first for the attachments' URLs and the posts'
permalinks (a post may name an attachment or link a post that comes after it), then for
the posts. An item is held to ``max_article_bytes`` like any article; an item many times
larger stops the file (nothing after it is read into memory). A bad post becomes an
:class:`IngestError` naming the file, the item's line and the field, and the others are
still imported.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

import lxml.html
from lxml import etree

from ..drafts import ArticleDraft, Origin, Skipped, assemble_draft, checked_fields, clean_overrides
from ..errors import IngestError
from ..model import IngestSettings, Status
from ..newsroom import RELATED_MARKER
from ..text import slugify, xml_safe
from .html import body_parts

CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
EXCERPT_NS = ("http://wordpress.org/export/1.2/excerpt/", "http://wordpress.org/export/1.1/excerpt/",
              "http://wordpress.org/export/1.0/excerpt/")
WP_NS = ("http://wordpress.org/export/1.2/", "http://wordpress.org/export/1.1/", "http://wordpress.org/export/1.0/")
DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
SNIFF_BYTES = 4096
# An item past this many times the article limit stops the file: iterparse builds an
# item whole before handing it over, so a larger one is never held in memory.
OVERSIZE_FACTOR = 4
STATUSES = {"publish": Status.PUBLISHED, "future": Status.PUBLISHED, "draft": Status.DRAFT,
            "pending": Status.DRAFT}
_NO_DATE = "0000-00-00 00:00:00"
_BLOCK_START = re.compile(r"^\s*<(?:p|div|ul|ol|li|h[1-6]|blockquote|figure|table|pre|hr|!--)[\s>/]", re.IGNORECASE)


def is_wxr(head: bytes) -> bool:
    """Whether a file's first bytes are those of a WordPress export."""
    return b"<rss" in head and any(ns.encode() in head for ns in WP_NS)


@dataclass
class _Index:
    """What the first pass learns of the export."""

    wp: str                                    # the export's wp namespace, in braces
    authors: dict[str, str]                    # login -> display name
    attachments: dict[str, str]                # post id -> file URL
    permalinks: dict[str, str]                 # permalink (normalised) -> post title


def _normal_url(url: str) -> str:
    return url.strip().rstrip("/").split("#", 1)[0].lower()


def _items(stream: BinaryIO, *, path: str, limit: int, tags: tuple[str, ...]) -> Iterator[etree._Element]:
    """Each element named in ``tags`` once parsed, freed after use; the file read as a stream."""
    sizes = _Counting(stream, limit * OVERSIZE_FACTOR, path=path)
    parser = etree.iterparse(sizes, events=("end",), tag=tags, resolve_entities=False, no_network=True,
                             load_dtd=False, huge_tree=False, remove_comments=True)
    try:
        for _, element in parser:
            if sizes.first:
                sizes.first = False
                if element.getroottree().docinfo.internalDTD is not None:
                    # WordPress writes none; entities declared in one could multiply the text
                    # (they are not expanded here, but an export that has one was not made by it).
                    raise IngestError("the export declares a DTD (<!DOCTYPE ... [...]>); WordPress writes none: "
                                      "refused", path=path, line=1)
            yield element
            sizes.item_done()
            element.clear(keep_tail=False)
            parent = element.getparent()
            while parent is not None and element.getprevious() is not None:
                del parent[0]   # items already handed over
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else None
        raise IngestError(f"not well-formed XML: {exc.msg}", path=path, line=line) from None


class _Counting:
    """A stream that refuses to go on once one item has taken more than ``limit`` bytes."""

    def __init__(self, stream: BinaryIO, limit: int, *, path: str):
        self.stream, self.limit, self.path = stream, limit, path
        self.since_item = 0
        self.lines = 1
        self.first = True   # no element handed over yet

    def item_done(self) -> None:
        self.since_item = 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size if size and size > 0 else 65536)
        self.since_item += len(data)
        if self.since_item > self.limit + 65536:
            raise IngestError(f"an item passes {self.limit} bytes, many times what an article may hold "
                              "(ingest.max_article_bytes); the items before it were read, the rest were not",
                              path=self.path, line=self.lines)
        self.lines += data.count(b"\n")
        return data


def _text(item: etree._Element, tag: str) -> str:
    found = item.find(tag)
    return (found.text or "").strip() if found is not None else ""


def _index(stream: BinaryIO, *, path: str, limit: int) -> _Index:
    """The first pass: authors, attachments' URLs, posts' permalinks."""
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    wp = next((f"{{{ns}}}" for ns in WP_NS if ns.encode() in head), f"{{{WP_NS[0]}}}")
    index = _Index(wp, {}, {}, {})
    for element in _items(stream, path=path, limit=limit, tags=(f"{wp}author", "item")):
        if element.tag == f"{wp}author":
            login = _text(element, f"{wp}author_login")
            if login:
                index.authors[login] = _text(element, f"{wp}author_display_name") or login
            continue
        kind = _text(element, f"{wp}post_type")
        if kind == "attachment":
            url = _text(element, f"{wp}attachment_url")
            if url:
                index.attachments[_text(element, f"{wp}post_id")] = url
        elif kind == "post" and _text(element, "link"):
            index.permalinks[_normal_url(_text(element, "link"))] = _text(element, "title")
    return index


def autop(content: str) -> str:
    """WordPress's own paragraphs: text between blank lines is a paragraph, a single line
    break within one a ``<br>``; what already starts with a block element is kept as written."""
    blocks = [block.strip() for block in re.split(r"\n\s*\n", content.replace("\r\n", "\n")) if block.strip()]
    return "\n".join(block if _BLOCK_START.match(block) else "<p>" + block.replace("\n", "<br>\n") + "</p>"
                     for block in blocks)


def _name_linked_posts(container: lxml.html.HtmlElement, permalinks: Mapping[str, str]) -> None:
    """A "Baca Juga" paragraph that links a post of the export by its permalink says that
    post's title (the link's text is often shortened or reworded)."""
    for element in container.iter("p", "div", "li", "h2", "h3", "h4", "h5", "h6", "blockquote"):
        text = " ".join(element.text_content().split())
        if not RELATED_MARKER.match(text):
            continue
        link = next((a for a in element.iter("a") if a.get("href")), None)
        title = permalinks.get(_normal_url(link.get("href"))) if link is not None else None
        if title:
            for child in list(element):
                element.remove(child)
            element.text = f"Baca Juga: {title}"


def _plain(fragment: str) -> str | None:
    """An excerpt's text: WordPress lets it hold markup; a summary is plain text."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split()) or None


def _date(value: str, zone: timezone | ZoneInfo) -> datetime | None:
    if not value or value == _NO_DATE:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
    except ValueError:
        return None


def _post(item: etree._Element, index: _Index, *, path: str, settings: IngestSettings,
          overrides: Mapping[str, object]) -> ArticleDraft | IngestError | None:
    """One post as a draft, its error, or None when it is not to be imported."""
    wp = index.wp
    line = item.sourceline
    status = STATUSES.get(_text(item, f"{wp}status"))
    if status is None:
        return None
    site_zone = ZoneInfo(settings.timezone)
    lines: dict[str, int] = {}
    for key, tag in (("title", "title"), ("url", "link"), ("published", f"{wp}post_date_gmt"),
                     ("updated", f"{wp}post_modified_gmt"), ("summary", None), ("author", DC_CREATOR)):
        found = item.find(tag) if tag else None
        lines[key] = found.sourceline if found is not None else line
    content = item.find(CONTENT)
    excerpt = next((item.find(f"{{{ns}}}encoded") for ns in EXCERPT_NS if item.find(f"{{{ns}}}encoded") is not None),
                   None)
    raw = (content.text or "") if content is not None else ""
    size = sum(len(text.encode("utf-8")) for text in (raw, excerpt.text or "" if excerpt is not None else "",
                                                        _text(item, "title")))
    if size > settings.max_article_bytes:
        return IngestError(f"the post holds {size} bytes, over the {settings.max_article_bytes} an article may hold "
                           "(ingest.max_article_bytes)", path=path, line=line)
    published = _date(_text(item, f"{wp}post_date_gmt"), timezone.utc) or _date(_text(item, f"{wp}post_date"),
                                                                                 site_zone)
    updated = _date(_text(item, f"{wp}post_modified_gmt"), timezone.utc)
    if published is not None:
        published = published.astimezone(site_zone)
        updated = updated.astimezone(site_zone) if updated is not None and updated > published else None
    else:
        updated = None
    login = _text(item, DC_CREATOR)
    terms: dict[str, list[str]] = {"category": [], "post_tag": []}
    for element in item.iter("category"):
        name = " ".join((element.text or "").split())
        if element.get("domain") in terms and name and name not in terms[element.get("domain")]:
            terms[element.get("domain")].append(name)
    thumbnail = next((_text(meta, f"{wp}meta_value") for meta in item.iter(f"{wp}postmeta")
                      if _text(meta, f"{wp}meta_key") == "_thumbnail_id"), None)
    values: dict[str, object] = {
        "title": _text(item, "title") or None,
        "url": (_text(item, "link") or None) if status is Status.PUBLISHED else None,
        "published": published,
        "updated": updated,
        "author": index.authors.get(login, login) or None,
        "categories": terms["category"],
        "tags": terms["post_tag"],
        "summary": _plain(excerpt.text) if excerpt is not None and (excerpt.text or "").strip() else None,
        "image": index.attachments.get(thumbnail) if thumbnail else None,
        "slug": _text(item, f"{wp}post_name") or None,
    }
    try:
        origin = Origin(path, lines, frozenset(overrides), label="WordPress field")
        fields = checked_fields({**values, **overrides}, origin, site_zone, max_terms=settings.max_terms)
        if not raw.strip():
            raise IngestError("the post has no content", path=path, line=lines.get("title", line))
        try:
            container = lxml.html.fragment_fromstring(xml_safe(autop(raw)), create_parent="div")
        except (etree.ParserError, ValueError) as exc:
            raise IngestError(f"cannot read the post's HTML: {exc}", path=path, line=line) from exc
        etree.strip_tags(container, etree.Comment)   # the block editor's <!-- wp:paragraph --> marks
        _name_linked_posts(container, index.permalinks)
        content_html, lead, related = body_parts(container, path=path)
        default_slug = fields["title"] or f"post-{_text(item, f'{wp}post_id')}"
        draft = assemble_draft(path=path, fields=fields, lead=lead, content_html=content_html,
                               content_text=xml_safe(raw), default_slug=slugify(default_slug) or "post",
                               related_titles=related, line=line, warnings=tuple(origin.warnings))
    except IngestError as exc:
        if exc.line or exc.path != path:
            return exc
        return IngestError(str(exc).removeprefix(f"{path}: "), path=path, line=line)   # at the item, then
    # Several posts share the file: each is known by its slug, as a JSON Lines line is.
    return replace(draft, source=None, status=status)


def iter_wxr_drafts(file: Path, *, settings: IngestSettings,
                    overrides: Mapping[str, object] | None = None) -> Iterator[ArticleDraft | IngestError | Skipped]:
    """Each item of the export in file order: a draft, an :class:`IngestError` for a bad
    post, or a :class:`~sources.drafts.Skipped` for what is not imported. Raises for the
    file as a whole (not an export, not well-formed XML)."""
    path = str(file)
    overrides = clean_overrides(overrides, path=path)
    if overrides:
        raise IngestError(f"--{next(iter(overrides))}: a WordPress export holds many posts; "
                          "the flags name one article", path=path)
    limit = settings.max_article_bytes
    with file.open("rb") as stream:
        if not is_wxr(stream.read(SNIFF_BYTES)):
            raise IngestError("not a WordPress export (WXR): only those are read from .xml files", path=path, line=1)
        stream.seek(0)
        index = _index(stream, path=path, limit=limit)
        stream.seek(0)
        for item in _items(stream, path=path, limit=limit, tags=("item",)):
            kind = _text(item, f"{index.wp}post_type") or "post"
            if kind != "post":
                yield Skipped(kind, item.sourceline)
                continue
            draft = _post(item, index, path=path, settings=settings, overrides=overrides)
            yield draft if draft is not None else Skipped(f"{_text(item, f'{index.wp}status')} post",
                                                          item.sourceline)
