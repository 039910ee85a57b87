"""public/feeds.opml: every feed of the site as an OPML 2.0 subscription list.

A feed reader imports it to subscribe to all of them at once
(http://opml.org/spec2.opml, "Subscription lists"): each feed once, in Atom (the
format with the tombstones and the archives), the main feed first, then the
category, tag and author feeds, each kind in an outline of its own titled in the
site's language. Deterministic like every document: ``dateModified`` is the
feed's update time, never the wall clock.
"""

from __future__ import annotations

from email.utils import format_datetime
from xml.etree import ElementTree as ET

from ..site import SiteSettings
from .document import Document
from .entries import FeedDefinition, FeedView
from .language import strings

OPML_PATH = "feeds.opml"           # under public/
OPML_TYPE = "text/x-opml; charset=utf-8"


def _subscription(parent: ET.Element, feed: FeedDefinition, site: SiteSettings) -> None:
    # OPML 2.0 calls every feed format type="rss" in a subscription list.
    ET.SubElement(parent, "outline", {
        "type": "rss",
        "text": feed.title,
        "title": feed.title,
        "description": feed.description,
        "language": site.language,
        "xmlUrl": site.url(feed.atom_path),
        "htmlUrl": feed.html_url,
    })


def render_opml(view: FeedView, site: SiteSettings) -> Document:
    feed = view.feed
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = feed.title
    if not view.is_empty:          # an empty feed has no meaningful time
        ET.SubElement(head, "dateModified").text = format_datetime(view.updated)
    ET.SubElement(head, "ownerName").text = site.publisher
    body = ET.SubElement(root, "body")
    _subscription(body, feed, site)
    groups: dict[str, ET.Element] = {}
    for term in view.catalogue:
        if term.kind not in groups:
            label = strings(site.language)["groups"][term.kind]
            groups[term.kind] = ET.SubElement(body, "outline", {"text": label, "title": label})
        _subscription(groups[term.kind], term, site)
    ET.indent(root)
    data = ET.tostring(root, encoding="unicode")
    body_bytes = f'<?xml version="1.0" encoding="UTF-8"?>\n{data}\n'.encode("utf-8")
    return Document(OPML_PATH, body_bytes, OPML_TYPE, view.updated.isoformat())
