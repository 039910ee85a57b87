"""Suggested related articles: the store's suggestion index (sources/suggest.py) over a corpus of
Indonesian news on different subjects."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from feedpub.settings import utc_now
from feeds.building.build import render_documents
from sources.store import SQLiteStore

from .conftest import DATA, INGEST_TIME, SAMPLE, latest_published, write_article

TOPICS = DATA / "articles" / "topik"
PILKADA = {"kpu-dpt-pilkada", "bawaslu-netralitas-asn", "debat-calon-bupati"}
BANJIR = {"banjir-oku-timur", "bpbd-perahu-karet"}

pytestmark = pytest.mark.both_stores

# The sample article without its BACA JUGA lines: the newsroom named nothing.
UNLINKED = "\n".join(line for line in SAMPLE.read_text(encoding="utf-8").splitlines()
                     if not line.startswith("BACA JUGA"))


def suggestions(store, slug, now=INGEST_TIME + timedelta(hours=1)):
    article = next(a for a in latest_published(store, now, 100) if a.slug == slug)
    return [link for link in article.related if link.suggested]


def test_an_article_about_the_election_is_offered_election_stories(tmp_path, store, ingest):
    ingest(TOPICS)
    ingest(write_article(tmp_path, "rakor.txt", UNLINKED), now=INGEST_TIME + timedelta(minutes=1))
    found = suggestions(store, "rakor")
    assert {link.target.slug for link in found} == PILKADA
    assert all(link.target is not None for link in found)


def test_a_flood_story_is_offered_flood_stories_first(tmp_path, store, ingest):
    ingest(TOPICS)
    ingest(write_article(tmp_path, "banjir-baru.txt",
                         "MUARADUA - OKES.NEWS - Banjir kembali merendam permukiman warga di bantaran sungai.\n"
                         "BPBD mendirikan posko dan tenda darurat bagi warga terdampak banjir."),
           now=INGEST_TIME + timedelta(minutes=1))
    slugs = [link.target.slug for link in suggestions(store, "banjir-baru")]
    assert set(slugs[:2]) == BANJIR


def test_the_newsrooms_own_links_are_never_mixed_with_suggestions(store, ingest):
    ingest(TOPICS)
    ingest(SAMPLE, now=INGEST_TIME + timedelta(minutes=1))
    assert suggestions(store, SAMPLE.stem) == []


def test_suggestions_are_marked_in_the_feeds(tmp_path, store, ingest, site):
    ingest(TOPICS)
    ingest(write_article(tmp_path, "rakor.txt", UNLINKED), now=INGEST_TIME + timedelta(minutes=1))
    docs = {d.path: d for d in render_documents(store, site, INGEST_TIME + timedelta(hours=1))}
    item = next(i for i in json.loads(docs["feed.json"].body)["items"] if i["id"].endswith(":rakor"))
    assert "related" not in item["_feedpub"]   # the newsroom named none: its suggestions are apart
    suggested = item["_feedpub"]["suggested"]
    assert len(suggested) == 3 and {link["url"].rsplit("/", 1)[1] for link in suggested} == PILKADA


def test_an_embargoed_story_is_not_suggested_before_its_time(tmp_path, store, ingest, site):
    ingest(TOPICS)
    later = INGEST_TIME + timedelta(days=1)
    ingest(write_article(tmp_path, "rahasia.txt",
                         f"---\ntitle: \"Pilkada OKU: KPU Umumkan Hasil Rahasia\"\npublished: {later.isoformat()}\n---\n"
                         "KPU OKU Pilkada debat calon bupati pemilih tetap Bawaslu netralitas."))
    ingest(write_article(tmp_path, "rakor.txt", UNLINKED), now=INGEST_TIME + timedelta(minutes=1))
    docs = render_documents(store, site, INGEST_TIME + timedelta(hours=1))
    assert all(b"Rahasia" not in d.body for d in docs)


def test_suggestions_can_be_turned_off(tmp_path, store, ingest):
    store.suggest_related = False   # as store.suggest_related = false opens it
    ingest(TOPICS)
    ingest(write_article(tmp_path, "rakor.txt", UNLINKED))
    assert suggestions(store, "rakor") == []


def test_sharing_the_dateline_or_a_word_is_not_relatedness(tmp_path, store, ingest):
    ingest(TOPICS)
    ingest(SAMPLE)
    ingest(write_article(tmp_path, "persib.txt",
                         "BATURAJA - OKES.NEWS - Persib menjuarai liga musim ini.\nGol tunggal dicetak striker asing."),
           now=INGEST_TIME + timedelta(minutes=1))
    # Only the football story shares enough; the election and flood stories from the
    # same city and publication do not come up.
    assert {link.target.slug for link in suggestions(store, "persib")} <= {"ps-oku-final", "pelatih-ps-oku"}
    ingest(write_article(tmp_path, "gempa.txt",
                         "BATURAJA - OKES.NEWS - Gempa kecil terasa di wilayah selatan.\nTidak ada kerusakan dilaporkan."),
           now=INGEST_TIME + timedelta(minutes=2))
    assert suggestions(store, "gempa") == []
