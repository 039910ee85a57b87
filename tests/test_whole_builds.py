"""A build publishes all of its documents or none: nothing of a failed build is ever served."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

import feeds.building.build as building
import feeds.building.builder as builder
from feeds.building.build import build
from feeds.building.fragments import CACHE_NAME
from feeds.publishing.atomic import TEMPORARY_NAME, PublishError, retired
from feeds.publishing.publish import read_manifest
from feeds.serving.server import PublicFiles
from feedpub.settings import load_config, utc_now
from sources.ingest import ingest_paths
from sources.model import IngestSettings
from sources.store import SQLiteStore

from .conftest import INGEST_TIME, SAMPLE, RunningServer, seen_by_the_server, write_article
from .test_reliability_disk import ENV, without_permission_override
from .test_service import FEEDPUB

CLOSE = {"Connection": "close"}   # the test server stops at once when no connection is left open
CODINGS = ("identity", "gzip", "br")


def files(public: Path) -> dict[str, bytes]:
    """Every file of public/ (documents, variants, histories, manifests, the build state, any
    temporary file), but the kept entries: a cache the server never reads. The versions a
    build replaced are removed on a thread of their own once it is in: looked at after that."""
    retired()
    return {path.relative_to(public).as_posix(): path.read_bytes() for path in sorted(public.rglob("*"))
            if path.is_file() and not path.name.startswith(CACHE_NAME)}


def served(server: RunningServer, public: Path) -> dict[tuple[str, str], tuple[int, str, bytes]]:
    """(path, coding) -> (status, ETag, body) of every document the manifest lists, in every coding."""
    found = {}
    with requests.Session() as session:
        for path in read_manifest(public):
            for coding in CODINGS:
                answer = session.get(f"{server.url}/{path}", headers={"Accept-Encoding": coding, **CLOSE},
                                     timeout=5, stream=True)
                found[(path, coding)] = (answer.status_code, answer.headers.get("ETag"), answer.raw.read())
    return found


def temporary_files(public: Path) -> list[Path]:
    """Temporary files left in public/, once the previous versions a build replaced are gone
    (removed on a thread of their own after the build: feeds/publishing/publish.py)."""
    retired()
    return [path for path in public.rglob("*") if TEMPORARY_NAME.fullmatch(path.name)]


def article(folder: Path, name: str, title: str, **terms: str) -> Path:
    front = "".join(f"{key}: {value}\n" for key, value in terms.items())
    return write_article(folder, f"{name}.txt", f"---\ntitle: {title}\n{front}---\nBATURAJA - OKES.NEWS - {title}.\n")


@pytest.fixture
def newsroom(tmp_path, store, ingest, site):
    """public/ built from four articles in two months, with a feed per category, tag and author."""
    site = replace(site, catalogue=("category", "tag", "author"), items_per_feed=3, archive_entries=2)
    ingest(SAMPLE, categories=["Politik"], tags=["Pilkada 2024"], author="Rahmad Hidayat")
    for n, (title, tag) in enumerate((("Banjir di OKU Timur", "Banjir"), ("Harga Cabai Naik", "Harga Cabai"),
                                      ("Jalan Rusak Diperbaiki", "Jalan"))):
        ingest(article(tmp_path / "in", f"a{n}", title, categories="[Politik]", tags=f"[{tag}]", author="Siti"),
               now=INGEST_TIME - timedelta(days=30 * n))
    public = tmp_path / "public"
    build(store, site, public, INGEST_TIME + timedelta(hours=1))
    return site, public


def test_a_build_failing_half_way_serves_nothing_of_it_and_the_next_build_publishes_all(
        tmp_path, store, ingest, newsroom, monkeypatch):
    site, public = newsroom
    server = RunningServer(PublicFiles(public, max_age=60))
    try:
        before, answers = files(public), served(server, public)
        later = INGEST_TIME + timedelta(hours=2)
        ingest(article(tmp_path / "in", "baru", "Banjir Bandang", categories="[Politik]", tags="[Banjir]",
                       author="Siti"), now=later)
        rendered = []

        def failing(view, site, rendered_entries):   # a renderer bug in one feed, after others were rendered
            rendered.append(view.feed.json_path)
            if view.feed.json_path == "tag/banjir/feed.json":
                raise RuntimeError("a renderer bug")
            return real(view, site, rendered_entries)

        real = builder.render_json_feed
        monkeypatch.setattr(builder, "render_json_feed", failing)
        with pytest.raises(RuntimeError, match="a renderer bug"):
            build(store, site, public, later + timedelta(minutes=1))
        assert {"feed.json", "category/politik/feed.json", "author/siti/feed.json"} <= set(rendered)
        assert files(public) == before   # no document, variant, history or manifest of it; no temporary file
        seen_by_the_server()
        assert served(server, public) == answers

        monkeypatch.undo()
        report = build(store, site, public, later + timedelta(minutes=2))
        assert {"rss.xml", "category/politik/rss.xml", "tag/banjir/rss.xml", "author/siti/rss.xml"} <= set(
            report.written)
        seen_by_the_server()
        for path in ("/rss.xml", "/category/politik/atom.xml", "/tag/banjir/feed.json", "/author/siti/rss.xml"):
            assert b"Banjir Bandang" in requests.get(server.url + path, headers=CLOSE, timeout=5).content, path
        for path, entry in read_manifest(public).items():
            assert hashlib.sha256((public / path).read_bytes()).hexdigest() == entry["sha256"], path
        assert not temporary_files(public)
    finally:
        server.stop()


def test_a_build_whose_swap_in_fails_half_way_puts_every_file_back(tmp_path, store, ingest, newsroom, monkeypatch):
    """Renames need no space, but a file system can still fail one: the files renamed before
    it are put back, so the previous build is what is served."""
    site, public = newsroom
    before = files(public)
    later = INGEST_TIME + timedelta(hours=2)
    ingest(article(tmp_path / "in", "baru", "Banjir Bandang", categories="[Politik]", tags="[Banjir]", author="Siti"),
           now=later)
    real, renamed = os.replace, []

    def failing(source, target):
        if str(target).endswith("tag/banjir/rss.xml"):
            raise OSError(errno.EIO, "Input/output error", str(target))
        renamed.append(str(target))
        return real(source, target)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(PublishError, match=r"tag/banjir/rss\.xml: cannot swap the build in: Input/output error"):
        build(store, site, public, later + timedelta(minutes=1))
    monkeypatch.undo()
    assert any(path.endswith("/rss.xml") for path in renamed)   # the main feed was swapped in, then back
    assert files(public) == before and not temporary_files(public)
    build(store, site, public, later + timedelta(minutes=2))
    assert b"Banjir Bandang" in (public / "tag" / "banjir" / "rss.xml").read_bytes()


def test_a_full_build_in_two_processes_failing_in_one_leaves_nothing_of_either(newsroom, store, monkeypatch):
    site, public = newsroom
    before = files(public)
    retitled = replace(site, title="OKES.NEWS Baru")   # every document changes: a full build
    monkeypatch.setattr(building, "PARALLEL_FROM", 2)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    real, calls = builder.render_json_feed, []

    def failing(view, site, rendered_entries):
        calls.append(view.feed.json_path)
        if len(calls) == 2:
            # Not before the second process has written some of its documents (under temporary names).
            mine = f"-{os.getpid()}-"
            for _ in range(3000):
                if any(TEMPORARY_NAME.fullmatch(p.name) and mine not in p.name for p in public.rglob("*")):
                    break
                time.sleep(0.01)
            else:
                pytest.fail("the second process wrote nothing")
            raise RuntimeError("a renderer bug")
        return real(view, site, rendered_entries)

    monkeypatch.setattr(builder, "render_json_feed", failing)
    with pytest.raises(RuntimeError, match="a renderer bug"):
        build(store, retitled, public, INGEST_TIME + timedelta(hours=2), full=True)
    assert files(public) == before

    monkeypatch.setattr(builder, "render_json_feed", real)
    monkeypatch.setattr(building, "PARALLEL_FROM", 10**9)   # one process: quicker, and the same bytes
    build(store, retitled, public, INGEST_TIME + timedelta(hours=2), full=True)
    manifest = read_manifest(public)
    assert len(manifest) > 20 and all(b"OKES.NEWS Baru" in (public / path).read_bytes()
                                      for path in manifest if path.endswith((".xml", ".json")))
    assert not temporary_files(public)


def build_without_override(cwd: Path) -> subprocess.CompletedProcess:
    """``feedpub build`` in ``cwd``, where folder permissions bind (a root test run drops root's
    permission override in the child, as tests/test_reliability_disk.py does)."""
    return subprocess.run([*FEEDPUB, "build"], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=120,
                          preexec_fn=without_permission_override if os.geteuid() == 0 else None)


@pytest.fixture
def configured(tmp_path):
    """(write a config, the store it names, ingest a file into it)."""
    stores = []
    settings = IngestSettings(tag_authority="okes.example", timezone="Asia/Jakarta", language="id")

    def configure(text: str):
        (tmp_path / "feedpub.toml").write_text(text, encoding="utf-8")
        config = load_config(tmp_path / "feedpub.toml")
        if not stores:
            stores.append(SQLiteStore(tmp_path / config.store_path, clock=utc_now))
        return replace(config, output_dir=tmp_path / config.output_dir)

    def ingest(path: Path) -> None:
        ingest_paths(stores[0], [path], settings=settings, now=lambda: INGEST_TIME, overrides={},
                     report=lambda _: None)

    configure.ingest, configure.stores = ingest, stores
    yield configure
    for store in stores:
        store.close()


def test_a_folder_the_build_cannot_write_fails_it_before_any_document_is_swapped_in(tmp_path, configured):
    """A real write failure: one feed's folder read-only, the main and category feeds written before it."""
    config = configured("[feeds]\nitems = 3\narchive_entries = 2\n")
    store, public = configured.stores[0], config.output_dir
    configured.ingest(article(tmp_path / "in", "a", "Banjir di OKU Timur", categories="[Politik]", tags="[Banjir]"))
    build(store, config.site, public, datetime.now(timezone.utc))
    before = files(public)
    configured.ingest(article(tmp_path / "in", "b", "Banjir Bandang", categories="[Politik]", tags="[Banjir]"))
    (public / "tag" / "banjir").chmod(0o555)
    try:
        answer = build_without_override(tmp_path)
    finally:
        (public / "tag" / "banjir").chmod(0o755)
    assert answer.returncode != 0 and "tag/banjir/" in answer.stderr and "Permission denied" in answer.stderr
    assert files(public) == before

    build(store, config.site, public, datetime.now(timezone.utc))
    for path in ("rss.xml", "category/politik/atom.xml", "tag/banjir/feed.json"):
        assert b"Banjir Bandang" in (public / path).read_bytes(), path


def test_a_read_only_folder_holding_only_documents_the_build_removes_fails_it_before_anything_changes(
        tmp_path, configured):
    """Removing a file takes the rights writing one does: a folder where the build only removes
    files is tried before anything is swapped in."""
    config = configured("")
    store, public = configured.stores[0], config.output_dir
    configured.ingest(article(tmp_path / "in", "a", "Banjir di OKU Timur", categories="[Politik]", author="Siti"))
    build(store, config.site, public, datetime.now(timezone.utc))
    before = files(public)
    configured("[feeds]\nauthors = false\n")   # the authors' feeds go; the index and the OPML change
    (public / "author" / "siti").chmod(0o555)
    try:
        answer = build_without_override(tmp_path)
    finally:
        (public / "author" / "siti").chmod(0o755)
    assert answer.returncode != 0 and "author/siti/" in answer.stderr and "cannot remove: Permission denied" in (
        answer.stderr)
    assert files(public) == before
