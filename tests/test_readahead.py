"""A large import's files are read and parsed in a worker process (sources/readahead.py):
the same items in the same order as in-process, a bad file failing alone with its line,
the worker ended with the import however it ends."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from sources.errors import IngestError
from sources.ingest import collect_files, ingest_paths
from sources.readahead import WORKER_FILES, file_drafts, wants_worker

from .conftest import INGEST_TIME, write_article

BAD = "b/rusak.txt"


def archive(folder: Path, n: int = WORKER_FILES + 20) -> Path:
    """``n`` stories, one of them with front matter that is never closed (line 2)."""
    for i in range(n - 1):
        write_article(folder, f"a/{i // 100}/berita-{i:03d}.txt",
                      f"---\ntitle: Banjir Melanda Desa Nomor {i}\npublished: 2024-09-{i % 28 + 1:02d}T10:00:00+07:00\n"
                      f"---\nBATURAJA - OKES.NEWS - Banjir melanda desa nomor {i}.\n"
                      + ("BACA JUGA:Banjir Melanda Desa Nomor 0\n" if i else "") + f"Warga desa {i} mengungsi.\n")
    write_article(folder, BAD, "---\ntitle: [tidak ditutup\n---\nIsi.")
    return folder


def comparable(item: object) -> object:
    if isinstance(item, IngestError):
        return ("error", str(item), item.path, item.line)
    return item


def test_a_worker_reads_the_same_items_in_the_same_order_as_the_importing_process(tmp_path, ingest_settings):
    folder = archive(tmp_path / "arsip", 40)
    write_article(folder, "c/feed.jsonl", '{"slug": "satu", "title": "Satu", "body": "Isi satu."}\n{"title": \n'
                                          '{"slug": "tiga", "title": "Tiga", "body": "Isi tiga."}\n')
    files, _ = collect_files([folder])
    here = [(file, comparable(item)) for file, item in file_drafts(files, settings=ingest_settings, overrides=None,
                                                                    worker=False)]
    there = [(file, comparable(item)) for file, item in file_drafts(files, settings=ingest_settings, overrides=None,
                                                                     worker=True)]
    assert there == here
    assert [item[3] for _, item in here if isinstance(item, tuple)] == [2, 2]   # the bad story, the bad JSON line


def test_a_bad_file_in_a_large_import_fails_alone_with_its_line(tmp_path, store, ingest_settings):
    folder = archive(tmp_path / "arsip")
    assert wants_worker(collect_files([folder])[0])
    messages: list[str] = []

    def run(**flags):
        return ingest_paths(store, [folder], settings=ingest_settings, now=lambda: INGEST_TIME,
                            report=messages.append, **flags)

    planned = run(dry_run=True)
    assert (planned.created, planned.failed) == (WORKER_FILES + 19, 1)
    assert store.count() == 0
    summary = run()
    assert (summary.created, summary.failed) == (WORKER_FILES + 19, 1)
    errors = [m for m in messages if m.startswith("error")]
    assert len(errors) == 2 and all(f"{BAD}:2:" in m for m in errors), errors
    assert store.count() == WORKER_FILES + 19
    assert multiprocessing.active_children() == []


def test_a_large_import_asked_to_stop_ends_its_reader_and_keeps_what_it_stored(tmp_path, store, ingest_settings):
    folder = archive(tmp_path / "arsip")
    asked = iter(range(1000))
    summary = ingest_paths(store, [folder], settings=ingest_settings, now=lambda: INGEST_TIME,
                           report=lambda _: None, stop=lambda: next(asked) >= 50)
    assert summary.interrupted and summary.created == 50
    assert multiprocessing.active_children() == []
    assert store.count() == 50
    again = ingest_paths(store, [folder], settings=ingest_settings, now=lambda: INGEST_TIME, report=lambda _: None)
    assert (again.created, again.unchanged, again.failed) == (WORKER_FILES + 19 - 50, 50, 1)


def test_a_reader_that_dies_is_an_error_not_a_hang(tmp_path, ingest_settings):
    folder = archive(tmp_path / "arsip")
    items = file_drafts(collect_files([folder])[0], settings=ingest_settings, overrides=None, worker=True)
    next(items)
    (reader,) = multiprocessing.active_children()
    os.kill(reader.pid, signal.SIGKILL)
    with pytest.raises(IngestError, match="the process reading the files ended"):
        for _ in items:
            pass
    assert multiprocessing.active_children() == []
