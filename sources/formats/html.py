"""HTML pages (``.html``, ``.htm``): an article saved from a CMS or a web page.

The fields come from the tags publishers already write, first found wins:

    title        og:title, <title>, the first <h1>
    published    article:published_time, <meta name="date">, the first <time datetime>
    updated      article:modified_time, og:updated_time
    author       <meta name="author">, article:author (unless it is a profile URL)
    summary      <meta name="description">, og:description; else the first paragraph
    image        og:image (relative to the page's URL)
    categories   article:section (each)          tags   article:tag (each), else keywords
    language     <html lang>                     url    <link rel="canonical">, og:url

The body is the inner HTML of ``<article>`` (else ``<main>``, else ``<body>``)
without scripts, styles, navigation, headers and footers; a leading ``<h1>`` that
repeats the headline is dropped, and an element holding only a related-link
marker ("Baca juga: ...") becomes a related link as in the text format. Markup
is kept as written: feeds/rendering/content.py sanitises it when the feeds are rendered.
The stored source text is the file as received. Pure: bytes in,
:class:`~sources.ingest.ArticleDraft` out, :class:`IngestError` naming file and
line (of the tag at fault) otherwise.
"""

from __future__ import annotations

import codecs
import html
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import lxml.html
from lxml import etree

from ..drafts import (
    ArticleDraft,
    Origin,
    assemble_draft,
    checked_fields,
    clean_overrides,
    decode_source,
)
from ..errors import IngestError
from ..model import IngestSettings
from ..newsroom import RELATED_MARKER
from ..text import normalise_title, squash_space, xml_safe

# Never article text.
_DROPPED = ("script", "style", "noscript", "template", "nav", "header", "footer")
# Elements a marker may stand alone in, and the block elements that keep a container from being one.
_MARKER_HOLDERS = ("p", "div", "li", "h2", "h3", "h4", "h5", "h6", "blockquote", "section", "aside")
_BLOCKS = frozenset(("p", "div", "ul", "ol", "li", "table", "section", "article", "aside", "blockquote",
                     "figure", "h1", "h2", "h3", "h4", "h5", "h6", "pre"))
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)


def _decode(data: bytes, *, path: str) -> str:
    """UTF-8 as everywhere else; a page that declares another charset in a ``<meta>`` is read in it."""
    try:
        return decode_source(data, path=path)
    except IngestError:
        declared = _CHARSET.search(data[:4096])
        if declared is None:
            raise
        line = data[: declared.start()].count(b"\n") + 1
        try:
            info = codecs.lookup(declared[1].decode("ascii"))
            # Codecs such as rot13, zlib or base64 are no character sets.
            if not getattr(info, "_is_text_encoding", True):
                raise LookupError(info.name)
            if info.name == "utf-8":
                raise IngestError("the file is not valid UTF-8, though its <meta> says it is", path=path, line=line)
            text = data.decode(info.name, errors="replace")
        except (LookupError, UnicodeError):
            raise IngestError(f"unknown charset {declared[1].decode('ascii')!r} in <meta>", path=path,
                              line=line) from None
        return text.replace("\r\n", "\n").replace("\r", "\n")


def _parse(text: str, *, path: str) -> lxml.html.HtmlElement:
    try:
        root = lxml.html.document_fromstring(text.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    except (etree.ParserError, ValueError) as exc:
        raise IngestError(f"cannot read the HTML: {exc}", path=path) from exc
    return _xml_safe_tree(root)


def _xml_safe_tree(root: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    """The tree without the characters XML forbids. libxml2's HTML parser keeps a control
    character or a &#1; in its text nodes, but lxml refuses to set such text again, which
    ``drop_tree`` does (joining the text around what it drops)."""
    for element in root.iter():
        if element.text and xml_safe(element.text) != element.text:
            element.text = xml_safe(element.text)
        if element.tail and xml_safe(element.tail) != element.tail:
            element.tail = xml_safe(element.tail)
    return root


def _line(element: lxml.html.HtmlElement | None) -> int | None:
    return element.sourceline if element is not None else None


def _inner_html(element: lxml.html.HtmlElement) -> str:
    parts = [html.escape(element.text or "", quote=False)]
    parts.extend(lxml.html.tostring(child, encoding="unicode") for child in element)
    return "".join(parts).strip()


def _text_of(element: lxml.html.HtmlElement) -> str:
    return squash_space(xml_safe(element.text_content()))


def body_parts(
    container: lxml.html.HtmlElement, *, path: str, title: str | None = None,
) -> tuple[str, str, tuple[str, ...]]:
    """(inner HTML, lead text, related titles) of an article's body element (changed in place)."""
    for element in [e for e in container.iter(*_DROPPED) if e is not container]:
        element.drop_tree()
    if title is not None:
        first_h1 = next(container.iter("h1"), None)
        if first_h1 is not None and first_h1 is not container \
                and normalise_title(_text_of(first_h1)) == normalise_title(title):
            first_h1.drop_tree()
    related: list[str] = []
    for element in list(container.iter(*_MARKER_HOLDERS)):
        if element is container or any(child.tag in _BLOCKS for child in element.iterdescendants()):
            continue
        marker = RELATED_MARKER.match(_text_of(element))
        if not marker:
            continue
        link_title = marker["title"].strip().rstrip(":").strip()
        if not link_title:
            raise IngestError("related-link marker has no title", path=path, line=_line(element))
        related.append(link_title)
        element.drop_tree()
    paragraphs = [text for text in (_text_of(p) for p in container.iter("p")) if text]
    lead = paragraphs[0] if paragraphs else _text_of(container)
    if not lead:
        raise IngestError("the article has no body text", path=path, line=_line(container))
    return xml_safe(_inner_html(container)), lead, tuple(related)


def fragment_parts(fragment: str, *, path: str) -> tuple[str, str, tuple[str, ...]]:
    """:func:`body_parts` of an HTML fragment (a JSON Lines ``content_html``)."""
    if not fragment.strip():
        raise IngestError("the article has no body text", path=path)
    try:
        container = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError) as exc:
        raise IngestError(f"cannot read the HTML: {exc}", path=path) from exc
    return body_parts(_xml_safe_tree(container), path=path)


class _Page:
    """The page's metadata tags, by lower-cased property/name, in document order."""

    def __init__(self, root: lxml.html.HtmlElement):
        self.root = root
        self.meta: dict[str, list[lxml.html.HtmlElement]] = {}
        for element in root.iter("meta"):
            content = (element.get("content") or "").strip()
            for attribute in ("property", "name", "itemprop"):
                key = (element.get(attribute) or "").strip().lower()
                if key and content:
                    self.meta.setdefault(key, []).append(element)

    def first(self, *keys: str) -> tuple[str, int | None] | None:
        for key in keys:
            for element in self.meta.get(key, ()):
                return element.get("content").strip(), element.sourceline
        return None

    def every(self, key: str) -> tuple[list[str], int | None]:
        elements = self.meta.get(key, [])
        return [e.get("content").strip() for e in elements], (elements[0].sourceline if elements else None)


def read_html_draft(
    data: bytes,
    *,
    path: str,
    settings: IngestSettings,
    overrides: Mapping[str, object] | None = None,
) -> ArticleDraft:
    """Parse one HTML page; ``overrides`` (command-line flags) win over its tags."""
    text = _decode(data, path=path)
    root = _parse(text, path=path)
    page = _Page(root)
    values: dict[str, object] = {}
    lines: dict[str, int | None] = {}

    def put(key: str, found: tuple[object, int | None] | None) -> None:
        if found is not None and key not in values:
            values[key], lines[key] = found

    def element_text(element: lxml.html.HtmlElement | None) -> tuple[str, int | None] | None:
        text_value = _text_of(element) if element is not None else ""
        return (text_value, element.sourceline) if text_value else None

    put("title", page.first("og:title"))
    put("title", element_text(root.find(".//title")))
    put("title", element_text(root.find(".//h1")))
    put("published", page.first("article:published_time", "date"))
    time_element = next((e for e in root.iter("time") if (e.get("datetime") or "").strip()), None)
    if time_element is not None:
        put("published", (time_element.get("datetime").strip(), time_element.sourceline))
    put("updated", page.first("article:modified_time", "og:updated_time"))
    put("author", page.first("author"))
    author = page.first("article:author")
    if author is not None and not re.match(r"^https?://", author[0]):
        put("author", author)
    put("summary", page.first("description", "og:description"))
    canonical = next((e for e in root.iter("link")
                      if "canonical" in (e.get("rel") or "").lower().split() and (e.get("href") or "").strip()), None)
    if canonical is not None:
        put("url", (canonical.get("href").strip(), canonical.sourceline))
    put("url", page.first("og:url"))
    image = page.first("og:image", "og:image:url", "og:image:secure_url")
    if image is not None:
        base = values.get("url")
        try:
            joined = urljoin(base, image[0]) if isinstance(base, str) else image[0]
        except ValueError:   # "http://[x" as the page's URL or the image's: the field check names it
            joined = image[0]
        put("image", (joined, image[1]))
    sections, line = page.every("article:section")
    if sections:
        put("categories", (sections, line))
    tags, line = page.every("article:tag")
    if tags:
        put("tags", (tags, line))
    keywords = page.first("keywords", "news_keywords")
    if keywords is not None:
        put("tags", ([k.strip() for k in keywords[0].split(",") if k.strip()], keywords[1]))
    language = (root.get("lang") or root.get("xml:lang") or "").strip()
    if language:
        put("language", (language.replace("_", "-"), root.sourceline))

    overrides = clean_overrides(overrides, path=path)
    origin = Origin(path, {k: v for k, v in lines.items() if v is not None}, frozenset(overrides), label="HTML")
    fields = checked_fields({**values, **overrides}, origin, ZoneInfo(settings.timezone),
                             max_terms=settings.max_terms)
    if fields["title"] is None:
        raise IngestError('no headline: give the page <meta property="og:title">, a <title> or an <h1>',
                          path=path, line=_line(root.find("head")) or _line(root))
    body = root.find(".//article")
    if body is None:
        body = root.find(".//main")
    if body is None:
        body = root.find("body")
    if body is None:
        raise IngestError("the page has no <body>", path=path)
    content_html, lead, related = body_parts(body, path=path, title=fields["title"])
    return assemble_draft(
        path=path, fields=fields, lead=lead, content_html=content_html, content_text=xml_safe(text),
        default_slug=Path(path).stem, related_titles=related, warnings=tuple(origin.warnings),
    )
