"""public/feeds.opml: every feed of the site as an OPML 2.0 subscription list.

A feed reader imports it to subscribe to all of them at once
(http://opml.org/spec2.opml, "Subscription lists"). Deterministic like every
document: ``dateModified`` is the feed's update time, never the wall clock.
"""

from __future__ import annotations

from email.utils import format_datetime
from xml.etree import ElementTree as ET

from .document import Document
from .entries import FeedView
from .site import SiteSettings

OPML_PATH = "feeds.opml"           # under public/
OPML_TYPE = "text/x-opml; charset=utf-8"


def render_opml(view: FeedView, site: SiteSettings) -> Document:

    feed = view.feed
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = feed.title
    if not view.is_empty:          # an empty feed has no meaningful time
        ET.SubElement(head, "dateModified").text = format_datetime(view.updated)
    ET.SubElement(head, "ownerName").text = site.publisher
    body = ET.SubElement(root, "body")
    # OPML 2.0 calls every feed format type="rss" in a subscription list. The main
    # feed first, then the catalogue (one Atom outline each: one subscription per section).
    outlines = [(feed, feed.rss_path, "RSS 2.0"), (feed, feed.atom_path, "Atom 1.0"),
                (feed, feed.json_path, "JSON Feed 1.1")]
    outlines += [(term, term.atom_path, "Atom 1.0") for term in view.catalogue]
    for definition, path, name in outlines:
        label = f"{definition.title} ({name})"
        ET.SubElement(body, "outline", {
            "type": "rss",
            "text": label,
            "title": label,
            "description": definition.description,
            "language": site.language,
            "xmlUrl": site.url(path),
            "htmlUrl": definition.html_url,
        })
    ET.indent(root)
    data = ET.tostring(root, encoding="unicode")
    body_bytes = f'<?xml version="1.0" encoding="UTF-8"?>\n{data}\n'.encode("utf-8")
    return Document(OPML_PATH, body_bytes, OPML_TYPE, view.updated.isoformat())
