"""nginx in front of feedpub, with the configuration `feedpub nginx-config` prints.

The real nginx (Debian's, with libnginx-mod-http-brotli-static) runs as the test's user
on 127.0.0.1 with a temporary prefix; without nginx these tests skip saying so, unless
CI is set (.ci/run installs it): then they fail.
"""

from __future__ import annotations

import re

import pytest

from feeds.serving.nginx import BROWSER_ACCEPT, check_manifest, content_type_of, page_of
from feeds.serving.server import _wants_page_uncached

# Accept headers as browsers and feed readers send them (each browser's for a document).
ACCEPTS = [
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",   # Firefox
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
    "application/signed-exchange;v=b3;q=0.7",                                                   # Chrome
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",                         # Safari
    "text/html, application/xhtml+xml, image/jxr, */*",                                          # Edge (old)
    "application/rss+xml, application/rdf+xml;q=0.8, application/atom+xml;q=0.6, application/xml;q=0.4, "
    "text/xml;q=0.4",                                                                          # Thunderbird
    "application/atom+xml,application/rss+xml;q=0.9,application/xml;q=0.8,text/xml;q=0.7,*/*;q=0.5",  # Miniflux
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, text/html;q=0.5, "
    "*/*;q=0.1",                                                                               # feed readers
    "application/feed+json, application/json;q=0.9, */*;q=0.8",
    "*/*", "", "text/html;q=0.9, */*", "text/html;q=0", "TEXT/HTML",
]


# The one pair where they differ: a reader that names RSS and Atom, and text/html above */*,
# asks for feed.json. feedpub weighs text/html (0.5) against */* (0.1) and gives the page;
# nginx sees a feed reader and gives the feed.
DIFFERENT = {(ACCEPTS[6], "application/feed+json")}


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("feed_type", ["application/rss+xml", "application/atom+xml", "application/feed+json"])
def test_the_browser_pattern_chooses_as_feedpub_does(accept, feed_type):
    pattern = re.compile(BROWSER_ACCEPT.removeprefix("~*"), re.IGNORECASE)
    same = bool(pattern.search(accept)) == _wants_page_uncached(accept.lower(), feed_type)
    assert same != ((accept, feed_type) in DIFFERENT)


def test_each_feed_leads_to_the_page_the_build_names():
    assert page_of("rss.xml") == page_of("feed.json") == "feed.html"
    assert page_of("category/politik/atom.xml") == "category/politik/index.html"
    assert page_of("archive/2024-09-1.xml") == "archive/2024-09-1.html"
    assert page_of("tag/pilkada/archive/2024-09-2.xml") == "tag/pilkada/archive/2024-09-2.html"
    assert page_of("partners/msn/rss.xml") is None and page_of("index.html") is None


def test_a_document_nginx_would_serve_otherwise_is_named():
    manifest = {
        "rss.xml": {"content_type": "application/rss+xml; charset=utf-8", "page": "feed.html"},
        "articles/a-story": {"content_type": "text/html; charset=utf-8"},
        "category/x/rss.xml": {"content_type": "application/rss+xml; charset=utf-8", "page": "category/x/feed.html"},
        "notes.md": {"content_type": "text/markdown; charset=utf-8"},
    }
    assert check_manifest(manifest) == [
        "category/x/rss.xml: its page for people is category/x/feed.html, nginx would look for category/x/index.html",
        "notes.md: the build says 'text/markdown; charset=utf-8', nginx would send 'application/octet-stream'",
    ]
    assert content_type_of("partners/msn/0a1b2c/rss.xml") == "application/rss+xml; charset=utf-8"
