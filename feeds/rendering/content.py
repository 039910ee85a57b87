"""Making article text and HTML safe for every feed format.

- HTML is cleaned by nh3 (Rust's ammonia): scripts, styles, iframes, event
  handlers and ``javascript:`` URLs never reach a reader; relative links and
  image sources are resolved against the article's URL, because a feed reader
  has no page to resolve them against (RFC 4287 section 8.1 lets xml:base do
  it, but many readers ignore it).
- Text loses the characters XML 1.0 cannot carry, whatever store it came from.
Escaping is left to the serialisers (lxml for XML, json for JSON Feed).
"""

from __future__ import annotations

import nh3

from sources.text import xml_safe

# Tags and attributes beyond nh3's defaults that news content uses.
_TAGS = set(nh3.ALLOWED_TAGS) | {"figure", "figcaption", "picture", "source", "video", "audio"}
_ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "a": {"href", "hreflang", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "source": {"src", "type", "media"},
    "video": {"src", "poster", "controls", "width", "height"},
    "audio": {"src", "controls"},
    "time": {"datetime"},
    "*": {"dir", "lang"},   # right-to-left and foreign-language passages stay readable
}


def safe_html(html: str, *, base_url: str) -> str:
    return nh3.clean(
        xml_safe(html),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        url_relative=("rewrite_with_base", base_url),
        link_rel=None,          # keep the newsroom's links as they are
        strip_comments=True,
    )


def safe_text(text: str) -> str:
    return xml_safe(text)
