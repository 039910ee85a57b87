"""RSS and Atom documents: read back by feedparser, pinned by golden files, deterministic."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest

from feeds.building.build import build, render_documents
from feeds.rendering.entries import EPOCH

from .conftest import DATA, INGEST_TIME, SAMPLE, write_article

GOLDEN = DATA / "golden"
# Documents whose content follows the store (the others are bundled assets).
CONTENT_DOCUMENTS = ("rss.xml", "atom.xml", "feed.json", "index.html")
AHY_FULL = "AHY Tekankan Keadilan dalam Pengadaan Tanah: Hak Warga Harus Dihormati"
AHY_MARKER = "AHY Tekankan Keadilan dalam Pengadaan Tanah"   # the sample's words for it: the label


@pytest.fixture
def sample_store(store, ingest):
    ingest(SAMPLE, author="Rahmad Hidayat", categories=["Politik"], tags=["Pilkada 2024"])
    return store


def read(doc):
    """feedparser, told the content type as a server would tell it."""
    return feedparser.parse(doc.body, response_headers={"content-type": doc.content_type})


def documents(store, site, now=INGEST_TIME):
    return {doc.path: doc for doc in render_documents(store, site, now)}


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml", "feed.json"])
def test_golden_files_pin_the_sample_feeds(sample_store, site, name):
    body = documents(sample_store, site)[name].body
    golden = GOLDEN / f"sample.{name}"
    if os.environ.get("FEEDPUB_UPDATE_GOLDEN"):
        golden.write_bytes(body)
    assert body == golden.read_bytes(), f"run with FEEDPUB_UPDATE_GOLDEN=1 to accept changes to {golden.name}"


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml"])
def test_feedparser_reads_the_sample_whole(sample_store, site, name):
    parsed = read(documents(sample_store, site)[name])
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.feed.title == "OKES.NEWS"
    assert parsed.feed.language == "id"
    (entry,) = parsed.entries
    assert entry.id == "tag:okes.example,2024-09-18:okes-forkopimda-oku-pilkada-2024"
    assert entry.link == "https://okes.example/articles/okes-forkopimda-oku-pilkada-2024"
    assert entry.author == "Rahmad Hidayat"
    assert entry.published.endswith("+0700") or entry.published.endswith("+07:00")
    assert [t.term if name == "rss.xml" else t.label for t in entry.tags] == ["Politik", "Pilkada 2024"]
    content = entry.content[0].value
    for paragraph in SAMPLE.read_text(encoding="utf-8").splitlines():
        if paragraph.startswith("BACA JUGA"):
            continue
        fragment = paragraph.split(" - ")[-1].removesuffix(" (*)")
        assert fragment.replace('"', "&quot;") in content or fragment in content
    # Pending related links are readable at the end, as text without a link.
    assert "<strong>Baca juga:</strong>" in content
    assert "<li>Bhabinkamtibmas Dituntut Mampu Ciptakan Situasi Aman dan Kondusif Selama Pemilukada</li>" in content
    assert entry.summary.startswith("Menjelang Pilkada Serentak 2024")


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml"])
def test_resolved_related_links_are_structured_and_readable(sample_store, ingest, tmp_path, site, name):
    target = write_article(tmp_path, "ahy.txt", f'---\ntitle: "{AHY_FULL}"\n---\nIsi.')
    ingest(target, now=INGEST_TIME - timedelta(hours=1))
    parsed = read(documents(sample_store, site)[name])
    assert parsed.bozo == 0
    sample = next(e for e in parsed.entries if "okes-forkopimda" in e.id)
    related = [link for link in sample.links if link.rel == "related"]
    assert [(link.href, link.title) for link in related] == [("https://okes.example/articles/ahy", AHY_MARKER)]
    assert f'<li><a href="https://okes.example/articles/ahy">{AHY_MARKER}</a></li>' in sample.content[0].value


def test_entries_are_newest_first_and_limited(store, ingest, tmp_path, site):
    for hour in range(5):
        ingest(write_article(tmp_path, f"a{hour}.txt", f"Berita ke-{hour}."), now=INGEST_TIME + timedelta(hours=hour))
    from dataclasses import replace

    small = replace(site, items_per_feed=3)
    parsed = read(documents(store, small, INGEST_TIME + timedelta(days=1))["atom.xml"])
    assert [e.id.rsplit(":", 1)[1] for e in parsed.entries] == ["a4", "a3", "a2"]


def test_no_wall_clock_in_documents(sample_store, site):
    """Same visible content at different times gives the same bytes."""
    early = documents(sample_store, site, INGEST_TIME)
    late = documents(sample_store, site, INGEST_TIME + timedelta(days=400))
    assert {k: d.body for k, d in early.items()} == {k: d.body for k, d in late.items()}
    assert b"2024-09-18T14:30:00+07:00" in early["atom.xml"].body
    assert b"<lastBuildDate>Wed, 18 Sep 2024 14:30:00 +0700</lastBuildDate>" in early["rss.xml"].body


def test_an_empty_store_still_renders_valid_stable_feeds(store, site):
    docs = documents(store, site)
    for name in ("rss.xml", "atom.xml"):
        parsed = read(docs[name])
        assert parsed.bozo == 0 and parsed.entries == []
    assert __import__("json").loads(docs["feed.json"].body)["items"] == []
    assert docs["atom.xml"].updated == EPOCH.astimezone(site.zone).isoformat()


def test_embargoed_articles_are_invisible_until_their_time(store, ingest, tmp_path, site):
    release = INGEST_TIME + timedelta(hours=3)
    ingest(write_article(tmp_path, "embargo.txt", f"---\npublished: {release.isoformat()}\n---\nRahasia sampai waktunya."))
    before = documents(store, site, release - timedelta(seconds=1))
    assert all(b"Rahasia" not in doc.body and b"embargo" not in doc.body for doc in before.values())
    after = documents(store, site, release)
    assert all(b"Rahasia" in after[name].body for name in CONTENT_DOCUMENTS)


def test_build_writes_only_changed_files(sample_store, site, tmp_path):
    out = tmp_path / "public"
    first = build(sample_store, site, out, INGEST_TIME)
    assert set(CONTENT_DOCUMENTS) <= set(first.written)
    inodes = {name: os.stat(out / name).st_ino for name in first.written}
    again = build(sample_store, site, out, INGEST_TIME + timedelta(minutes=15), full=True)
    assert again.full and again.written == () and sorted(again.unchanged) == sorted(first.written)
    nothing = build(sample_store, site, out, INGEST_TIME + timedelta(minutes=30))
    assert not nothing.full and nothing.written == nothing.unchanged == nothing.removed == ()
    assert {name: os.stat(out / name).st_ino for name in inodes} == inodes
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_same_store_gives_byte_identical_builds(sample_store, site, tmp_path):
    build(sample_store, site, tmp_path / "one", INGEST_TIME)
    build(sample_store, site, tmp_path / "two", INGEST_TIME + timedelta(hours=1))
    for name in (*CONTENT_DOCUMENTS, ".manifest.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_json_feed_carries_the_related_links_in_its_extension(sample_store, ingest, tmp_path, site):
    import json

    ingest(write_article(tmp_path, "ahy.txt", f'---\ntitle: "{AHY_FULL}"\n---\nIsi.'), now=INGEST_TIME - timedelta(hours=1))
    document = json.loads(documents(sample_store, site)["feed.json"].body)
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["feed_url"] == "https://okes.example/feed.json"
    sample = next(item for item in document["items"] if "okes-forkopimda" in item["id"])
    # feedparser 6.0 reads no JSON Feed, so the fields are checked here one by one.
    assert sample["id"] == "tag:okes.example,2024-09-18:okes-forkopimda-oku-pilkada-2024"
    assert sample["url"] == "https://okes.example/articles/okes-forkopimda-oku-pilkada-2024"
    assert sample["title"].startswith("Menjelang Pilkada") and sample["summary"].startswith("Menjelang Pilkada")
    assert sample["content_html"].count("<p>") == 14 and '<a href="https://okes.example/articles/ahy">' in sample["content_html"]
    # Its link resolved after its first version was stored at 14:30:00: a version of its own, later.
    assert sample["date_modified"] == "2024-09-18T14:30:01+07:00"
    assert sample["_feedpub"]["related"] == [{"url": "https://okes.example/articles/ahy", "title": AHY_MARKER}]
    assert sample["date_published"] == "2024-09-18T14:30:00+07:00" and sample["authors"] == [{"name": "Rahmad Hidayat"}]
    assert sample["tags"] == ["Politik", "Pilkada 2024"] and sample["language"] == "id"


def test_the_index_page_lists_and_advertises_both_feeds(sample_store, site):
    page = documents(sample_store, site)["index.html"].body.decode()
    assert '<link rel="alternate" type="application/rss+xml" title="OKES.NEWS (RSS 2.0)" href="https://okes.example/rss.xml">' in page
    assert '<link rel="alternate" type="application/atom+xml" title="OKES.NEWS (Atom 1.0)" href="https://okes.example/atom.xml">' in page
    assert "Menjelang Pilkada Serentak 2024" in page and "18 September 2024, 14.30 WIB" in page


def test_the_bundled_sample_is_the_newsroom_article_as_written():
    # tests/data/newsroom/ holds the article exactly as the newsroom handed it over.
    as_written = Path(__file__).resolve().parent / "data" / "newsroom" / SAMPLE.name
    assert SAMPLE.read_bytes() == as_written.read_bytes()


def test_a_back_dated_article_still_moves_the_feeds_modification_time(sample_store, ingest, tmp_path, site):
    """Last-Modified (and so If-Modified-Since) must see an article stored later with an older date."""
    before = documents(sample_store, site, INGEST_TIME + timedelta(hours=2))
    later = INGEST_TIME + timedelta(hours=2)
    ingest(write_article(tmp_path, "lama.txt", "---\npublished: 2024-09-01T08:00:00+07:00\n---\nBerita lama."), now=later)
    after = documents(sample_store, site, later)
    for name in CONTENT_DOCUMENTS:
        assert after[name].updated == later.isoformat() > before[name].updated
