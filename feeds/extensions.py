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
