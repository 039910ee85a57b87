"""Category, tag and author names of any length get feeds whose files fit the file system."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest
import requests
from lxml import etree

from feeds.building.build import build
from feeds.rendering.language import strings
from feeds.publishing.delta import DELTA_DIR
from feeds.building.fragments import CACHE_NAME
from feeds.serving.server import PublicFiles

from .conftest import INGEST_TIME, RunningServer, write_article

NAME_MAX = 255   # bytes in one file or folder name (ext4, XFS, btrfs, tmpfs)
# The longest temporary name publish gives a file NAME: .NAME.feedpub-<pid>-<n>.tmp, with
# Linux's largest pid and a counter a long-running service could reach.
WORST_TEMPORARY = ".{name}.feedpub-4194304-99999999999.tmp"

LONG_TAG = ("Pemilihan Kepala Daerah Serentak Ogan Komering Ulu Sumatera Selatan " * 5)[:300]
LONG_CATEGORY = ("Politik dan Pemerintahan Daerah Kabupaten Ogan Komering Ulu " * 6)[:299] + "."
LONG_AUTHOR = ("Rahmad Hidayat bersama Tim Liputan Khusus Pilkada OKES NEWS " * 6)[:299] + "."
MULTIBYTE = ("Pemilu Sumatera Selatan 🗳️ 选举 Pilkada Kémah " * 10).strip()   # 540 bytes, a slug of 330
CHINESE = "地方选举" * 75                                                # 300 characters, 900 bytes
SAME_START = ("pemilihan kepala daerah serentak ogan komering ulu sumatera selatan " * 5)[:250]
TWINS = (SAME_START + " putaran pertama", SAME_START + " putaran kedua")
# A connection left open keeps the test server's loop up to its 5 s stop timeout.
CLOSE = {"Connection": "close"}


@pytest.fixture
def catalogue_site(site):
    # Pages of 2 entries: an earlier month's page is closed, so the long names' feeds have archives.
    return replace(site, catalogue=("category", "tag", "author"), archive_entries=2)


def article(folder: Path, name: str, title: str, published, *, tags, categories, author) -> Path:
    def listed(names):
        return "[" + ", ".join(json.dumps(n, ensure_ascii=False) for n in names) + "]"

    return write_article(folder, f"{name}.txt", f"---\ntitle: {json.dumps(title)}\npublished: {published.isoformat()}\n"
                         f"author: {json.dumps(author, ensure_ascii=False)}\ncategories: {listed(categories)}\n"
                         f"tags: {listed(tags)}\n---\nBATURAJA - OKES.NEWS - {title}.\n")


def every_name(public: Path) -> list[str]:
    return [part for path in public.rglob("*") for part in path.relative_to(public).parts]


def read_feed(response: requests.Response) -> tuple[str, list[str]]:
    """A served feed's title and its entries' titles (feedparser 6.0 reads no JSON Feed)."""
    if response.headers["Content-Type"].startswith("application/feed+json"):
        data = response.json()
        return data["title"], [item["title"] for item in data["items"]]
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0, parsed.bozo_exception
    return parsed.feed.title, [entry.title for entry in parsed.entries]


def catalogue_paths(public: Path, language: str = "id") -> dict[tuple[str, str], str]:
    """(kind, name) -> the URL path of its Atom feed, as the OPML lists it: one outline per
    kind, titled in the site's language, holding that kind's feeds."""
    text = strings(language)
    kind_of = {title: kind for kind, title in text["groups"].items()}
    found = {}
    for group in etree.parse(str(public / "feeds.opml")).iterfind("body/outline"):
        kind = kind_of.get(group.get("title"))
        for outline in group.iterfind("outline") if kind else ():
            prefix = text["section"].format(kind=text["kinds"][kind], name="")
            section = outline.get("description").rsplit(" — ", 1)[0]
            found[(kind, section.removeprefix(prefix))] = urlsplit(outline.get("xmlUrl")).path
    return found


def test_long_and_multibyte_names_from_files_build_and_their_feeds_are_served(tmp_path, store, ingest, catalogue_site):
    tags = [LONG_TAG, MULTIBYTE, CHINESE]
    terms = dict(tags=tags, categories=[LONG_CATEGORY], author=LONG_AUTHOR)
    public = tmp_path / "public"
    ingest(article(tmp_path / "in", "agustus", "Debat Pertama", INGEST_TIME - timedelta(days=40), **terms))
    ingest(article(tmp_path / "in", "september", "Debat Kedua", INGEST_TIME, **terms))
    build(store, catalogue_site, public, INGEST_TIME + timedelta(hours=1))
    later = INGEST_TIME + timedelta(hours=2)
    ingest(article(tmp_path / "in", "hasil", "Hasil Hitung Cepat", later, **terms), now=later)
    build(store, catalogue_site, public, later + timedelta(minutes=1))   # the feeds change: RFC 3229 histories

    names = every_name(public)
    assert max(len(os.fsencode(name)) for name in names) <= NAME_MAX
    files = [path.name for path in public.rglob("*") if path.is_file()]
    assert max(len(os.fsencode(WORST_TEMPORARY.format(name=name))) for name in files) <= NAME_MAX
    paths = catalogue_paths(public)
    wanted = [("tag", name) for name in tags] + [("category", LONG_CATEGORY), ("author", LONG_AUTHOR)]
    assert set(wanted) <= set(paths)
    # Beside each long name's feeds: its archive page and its documents' histories.
    for kind, name in wanted:
        folder = paths[(kind, name)].strip("/").rpartition("/")[0]
        assert (public / folder / "archive").is_dir() and (public / DELTA_DIR / folder / "rss.xml.json").is_file()

    server = RunningServer(PublicFiles(public, max_age=60))
    try:
        for kind, name in wanted:
            for document in ("atom.xml", "rss.xml", "feed.json"):
                url = server.url + paths[(kind, name)].rpartition("/")[0] + "/" + document
                response = requests.get(url, timeout=5, headers=CLOSE)
                assert response.status_code == 200, (kind, name[:30], document)
                title, entries = read_feed(response)
                assert name in title and entries == ["Hasil Hitung Cepat", "Debat Kedua", "Debat Pertama"]
    finally:
        server.stop()

    # The same names give the same paths on another instance building the same store.
    elsewhere = tmp_path / "elsewhere"
    build(store, catalogue_site, elsewhere, later + timedelta(minutes=1), full=True)
    assert catalogue_paths(elsewhere) == paths
    assert ({p.relative_to(elsewhere) for p in elsewhere.rglob("*") if not p.name.startswith(CACHE_NAME)}
            == {p.relative_to(public) for p in public.rglob("*") if not p.name.startswith(CACHE_NAME)
                and not p.relative_to(public).parts[0] == DELTA_DIR})


def test_two_long_names_alike_in_their_first_250_characters_get_two_feeds(tmp_path, store, ingest, catalogue_site):
    public = tmp_path / "public"
    for number, tag in enumerate(TWINS):
        ingest(article(tmp_path / "in", f"putaran-{number}", f"Putaran {number + 1}", INGEST_TIME,
                       tags=[tag], categories=[], author="Siti"))
    build(store, catalogue_site, public, INGEST_TIME + timedelta(hours=1))
    paths = catalogue_paths(public)
    assert paths[("tag", TWINS[0])] != paths[("tag", TWINS[1])]
    server = RunningServer(PublicFiles(public, max_age=60))
    try:
        for number, tag in enumerate(TWINS):
            assert read_feed(requests.get(server.url + paths[("tag", tag)], timeout=5, headers=CLOSE)) == (
                f"OKES.NEWS — Topik: {tag}", [f"Putaran {number + 1}"])
    finally:
        server.stop()
