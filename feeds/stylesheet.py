"""The feeds for people: a browser that opens rss.xml or atom.xml shows a page.

``feeds/assets/feed.xsl`` (XSLT 1.0, shipped as package data) turns an RSS 2.0
or Atom 1.0 document into an HTML page: the feed, its entries and how to
subscribe. It is published as ``public/feed.xsl`` like every other document, and
every XML feed names it in an ``<?xml-stylesheet?>`` processing instruction right
after the XML declaration. Feed readers ignore the instruction.

The instruction points at the stylesheet by path only (``/feed.xsl``), so a page
opened on any host loads it from that host: browsers apply an XSLT stylesheet
only from the document's own origin.
"""

from __future__ import annotations

import html
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from feedgen.ext.base import BaseExtension
from lxml import etree

from .document import Document
from .entries import FeedView
from .site import SiteSettings

if TYPE_CHECKING:
    from feedgen.feed import FeedGenerator


STYLESHEET_PATH = "feed.xsl"       # under public/
XSL_TYPE = "text/xsl; charset=utf-8"


class StylesheetExtension(BaseExtension):
    """Feed-level extension: ``<?xml-stylesheet type="text/xsl" href="..."?>`` before the root."""

    href: str | None = None          # set after registering; None writes nothing

    def _add(self, root):
        if self.href:
            # Pseudo-attribute values may hold entity and character references (xml-stylesheet
            # 1.0, section 2); escaping ">" also keeps "?>" out of the instruction.
            data = f'type="text/xsl" href="{html.escape(self.href, quote=True)}"'
            root.addprevious(etree.ProcessingInstruction("xml-stylesheet", data))
        return root

    def extend_rss(self, feed):
        return self._add(feed)

    def extend_atom(self, feed):
        return self._add(feed)


def stylesheet_href(site: SiteSettings) -> str:
    """The stylesheet's URL without scheme and host: "/feed.xsl" (or "/prefix/feed.xsl")."""
    return urlsplit(site.url(STYLESHEET_PATH)).path


def use_stylesheet(fg: FeedGenerator, site: SiteSettings) -> None:
    """Register the extension on ``fg`` and point it at the site's stylesheet."""
    fg.register_extension("feedpub_stylesheet", StylesheetExtension, atom=True, rss=True)
    fg.feedpub_stylesheet.href = stylesheet_href(site)


@cache
def stylesheet_bytes() -> bytes:
    return files("feeds").joinpath("assets").joinpath("feed.xsl").read_bytes()


def render_stylesheet(view: FeedView, site: SiteSettings) -> Document:
    """public/feed.xsl: the packaged stylesheet, byte for byte.

    Its Last-Modified is the feed's update time (deterministic, never the wall clock).
    """

    return Document(STYLESHEET_PATH, stylesheet_bytes(), XSL_TYPE, view.updated.isoformat())
