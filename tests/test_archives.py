"""RFC 5005 archives a client can walk back through, that stay put."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from feedpub.settings import utc_now
from feeds.building.build import build
from sources.store import SQLiteStore

from .conftest import latest_published
from .test_incremental import AUTHORS, CATEGORIES, SITE, START, apply

ATOM = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"
SIZE = 4
ARCHIVED_SITE = replace(SITE, items_per_feed=6, archive_entries=SIZE)


def links(path: Path) -> dict[str, str]:
    root = etree.parse(str(path)).getroot()
    return {el.get("rel"): el.get("href") for el in root.findall(f"{ATOM}link")}


def entry_ids(path: Path) -> list[str]:
    return [el.text for el in etree.parse(str(path)).getroot().findall(f"{ATOM}entry/{ATOM}id")]


def local(public: Path, url: str) -> Path:
    return public / url.removeprefix(SITE.base_url + "/")


def walk(public: Path, subscription: str) -> list[Path]:
    """The archive documents, newest first, as a client following prev-archive finds them."""
    found, url = [], links(public / subscription).get("prev-archive")
    while url:
        path = local(public, url)
        assert path not in found, f"prev-archive loops back to {path}"
        found.append(path)
        url = links(path).get("prev-archive")
    return found


@pytest.fixture
def newsroom(tmp_path):
    """23 articles over three months: two a day around the first, then sparse."""
    store = SQLiteStore(tmp_path / "store.sqlite3", clock=utc_now)
    created: list[str] = []
    for n in range(23):
        apply(store, ("create", -(n * 4) - (n % 3), n % 4, ([CATEGORIES[n % 2]], [], AUTHORS[n % 2]), [], False),
              START, created)
    yield store, created
    store.close()


def test_following_prev_archive_finds_every_article_exactly_once(newsroom, tmp_path):
    store, created = newsroom
    public = tmp_path / "public"
    build(store, ARCHIVED_SITE, public, START)
    for subscription in ("atom.xml", "category/politik/atom.xml", "author/rahmad-hidayat/atom.xml"):
        archives = walk(public, subscription)
        archived = [entry for path in archives for entry in entry_ids(path)]
        assert len(archived) == len(set(archived)), f"{subscription}: an entry in two archive pages"
        shown = set(entry_ids(public / subscription))
        open_page = shown - set(archived)
        assert len(open_page) < SIZE                       # only the open page is not archived yet
        kind, name = {"atom.xml": (None, None), "category/politik/atom.xml": ("category", "Politik"),
                      "author/rahmad-hidayat/atom.xml": ("author", "Rahmad Hidayat")}[subscription]
        expected = {a.id for a in latest_published(store, START, 1000, kind=kind, name=name)}
        assert set(archived) | open_page == expected, subscription
        assert len(archives) >= 2, subscription


def test_archive_documents_say_what_they_are_and_link_both_ways(newsroom, tmp_path):
    store, _ = newsroom
    public = tmp_path / "public"
    build(store, ARCHIVED_SITE, public, START)
    archives = walk(public, "atom.xml")
    assert links(public / "atom.xml")["prev-archive"].endswith(archives[0].name)
    for newer, older in zip(archives, archives[1:]):
        assert local(public, links(older)["next-archive"]) == newer
    assert "next-archive" not in links(archives[0]) and "prev-archive" not in links(archives[-1])
    for path in archives:
        root = etree.parse(str(path)).getroot()
        assert root.find(f"{FH}archive") is not None
        assert links(path)["current"] == SITE.url("atom.xml") and links(path)["self"] == SITE.url(
            str(path.relative_to(public)))
        assert root.find(f"{ATOM}id").text == SITE.url("atom.xml")   # the same logical feed
        parsed = feedparser.parse(path.read_bytes())
        assert parsed.bozo == 0 and len(parsed.entries) <= SIZE
        assert all(path.name.startswith(entry.published[:7]) for entry in parsed.entries)   # month pages
    assert all(path.relative_to(public).parts[0] == "archive" for path in archives)


def test_archive_pages_do_not_change_when_news_arrives(newsroom, tmp_path):
    store, created = newsroom
    public = tmp_path / "public"
    build(store, ARCHIVED_SITE, public, START)
    before = {path: path.read_bytes() for path in walk(public, "atom.xml")}
    clock = START
    for n in range(9):   # a week later, more news: the open page fills and closes, a new one opens
        clock = apply(store, ("create", 0, n % 4, ([CATEGORIES[0]], [], AUTHORS[0]), [], False),
                      clock + timedelta(hours=20), created)
        build(store, ARCHIVED_SITE, public, clock)
    after = walk(public, "atom.xml")
    assert len(after) > len(before)
    newest_before = min(before, key=after.index)   # ``after`` is newest first
    for path, body in before.items():
        if path != newest_before:    # the newest page before only gains its next-archive link
            assert path.read_bytes() == body, path
    assert "next-archive" in links(newest_before) and "next-archive" not in links(after[0])


def test_an_edit_changes_only_the_page_that_holds_the_article(newsroom, tmp_path):
    store, created = newsroom
    public = tmp_path / "public"
    build(store, ARCHIVED_SITE, public, START)
    archives = walk(public, "atom.xml")
    oldest = created[-1]                      # the earliest publication time
    assert oldest in entry_ids(archives[-1])
    before = {path: path.read_bytes() for path in archives}
    apply(store, ("edit", len(created) - 1, 2, None, None), START, created)
    report = build(store, ARCHIVED_SITE, public, START)
    assert "archive/" + archives[-1].name in report.written
    assert [path for path in archives if path.read_bytes() != before[path]] == [archives[-1]]
    assert b"Ralat" in archives[-1].read_bytes()


def test_a_deleted_article_leaves_its_page_and_the_later_pages_keep_their_entries(newsroom, tmp_path):
    store, created = newsroom
    public = tmp_path / "public"
    build(store, ARCHIVED_SITE, public, START)
    archives = walk(public, "atom.xml")
    victim = entry_ids(archives[-1])[0]
    later = {path: entry_ids(path) for path in archives[:-1]}
    store.delete(victim, START)
    build(store, ARCHIVED_SITE, public, START)
    assert victim not in entry_ids(archives[-1])
    assert {path: entry_ids(path) for path in archives[:-1]} == later


def test_archive_pages_are_served_with_validators_from_their_folders_manifest(newsroom, tmp_path):
    import requests

    from feeds.publishing.publish import MANIFEST_NAME, read_manifest
    from feeds.serving.server import PublicFiles

    from .conftest import RunningServer

    store, created = newsroom
    public = tmp_path / "public"
    build(store, ARCHIVED_SITE, public, START)
    page = walk(public, "atom.xml")[-1]
    relative = str(page.relative_to(public))
    head = json.loads((public / MANIFEST_NAME).read_bytes())
    assert relative not in head["documents"] and "archive/" in head["shards"]   # listed in archive/'s own
    entry = read_manifest(public)[relative]
    server = RunningServer(PublicFiles(public, max_age=60))
    try:
        answer = requests.get(f"{server.url}/{relative}", headers={"Accept-Encoding": "gzip"}, timeout=5)
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/atom+xml")
        assert answer.content == page.read_bytes() and answer.headers["Content-Encoding"] == "gzip"
        assert answer.headers["ETag"] == f'"{entry["sha256"][:40]}-gz"'
        again = requests.get(f"{server.url}/{relative}", headers={"Accept-Encoding": "gzip",
                                                                 "If-None-Match": answer.headers["ETag"]}, timeout=5)
        assert again.status_code == 304
        assert requests.get(f"{server.url}/archive/{MANIFEST_NAME}", timeout=5).status_code == 404
    finally:
        server.stop()
