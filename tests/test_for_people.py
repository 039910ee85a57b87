"""Pages for people: every feed's page written beside it, chosen by a browser's Accept,
readable names, the site's language, the OPML and the home page; sizes on the bench corpus."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote
from xml.etree import ElementTree as ET

import lxml.html
import pytest
import requests

from feeds.building.build import render_documents
from feeds.rendering.language import CatalogueError, languages, strings
from feeds.serving.server import PublicFiles
from feedpub.settings import utc_now
from sources.store import SQLiteStore

from .conftest import RunningServer
from .newsroom_site import DELETED, newsroom, settings

BROWSERS = {   # what each browser sends when it opens an address
    "chromium": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
                "application/signed-exchange;v=b3;q=0.7",
    "firefox": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "safari": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
}
READERS = {   # feed readers, curl and clients that send no Accept at all
    "feed reader": "application/atom+xml,application/rdf+xml,application/rss+xml,application/xml;q=0.9,"
                   "text/xml;q=0.2,*/*;q=0.1",
    "json reader": "application/feed+json, application/json;q=0.9, */*;q=0.1",
    "curl": "*/*",
    "html as much as anything": "text/html, */*",
}
FEEDS = ("/rss.xml", "/atom.xml", "/feed.json", "/category/politik/atom.xml", "/tag/pilkada-2024/rss.xml",
         "/author/siti-aminah/feed.json", "/archive/2024-07-1.xml", "/category/politik/archive/2024-07-1.xml")


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    made = newsroom(tmp_path_factory.mktemp("room"), "https://okes.example")
    yield made
    made.store.close()


@pytest.fixture(scope="module")
def served(room):
    running = RunningServer(PublicFiles(room.public, max_age=900))
    yield running
    running.stop()


def manifest(public: Path) -> dict:
    from feeds.publishing.publish import read_manifest

    return read_manifest(public)


def page(public: Path, path: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring((public / path).read_bytes())


_STEP = re.compile(r'(\w+)(?:\.([\w-]+))?(?:\[([\w-]+)="([^"]*)"\])?')


def select(element, selector: str) -> list:
    """The elements a simple CSS selector matches ("ul.readers a", "section > h2", 'link[rel="x"]')."""
    path, child = ".", False
    for step in selector.split():
        if step == ">":
            child = True
            continue
        tag, cls, attribute, value = _STEP.fullmatch(step).groups()
        path += ("/" if child else "//") + tag
        path += f'[contains(concat(" ", @class, " "), " {cls} ")]' if cls else ""
        path += f'[@{attribute}="{value}"]' if attribute else ""
        child = False
    return element.xpath(path)


def test_feeds_carry_no_stylesheet_instruction_and_no_xslt_is_published(room):
    for path, entry in manifest(room.public).items():
        if entry["content_type"].split(";")[0] in ("application/rss+xml", "application/atom+xml"):
            body = (room.public / path).read_bytes()
            assert b"xml-stylesheet" not in body and re.match(rb"<\?xml [^>]*\?>\n<(rss|feed) ", body), path
    assert not (room.public / "feed.xsl").exists()


def test_every_feed_and_archive_page_has_its_page_beside_it_precompressed(room):
    documents = manifest(room.public)
    feeds = [path for path, entry in documents.items() if entry["content_type"].split(";")[0]
             in ("application/rss+xml", "application/atom+xml", "application/feed+json")]
    assert len(feeds) == 3 * 12 + 17 and any("/archive/" in path for path in feeds)   # 12 feeds, 17 archive pages
    for path in feeds:
        target = documents[path]["page"]
        folder = path.rpartition("/")[0] + "/" if "/" in path else ""
        expected = (path.removesuffix(".xml") + ".html" if "archive/" in path
                    else "feed.html" if not folder else folder + "index.html")
        assert target == expected, path
        entry = documents[target]
        assert entry["content_type"] == "text/html; charset=utf-8" and set(entry["encodings"]) == {"br", "gzip"}
        for suffix in ("", ".br", ".gz"):
            assert (room.public / (target + suffix)).is_file(), target + suffix


@pytest.mark.parametrize("path", FEEDS)
@pytest.mark.parametrize("browser", sorted(BROWSERS))
def test_a_browser_gets_the_feeds_page_with_its_own_etag(served, room, path, browser):
    target = manifest(room.public)[path.lstrip("/")]["page"]
    response = requests.get(served.url + path, headers={"Accept": BROWSERS[browser], "Accept-Encoding": "gzip"},
                            timeout=5)
    direct = requests.get(served.url + "/" + target, headers={"Accept-Encoding": "gzip"}, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.content == (room.public / target).read_bytes()
    assert response.headers["ETag"] == direct.headers["ETag"]
    assert response.headers["Vary"] == "Accept, Accept-Encoding"
    again = requests.get(served.url + path, timeout=5, headers={
        "Accept": BROWSERS[browser], "Accept-Encoding": "gzip", "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.headers["ETag"] == response.headers["ETag"]


@pytest.mark.parametrize("path", FEEDS)
@pytest.mark.parametrize("client", sorted(READERS) + ["no accept"])
def test_readers_curl_and_any_type_get_the_feed(served, room, path, client):
    headers = {"Accept": READERS[client]} if client in READERS else {}
    response = requests.get(served.url + path, headers=headers, timeout=5)
    entry = manifest(room.public)[path.lstrip("/")]
    assert response.status_code == 200 and response.headers["Content-Type"] == entry["content_type"]
    assert response.content == (room.public / path.lstrip("/")).read_bytes()
    assert response.headers["Vary"] == "Accept, Accept-Encoding"
    # The same address gives a browser the page; a reader's ETag never revalidates the page,
    # nor the page's the feed.
    browser = requests.get(served.url + path, headers={"Accept": BROWSERS["firefox"]}, timeout=5)
    assert browser.headers["Content-Type"] == "text/html; charset=utf-8"
    page_tag = browser.headers["ETag"]
    assert page_tag != response.headers["ETag"]
    assert requests.get(served.url + path, headers={**headers, "If-None-Match": page_tag}, timeout=5).status_code == 200


def test_a_feed_page_shows_each_entry_as_a_reader_wants_it(room):
    politik = page(room.public, "category/politik/index.html")
    entries = select(politik, "article.entry")
    headlines = [select(entry, "h3 a")[0] for entry in entries]
    assert [a.text for a in headlines] == ["Logistik Pilkada Mulai Didistribusikan", "Debat Calon Bupati Digelar",
                                           "Bawaslu Awasi Netralitas ASN", "KPU OKU Tetapkan DPT Pilkada 2024"]
    assert headlines[0].get("href") == "https://okes.example/articles/logistik-pilkada"
    first = entries[0]
    assert select(first, "time")[0].text == "16 September 2024, 12.00 WIB"
    author = select(first, "p.meta a")[0]
    assert (author.text, author.get("href")) == ("Oleh Rahmad Hidayat", "https://okes.example/author/rahmad-hidayat/")
    assert [(a.text, a.get("href")) for a in select(first, "ul.terms a")] == [
        ("Politik", "https://okes.example/category/politik/"), ("Pilkada 2024", "https://okes.example/tag/pilkada-2024/")]
    lead = select(first, "div.lead p")
    assert len(lead) == 2 and lead[0].text_content().startswith(
        "BATURAJA - OKES.NEWS - Logistik Pilkada Mulai Didistribusikan menurut")   # its dateline first
    assert "Paragraf ketiga" not in lxml.html.tostring(first, encoding="unicode")   # the lead, not the whole story
    related = select(first, "div.related li")
    assert select(related[0], "a")[0].get("href") == "https://okes.example/articles/debat-calon-bupati"
    assert related[1].text == "Jadwal Debat Kedua Diumumkan" and not select(related[1], "a")   # unpublished
    banjir = page(room.public, "tag/banjir/index.html")
    assert select(banjir, "article.entry img")[0].get("src") == "https://okes.example/logo.png"


def test_a_feed_page_says_what_a_feed_is_and_how_to_subscribe(room):
    politik = page(room.public, "category/politik/index.html")
    assert select(politik, "h1")[0].text == "Kategori: Politik"
    assert select(politik, "header.site a")[0].text == "OKES.NEWS"
    subscribe = select(politik, "section.subscribe")[0]
    assert select(subscribe, "h2")[0].text == "Apa itu feed?"
    address = select(subscribe, "code.address")[0]
    assert address.text == "https://okes.example/category/politik/rss.xml"
    style = (room.public / "style.css").read_text()
    assert re.search(r"code\.address \{[^}]*\buser-select: all", style)   # one click selects it all
    links = {a.text: a.get("href") for a in select(subscribe, "ul.readers a")}
    encoded = quote("https://okes.example/category/politik/rss.xml", safe="")
    assert links == {"Feedly": f"https://feedly.com/i/subscription/feed/{encoded}",
                     "Inoreader": f"https://www.inoreader.com/?add_feed={encoded}",
                     "NewsBlur": f"https://www.newsblur.com/?url={encoded}",
                     "The Old Reader": f"https://theoldreader.com/feeds/subscribe?url={encoded}"}
    assert select(politik, "p.pager a")[0].get("href") == "https://okes.example/category/politik/archive/2024-08-1.html"


def test_an_archive_page_names_its_month_and_links_the_live_feed_and_its_neighbours(room):
    august = page(room.public, "archive/2024-08-1.html")
    assert select(august, "h1")[0].text == "Arsip Agustus 2024"
    assert not select(august, "section.subscribe") and not select(august, 'link[rel="alternate"]')
    assert "Artikel terbaru" not in lxml.html.tostring(august, encoding="unicode")
    lede = select(august, "p.lede")[0]
    assert "Agustus 2024" in lede.text_content() and select(lede, "a")[0].get("href") == "https://okes.example/feed.html"
    assert [(a.get("rel"), a.text, a.get("href")) for a in select(august, "nav.pager a")] == [
        ("prev", "Lebih lama: Juli 2024", "https://okes.example/archive/2024-07-1.html"),
        ("next", "Lebih baru: Agustus 2024, halaman 2", "https://okes.example/archive/2024-08-2.html")]
    assert len(select(august, "article.entry")) == 2 and DELETED not in lxml.html.tostring(august, encoding="unicode")
    section = page(room.public, "category/politik/archive/2024-07-1.html")
    assert select(section, "p.lede a")[0].get("href") == "https://okes.example/category/politik/"


def test_every_page_is_in_the_sites_language(tmp_path):
    english = newsroom(tmp_path / "en", "https://okes.example", language="en")
    try:
        politik = page(english.public, "category/politik/index.html")
        text = lxml.html.tostring(politik, encoding="unicode")
        assert politik.get("lang") == "en" and select(politik, "h1")[0].text == "Category: Politik"
        assert select(politik, "time")[0].text == "16 September 2024, 12:00 WIB"
        assert "<strong>Read also:</strong>" in text and "What is a feed?" in text and "Baca juga" not in text
        atom = ET.fromstring((english.public / "category/politik/atom.xml").read_bytes())
        ns = {"a": "http://www.w3.org/2005/Atom"}
        assert atom.findtext("a:title", namespaces=ns) == "OKES.NEWS — Category: Politik"
        assert atom.findtext("a:subtitle", namespaces=ns) == "Category: Politik — Berita Ogan Komering Ulu"
        index = (english.public / "index.html").read_text()
        assert "<h2>Latest articles</h2>" in index and "<h3>Categories</h3>" in index
        assert "Tags</h3>" in index and "Authors</h3>" in index and "Kategori" not in index
    finally:
        english.store.close()


def test_feed_titles_and_descriptions_read_as_one_language(room):
    atom = ET.fromstring((room.public / "category/politik/atom.xml").read_bytes())
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert atom.findtext("a:title", namespaces=ns) == "OKES.NEWS — Kategori: Politik"
    assert atom.findtext("a:subtitle", namespaces=ns) == "Kategori: Politik — Berita Ogan Komering Ulu"
    assert ET.fromstring((room.public / "tag/pilkada-2024/rss.xml").read_bytes()).findtext(
        "channel/title") == "OKES.NEWS — Topik: Pilkada 2024"


def test_every_catalogue_has_every_string_and_other_languages_are_refused():
    assert languages() == ("en", "id")
    keys = {language: set(strings(language)) for language in languages()}
    assert keys["en"] == keys["id"] and {"latest", "related", "months", "date", "kinds"} <= keys["en"]
    for language in languages():
        assert set(strings(language)["kinds"]) == set(strings(language)["groups"]) == {"category", "tag", "author"}
    assert strings("en-GB") is strings("en")
    with pytest.raises(CatalogueError, match="no strings for language 'fr': built in are en, id"):
        strings("fr")


def test_categories_in_feeds_carry_their_readable_name_and_their_sections_feed(room):
    atom = (room.public / "category/politik/atom.xml").read_text()
    assert ('<category term="Pilkada 2024" scheme="https://okes.example/tag/pilkada-2024/atom.xml" '
            'label="Pilkada 2024"/>') in atom
    rss = (room.public / "rss.xml").read_text()
    assert '<category domain="https://okes.example/category/peristiwa/rss.xml">Peristiwa</category>' in rss


def test_the_opml_lists_each_feed_once_grouped_by_kind(room):
    root = ET.fromstring((room.public / "feeds.opml").read_bytes())
    outlines = root.findall("body/outline")
    main, *groups = outlines
    assert (main.get("text"), main.get("xmlUrl")) == ("OKES.NEWS", "https://okes.example/atom.xml")
    assert [group.get("text") for group in groups] == ["Kategori", "Topik", "Penulis"]
    assert [o.get("text") for o in groups[0]] == ["OKES.NEWS — Kategori: Ekonomi", "OKES.NEWS — Kategori: Olahraga",
                                                  "OKES.NEWS — Kategori: Peristiwa", "OKES.NEWS — Kategori: Politik"]
    assert groups[0][3].get("htmlUrl") == "https://okes.example/category/politik/"
    urls = [o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")]
    assert len(urls) == len(set(urls)) == 1 + 4 + 5 + 2 and all(url.endswith("/atom.xml") for url in urls)


def test_the_home_page_groups_sections_under_headings_by_kind(room):
    home = page(room.public, "index.html")
    groups = {select(section, "h3")[0].text: [a.text for a in select(section, "ul.sections > li > a")]
              for section in select(home, "section.group")}
    assert groups == {"Kategori": ["Kategori: Ekonomi", "Kategori: Olahraga", "Kategori: Peristiwa", "Kategori: Politik"],
                      "Topik": ["Topik: Banjir", "Topik: Debat", "Topik: Harga Pangan", "Topik: Liga 3",
                                "Topik: Pilkada 2024"],
                      "Penulis": ["Penulis: Rahmad Hidayat", "Penulis: Siti Aminah"]}
    assert "feedpub" not in lxml.html.tostring(home, encoding="unicode")
    latest = select(home, "ul.latest a")
    assert latest[0].text == "Posko Siaga Banjir Dibuka" and DELETED not in "".join(a.get("href") for a in latest)


def test_pages_load_nothing_from_another_origin_and_run_no_script(room):
    for path, entry in manifest(room.public).items():
        if not entry["content_type"].startswith("text/html"):
            continue
        document = page(room.public, path)
        assert [s.get("type") for s in select(document, "script")] in ([], ["application/ld+json"]), path
        assert [link.get("href") for link in select(document, 'link[rel="stylesheet"]')] == ["/style.css"], path
        policy = select(document, 'meta[http-equiv="Content-Security-Policy"]')[0].get("content")
        assert "default-src 'none'" in policy and "style-src 'self'" in policy, path


def test_a_fifty_entry_page_of_the_bench_corpus_is_small_and_so_is_the_stylesheet(tmp_path):
    from bench.corpus import END, generate, load

    store = SQLiteStore(tmp_path / "bench.sqlite3", clock=utc_now)
    try:
        load(store, generate(120))
        site = replace(settings("https://news.example.com"), items_per_feed=50, archive_entries=50, catalogue=())
        documents = {doc.path: doc for doc in render_documents(store, site, END)}
    finally:
        store.close()
    feed_page = documents["feed.html"].body
    assert len(select(lxml.html.fromstring(feed_page), "article.entry")) == 50
    assert len(feed_page) <= 150_000, len(feed_page)
    assert len(documents["style.css"].body) <= 10_000
