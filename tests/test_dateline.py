"""The dateline ("BATURAJA - OKES.NEWS -"): kept as the newsroom wrote it, stored, and shown at the
start of the content in every format and on the article's page; given in the JSON Feed extension."""

from __future__ import annotations


import feedparser
import lxml.html
import pytest
import requests

from feedpub.settings import utc_now
from feeds.building.build import build
from feeds.serving.server import PublicFiles
from sources.store import SQLiteStore

from .harness import sqlite_store_before
from .conftest import INGEST_TIME, SAMPLE, RunningServer, write_article

pytestmark = pytest.mark.both_stores

DATELINE = "BATURAJA - OKES.NEWS -"
LEAD = "Menjelang Pilkada Serentak 2024"


def text_of(html: str) -> str:
    return lxml.html.fromstring(html).text_content().strip()


@pytest.fixture
def served(tmp_path, store, ingest, site):
    ingest(SAMPLE)
    out = tmp_path / "public"
    build(store, site, out, INGEST_TIME)
    running = RunningServer(PublicFiles(out, max_age=900))
    yield running.url
    running.stop()


def test_the_dateline_is_stored_as_the_newsroom_wrote_it(store, ingest):
    ingest(SAMPLE)
    article = store.page(1)[0]
    assert article.dateline == DATELINE
    assert (article.city, article.publication) == ("BATURAJA", "OKES.NEWS")
    assert article.summary.startswith(LEAD)     # the summary is the lead, without it


@pytest.mark.parametrize("path", ["rss.xml", "atom.xml", "feed.json"])
def test_every_format_opens_its_content_with_the_dateline(served, path):
    response = requests.get(f"{served}/{path}", timeout=10)
    if path == "feed.json":
        content = response.json()["items"][0]["content_html"]
    else:
        content = feedparser.parse(response.content).entries[0].content[0].value
    assert text_of(content).startswith(f"{DATELINE} {LEAD}")


def test_the_json_feed_extension_gives_the_dateline(served):
    item = requests.get(f"{served}/feed.json", timeout=10).json()["items"][0]
    assert item["_feedpub"]["dateline"] == DATELINE


def test_the_article_page_opens_with_the_dateline(served):
    page = lxml.html.fromstring(requests.get(f"{served}/articles/okes-forkopimda-oku-pilkada-2024", timeout=10).content)
    content = page.xpath('//div[@class="content"]')[0].text_content().strip()
    assert content.startswith(f"{DATELINE} {LEAD}")


def test_front_matter_gives_a_dateline_the_text_does_not_open_with(tmp_path, store, ingest):
    path = write_article(tmp_path, "banjir.md", '---\ntitle: Banjir di Martapura\ndateline: "MARTAPURA - OKES.NEWS -"\n'
                                                "---\nHujan deras sejak pagi merendam puluhan rumah.\n")
    ingest(path)
    article = store.page(1)[0]
    assert article.dateline == "MARTAPURA - OKES.NEWS -"
    assert article.content_html.startswith("<p>Hujan deras")   # stored apart, shown by the feeds


def test_a_store_from_before_datelines_gets_them_from_city_and_publication(tmp_path, store):
    if not isinstance(store, SQLiteStore):
        pytest.skip("the migration is the same statement on both; an old SQLite file is made here")
    path = tmp_path / "old.sqlite3"

    def fill(db) -> None:
        for slug, city, publication in (("a", "BATURAJA", "OKES.NEWS"), ("b", "MARTAPURA", None), ("c", None, None)):
            db.execute(
                "INSERT INTO articles (id, slug, title, title_norm, summary, content_html, content_text, city, "
                "publication, published, published_ts, updated, updated_ts, categories, tags, language, status) "
                "VALUES (?, ?, ?, ?, '', '<p>x</p>', 'x', ?, ?, ?, ?, ?, ?, '[]', '[]', 'id', 'published')",
                (f"tag:okes.example,2024-09-18:{slug}", slug, slug, slug, city, publication, INGEST_TIME.isoformat(),
                 int(INGEST_TIME.timestamp()), INGEST_TIME.isoformat(), int(INGEST_TIME.timestamp())))

    sqlite_store_before(path, "ADD COLUMN dateline", fill)
    migrated = SQLiteStore(path, clock=utc_now)
    try:
        assert {a.slug: a.dateline for a in migrated.page(10)} == {
            "a": "BATURAJA - OKES.NEWS -", "b": "MARTAPURA -", "c": None}
    finally:
        migrated.close()
