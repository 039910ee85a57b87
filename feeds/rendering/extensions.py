"""feedgen extensions for what feedgen 1.0.0 cannot say by itself.

- Atom entry links lose ``rel``/``type``/``title``/``length``: ``FeedEntry.atom_entry``
  rebinds its loop variable to the new element before reading those keys
  (python-feedgen issues #135 and #143). Related links are therefore written
  here, not through ``FeedEntry.link``.
- RSS items get no ``atom:link`` at all; RSS readers that know Atom links
  (and the W3C validator) expect related links as ``atom:link rel="related"``.
"""

from __future__ import annotations

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.util import xml_elem

ATOM_NS = "http://www.w3.org/2005/Atom"


class LinksExtension(BaseExtension):
    """Feed-level half of the pair; the Atom namespace is already declared by feedgen."""


class LinksEntryExtension(BaseEntryExtension):
    """Extra ``<link>`` elements of one entry, with every attribute kept."""

    def __init__(self) -> None:
        self._links: list[dict[str, str]] = []

    def add(self, href: str, rel: str, *, title: str | None = None, type: str | None = None,
            length: int | None = None) -> None:
        link = {"href": href, "rel": rel}
        if title:
            link["title"] = title
        if type:
            link["type"] = type
        if length is not None:
            link["length"] = str(length)
        self._links.append(link)

    def extend_atom(self, entry):
        # In feedgen's Atom tree elements carry no namespace; the root's
        # xmlns attribute puts them in Atom's, so ours must match.
        for link in self._links:
            xml_elem("link", entry, **link)
        return entry

    def extend_rss(self, item):
        for link in self._links:
            xml_elem(f"{{{ATOM_NS}}}link", item, **link)
        return item


SY_NS = "http://purl.org/rss/1.0/modules/syndication/"
MEDIA_NS = "http://search.yahoo.com/mrss/"
TOMBSTONE_NS = "http://purl.org/atompub/tombstones/1.0"


class SyndicationExtension(BaseExtension):
    """RSS ``sy:updatePeriod``/``sy:updateFrequency`` with the module's own spelling.

    feedgen's ``syndication`` extension writes ``sy:UpdatePeriod``, which the
    RDF Site Summary syndication module does not define (the W3C validator
    rejects it).
    """

    def __init__(self) -> None:
        self.period: str | None = None       # hourly, daily, weekly, monthly, yearly
        self.frequency: int = 1              # updates per period

    def extend_ns(self):
        return {"sy": SY_NS}

    def extend_rss(self, rss_feed):
        if self.period:
            channel = rss_feed[0]
            xml_elem(f"{{{SY_NS}}}updatePeriod", channel).text = self.period
            xml_elem(f"{{{SY_NS}}}updateFrequency", channel).text = str(self.frequency)
        return rss_feed

    def extend_atom(self, atom_feed):
        return atom_feed


class SyndicationEntryExtension(BaseEntryExtension):
    """Nothing per entry; feedgen wants a class for each registered extension."""


class MediaExtension(BaseExtension):
    """Declares Media RSS, in documents that carry a lead image."""

    def __init__(self) -> None:
        self.used = False

    def extend_ns(self):
        return {"media": MEDIA_NS} if self.used else {}


class MediaEntryExtension(BaseEntryExtension):
    """An entry's lead image: RSS ``enclosure``, Atom ``link rel="enclosure"``, and
    ``media:content``/``media:thumbnail`` in both.

    feedgen's own ``enclosure()`` goes through ``FeedEntry.link`` and so loses
    ``rel`` in Atom (the #135/#143 bug above); it is written here instead.
    """

    def __init__(self) -> None:
        self.url: str | None = None
        self.media_type: str | None = None
        self.length: int | None = None
        self.width: int | None = None      # pixels, when measured (0 or None: not known)
        self.height: int | None = None

    def _media(self, parent) -> None:
        content = xml_elem(f"{{{MEDIA_NS}}}content", parent, url=self.url, medium="image")
        if self.media_type:
            content.attrib["type"] = self.media_type
        if self.length is not None:
            content.attrib["fileSize"] = str(self.length)
        if self.width and self.height:   # Media RSS 1.5.1, media:content: "width", "height" in pixels
            content.attrib["width"], content.attrib["height"] = str(self.width), str(self.height)
        xml_elem(f"{{{MEDIA_NS}}}thumbnail", parent, url=self.url)

    def extend_rss(self, item):
        if self.url:
            # RSS 2.0 requires url, length and type: only a measured image qualifies.
            if self.media_type and self.length is not None:
                xml_elem("enclosure", item, url=self.url, length=str(self.length), type=self.media_type)
            self._media(item)
        return item

    def extend_atom(self, entry):
        if self.url:
            link = xml_elem("link", entry, rel="enclosure", href=self.url)
            if self.media_type:
                link.attrib["type"] = self.media_type
            if self.length is not None:
                link.attrib["length"] = str(self.length)
            self._media(entry)
        return entry


class TombstoneExtension(BaseExtension):
    """RFC 6721 ``at:deleted-entry`` elements for recently deleted entries (Atom only)."""

    def __init__(self) -> None:
        self.deleted: list[tuple[str, str, str | None]] = []   # (ref, when, link)

    def extend_ns(self):
        return {"at": TOMBSTONE_NS} if self.deleted else {}

    def extend_atom(self, atom_feed):
        for ref, when, href in self.deleted:
            tombstone = xml_elem(f"{{{TOMBSTONE_NS}}}deleted-entry", atom_feed, ref=ref, when=when)
            if href:
                xml_elem("link", tombstone, rel="alternate", href=href)   # RFC 6721 section 2.2
        return atom_feed

    def extend_rss(self, rss_feed):
        return rss_feed


class TombstoneEntryExtension(BaseEntryExtension):
    """Nothing per entry."""


class SourceExtension(BaseExtension):
    """Feed-level half of the pair: nothing to add."""


class SourceEntryExtension(BaseEntryExtension):
    """Where a syndicated entry came from: a partner's feed.

    - Atom: ``<link rel="via">`` to the partner's feed (RFC 4287 section 4.2.7.2) and
      ``<source>`` with that feed's id, title and self link (section 4.2.11).
    - RSS 2.0: ``<source url="feed">name</source>``.

    feedgen 1.0.0 offers an RSS ``source`` only, and its Atom links lose ``rel``
    (#135/#143), so both are written here.
    """

    def __init__(self) -> None:
        self.name: str | None = None
        self.url: str | None = None
        self.updated: str | None = None   # ISO 8601

    def extend_atom(self, entry):
        if self.url:
            xml_elem("link", entry, rel="via", href=self.url)
            source = xml_elem("source", entry)
            xml_elem("id", source).text = self.url
            xml_elem("title", source).text = self.name or self.url
            xml_elem("link", source, rel="self", href=self.url)
            if self.updated:
                # The partner feed's own time is not kept; it was updated at least when
                # this entry was (the W3C validator asks for one: MissingSourceElement).
                xml_elem("updated", source).text = self.updated
        return entry

    def extend_rss(self, item):
        if self.url:
            xml_elem("source", item, url=self.url).text = self.name or self.url
        return item


class HubExtension(BaseExtension):
    """RSS channel ``atom:link rel="hub"`` (WebSub section 4); feedgen's RSS output keeps
    only the self link of the links it is given."""

    def __init__(self) -> None:
        self.hubs: tuple[str, ...] = ()

    def extend_rss(self, rss_feed):
        channel = rss_feed[0]
        # Right after the self link, where subscribers look for the pair.
        previous = channel.find(f"{{{ATOM_NS}}}link")
        for hub in self.hubs:
            link = xml_elem(f"{{{ATOM_NS}}}link", channel, href=hub, rel="hub")
            if previous is not None:
                previous.addnext(link)   # moves it from the end of the channel
            previous = link
        return rss_feed

    def extend_atom(self, atom_feed):
        return atom_feed


class HubEntryExtension(BaseEntryExtension):
    """Nothing per entry."""


FH_NS = "http://purl.org/syndication/history/1.0"


class HistoryExtension(BaseExtension):
    """RFC 5005 archive links and ``fh:archive`` (Atom only: feeds/rendering/archive.py).

    feedgen refuses link relations it does not know (``prev-archive``), so they are
    written here, beside the feed's other links.
    """

    def __init__(self) -> None:
        self.archive = False                          # an archive document, not the subscription one
        self.links: list[tuple[str, str]] = []        # (rel, href)

    def extend_ns(self):
        return {"fh": FH_NS} if self.archive else {}

    def extend_atom(self, atom_feed):
        anchor = atom_feed.findall("link")[-1] if atom_feed.findall("link") else None
        added = [xml_elem("link", atom_feed, rel=rel, href=href, type="application/atom+xml")
                 for rel, href in self.links]
        if self.archive:
            added.insert(0, xml_elem(f"{{{FH_NS}}}archive", atom_feed))
        for element in added if anchor is not None else ():
            anchor.addnext(element)   # moves it up, among the feed's links
            anchor = element
        return atom_feed

    def extend_rss(self, rss_feed):
        return rss_feed


class HistoryEntryExtension(BaseEntryExtension):
    """Nothing per entry."""
