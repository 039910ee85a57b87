"""A "Baca juga" link survives a correction of its target's headline: once its marker resolved,
it is bound to the target's id, keeps the editor's words as its label, and leads to the target
whatever its headline becomes; a marker still resolves against a former headline; a link is
resolved again only when the marker's text changes in the article that cites it."""

from __future__ import annotations

from datetime import timedelta

import feedparser
import lxml.html
import pytest
import requests

from feedpub.settings import utc_now
from feeds.building.build import build
from feeds.serving.server import PublicFiles
from sources.ingest import ingest_paths
from sources.store import SQLiteStore
from sources.store.postgres import PostgresStore
from sources.store.copy import copy_store

from .conftest import INGEST_TIME, SAMPLE, RunningServer, seen_by_the_server, write_article

pytestmark = pytest.mark.both_stores

BHABIN = "Bhabinkamtibmas Dituntut Mampu Ciptakan Situasi Aman dan Kondusif Selama Pemilukada"
CORRECTED = "Polres OKU Minta Bhabinkamtibmas Jaga Situasi Aman Selama Pilkada"
SAMPLE_URL = "/articles/okes-forkopimda-oku-pilkada-2024"
LATER = INGEST_TIME + timedelta(hours=2)


def bhabin(folder, title=BHABIN):
    return write_article(folder, "bhabin.txt", f'---\ntitle: "{title}"\n---\nBATURAJA - OKES.NEWS - Isi berita.\n')


def sample_links(store, now=LATER):
    sample = store.get("tag:okes.example,2024-09-18:okes-forkopimda-oku-pilkada-2024")
    return {link.title: link for link in store.articles([sample.id], now)[0].related}


def test_a_headline_correction_keeps_the_link_in_every_document(tmp_path, store, ingest, site):
    path = bhabin(tmp_path / "in")
    ingest(path)
    ingest(SAMPLE)
    out = tmp_path / "public"
    build(store, site, out, INGEST_TIME + timedelta(hours=1))
    before = store.get("tag:okes.example,2024-09-18:okes-forkopimda-oku-pilkada-2024")
    bhabin(tmp_path / "in", CORRECTED)
    ingest(path, now=INGEST_TIME + timedelta(hours=1, minutes=30))
    build(store, site, out, LATER)
    server = RunningServer(PublicFiles(out, max_age=900))
    try:
        seen_by_the_server()
        atom = feedparser.parse(requests.get(f"{server.url}/atom.xml", timeout=10).content)
        page = lxml.html.fromstring(requests.get(f"{server.url}{SAMPLE_URL}", timeout=10).content)
    finally:
        server.stop()
    entry = next(e for e in atom.entries if e.link.endswith(SAMPLE_URL))
    related = [link for link in entry.links if link.rel == "related"]
    assert [(link.href, link.title) for link in related] == [("https://okes.example/articles/bhabin", BHABIN)]
    content = lxml.html.fromstring(entry.content[0].value)
    assert [(a.get("href"), a.text) for a in content.xpath("//li/a")] == [("https://okes.example/articles/bhabin", BHABIN)]
    assert [(a.get("href"), a.text) for a in page.xpath('//div[@class="related"]//a')] == [
        ("https://okes.example/articles/bhabin", BHABIN)]
    # The citing article itself did not change: same version, same time.
    after = store.get(before.id)
    assert (after.updated, after.stored, len(store.history(before.id))) == (before.updated, before.stored, 1)


def test_a_marker_resolves_against_a_former_headline(tmp_path, store, ingest):
    path = bhabin(tmp_path / "in")
    ingest(path)
    bhabin(tmp_path / "in", CORRECTED)
    ingest(path, now=INGEST_TIME + timedelta(minutes=30))
    ingest(SAMPLE, now=INGEST_TIME + timedelta(hours=1))   # its marker names the headline as it was
    link = sample_links(store)[BHABIN]
    assert link.target.slug == "bhabin" and link.display_title == BHABIN


def test_a_current_headline_wins_over_a_former_one(tmp_path, store, ingest):
    path = bhabin(tmp_path / "in")
    ingest(path)
    bhabin(tmp_path / "in", CORRECTED)
    ingest(path, now=INGEST_TIME + timedelta(minutes=10))
    ingest(write_article(tmp_path / "in", "baru.txt", f'---\ntitle: "{BHABIN}"\n---\nIsi lain.\n'),
           now=INGEST_TIME + timedelta(minutes=20))
    ingest(SAMPLE, now=INGEST_TIME + timedelta(hours=1))
    assert sample_links(store)[BHABIN].target.slug == "baru"


def test_a_link_is_resolved_again_only_when_its_marker_changes(tmp_path, store, ingest):
    ingest(bhabin(tmp_path / "in"))
    jalan = "Jalan Lintas Sumatra di Baturaja Kembali Dibuka"
    ingest(write_article(tmp_path / "in", "jalan.txt", f'---\ntitle: "{jalan}"\n---\nIsi.\n'))
    text = SAMPLE.read_text(encoding="utf-8")
    citing = write_article(tmp_path / "in", SAMPLE.name, text)
    ingest(citing)
    # A namesake arrives and the citing article is edited elsewhere: the marker is bound still.
    ingest(write_article(tmp_path / "in", "namesake.txt", f'---\ntitle: "{BHABIN}"\n---\nIsi lain.\n'),
           now=INGEST_TIME + timedelta(minutes=10))
    citing.write_text(text.replace("Rapat tersebut", "Rapat itu"), encoding="utf-8")
    ingest(citing, now=INGEST_TIME + timedelta(minutes=20))
    assert sample_links(store)[BHABIN].target.slug == "bhabin"
    # Its words changed: resolved again, to what they name now.
    citing.write_text(text.replace(f"BACA JUGA:{BHABIN}", f"BACA JUGA:{jalan}"), encoding="utf-8")
    ingest(citing, now=INGEST_TIME + timedelta(minutes=30))
    assert sample_links(store)[jalan].target.slug == "jalan"


def test_a_copied_store_keeps_former_headlines(tmp_path, store, ingest_settings, postgres_url):
    if not isinstance(store, SQLiteStore):
        pytest.skip("the copy goes from SQLite to PostgreSQL")
    path = bhabin(tmp_path / "in")
    run = lambda p, now: ingest_paths(store, [p], settings=ingest_settings, now=lambda: now, report=lambda _: None)  # noqa: E731
    run(path, INGEST_TIME)
    bhabin(tmp_path / "in", CORRECTED)
    run(path, INGEST_TIME + timedelta(minutes=30))
    copied = PostgresStore(postgres_url, clock=utc_now)
    try:
        copy_store(store, copied)
        ingest_paths(copied, [SAMPLE], settings=ingest_settings, now=lambda: LATER, report=lambda _: None)
        assert sample_links(copied)[BHABIN].target.slug == "bhabin"
    finally:
        copied.close()
