"""Where the entries sit in an RSS or Atom document rendered by feeds/rendering/formats.py.

An entry's bytes do not depend on the document it is in: each is rendered once
(and kept between builds: feeds/building/fragments.py) and documents are assembled from
them. In feedgen's pretty-printed output an entry is the span from its indented
opening tag to its indented closing tag, and entries come last in the feed (after
every feed-level element, extensions included). Text and attribute values never
hold a raw "<", so these byte strings occur only at entry boundaries.
"""

from __future__ import annotations

from collections.abc import Sequence

_BOUNDS = {"atom": (b"\n  <entry>", b"\n  </entry>"), "rss": (b"\n    <item>", b"\n    </item>")}
_CLOSE = {"atom": b"\n</feed>", "rss": b"\n  </channel>"}


def entry_spans(body: bytes, fmt: str) -> list[tuple[int, int]]:
    """(start, end) of each entry of a document in ``fmt`` ("rss" or "atom")."""
    opening, closing = _BOUNDS[fmt]
    spans = []
    start = body.find(opening)
    while start != -1:
        end = body.index(closing, start) + len(closing)
        spans.append((start, end))
        start = body.find(opening, end)
    if not spans:
        _closing(body, fmt)   # a document with no entries still has to be one of ours
    return spans


def split_entries(body: bytes, fmt: str) -> tuple[bytes, list[bytes], bytes]:
    """(before, entries, after) of a document in ``fmt`` ("rss" or "atom")."""
    spans = entry_spans(body, fmt)
    if not spans:
        cut = _closing(body, fmt)
        return body[:cut], [], body[cut:]
    return body[:spans[0][0]], [body[start:end] for start, end in spans], body[spans[-1][1]:]


def _closing(body: bytes, fmt: str) -> int:
    cut = body.rfind(_CLOSE[fmt])
    if cut == -1:
        raise ValueError(f"not a {fmt} document as feedpub writes them (no {_CLOSE[fmt].strip().decode()!r} line)")
    return cut


def splice(shell: bytes, fmt: str, entries: Sequence[bytes]) -> bytes:
    """A document with no entries (``shell``) with ``entries`` put where they belong."""
    cut = _closing(shell, fmt)
    return b"".join((shell[:cut], *entries, shell[cut:]))
