"""The feed catalogue: a feed per category, tag and author, in every format."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import feedparser

from feeds.building.build import render_documents
from feeds.rendering.catalogue import term_slugs
from sources.text import slugify

from .conftest import INGEST_TIME, SAMPLE, write_article


def docs(store, site, now=INGEST_TIME + timedelta(hours=1)):
    return {d.path: d for d in render_documents(store, site, now)}


def titles(doc):
    return [e.title for e in feedparser.parse(doc.body, response_headers={"content-type": doc.content_type}).entries]


def test_each_category_tag_and_author_has_its_feeds(tmp_path, store, ingest, site):
    site = replace(site, catalogue=("category", "tag", "author"))
    ingest(SAMPLE, author="Rahmad Hidayat", categories=["Politik"], tags=["Pilkada 2024"])
    ingest(write_article(tmp_path, "banjir.txt", '---\ntitle: "Banjir di OKU Timur"\nauthor: Siti\n'
                         'categories: [Peristiwa]\ntags: [Banjir]\n---\nIsi.'), now=INGEST_TIME + timedelta(minutes=5))
    documents = docs(store, site)
    for base in ("category/politik", "tag/pilkada-2024", "author/rahmad-hidayat",
                 "category/peristiwa", "tag/banjir", "author/siti"):
        assert {f"{base}/rss.xml", f"{base}/atom.xml", f"{base}/feed.json"} <= set(documents), base
    assert titles(documents["category/peristiwa/atom.xml"]) == ["Banjir di OKU Timur"]
    assert len(titles(documents["tag/pilkada-2024/rss.xml"])) == 1
    assert titles(documents["author/siti/rss.xml"]) == ["Banjir di OKU Timur"]
    parsed = feedparser.parse(documents["category/politik/atom.xml"].body)
    assert parsed.bozo == 0 and parsed.feed.title == "OKES.NEWS — Kategori: Politik"
    assert parsed.feed.links[0].href == "https://okes.example/category/politik/atom.xml"   # its own self link


def test_an_embargoed_article_gives_its_category_no_feed_before_its_time(tmp_path, store, ingest, site):
    site = replace(site, catalogue=("category",))
    later = INGEST_TIME + timedelta(days=1)
    ingest(write_article(tmp_path, "rahasia.txt", f"---\ncategories: [Rahasia]\npublished: {later.isoformat()}\n---\nIsi."))
    assert not any(path.startswith("category/") for path in docs(store, site))
    assert "category/rahasia/rss.xml" in docs(store, site, later)


def test_slugs_are_file_safe_stable_and_distinct():
    slugs = term_slugs(["Politik", "politik!", "Pilkada 2024", "Ekonomi & Bisnis", "مرحبا", "Şehir"])
    assert slugs["Pilkada 2024"] == "pilkada-2024" and slugs["Ekonomi & Bisnis"] == "ekonomi-bisnis"
    assert {slugs["Politik"], slugs["politik!"]} == {"politik", "politik-2"}
    assert slugs["مرحبا"].startswith("t-") and slugs["Şehir"] == "sehir"
    assert term_slugs(["politik!", "Politik"]) == {"Politik": "politik", "politik!": "politik-2"}   # order-proof


def test_the_catalogue_can_be_turned_off(store, ingest, site):
    ingest(SAMPLE, categories=["Politik"])
    assert not any("/" in path for path in docs(store, replace(site, catalogue=()))
                   if not path.startswith((".", "articles/")))


def test_the_index_page_and_the_opml_list_the_catalogue(store, ingest, site):
    from lxml import etree

    ingest(SAMPLE, categories=["Politik"])
    documents = docs(store, replace(site, catalogue=("category",)))
    page = documents["index.html"].body.decode()
    assert '<a href="https://okes.example/category/politik/atom.xml">Atom</a>' in page
    outlines = etree.fromstring(documents["feeds.opml"].body).findall(".//outline")
    assert "https://okes.example/category/politik/atom.xml" in [o.get("xmlUrl") for o in outlines]


def test_a_name_has_a_feed_once_an_article_readers_can_see_carries_it_and_keeps_it(tmp_path):
    from feedpub.settings import utc_now
    from sources.model import SaveResult, Status
    from sources.store import SQLiteStore

    from .edge_corpus import NOW, T0, article

    store = SQLiteStore(tmp_path / "terms.sqlite3", clock=utc_now)
    later = NOW + timedelta(days=1)
    for item in (article(1, "terlihat", "Terlihat", "<p>a</p>", tags=("Terlihat",), author="Ani"),
                 article(2, "draf", "Draf", "<p>b</p>", tags=("Draf",), author="Budi", status=Status.DRAFT),
                 article(3, "nanti", "Nanti", "<p>c</p>", tags=("Nanti",), author="Citra", published=later,
                         updated=later),
                 article(4, "hapus", "Hapus", "<p>d</p>", tags=("Hapus",), author="Dedi")):
        store.save(lambda existing, item=item: SaveResult("created", item), article_id=item.id, slug=item.slug)
    store.delete("hapus", T0 + timedelta(minutes=30))
    # Readers saw "Hapus" before it was deleted: its feed stays. A draft's and an embargoed
    # article's names have none yet.
    assert store.terms("tag", NOW) == ["Hapus", "Terlihat"] and store.terms("author", NOW) == ["Ani", "Dedi"]
    assert store.terms("tag", later) == ["Hapus", "Nanti", "Terlihat"]   # the embargo lifted
    assert store.terms("category", T0 - timedelta(days=1)) == []
    store.close()


def test_names_of_any_length_get_slugs_that_fit_a_file_name_stable_and_distinct():
    """A slug is a folder's name: 255 bytes at most on every file system (issue #15)."""
    shared = ("pemilihan kepala daerah serentak ogan komering ulu sumatera selatan " * 5)[:250]
    first, second = shared + " putaran pertama", shared + " putaran kedua"
    fits = "a" * 127 + "-" + "b" * 127                  # a slug of exactly 255 characters
    multibyte = "Pemilu Sumatera Selatan 🗳️ 选举 Pilkada Kémah " * 10
    names = [first, second, fits, fits + "c", multibyte, "选举" * 150, "🗳️" * 100, "x" * 1000, "Pilkada 2024"]
    slugs = term_slugs(names)
    assert all(len(slug.encode()) <= 255 for slug in slugs.values()), {n[:20]: len(s) for n, s in slugs.items()}
    assert len(set(slugs.values())) == len(names)
    assert slugs[fits] == fits and slugs["Pilkada 2024"] == "pilkada-2024"   # slugs that fitted keep their path
    # Cut at a word boundary, then a digest of the whole name: the two differ only there.
    head, digest = slugs[first].rsplit("-", 1)
    assert len(digest) == 12 and (slugify(shared) + "-").startswith(head + "-") and len(head) > 200
    assert slugs[second].rsplit("-", 1)[0] == head and slugs[second] != slugs[first]
    assert slugs[multibyte].startswith("pemilu-sumatera-selatan-pilkada-kemah-pemilu-")
    assert slugs["x" * 1000] == "x" * 242 + "-" + slugs["x" * 1000][-12:]   # one long word: cut where it must be
    # Stable: another instance, another order, other names beside it.
    assert term_slugs(list(reversed(names)) + ["Banjir"]) == {**slugs, "Banjir": "banjir"}
    # Told apart with "-2" as before, the suffix within the limit too.
    assert term_slugs([fits, fits.upper()]) == {fits.upper(): fits, fits: "a" * 127 + "-2"}
