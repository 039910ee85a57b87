"""Article pages: written at the address every entry links to, with their metadata; 410 once
deleted, gone once unpublished; none when the newsroom's own site hosts the articles."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from xml.etree import ElementTree as ET

import lxml.html
import pytest
import requests

from feeds.building.build import build
from feeds.publishing.publish import read_manifest
from feeds.serving.server import PublicFiles
from sources.model import SaveResult, Status

from .conftest import RunningServer, seen_by_the_server
from .newsroom_site import ARTICLES, DELETED, NOW, UNPUBLISHED, newsroom

ATOM = "{http://www.w3.org/2005/Atom}"
VISIBLE = [slug for slug, *_ in ARTICLES if slug not in (DELETED, UNPUBLISHED)]


@pytest.fixture
def room(tmp_path):
    made = newsroom(tmp_path / "room", "https://okes.example")
    yield made
    made.store.close()


def meta(page, name: str) -> list[str]:
    return [element.get("content") for element in page.xpath(f'//meta[@property="{name}" or @name="{name}"]')]


def test_every_entry_links_to_a_page_the_build_wrote(room):
    documents = read_manifest(room.public)
    links = {link.get("href") for path in documents if path.endswith("atom.xml")
             for link in ET.fromstring((room.public / path).read_bytes()).iter(f"{ATOM}link")
             if "/articles/" in link.get("href")}
    assert links == {f"https://okes.example/articles/{slug}" for slug in VISIBLE} | {
        f"https://okes.example/articles/{DELETED}"}   # the tombstone's link
    for slug in VISIBLE:
        entry = documents[f"articles/{slug}"]
        assert entry["content_type"] == "text/html; charset=utf-8" and set(entry["encodings"]) == {"br", "gzip"}
    assert not (room.public / "articles" / UNPUBLISHED).exists()


def test_an_article_page_holds_the_whole_article_and_what_search_engines_and_readers_look_for(room):
    page = lxml.html.fromstring((room.public / "articles/posko-banjir").read_bytes())
    link = "https://okes.example/articles/posko-banjir"
    assert page.get("lang") == "id" and page.findtext(".//h1") == "Posko Siaga Banjir Dibuka"
    assert page.xpath('//link[@rel="canonical"]/@href') == [link]
    paragraphs = page.xpath('//div[@class="content"]/p/text()')
    assert len(paragraphs) == 4 and paragraphs[-1] == "Paragraf penutup berita posko-banjir."
    assert page.xpath('//p[@class="meta"]/time/text()') == ["19 September 2024, 11.00 WIB"]
    assert page.xpath('//p[@class="meta"]/a/@href') == ["https://okes.example/author/siti-aminah/"]
    assert page.xpath('//ul[@class="terms"]//a/@href') == ["https://okes.example/category/peristiwa/",
                                                           "https://okes.example/tag/banjir/"]
    related = page.xpath('//div[@class="related"]//li')
    assert related[0].xpath("a/@href") == ["https://okes.example/articles/banjir-oku-timur"]
    assert related[1].text == "Bupati Resmikan Pasar Baru Baturaja" and not related[1].xpath("a")   # deleted
    assert {(link.get("type"), link.get("href")) for link in page.xpath('//link[@rel="alternate"]')} == {
        ("application/rss+xml", "https://okes.example/rss.xml"),
        ("application/atom+xml", "https://okes.example/atom.xml"),
        ("application/feed+json", "https://okes.example/feed.json"),
        ("application/atom+xml", "https://okes.example/category/peristiwa/atom.xml"),
        ("application/atom+xml", "https://okes.example/tag/banjir/atom.xml"),
        ("application/atom+xml", "https://okes.example/author/siti-aminah/atom.xml")}
    assert meta(page, "og:type") == ["article"] and meta(page, "og:url") == [link]
    assert meta(page, "og:title") == ["Posko Siaga Banjir Dibuka"] and meta(page, "og:site_name") == ["OKES.NEWS"]
    assert meta(page, "og:locale") == ["id_ID"] and meta(page, "article:section") == ["Peristiwa"]
    assert meta(page, "article:tag") == ["Banjir"] and meta(page, "article:author") == ["Siti Aminah"]
    assert meta(page, "article:published_time") == ["2024-09-19T11:00:00+07:00"]
    (ld,) = page.xpath('//script[@type="application/ld+json"]/text()')
    data = json.loads(ld)
    assert (data["@context"], data["@type"], data["headline"]) == ("https://schema.org", "NewsArticle",
                                                                   "Posko Siaga Banjir Dibuka")
    assert data["datePublished"] == "2024-09-19T11:00:00+07:00" and data["mainEntityOfPage"] == link
    assert data["author"] == {"@type": "Person", "name": "Siti Aminah"}
    assert data["publisher"]["name"] == "Redaksi OKES.NEWS" and data["articleSection"] == ["Peristiwa"]
    with_image = lxml.html.fromstring((room.public / "articles/banjir-oku-timur").read_bytes())
    assert meta(with_image, "og:image") == ["https://okes.example/logo.png"]
    assert with_image.xpath('//img[@class="lead-image"]/@src') == ["https://okes.example/logo.png"]


def test_a_deleted_articles_address_answers_410_and_an_unpublished_ones_404(room):
    served = RunningServer(PublicFiles(room.public, max_age=900))
    try:
        gone = requests.get(f"{served.url}/articles/{DELETED}", timeout=5)
        assert gone.status_code == 410 and gone.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "Artikel telah dihapus" in gone.text
        tombstone = ET.fromstring((room.public / "atom.xml").read_bytes()).find(
            "{http://purl.org/atompub/tombstones/1.0}deleted-entry")
        href = tombstone.find(f"{ATOM}link").get("href").replace("https://okes.example", served.url)
        assert requests.get(href, timeout=5).status_code == 410
        assert requests.get(f"{served.url}/articles/{UNPUBLISHED}", timeout=5).status_code == 404
        assert requests.get(f"{served.url}/articles/posko-banjir", timeout=5).status_code == 200

        # As the newsroom goes on: unpublish one, delete another, publish the draft again.
        room.store.unpublish("posko-banjir", NOW + timedelta(minutes=1))
        room.store.delete("debat-calon-bupati", NOW + timedelta(minutes=1))
        draft = room.store.lookup(article_id=None, slug=UNPUBLISHED)
        room.store.save(lambda existing: SaveResult("updated", replace(
            existing, status=Status.PUBLISHED, stored=NOW + timedelta(minutes=1),
            related=tuple(link for link in existing.related if not link.suggested))),
            article_id=draft.id, slug=draft.slug)
        report = build(room.store, room.site, room.public, NOW + timedelta(minutes=2))
        assert not report.full and "articles/posko-banjir" in report.removed
        seen_by_the_server()
        assert requests.get(f"{served.url}/articles/posko-banjir", timeout=5).status_code == 404
        assert not (room.public / "articles/posko-banjir").exists()
        assert requests.get(f"{served.url}/articles/debat-calon-bupati", timeout=5).status_code == 410
        assert requests.get(f"{served.url}/articles/{UNPUBLISHED}", timeout=5).status_code == 200
        # The page linking to both: the deleted one's headline as text, the published one's linked.
        linking = lxml.html.fromstring((room.public / "articles/logistik-pilkada").read_bytes())
        items = linking.xpath('//div[@class="related"]//li')
        assert [(item.text, item.xpath("a/@href")) for item in items] == [
            ("Debat Calon Bupati Digelar", []), (None, [f"https://okes.example/articles/{UNPUBLISHED}"])]
        build(room.store, room.site, room.public.parent / "full", NOW + timedelta(minutes=2), full=True)
        for path in ("articles/logistik-pilkada", "articles/debat-calon-bupati", f"articles/{UNPUBLISHED}"):
            assert (room.public / path).read_bytes() == (room.public.parent / "full" / path).read_bytes()
    finally:
        served.stop()


def test_articles_hosted_on_the_newsrooms_own_site_get_no_pages(tmp_path):
    made = newsroom(tmp_path / "room", "https://okes.example", article_url="https://okes.news/{yyyy}/{mm}/{slug}")
    try:
        documents = read_manifest(made.public)
        assert not [path for path in documents if path.startswith(("articles/", "20"))]
        links = [link.get("href") for link in ET.fromstring((made.public / "atom.xml").read_bytes()).iter(f"{ATOM}link")
                 if link.get("rel") in (None, "alternate", "related") and "okes.news" in link.get("href", "")]
        assert "https://okes.news/2024/09/posko-banjir" in links
        assert "https://okes.news/2024/09/banjir-oku-timur" in links   # a related link, with its own month
    finally:
        made.store.close()


def test_an_article_url_with_year_and_month_moves_the_page_with_its_publication(tmp_path):
    made = newsroom(tmp_path / "room", "https://okes.example", article_url="{base_url}/{yyyy}/{mm}/{slug}")
    try:
        assert (made.public / "2024/09/posko-banjir").is_file() and (made.public / "2024/07/kpu-tetapkan-dpt").is_file()
        page = lxml.html.fromstring((made.public / "2024/09/posko-banjir").read_bytes())
        assert page.xpath('//link[@rel="canonical"]/@href') == ["https://okes.example/2024/09/posko-banjir"]
        assert page.xpath('//div[@class="related"]//a/@href') == ["https://okes.example/2024/09/banjir-oku-timur"]
        moved = made.store.lookup(article_id=None, slug="posko-banjir")
        made.store.save(lambda existing: SaveResult("updated", replace(
            existing, published=existing.published - timedelta(days=30), stored=NOW + timedelta(minutes=1),
            related=tuple(link for link in existing.related if not link.suggested))),
            article_id=moved.id, slug=moved.slug)
        report = build(made.store, made.site, made.public, NOW + timedelta(minutes=2))
        assert not report.full and "2024/09/posko-banjir" in report.removed
        assert (made.public / "2024/08/posko-banjir").is_file() and not (made.public / "2024/09/posko-banjir").exists()
        build(made.store, made.site, tmp_path / "full", NOW + timedelta(minutes=2), full=True)
        assert (tmp_path / "full" / "2024/08/posko-banjir").read_bytes() == (made.public / "2024/08/posko-banjir").read_bytes()
    finally:
        made.store.close()


def test_an_address_with_nothing_answers_404_with_a_page_in_the_sites_language(room):
    # A reader following a shared link to an unpublished article, or a mistyped one, gets a
    # page of the site in its language (as a deleted article's reader does), not bare English text.
    served = RunningServer(PublicFiles(room.public, max_age=900))
    try:
        for path in (f"/articles/{UNPUBLISHED}", "/no/such/page", "/404.html"):
            for coding in ("identity", "gzip", "br"):
                missing = requests.get(served.url + path, headers={"Accept-Encoding": coding}, timeout=5)
                assert missing.status_code == 404 and missing.headers["Content-Type"] == "text/html; charset=utf-8"
                page = lxml.html.fromstring(missing.content)
                assert page.get("lang") == "id" and page.findtext(".//h1") == "Halaman tidak ditemukan"
                assert page.xpath("//main//a/@href") == ["https://okes.example/"]
        assert requests.head(f"{served.url}/no/such/page", timeout=5).status_code == 404
    finally:
        served.stop()
    english = newsroom(room.public.parent.parent / "english", "https://okes.example", language="en")
    try:
        page = lxml.html.fromstring((english.public / "404.html").read_bytes())
        assert page.get("lang") == "en" and page.findtext(".//h1") == "Page not found"
    finally:
        english.store.close()
