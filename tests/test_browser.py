"""The pages in a real browser: Debian's headless Chromium, driven through chromedriver
(tests/webdriver.py), over a real HTTP server, at 375 px (a phone) and 1,440 px.

For the home page, a feed, a section's feed and an archive page (each opened by the
feed's own address: the browser's Accept gets the page) and an article page, through
the DOM: the entries and their links are those of the feed, nothing is wider than the
screen, the console has no error or warning, and nothing is fetched from another
origin. axe-core (installed from npm by .ci/run into .ci/node_modules) reports no
serious or critical violation, in light and in dark mode. Screenshots of every page are
written to a folder the run names (``FEEDPUB_SCREENSHOTS``, else a temporary folder),
printed after the run.

Without chromium and chromedriver, or without axe-core, the tests skip locally and
fail under CI (the ``CI`` environment variable set).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import pytest

from feeds.serving.server import PublicFiles

from .conftest import ROOT, RunningServer, free_port
from .newsroom_site import newsroom
from .webdriver import Browser, available

AXE = Path(os.environ.get("FEEDPUB_AXE_CORE") or ROOT / ".ci" / "node_modules" / "axe-core" / "axe.min.js")
WIDTHS = {375: 812, 1440: 900}
ATOM = "{http://www.w3.org/2005/Atom}"
# What each page is opened by, and the Atom document whose entries it must show (None: no feed).
PAGES = {
    "index": ("/", None),
    "feed": ("/rss.xml", "atom.xml"),
    "section": ("/category/politik/atom.xml", "category/politik/atom.xml"),
    "archive": ("/archive/2024-08-1.xml", "archive/2024-08-1.xml"),
    "article": ("/articles/logistik-pilkada", None),
}


def skip_or_fail(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{why}: CI installs it (.ci/run)")
    pytest.skip(f"{why}; the browser test runs in CI")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    running = RunningServer(PublicFiles(folder / "room" / "public", max_age=900))
    room = newsroom(folder / "room", running.url)
    yield running, room
    running.stop()
    room.store.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    missing = available()
    if missing:
        skip_or_fail(f"{missing} not installed (apt-get install chromium chromium-driver)")
    folder = tmp_path_factory.mktemp("chromium")
    opened = Browser(free_port(), folder / "profile", folder / "chromedriver.log")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("FEEDPUB_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")
    return folder


def expected_links(room, atom: str | None) -> list[str]:
    if atom is None:
        return []
    root = ET.fromstring((room.public / atom).read_bytes())
    return [entry.find(f"{ATOM}link").get("href") for entry in root.findall(f"{ATOM}entry")]


def visit(browser: Browser, url: str, width: int, *, dark: bool = False) -> None:
    browser.logs("browser"), browser.logs("performance")   # what came before is not this page's
    browser.viewport(width, WIDTHS[width], dark=dark)
    browser.open(url)


def fetched(browser: Browser) -> list[str]:
    """What went over the network (chrome:// and data: URLs are the browser's own)."""
    urls = []
    for entry in browser.logs("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if urlsplit(url).scheme not in ("chrome", "data"):
                urls.append(url)
    return urls


@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize("name", list(PAGES))
def test_a_page_in_a_browser(site, browser, screenshots, record_property, name, width):
    served, room = site
    path, atom = PAGES[name]
    visit(browser, served.url + path, width)
    state = browser.run("""
        const links = (selector) => Array.from(document.querySelectorAll(selector), (a) => a.href);
        return {
            type: document.contentType, title: document.title, lang: document.documentElement.lang,
            h1: document.querySelector('h1').textContent, width: window.innerWidth,
            scrollWidth: document.documentElement.scrollWidth,
            fontSize: parseFloat(getComputedStyle(document.body).fontSize),
            styled: getComputedStyle(document.querySelector('header.site')).borderBottomStyle,
            entries: links('article.entry h3 a'), latest: links('ul.latest a'),
            related: links('div.related a'), address: (document.querySelector('code.address') || {}).textContent,
            pager: links('nav.pager a'), groups: Array.from(document.querySelectorAll('section.group h3'), (h) => h.textContent),
        };""")
    browser.screenshot(screenshots / f"{name}-{width}.png")
    record_property("screenshots", str(screenshots))
    assert state["type"] == "text/html" and state["lang"] == "id" and state["width"] == width
    assert state["scrollWidth"] <= width, "wider than the screen"
    assert state["fontSize"] >= 16 and state["styled"] == "solid"   # the stylesheet applied
    if atom:
        assert state["entries"] == expected_links(room, atom) and state["entries"]
    if name == "index":
        assert state["latest"] == expected_links(room, "atom.xml") and state["groups"] == ["Kategori", "Topik", "Penulis"]
    elif name == "feed":
        assert state["h1"] == "OKES.NEWS" and state["address"] == f"{served.url}/rss.xml"
    elif name == "section":
        assert state["h1"] == "Kategori: Politik" and state["address"] == f"{served.url}/category/politik/rss.xml"
    elif name == "archive":
        assert state["h1"] == "Arsip Agustus 2024" and state["address"] is None
        assert state["pager"] == [f"{served.url}/archive/2024-07-1.html", f"{served.url}/archive/2024-08-2.html"]
    elif name == "article":
        assert state["h1"] == "Logistik Pilkada Mulai Didistribusikan"
        assert state["related"] == [f"{served.url}/articles/debat-calon-bupati"]   # the other one is unpublished
    console = [(entry["level"], entry["message"]) for entry in browser.logs("browser")
               if entry["level"] in ("SEVERE", "WARNING")]
    assert not console, console
    requests = fetched(browser)
    assert requests and all(urlsplit(url).netloc == urlsplit(served.url).netloc for url in requests), requests
    # Accessibility, in light and in dark mode (the last check: without axe-core it skips here).
    if not AXE.is_file():
        skip_or_fail(f"{AXE} missing (npm install --prefix .ci axe-core), the page passed the other checks")
    for dark in (False, True):
        if dark:
            visit(browser, served.url + path, width, dark=True)
        assert not axe_violations(browser), ("dark" if dark else "light", axe_violations(browser))


def axe_violations(browser: Browser) -> list[dict]:
    """axe-core's serious and critical violations on the page open in ``browser``."""
    browser.run(AXE.read_text(encoding="utf-8") + "\nwindow.axe = axe;")
    violations = browser.run_async("""
        const done = arguments[arguments.length - 1];
        window.axe.run(document, {resultTypes: ['violations']})
            .then((result) => done(result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' '))}))))
            .catch((error) => done([{id: 'axe failed', impact: 'critical', help: String(error), nodes: []}]));""")
    return [v for v in violations if v["impact"] in ("serious", "critical")]
