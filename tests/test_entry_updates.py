"""An entry changes only with its `updated`: when what readers see of an article changes after
its first publication because of another article (a pending link resolves, a link's target goes),
its `updated` moves to the time of that store change and `feedpub history` has the version; links
resolved within the import that first published it are part of that publication. The store's
suggestions are shown apart from the newsroom's own picks and decided once, when the article is
first stored, among the articles readers see then."""

from __future__ import annotations

from datetime import timedelta

import feedparser
import lxml.html
import pytest
import requests

from feeds.building.build import build
from feeds.rendering.formats import SUGGESTED_REL
from feeds.serving.server import PublicFiles
from sources.ingest import ingest_paths

from .conftest import DATA, INGEST_TIME, SAMPLE, RunningServer, seen_by_the_server, write_article

pytestmark = pytest.mark.both_stores

BHABIN = "Bhabinkamtibmas Dituntut Mampu Ciptakan Situasi Aman dan Kondusif Selama Pemilukada"
SAMPLE_ID = "tag:okes.example,2024-09-18:okes-forkopimda-oku-pilkada-2024"
TOPICS = DATA / "articles" / "topik"
# The sample article without its BACA JUGA lines: the newsroom named nothing.
UNLINKED = "\n".join(line for line in SAMPLE.read_text(encoding="utf-8").splitlines()
                     if not line.startswith("BACA JUGA"))


def bhabin(folder, **front):
    extra = "".join(f"{key}: {value}\n" for key, value in front.items())
    return write_article(folder, "bhabin.txt", f'---\ntitle: "{BHABIN}"\n{extra}---\nBATURAJA - OKES.NEWS - Isi.\n')


def atom_entry(store, site, out, now, slug):
    build(store, site, out, now)
    server = RunningServer(PublicFiles(out, max_age=900))
    try:
        seen_by_the_server()
        parsed = feedparser.parse(requests.get(f"{server.url}/atom.xml", timeout=10).content)
    finally:
        server.stop()
    return next(entry for entry in parsed.entries if entry.link.endswith(f"/articles/{slug}"))


def test_a_link_resolving_later_moves_the_citing_entrys_updated(tmp_path, store, ingest, site):
    ingest(SAMPLE)
    out = tmp_path / "public"
    first = atom_entry(store, site, out, INGEST_TIME + timedelta(minutes=30), SAMPLE.stem)
    assert "/articles/bhabin" not in first.content[0].value
    arrival = INGEST_TIME + timedelta(hours=1)
    ingest(bhabin(tmp_path / "in"), now=arrival)
    entry = atom_entry(store, site, out, arrival + timedelta(minutes=30), SAMPLE.stem)
    assert '<a href="https://okes.example/articles/bhabin">' in entry.content[0].value
    assert entry.updated == arrival.isoformat() != first.updated
    versions = store.history(SAMPLE_ID)
    assert [(v.number, v.stored, v.changed) for v in versions] == [
        (1, INGEST_TIME, ("created",)), (2, arrival, ("updated", "related"))]


def test_the_history_command_shows_the_version_a_link_made(tmp_path, store, ingest, cli_store, capsys):
    from feedpub.cli import main

    ingest(SAMPLE)
    ingest(bhabin(tmp_path / "in"), now=INGEST_TIME + timedelta(hours=1))
    assert main(["history", SAMPLE.stem]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("2 versions, oldest first")
    assert lines[2].startswith("  2  2024-09-18 15:30:00 WIB  published") and lines[2].endswith("changed: updated, related")


def test_links_resolved_within_the_first_import_re_date_nothing(tmp_path, store, ingest_settings):
    citing = write_article(tmp_path / "in", "a-sample.txt", SAMPLE.read_text(encoding="utf-8"))
    target = bhabin(tmp_path / "in")   # sorted after the article that cites it: it arrives second
    clock = iter(INGEST_TIME + timedelta(seconds=n) for n in range(10))
    ingest_paths(store, [tmp_path / "in"], settings=ingest_settings, now=lambda: next(clock), report=lambda _: None)
    sample = store.get("tag:okes.example,2024-09-18:a-sample")
    assert [link.target_id for link in sample.related][0] == "tag:okes.example,2024-09-18:bhabin"
    assert sample.updated == sample.published == INGEST_TIME and len(store.history(sample.id)) == 1
    assert citing.exists() and target.exists()


def test_a_target_deleted_later_moves_the_citing_entrys_updated(tmp_path, store, ingest):
    ingest(bhabin(tmp_path / "in"))
    ingest(SAMPLE, now=INGEST_TIME + timedelta(minutes=1))
    gone = INGEST_TIME + timedelta(hours=2)
    store.delete("bhabin", gone)
    sample = store.get(SAMPLE_ID)
    assert sample.updated == gone
    assert [v.stored for v in store.history(SAMPLE_ID)][-1] == gone


def test_a_target_edited_without_a_visible_change_re_dates_nothing(tmp_path, store, ingest):
    path = bhabin(tmp_path / "in")
    ingest(path)
    ingest(SAMPLE, now=INGEST_TIME + timedelta(minutes=1))
    path.write_text(path.read_text(encoding="utf-8").replace("Isi.", "Isi yang diperbaiki."), encoding="utf-8")
    ingest(path, now=INGEST_TIME + timedelta(hours=1))
    sample = store.get(SAMPLE_ID)
    assert sample.updated == sample.published and len(store.history(SAMPLE_ID)) == 1


def test_an_embargoed_article_takes_its_links_into_its_first_publication(tmp_path, store, ingest):
    release = INGEST_TIME + timedelta(days=1)
    ingest(SAMPLE, published=release.isoformat())
    ingest(bhabin(tmp_path / "in"), now=INGEST_TIME + timedelta(hours=1))
    sample = store.get(SAMPLE_ID.replace("2024-09-18", "2024-09-19"))
    assert sample.related[0].target_id is not None and sample.updated == release


def test_suggestions_are_shown_apart_from_the_newsrooms_picks(tmp_path, store, ingest, site):
    ingest(TOPICS)
    ingest(write_article(tmp_path, "rakor.txt", UNLINKED), now=INGEST_TIME + timedelta(minutes=1))
    entry = atom_entry(store, site, tmp_path / "public", INGEST_TIME + timedelta(hours=1), "rakor")
    assert [link for link in entry.links if link.rel == "related"] == []
    suggested = [link for link in entry.links if link.rel == SUGGESTED_REL]
    assert len(suggested) == 3
    content = lxml.html.fromstring(entry.content[0].value)
    assert "Baca juga:" not in content.text_content() and "Artikel terkait lainnya:" in content.text_content()
    assert sorted(a.get("href") for a in content.xpath("//li/a")) == sorted(link.href for link in suggested)


def test_suggestions_are_decided_once_when_the_article_is_first_stored(tmp_path, store, ingest):
    ingest(TOPICS)
    later = INGEST_TIME + timedelta(hours=6)
    # A story on the same subject, embargoed when the article is stored: never suggested by it.
    ingest(write_article(tmp_path, "rahasia.txt",
                         f"---\ntitle: \"Pilkada OKU: KPU Umumkan Daftar Pemilih Tetap\"\npublished: {later.isoformat()}\n"
                         "---\nKPU OKU Pilkada debat calon bupati pemilih tetap Bawaslu netralitas ASN."))
    rakor = write_article(tmp_path, "rakor.txt", UNLINKED)
    ingest(rakor, now=INGEST_TIME + timedelta(minutes=1))
    chosen = [(link.title, link.target_id) for link in store.get("tag:okes.example,2024-09-18:rakor").related]
    assert len(chosen) == 3 and all("rahasia" not in target for _, target in chosen)
    # Its release, and an edit of the article, leave them as they were: no churn.
    rakor.write_text(UNLINKED.replace("Rapat tersebut", "Rapat itu"), encoding="utf-8")
    ingest(rakor, now=later + timedelta(minutes=1))
    article = store.get("tag:okes.example,2024-09-18:rakor")
    assert [(link.title, link.target_id) for link in article.related] == chosen
    assert all(link.suggested for link in article.related)


def test_a_link_to_an_embargoed_article_re_dates_the_entry_at_its_release(tmp_path, store, ingest, site):
    ingest(SAMPLE)
    release = INGEST_TIME + timedelta(hours=5)
    ingest(bhabin(tmp_path / "in", published=release.isoformat()), now=INGEST_TIME + timedelta(hours=1))
    out = tmp_path / "public"
    before = atom_entry(store, site, out, release - timedelta(seconds=1), SAMPLE.stem)
    # Nothing tells of the embargoed article before its time: not the link, not the entry's time.
    assert before.updated == INGEST_TIME.isoformat() and "/articles/bhabin" not in before.content[0].value
    after = atom_entry(store, site, out, release, SAMPLE.stem)
    assert after.updated == release.isoformat() and "/articles/bhabin" in after.content[0].value
