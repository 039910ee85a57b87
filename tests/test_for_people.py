"""The feeds for people: the XSL stylesheet, its <?xml-stylesheet?> instruction, feeds.opml,
and what a real browser (Debian's chromium, headless) shows for rss.xml and atom.xml."""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import requests
from lxml import etree

from feeds.build import build, render_documents
from feeds.stylesheet import stylesheet_bytes

from .conftest import INGEST_TIME, SAMPLE

CHROMIUM = Path("/usr/bin/chromium")
PI = re.compile(rb'\A<\?xml [^>]*\?>\n<\?xml-stylesheet type="text/xsl" href="([^"]+)"\?>\n')
ENTRY_TITLE = "Menjelang Pilkada Serentak 2024"
DATES = {"rss.xml": "Wed, 18 Sep 2024 14:30:00 +0700", "atom.xml": "2024-09-18 14:30 +07:00"}


@pytest.fixture
def public(tmp_path, store, ingest, site):
    ingest(SAMPLE)
    out = tmp_path / "public"
    report = build(store, site, out, INGEST_TIME)
    assert {"feed.xsl", "feeds.opml"} <= set(report.written)
    return out


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml"])
def test_each_xml_feed_names_the_stylesheet_the_build_wrote(public, name):
    body = (public / name).read_bytes()
    match = PI.match(body)
    assert match, body[:200]
    href = match.group(1).decode()
    assert href == "/feed.xsl"   # path only: the page loads it from whatever host served the feed
    assert (public / href.lstrip("/")).read_bytes() == stylesheet_bytes()
    manifest = json.loads((public / ".manifest.json").read_bytes())["documents"]
    assert manifest["feed.xsl"]["content_type"] == "text/xsl; charset=utf-8"
    assert manifest["feed.xsl"]["updated"] == manifest[name]["updated"]   # content time, not the clock


def test_the_stylesheet_path_follows_a_base_url_with_a_path(store, site):
    docs = {doc.path: doc.body for doc in render_documents(store, replace(site, base_url="https://x.example/news"), INGEST_TIME)}
    for name in ("rss.xml", "atom.xml"):
        assert PI.match(docs[name]).group(1) == b"/news/feed.xsl"


def test_the_stylesheet_is_self_contained_xslt_1():
    xsl = stylesheet_bytes()
    root = etree.fromstring(xsl)
    assert root.get("version") == "1.0"
    etree.XSLT(root)   # compiles with libxslt, the XSLT 1.0 engine Chromium uses
    for outside in (b"<script", b"<link", b"@import", b"url(", b"<xsl:import", b"<xsl:include", b"document("):
        assert outside not in xsl


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml"])
def test_the_stylesheet_turns_each_feed_into_a_page(public, name):
    """The transformation itself, without a browser: libxslt through lxml."""
    transform = etree.XSLT(etree.fromstring(stylesheet_bytes()))
    page = str(transform(etree.parse(str(public / name))))
    assert "<h1>OKES.NEWS</h1>" in page and "Berita Ogan Komering Ulu" in page
    assert '<a href="https://okes.example/articles/okes-forkopimda-oku-pilkada-2024">' + ENTRY_TITLE in page
    assert DATES[name] in page
    assert f'<code id="feed-url">https://okes.example/{name}</code>' in page
    assert '<html lang="id">' in page and "Cara berlangganan" in page


def test_an_empty_feed_page_says_so(store, site):
    transform = etree.XSLT(etree.fromstring(stylesheet_bytes()))
    for doc in render_documents(store, replace(site, language="en"), INGEST_TIME):
        if doc.path in ("rss.xml", "atom.xml"):
            page = str(transform(etree.fromstring(doc.body).getroottree()))
            assert "Nothing published yet." in page and "How to subscribe" in page


def test_the_opml_lists_every_feed(public, site):
    body = (public / "feeds.opml").read_bytes()
    root = ET.fromstring(body)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "OKES.NEWS"
    assert root.findtext("head/dateModified") == "Wed, 18 Sep 2024 14:30:00 +0700"
    outlines = root.findall("body/outline")
    assert [o.get("xmlUrl") for o in outlines] == [
        "https://okes.example/rss.xml", "https://okes.example/atom.xml", "https://okes.example/feed.json"]
    for outline in outlines:
        assert outline.get("type") == "rss" and outline.get("htmlUrl") == "https://okes.example/"
        assert outline.get("text") == outline.get("title") and outline.get("text").startswith("OKES.NEWS (")
    manifest = json.loads((public / ".manifest.json").read_bytes())["documents"]
    assert manifest["feeds.opml"]["content_type"] == "text/x-opml; charset=utf-8"
    page = (public / "index.html").read_text(encoding="utf-8")
    assert 'href="https://okes.example/feeds.opml"' in page


def test_the_opml_has_no_wall_clock(store, ingest, site):
    ingest(SAMPLE)
    early = {d.path: d.body for d in render_documents(store, site, INGEST_TIME)}
    late = {d.path: d.body for d in render_documents(store, site, INGEST_TIME + timedelta(days=400))}
    assert early["feeds.opml"] == late["feeds.opml"] and early["feed.xsl"] == late["feed.xsl"]


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
READER_ACCEPT = "application/atom+xml,application/rdf+xml,application/rss+xml,application/xml;q=0.9,text/xml;q=0.2,*/*;q=0.1"


@pytest.mark.parametrize(("path", "feed_type"), [("/rss.xml", "application/rss+xml"), ("/atom.xml", "application/atom+xml")])
def test_browsers_get_the_feed_as_xml_readers_as_a_feed(server, path, feed_type):
    """Chromium shows application/rss+xml and atom+xml as text, without running the stylesheet."""
    reader = requests.get(server.url + path, headers={"Accept": READER_ACCEPT}, timeout=5)
    plain = requests.get(server.url + path, timeout=5)                       # Accept: */*
    browser = requests.get(server.url + path, headers={"Accept": BROWSER_ACCEPT}, timeout=5)
    assert reader.headers["Content-Type"] == plain.headers["Content-Type"] == f"{feed_type}; charset=utf-8"
    assert browser.headers["Content-Type"] == "application/xml; charset=utf-8"
    assert browser.content == reader.content
    assert {r.headers["Vary"] for r in (reader, plain, browser)} == {"Accept, Accept-Encoding"}
    assert browser.headers["ETag"] != reader.headers["ETag"] == plain.headers["ETag"]
    again = requests.get(server.url + path, timeout=5,
                         headers={"Accept": BROWSER_ACCEPT, "If-None-Match": browser.headers["ETag"]})
    assert again.status_code == 304 and again.headers["ETag"] == browser.headers["ETag"]
    xsl = requests.get(server.url + "/feed.xsl", headers={"Accept": BROWSER_ACCEPT}, timeout=5)
    assert xsl.headers["Content-Type"] == "text/xsl; charset=utf-8" and xsl.headers["Vary"] == "Accept-Encoding"
    opml = requests.get(server.url + "/feeds.opml", timeout=5)
    assert opml.headers["Content-Type"] == "text/x-opml; charset=utf-8"


def chromium_or_skip() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: CI installs Debian's chromium package (.ci/run)")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); the browser test runs in CI")


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml"])
def test_a_browser_shows_the_feed_as_a_page(server, tmp_path, name):
    chromium = chromium_or_skip()
    result = subprocess.run(
        [str(chromium), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", "--dump-dom", f"{server.url}/{name}"],
        capture_output=True, text=True, timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert "&lt;rss" not in dom and "&lt;feed" not in dom, "shown as text: the stylesheet did not run"
    assert "<h1>OKES.NEWS</h1>" in dom, dom[:2000]
    assert f'<a href="https://okes.example/articles/okes-forkopimda-oku-pilkada-2024">{ENTRY_TITLE}' in dom
    assert DATES[name] in dom
    subscribe = re.search(r'<section id="subscribe">(.*?)</section>', dom, re.S)
    assert subscribe and f'<code id="feed-url">https://okes.example/{name}</code>' in subscribe.group(1)
