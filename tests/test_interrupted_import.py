"""An import cut short (kill -9, Ctrl-C) leaves only whole articles, and the same command resumes it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from sources.readahead import WORKER_FILES
from sources.store.sql import BATCH_SAVES

from .conftest import store_url, write_article
from .harness import FEEDPUB

pytestmark = pytest.mark.both_stores

ARTICLES = BATCH_SAVES + 200
assert ARTICLES >= WORKER_FILES, "these imports are to read their files in a worker process (sources/readahead.py)"
assert ARTICLES > BATCH_SAVES, "these imports are to commit a batch before they end, and be cut short after it"
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}


def archive(folder: Path, articles: int = ARTICLES) -> Path:
    for n in range(articles):
        write_article(folder, f"{n // 100:02d}/berita-{n:04d}.txt",
                      f"---\ntitle: Berita Arsip Nomor {n}\npublished: 2024-09-{n % 28 + 1:02d}T10:00:00+07:00\n"
                      f"categories: [Daerah]\n---\nBATURAJA - OKES.NEWS - Isi berita arsip nomor {n}.\n"
                      + ("BACA JUGA:Berita Arsip Nomor 0\n" if n else "") + f"Paragraf kedua berita {n}.\n")
    return folder


def start(tmp_path: Path, store, folder: Path, *, session: bool = False) -> subprocess.Popen:
    """``feedpub ingest FOLDER``; with ``session``, in a process group of its own (as a terminal runs it)."""
    (tmp_path / "feedpub.toml").write_text('[site]\nbase_url = "https://okes.example"\n', encoding="utf-8")
    return subprocess.Popen([*FEEDPUB, "ingest", str(folder)], cwd=tmp_path,
                            env={**ENV, "FEEDPUB_STORE_URL": store_url(store)}, start_new_session=session,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def children(pid: int) -> list[int]:
    """The processes ``pid`` started that are still running (the file reader among them)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def once_some_are_committed(store, process: subprocess.Popen) -> int:
    """Wait until the import has committed its first batch (and is still running)."""
    deadline = time.monotonic() + 120
    while store.count() == 0:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the import committed nothing in two minutes"
        time.sleep(0.01)
    return store.count()


def whole(store, articles: int = ARTICLES) -> list[str]:
    """What is wrong with any stored article: each must be one whole save (one version, its link)."""
    problems = []
    for article in store.page(articles + 10):
        versions = store.history(article.id)
        number = int(article.slug.rsplit("-", 1)[-1])
        if len(versions) != 1:
            problems.append(f"{article.slug}: {len(versions)} versions")
        if number and [link.title for link in article.related] != ["Berita Arsip Nomor 0"]:
            problems.append(f"{article.slug}: related links {article.related}")
    return problems


def resume(tmp_path: Path, store, folder: Path, stored: int, articles: int = ARTICLES) -> None:
    process = start(tmp_path, store, folder)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert out.splitlines()[-1] == f"{articles - stored} created, 0 updated, {stored} unchanged, 0 failed"
    assert store.count() == articles and whole(store, articles) == []


def test_an_import_killed_mid_batch_leaves_whole_articles_and_the_same_command_resumes(tmp_path, store):
    folder = archive(tmp_path / "arsip")
    process = start(tmp_path, store, folder)
    once_some_are_committed(store, process)
    reader = children(process.pid)
    process.kill()   # SIGKILL: no handler runs, the open batch is never committed
    process.communicate()
    deadline = time.monotonic() + 10
    while any(running(pid) for pid in reader):   # the file reader notices and ends
        assert time.monotonic() < deadline, "the process reading the files outlived the import"
        time.sleep(0.05)
    stored = store.count()
    assert 0 < stored < ARTICLES, "the import was not cut short"
    assert whole(store) == []
    resume(tmp_path, store, folder, stored)


def test_ctrl_c_stops_after_the_article_at_hand_commits_and_says_how_to_resume(tmp_path, store):
    folder = archive(tmp_path / "arsip")
    process = start(tmp_path, store, folder)
    once_some_are_committed(store, process)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, (out, err)
    assert "stopping after this article" in err
    last = out.splitlines()[-1]
    assert last.endswith("; interrupted: what is stored is whole, run the same command again to resume"), last
    created = int(last.split(" created")[0])
    # Everything it counted is committed, and nothing else.
    assert store.count() == created and 0 < created < ARTICLES
    assert whole(store) == []
    resume(tmp_path, store, folder, created)


def test_ctrl_c_at_a_terminal_reaches_the_file_reader_too_and_still_stops_after_the_article_at_hand(tmp_path, store):
    articles = 2 * ARTICLES   # the reader is still at work (it reads a few hundred ahead) when Ctrl-C comes
    folder = archive(tmp_path / "arsip", articles)
    process = start(tmp_path, store, folder, session=True)
    once_some_are_committed(store, process)
    assert children(process.pid), "no process reading the files"
    os.killpg(process.pid, signal.SIGINT)   # what a terminal's Ctrl-C does: every process of the group
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, (out, err)
    assert "Traceback" not in err, err
    created = int(out.splitlines()[-1].split(" created")[0])
    assert store.count() == created and 0 < created < articles
    assert whole(store, articles) == []
    resume(tmp_path, store, folder, created, articles)
