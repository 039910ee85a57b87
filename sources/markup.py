"""Bounding the markup of an upstream document before a parser walks it.

feedparser pays for every tag it sees, in Python: the elements of the XML, and
again the HTML inside them when it resolves relative links (its sgmllib-based
resolver re-parses each HTML value, escaped or in CDATA). Its time grows with
the number of tags, and deep nesting adds recursion risk to everything after it
(lxml, html5ever at render time). One partner item of deeply nested ``<a>`` held
the serve process far too long (docs/RELIABILITY.md, "Hostile input, second
review"). So the bytes are measured first, in the SAX pass that defusedxml makes
anyway (:class:`FeedShape`), and a document is refused when

- markup is nested deeper than :data:`MAX_DEPTH`, XML elements and the HTML tags
  in their text counted together (escaped HTML in ``<description>`` is text to
  the XML parser, but markup to feedparser and the renderer);
- one item holds more than :data:`MAX_ITEM_TAGS` tags, or the document more than
  :data:`MAX_DOCUMENT_TAGS` (XML start and end tags, and HTML tags).

The HTML count is a scan, not a parse: elements that HTML closes implicitly
(``p``, ``li``, ``td`` ...) and void ones (``br``, ``img`` ...) never deepen it, and
an end tag closes up to the element it names, ignored when none is open, as an
HTML parser would: sloppy real-world HTML is never counted deeper than it is.
"""

from __future__ import annotations

import re
import xml.sax.handler
from dataclasses import dataclass, field

from .errors import FeedpubError

MAX_DEPTH = 100                 # news HTML nests a couple of dozen deep at most
MAX_ITEM_TAGS = 10_000          # a long article with many links and images has a few thousand
# Bounds feedparser's time for one document (its cost per tag: docs/RELIABILITY.md); a
# full-content feed of 100 articles of about 400 tags each stays well under it.
MAX_DOCUMENT_TAGS = 50_000

# Linear: [^<>]* stops at the next "<", so a run of "<a<a<a" never makes the engine rescan.
_HTML_TAG = re.compile(r"<(/?)([A-Za-z][^\s/<>]*)[^<>]*>")
_NO_DEPTH = frozenset({
    # void elements (HTML Living Standard 13.1.2)
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr",
    # elements whose end tag may be left out (13.1.2.4): a run of them is not nesting
    "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead", "tbody", "tfoot", "colgroup",
    "caption", "rb", "rt", "rtc", "rp", "html", "head", "body",
})
_ITEMS = frozenset({"item", "entry"})                 # RSS 0.9x/1.0/2.0, Atom
_NAMES = ("guid", "id", "link", "title")              # what names an item in a message, best first


class MarkupError(FeedpubError):
    """The document's markup is nested too deeply or holds too many tags."""


@dataclass
class HTMLScan:
    """Open HTML elements of one run of text, on top of ``base`` levels of enclosing markup."""

    base: int = 0
    open: list[str] = field(default_factory=list)
    tags: int = 0

    @property
    def depth(self) -> int:
        return self.base + len(self.open)

    def feed(self, text: str, *, limit: int, max_tags: int) -> None:
        """Scan ``text``; stops once it is nested past ``limit`` or has counted ``max_tags`` tags."""
        if "<" not in text:
            return
        stop = self.tags + max_tags
        for match in _HTML_TAG.finditer(text):
            self.tags += 1
            if self.tags >= stop:
                return
            name = match.group(2).lower()
            if name in _NO_DEPTH:
                continue
            if match.group(1):                       # an end tag: closes up to its element
                if name in self.open:
                    del self.open[len(self.open) - 1 - self.open[::-1].index(name):]
            elif not match.group(0).endswith("/>"):
                self.open.append(name)
                if self.depth > limit:
                    return


def html_shape(markup: str, *, limit: int = MAX_DEPTH, max_tags: int = MAX_ITEM_TAGS + 1) -> tuple[int, int]:
    """(tags, depth) of an HTML fragment, counted no further than past ``limit`` or ``max_tags``."""
    scan = HTMLScan()
    scan.feed(markup, limit=limit, max_tags=max_tags)
    return scan.tags, scan.depth


@dataclass
class _Item:
    number: int
    depth: int
    tags: int = 0
    names: dict[str, str] = field(default_factory=dict)

    def label(self) -> str:
        for name in _NAMES:
            if self.names.get(name):
                return f"item {self.number} ({name} {self.names[name]})"
        return f"item {self.number}"


class FeedShape(xml.sax.handler.ContentHandler):
    """A SAX handler that raises :class:`MarkupError` for a document too deep or too big.

    A problem inside an item whose guid or id has not been seen yet is raised once
    the item ends (or the parse breaks off), so that the message can name it by its
    guid even when that comes after the offending element (else by link or title).
    """

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.tags = 0
        self.items = 0
        self.problem: str | None = None
        self._item: _Item | None = None
        self._child: str | None = None           # the open item's child element we are in
        self._name_text: list[str] | None = None  # the text of a guid/id/link/title being read
        self._scans: list[HTMLScan] = [HTMLScan()]
        self._text: list[str] = []

    # --- SAX ------------------------------------------------------------------------

    def startElement(self, name: str, attrs) -> None:
        self._scan_text()
        self.depth += 1
        self._count(1)
        local = name.rpartition(":")[2]
        item = self._item
        if item is None and local in _ITEMS and self.depth <= 3:
            self.items += 1
            self._item = _Item(self.items, self.depth)
        elif item is not None and self.depth == item.depth + 1:
            self._child = name
            if local in _NAMES and local not in item.names:
                href = attrs.get("href") if local == "link" else None
                if href:
                    item.names[local] = href[:200]   # Atom's link is an attribute
                else:
                    self._name_text = []
        # An element inside open HTML (escaped, then raw) is nested in both.
        self._scans.append(HTMLScan(base=self._scans[-1].depth + 1))
        if self.problem is None and self._scans[-1].base > MAX_DEPTH:
            self._found(f"markup nested more than {MAX_DEPTH} deep{self._where()}")

    def endElement(self, name: str) -> None:
        self._scan_text()
        self._count(1)
        self._scans.pop()
        item = self._item
        if item is not None and self._name_text is not None and self.depth == item.depth + 1:
            text = " ".join("".join(self._name_text).split())
            if text:
                item.names[name.rpartition(":")[2]] = text[:200]
            self._name_text = None
        if item is not None and self.depth == item.depth + 1:
            self._child = None
        if item is not None and self.depth == item.depth:
            self._item = None
            self._raise_found(item)
        self.depth -= 1

    def characters(self, content: str) -> None:
        if self.problem is None:
            self._text.append(content)
        if self._name_text is not None:
            self._name_text.append(content)

    def endDocument(self) -> None:
        self._raise_found(self._item)

    # --- counting ----------------------------------------------------------------------

    def _scan_text(self) -> None:
        if not self._text:
            return
        text = "".join(self._text)
        self._text.clear()
        if self.problem is not None:
            return
        scan = self._scans[-1]
        before = scan.tags
        # Counted no further than one past the first limit it can reach: the rest is not worth the time.
        budget = MAX_DOCUMENT_TAGS - self.tags + 1
        if self._item is not None:
            budget = min(budget, MAX_ITEM_TAGS - self._item.tags + 1)
        scan.feed(text, limit=MAX_DEPTH, max_tags=max(budget, 1))
        self._count(scan.tags - before)
        if self.problem is None and scan.depth > MAX_DEPTH:
            self._found(f"HTML nested more than {MAX_DEPTH} deep{self._where()}")

    def _count(self, tags: int) -> None:
        self.tags += tags
        if self.tags > MAX_DOCUMENT_TAGS:
            # Raised at once: no item to wait for, and nothing more worth reading.
            self._found(f"more than {MAX_DOCUMENT_TAGS} tags (XML and HTML) in the document")
            raise MarkupError(self._message(self._item))
        if self._item is not None:
            self._item.tags += tags
            if self.problem is None and self._item.tags > MAX_ITEM_TAGS:
                self._found(f"more than {MAX_ITEM_TAGS} tags (XML and HTML)")

    def _where(self) -> str:
        return f" in <{self._child}>" if self._child else ""

    def _found(self, problem: str) -> None:
        if self.problem is None:
            self.problem = problem
            # Raised now when the item's guid or id is known (or there is no item to name);
            # otherwise at its end, which may hold it.
            if self._item is None or {"guid", "id"} & self._item.names.keys():
                raise MarkupError(self._message(self._item))

    def _message(self, item: _Item | None) -> str:
        where = f"{item.label()}: " if item is not None else ""
        return f"{where}{self.problem}; refused before parsing"

    def _raise_found(self, item: _Item | None) -> None:
        if self.problem is not None:
            raise MarkupError(self._message(item))

    def message(self) -> str | None:
        """The problem found so far, naming the item it is in (for a parse that broke off)."""
        return self._message(self._item) if self.problem is not None else None


__all__ = ["MAX_DEPTH", "MAX_DOCUMENT_TAGS", "MAX_ITEM_TAGS", "FeedShape", "MarkupError", "html_shape"]
