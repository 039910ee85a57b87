"""A section feed, once published, stays: after its last article is unpublished or deleted it answers
200 with no items (and the deletion's tombstone); a section's address is assigned once and never
moves; a document's time (Atom updated, RSS lastBuildDate, Last-Modified) is the latest change that
touched it, removals included, so a client sending only If-Modified-Since sees a removal."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from email.utils import parsedate_to_datetime

import feedparser
import pytest
import requests
from lxml import etree

from feedpub.settings import utc_now
from feeds.building.build import build
from feeds.serving.server import PublicFiles
from sources.store import SQLiteStore
from sources.store.copy import copy_store
from sources.store.postgres import PostgresStore

from .harness import sqlite_store_before
from .conftest import INGEST_TIME, RunningServer, seen_by_the_server, write_article

pytestmark = pytest.mark.both_stores

AT = "{http://purl.org/atompub/tombstones/1.0}"
POLITIK = "/category/politik/atom.xml"


def story(folder, slug, category, text="Isi berita."):
    return write_article(folder, f"{slug}.txt", f"---\ntitle: Berita {slug}\ncategories: [{category!r}]\n---\n{text}\n")


class Site:
    """public/ built from the store at a given time, served by the real server."""

    def __init__(self, tmp_path, store, site):
        self.out, self.store = tmp_path / "public", store
        self.site = replace(site, catalogue=("category", "tag", "author"))
        self.server = RunningServer(PublicFiles(self.out, max_age=900))

    def build(self, now):
        build(self.store, self.site, self.out, now)
        seen_by_the_server()

    def get(self, path, **headers):
        return requests.get(f"{self.server.url}{path}", headers=headers, timeout=10)


@pytest.fixture
def served(tmp_path, store, site):
    running = Site(tmp_path, store, site)
    yield running
    running.server.stop()


@pytest.mark.parametrize("remove", ["unpublish", "delete"])
def test_a_section_feed_stays_when_its_last_article_goes(tmp_path, store, ingest, served, remove):
    ingest(story(tmp_path / "in", "rapat", "Politik"))
    ingest(story(tmp_path / "in", "banjir", "Bencana"), now=INGEST_TIME + timedelta(minutes=5))
    served.build(INGEST_TIME + timedelta(minutes=10))
    first = served.get(POLITIK)
    assert first.status_code == 200 and len(feedparser.parse(first.content).entries) == 1
    gone = INGEST_TIME + timedelta(hours=1)
    getattr(store, remove)("rapat", gone)
    served.build(gone + timedelta(minutes=1))
    for path in (POLITIK, "/category/politik/rss.xml", "/category/politik/feed.json", "/category/politik/"):
        assert served.get(path).status_code == 200, path
    after = served.get(POLITIK)
    assert feedparser.parse(after.content).entries == []
    # Its time is the removal's: a client asking with the old time alone is told of it.
    assert parsedate_to_datetime(after.headers["Last-Modified"]) == gone
    assert served.get(POLITIK, **{"If-Modified-Since": first.headers["Last-Modified"]}).status_code == 200
    assert etree.fromstring(after.content).findtext("{http://www.w3.org/2005/Atom}updated") == gone.isoformat()
    tombstones = [el.get("ref") for el in etree.fromstring(after.content).iter(f"{AT}deleted-entry")]
    assert tombstones == (["tag:okes.example,2024-09-18:rapat"] if remove == "delete" else [])


def test_the_main_feeds_time_never_goes_back(tmp_path, store, ingest, served):
    ingest(story(tmp_path / "in", "lama", "Politik"))
    ingest(story(tmp_path / "in", "baru", "Politik"), now=INGEST_TIME + timedelta(minutes=30))
    served.build(INGEST_TIME + timedelta(hours=1))
    before = served.get("/rss.xml")
    taken_down = INGEST_TIME + timedelta(hours=2)
    store.unpublish("baru", taken_down)
    served.build(taken_down + timedelta(minutes=1))
    after = served.get("/rss.xml")
    assert parsedate_to_datetime(after.headers["Last-Modified"]) == taken_down
    assert feedparser.parse(after.content).feed.updated_parsed is not None
    assert served.get("/rss.xml", **{"If-Modified-Since": before.headers["Last-Modified"]}).status_code == 200


def test_a_sections_address_is_assigned_once_and_never_moves(tmp_path, store, ingest, served):
    ingest(story(tmp_path / "in", "satu", "politik!"))
    served.build(INGEST_TIME + timedelta(minutes=1))
    assert served.get("/category/politik/atom.xml").status_code == 200
    # "Politik" sorts before "politik!" and makes the same slug: it gets the next one, the first keeps its own.
    ingest(story(tmp_path / "in", "dua", "Politik"), now=INGEST_TIME + timedelta(minutes=5))
    served.build(INGEST_TIME + timedelta(minutes=10))
    first, second = (feedparser.parse(served.get(f"/category/{slug}/atom.xml").content)
                     for slug in ("politik", "politik-2"))
    assert [e.link.rsplit("/", 1)[1] for e in first.entries] == ["satu"]
    assert [e.link.rsplit("/", 1)[1] for e in second.entries] == ["dua"]
    assert store.section_slugs("category", INGEST_TIME + timedelta(minutes=10)) == {
        "politik!": "politik", "Politik": "politik-2"}


def test_an_embargoed_articles_section_is_not_published_before_its_release(tmp_path, store, ingest, served):
    release = INGEST_TIME + timedelta(days=1)
    ingest(story(tmp_path / "in", "nanti", "Rahasia"), published=release.isoformat())
    store.unpublish("nanti", INGEST_TIME + timedelta(hours=1))   # taken back before it was seen
    served.build(release + timedelta(minutes=1))
    assert served.get("/category/rahasia/atom.xml").status_code == 404
    assert store.terms("category", release + timedelta(minutes=1)) == []


def test_a_copied_store_keeps_the_sections_and_their_times(tmp_path, store, ingest, postgres_url):
    if not isinstance(store, SQLiteStore):
        pytest.skip("the copy goes from SQLite to PostgreSQL")
    ingest(story(tmp_path / "in", "satu", "politik!"))
    ingest(story(tmp_path / "in", "dua", "Politik"), now=INGEST_TIME + timedelta(minutes=5))
    store.delete("dua", INGEST_TIME + timedelta(hours=1))
    later = INGEST_TIME + timedelta(hours=2)
    copied = PostgresStore(postgres_url, clock=utc_now)
    try:
        copy_store(store, copied)
        assert copied.section_slugs("category", later) == store.section_slugs("category", later)
        assert copied.feed_changed("category", "Politik") == INGEST_TIME + timedelta(hours=1)
    finally:
        copied.close()


def test_a_store_from_before_sections_keeps_the_addresses_its_feeds_had(tmp_path, store):
    if not isinstance(store, SQLiteStore):
        pytest.skip("an old SQLite file is made here; the statements are the same on both")
    path = tmp_path / "old.sqlite3"

    def fill(db) -> None:
        for slug, category in (("satu", "politik!"), ("dua", "Politik")):
            db.execute(
                "INSERT INTO articles (id, slug, title, title_norm, summary, content_html, content_text, published, "
                "published_ts, updated, updated_ts, categories, tags, language, status) VALUES "
                "(?, ?, ?, ?, '', '<p>x</p>', 'x', ?, ?, ?, ?, ?, '[]', 'id', 'published')",
                (f"tag:okes.example,2024-09-18:{slug}", slug, slug, slug, INGEST_TIME.isoformat(),
                 int(INGEST_TIME.timestamp()), INGEST_TIME.isoformat(), int(INGEST_TIME.timestamp()),
                 f'["{category}"]'))

    sqlite_store_before(path, "CREATE TABLE sections", fill)
    migrated = SQLiteStore(path, clock=utc_now)
    try:   # in sorted order, as every build made them before addresses were stored
        assert migrated.section_slugs("category", INGEST_TIME) == {"Politik": "politik", "politik!": "politik-2"}
    finally:
        migrated.close()
