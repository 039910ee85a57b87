"""Edits and deletions: entries keep their identity; deleted ones leave with a tombstone."""

from __future__ import annotations

from datetime import timedelta

import feedparser
import pytest
from lxml import etree

from feeds.building.build import render_documents
from sources.model import Status

from .conftest import INGEST_TIME, SAMPLE, write_article

AT = "http://purl.org/atompub/tombstones/1.0"
ATOM = "http://www.w3.org/2005/Atom"

pytestmark = pytest.mark.both_stores


def docs(store, site, now):
    return {doc.path: doc for doc in render_documents(store, site, now)}


def test_an_article_edited_twice_keeps_its_identity(tmp_path, store, ingest, site):
    path = write_article(tmp_path, "berita.txt", "Versi satu.")
    ingest(path)
    for version, hours in (("Versi dua.", 1), ("Versi tiga.", 2)):
        path.write_text(version, encoding="utf-8")
        ingest(path, now=INGEST_TIME + timedelta(hours=hours))
    now = INGEST_TIME + timedelta(hours=3)
    for name in ("rss.xml", "atom.xml"):
        parsed = feedparser.parse(docs(store, site, now)[name].body)
        (entry,) = parsed.entries
        assert entry.id == "tag:okes.example,2024-09-18:berita"
        assert "Versi tiga." in entry.content[0].value
        assert entry.published_parsed != entry.updated_parsed if name == "atom.xml" else True
    atom = etree.fromstring(docs(store, site, now)["atom.xml"].body)
    assert atom.findtext(f"{{{ATOM}}}entry/{{{ATOM}}}updated") == "2024-09-18T16:30:00+07:00"
    assert atom.findtext(f"{{{ATOM}}}entry/{{{ATOM}}}published") == "2024-09-18T14:30:00+07:00"


def test_a_deleted_article_leaves_every_feed_and_atom_keeps_a_tombstone(store, ingest, site):
    ingest(SAMPLE)
    deleted_at = INGEST_TIME + timedelta(days=1)
    article = store.delete("okes-forkopimda-oku-pilkada-2024", deleted_at)
    assert article.status is Status.DELETED
    now = deleted_at + timedelta(minutes=1)
    documents = docs(store, site, now)
    for name in ("rss.xml", "atom.xml", "feed.json", "index.html"):
        assert b"Forkopimda" not in documents[name].body
    atom = etree.fromstring(documents["atom.xml"].body)
    (tombstone,) = atom.findall(f"{{{AT}}}deleted-entry")
    assert tombstone.get("ref") == article.id
    assert tombstone.get("when") == "2024-09-19T14:30:00+07:00"
    assert tombstone.find(f"{{{ATOM}}}link").get("href") == "https://okes.example/articles/okes-forkopimda-oku-pilkada-2024"
    assert atom.findtext(f"{{{ATOM}}}updated") == "2024-09-19T14:30:00+07:00"
    assert b"deleted-entry" not in documents["rss.xml"].body


def test_the_tombstone_expires_after_the_configured_days(store, ingest, site):
    ingest(SAMPLE)
    store.delete(SAMPLE.stem, INGEST_TIME + timedelta(days=1))
    assert b"deleted-entry" in docs(store, site, INGEST_TIME + timedelta(days=30))["atom.xml"].body
    later = docs(store, site, INGEST_TIME + timedelta(days=32))["atom.xml"].body
    assert b"deleted-entry" not in later and b"xmlns:at=" not in later


def test_an_embargoed_article_deleted_before_release_leaves_no_trace(tmp_path, store, ingest, site):
    release = INGEST_TIME + timedelta(days=2)
    ingest(write_article(tmp_path, "rahasia.txt", f"---\npublished: {release.isoformat()}\n---\nRahasia."))
    store.delete("rahasia", INGEST_TIME + timedelta(hours=1))
    for doc in docs(store, site, release + timedelta(hours=1)).values():
        assert b"rahasia" not in doc.body.lower()


def test_ingesting_a_deleted_article_again_restores_it(store, ingest, site):
    ingest(SAMPLE)
    store.delete(SAMPLE.stem, INGEST_TIME + timedelta(hours=1))
    assert ingest(SAMPLE, now=INGEST_TIME + timedelta(hours=2)).updated == 1
    documents = docs(store, site, INGEST_TIME + timedelta(hours=3))
    assert b"Forkopimda" in documents["rss.xml"].body and b"deleted-entry" not in documents["atom.xml"].body
