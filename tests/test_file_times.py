"""The files of a build carry their document's own time, never the build's clock.

A web server that makes validators from a file's time and size (nginx: ``Last-Modified``
from the modification time, ``ETag`` from time and size) then answers with the same ones
on every instance, and after every rebuild of content that did not change: each document
and each of its precompressed variants has, as its modification time, the document's time
as the manifest lists it, in whole seconds (what feedpub's own server sends as
``Last-Modified``).
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

from feeds.building.build import build
from feeds.publishing.encoding import VARIANTS
from feeds.publishing.publish import read_manifest
from feeds.serving.server import PublicFiles

from .conftest import INGEST_TIME, SAMPLE


def file_times(public: Path) -> dict[str, int]:
    """Every served file (dot-files aside) -> its modification time in whole seconds."""
    return {str(path.relative_to(public)): os.stat(path).st_mtime_ns // 1_000_000_000
            for path in sorted(public.rglob("*"))
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(public).parts)}


def document_times(public: Path) -> dict[str, int]:
    """Each file of each document the manifest lists (variants included) -> the document's time."""
    times = {}
    for relative, entry in read_manifest(public).items():
        moment = int(datetime.fromisoformat(entry["updated"]).timestamp())
        times[relative] = moment
        for coding in entry.get("encodings", {}):
            times[relative + VARIANTS[coding]] = moment
    return times


def test_each_document_and_variant_has_the_documents_time(store, ingest, site, tmp_path):
    ingest(SAMPLE)
    public = tmp_path / "public"
    build(store, site, public, INGEST_TIME + timedelta(hours=3))
    listed = document_times(public)
    assert any(name.endswith(".br") for name in listed) and any(name.endswith(".gz") for name in listed)
    on_disk = file_times(public)
    assert {name: on_disk[name] for name in listed} == listed


def test_last_modified_of_feedpubs_server_is_the_files_time(store, ingest, site, tmp_path):
    ingest(SAMPLE)
    public = tmp_path / "public"
    build(store, site, public, INGEST_TIME + timedelta(hours=1))
    files = PublicFiles(public, max_age=900)
    for relative in ("rss.xml", "atom.xml", "index.html"):
        _, _, headers, _ = files.answer({"REQUEST_METHOD": "GET", "PATH_INFO": "/" + relative})
        sent = parsedate_to_datetime(dict(headers)["Last-Modified"]).timestamp()
        assert sent == os.stat(public / relative).st_mtime


def test_two_folders_built_at_different_times_have_the_same_file_times(store, ingest, site, tmp_path):
    ingest(SAMPLE)
    first, second = tmp_path / "a", tmp_path / "b"
    build(store, site, first, INGEST_TIME + timedelta(hours=1))
    time.sleep(1)   # the file system's clock moves on too
    build(store, site, second, INGEST_TIME + timedelta(days=2))
    assert file_times(first) == file_times(second)


def test_a_rebuild_of_unchanged_content_gives_a_file_of_an_earlier_build_its_documents_time(
        store, ingest, site, tmp_path):
    ingest(SAMPLE)
    public = tmp_path / "public"
    build(store, site, public, INGEST_TIME + timedelta(hours=1))
    expected = file_times(public)
    # As a build before documents carried their own time left them: the build's clock.
    for name in ("rss.xml", "rss.xml.gz", "rss.xml.br", "index.html"):
        os.utime(public / name, (1_900_000_000, 1_900_000_000))
    build(store, site, public, INGEST_TIME + timedelta(hours=2), full=True)
    assert file_times(public) == expected


def test_versions_of_one_article_stored_within_a_second_get_distinct_seconds(store, ingest, site, tmp_path):
    """Two versions of a document never share a time (nor, for nginx, an ETag of time and size)."""
    ingest(SAMPLE)
    edited = tmp_path / "edited.txt"
    edited.write_text(SAMPLE.read_text(encoding="utf-8").replace("Rapat", "Pertemuan", 1), encoding="utf-8")
    article = store.articles(store.latest_ids(None, None, INGEST_TIME, 1), INGEST_TIME)[0]
    ingest(edited, id=article.id)   # the same clock reading as the first version
    edited.write_text(SAMPLE.read_text(encoding="utf-8").replace("Rapat", "Musyawarah", 1), encoding="utf-8")
    ingest(edited, id=article.id)
    times = [article.stored, *(revision.stored for revision in store.history(article.id)[1:])]
    assert len(times) == 3
    assert all(later - earlier >= timedelta(seconds=1) for earlier, later in zip(times, times[1:]))
