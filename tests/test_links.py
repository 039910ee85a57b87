"""Every link in every document resolves: a crawl of the site over a real HTTP server.

Starting at the home page and at every document the manifest lists, each ``href``,
``src`` and URL-valued field of every document served (feeds in every format and as
the page a browser gets, archives, section feeds, the index, the OPML, article pages)
that points at the site's own origin is fetched; every answer is 200 but for the
addresses of deleted articles, which answer 410 Gone.
"""

from __future__ import annotations

import json
from collections import deque
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.html
import pytest
import requests
from lxml import etree

from feeds.publishing.publish import read_manifest
from feeds.serving.server import PublicFiles

from .conftest import RunningServer
from .newsroom_site import DELETED, newsroom

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
# XML attributes and elements whose value is an address (RSS 2.0, Atom, OPML, Media RSS).
URL_ATTRIBUTES = ("href", "src", "url", "xmlUrl", "htmlUrl", "domain", "scheme")
URL_ELEMENTS = ("link", "url", "logo", "icon", "comments")
JSON_URLS = ("url", "feed_url", "home_page_url", "icon", "favicon", "image", "banner_image", "external_url")


def html_links(body: bytes, base: str) -> set[str]:
    if not body.strip():
        return set()
    document = lxml.html.fromstring(body)
    found = {element.get(name) for name in ("href", "src", "poster") for element in document.xpath(f"//*[@{name}]")}
    found |= {element.get("content") for element in document.xpath('//meta[@property="og:url" or @property="og:image"]')}
    for script in document.xpath('//script[@type="application/ld+json"]/text()'):
        found |= json_links(json.loads(script), base)
    return {urljoin(base, link) for link in found if link}


def xml_links(body: bytes, base: str) -> set[str]:
    found: set[str] = set()
    for element in etree.fromstring(body).iter():
        if not isinstance(element.tag, str):
            continue
        name = etree.QName(element).localname
        found |= {element.get(attribute) for attribute in URL_ATTRIBUTES if element.get(attribute)}
        if name in URL_ELEMENTS and element.text and element.text.strip():
            found.add(element.text.strip())
        if name in ("content", "encoded", "description", "summary") and element.text and "<" in element.text:
            found |= html_links(element.text.encode(), base)
    return {urljoin(base, link) for link in found}


def json_links(data, base: str) -> set[str]:
    found: set[str] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            if key in JSON_URLS + ("mainEntityOfPage",) and isinstance(value, str):
                found.add(urljoin(base, value))
            elif key == "content_html" and isinstance(value, str):
                found |= html_links(value.encode(), base)
            else:
                found |= json_links(value, base)
    elif isinstance(data, list):
        for value in data:
            found |= json_links(value, base) if not isinstance(value, str) or not value.startswith("http") \
                else {urljoin(base, value)}
    return found


def links_of(response: requests.Response) -> set[str]:
    kind = response.headers.get("Content-Type", "").split(";")[0]
    if kind == "text/html":
        return html_links(response.content, response.url)
    if kind.endswith("json"):
        return json_links(response.json(), response.url)
    if kind.endswith("xml") or kind == "text/x-opml":
        return xml_links(response.content, response.url)
    return set()


@pytest.fixture
def site_served(tmp_path):
    running = RunningServer(PublicFiles(tmp_path / "room" / "public", max_age=900))
    room = newsroom(tmp_path / "room", running.url)
    yield running, room
    running.stop()
    room.store.close()


def test_every_link_on_the_site_resolves(site_served):
    served, room = site_served
    origin = urlsplit(served.url).netloc
    gone = {f"{served.url}/articles/{DELETED}"}
    # Every document the build wrote but the page an address with nothing answers (404, linked from nowhere).
    start = [served.url + "/"] + [f"{served.url}/{path}" for path, entry in sorted(read_manifest(room.public).items())
                                  if entry.get("status") != 404]
    queue, seen, answers, sources = deque(start), set(start), {}, {}
    session = requests.Session()
    while queue:
        url = queue.popleft()
        responses = [session.get(url, headers={"Accept": "*/*"}, timeout=5)]
        if responses[0].headers.get("Vary", "").startswith("Accept,"):   # a feed: its page for browsers too
            responses.append(session.get(url, headers={"Accept": BROWSER}, timeout=5))
        answers[url] = responses[0].status_code
        for response in responses:
            for link in links_of(response) if response.status_code == 200 else ():
                link = urldefrag(link).url
                if urlsplit(link).netloc != origin:
                    continue
                sources.setdefault(link, url)
                if link not in seen:
                    seen.add(link)
                    queue.append(link)
    wrong = {url: (status, sources.get(url)) for url, status in answers.items()
             if status != (410 if url in gone else 200)}
    assert not wrong, wrong
    linked = set(sources)
    assert gone <= linked   # from the tombstone
    assert len(answers) > 100 and {f"{served.url}/category/politik/", f"{served.url}/archive/2024-07-1.html",
                                   f"{served.url}/articles/posko-banjir", f"{served.url}/style.css"} <= linked
