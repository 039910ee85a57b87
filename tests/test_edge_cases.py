"""Awkward articles in every format: well-formed, safe, faithful (corpus in tests/edge_corpus.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import feedparser
import pytest
from lxml import etree

from feeds.building.build import render_documents
from feeds.rendering.entries import FeedView, History, deleted_entries, main_feed, make_entry, newest
from feeds.rendering.formats import Rendered, entry_fragments, render_atom, render_json_feed, render_rss
from feeds.site import SiteSettings

from .edge_corpus import LONG_TITLE, NOW, fill

ATOM = "{http://www.w3.org/2005/Atom}"
HOSTILE = ("<script", "alert(", "onclick", "javascript:", "<iframe", "evil.example", "<style", "display:none")


@pytest.fixture
def corpus_docs(tmp_path):
    from feedpub.settings import utc_now
    from sources.store import SQLiteStore

    # The newsroom's links only: "no related links" must stay none (suggestions: test_suggestions.py).
    store = SQLiteStore(tmp_path / "corpus.sqlite3", clock=utc_now, suggest_related=False)
    fill(store)
    site = SiteSettings(title="OKES & Co <Uji>", description="Korpus uji", base_url="https://okes.example",
                        author="Redaksi")
    return {doc.path: doc for doc in render_documents(store, site, NOW)}


def parsed(doc):
    return feedparser.parse(doc.body, response_headers={"content-type": doc.content_type})


def by_slug(entries):
    return {entry.id.rsplit(":", 1)[1]: entry for entry in entries}


def json_items(corpus_docs):
    return {item["id"].rsplit(":", 1)[1]: item for item in json.loads(corpus_docs["feed.json"].body)["items"]}


def test_every_document_is_well_formed_and_free_of_xml_invalid_characters(corpus_docs):
    for name in ("rss.xml", "atom.xml", "feeds.opml"):
        etree.fromstring(corpus_docs[name].body)   # raises on anything ill-formed
    json.loads(corpus_docs["feed.json"].body)
    for doc in corpus_docs.values():
        if doc.path.endswith(".png"):
            continue
        text = doc.body.decode("utf-8")
        assert not any(ch in text for ch in "\x00\x0b\x1f"), doc.path


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml"])
def test_readers_see_every_visible_entry_and_no_deleted_one(corpus_docs, name):
    feed = parsed(corpus_docs[name])
    assert feed.bozo == 0
    entries = by_slug(feed.entries)
    assert len(entries) == 20 and "dihapus" not in entries
    assert feed.feed.title == "OKES & Co <Uji>"


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml", "feed.json"])
def test_scripts_handlers_iframes_and_javascript_urls_are_removed(corpus_docs, name):
    if name == "feed.json":
        content = json_items(corpus_docs)["berbahaya"]["content_html"]
    else:
        content = by_slug(parsed(corpus_docs[name]).entries)["berbahaya"].content[0].value
    assert "Teks" in content and "aman." in content and "merah" in content
    for bad in HOSTILE:
        assert bad not in content, bad


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml", "feed.json"])
def test_relative_links_and_images_become_absolute(corpus_docs, name):
    if name == "feed.json":
        content = json_items(corpus_docs)["relatif"]["content_html"]
    else:
        content = by_slug(parsed(corpus_docs[name]).entries)["relatif"].content[0].value
    for url in ("https://okes.example/foto/rapat", "https://okes.example/2024/09/arsip.html",
                "https://okes.example/2024/09/img/rapat.jpg", "https://cdn.okes.example/x.png"):
        assert f'"{url}"' in content, url


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml", "feed.json"])
def test_titles_survive_escaping_untouched(corpus_docs, name):
    if name == "feed.json":
        titles = {slug: item["title"] for slug, item in json_items(corpus_docs).items()}
    else:
        titles = {slug: entry.title for slug, entry in by_slug(parsed(corpus_docs[name]).entries).items()}
    assert titles["escape"] == 'Harga Cabai & Bawang <Naik> "Tajam"'
    assert titles["cdata"] == "Judul dengan ]]> di dalamnya"
    assert titles["emoji-rtl"] == "🎉 Perayaan HUT OKU — مرحبا بالعالم"
    assert titles["kendali"] == "Karakter kendali dalam judul"
    assert titles["judul-panjang"] == LONG_TITLE and len(LONG_TITLE) == 300


def test_right_to_left_text_and_emoji_stay_in_the_content(corpus_docs):
    entry = by_slug(parsed(corpus_docs["atom.xml"]).entries)["emoji-rtl"]
    assert '<p dir="rtl">مرحبا بالعالم 🎉</p>' in entry.content[0].value


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml"])
def test_ten_related_links_and_none(corpus_docs, name):
    entries = by_slug(parsed(corpus_docs[name]).entries)
    related = [link for link in entries["sepuluh-tautan"].links if link.get("rel") == "related"]
    assert [link.title for link in related] == [f"Berita terkait nomor {i}" for i in range(10)]
    assert all(link.href.startswith("https://okes.example/2024/09/terkait-") for link in related)
    assert not [link for link in entries["tanpa-tautan"].links if link.get("rel") == "related"]
    assert "Baca juga" not in entries["tanpa-tautan"].content[0].value


def test_an_entry_edited_twice_is_one_entry_with_the_last_version(corpus_docs):
    atom = etree.fromstring(corpus_docs["atom.xml"].body)
    (entry,) = [e for e in atom.iter(f"{ATOM}entry") if e.findtext(f"{ATOM}id").endswith(":disunting")]
    assert "Versi ketiga." in entry.findtext(f"{ATOM}content")
    assert entry.findtext(f"{ATOM}published") == "2024-09-18T08:30:00+07:00"
    assert entry.findtext(f"{ATOM}updated") == "2024-09-18T08:50:00+07:00"
    item = json_items(corpus_docs)["disunting"]
    assert (item["date_published"], item["date_modified"]) == ("2024-09-18T08:30:00+07:00", "2024-09-18T08:50:00+07:00")


def test_rss_plain_text_uses_hexadecimal_references(corpus_docs):
    body = corpus_docs["rss.xml"].body
    assert b"<title>Harga Cabai &#x26; Bawang &#x3C;Naik&gt; \"Tajam\"</title>" in body
    assert b"<title>Harga Cabai &amp;" not in body


@pytest.mark.parametrize("render", [render_rss, render_atom, render_json_feed])
def test_documents_assembled_from_kept_entries_are_what_feedgen_renders_whole(tmp_path, render):
    """Builds splice entries rendered once (feeds/rendering/splice.py) into an entry-less document; the
    result is byte for byte what feedgen writes when handed the entries with the rest."""
    from feedpub.settings import utc_now
    from sources.store import SQLiteStore

    store = SQLiteStore(tmp_path / "corpus.sqlite3", clock=utc_now)
    fill(store)
    site = SiteSettings(title="OKES & Co <Uji>", description="Korpus uji", base_url="https://okes.example",
                        author="Redaksi", hubs=("https://hub.example/",))
    entries = tuple(make_entry(article, site) for article in
                    store.articles(store.latest_ids(None, None, NOW, 50), NOW))
    deleted = deleted_entries(store.deleted_since(NOW - timedelta(days=30), NOW), site)
    assert len(entries) == 20 and deleted and any(entry.related for entry in entries)
    view = FeedView(main_feed(site), entries, newest(entries, deleted, site), deleted,
                    history=History(archive=True, current="atom.xml", prev="archive/2024-08-1.xml"))
    fmt = {render_rss: "rss", render_atom: "atom", render_json_feed: "json"}[render]
    kept = Rendered(tuple(entry_fragments(entries, site, fmt)), any(entry.image for entry in entries))
    whole, spliced = render(view, site), render(replace(view, entries=()), site, kept)
    assert spliced.body == whole.body
    assert whole.body.count(b"Berita terkait nomor 3") >= 2   # the entries are in it, links and all
    store.close()
