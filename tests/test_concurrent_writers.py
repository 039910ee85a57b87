"""Four writers at once on one PostgreSQL store: the CLI in each of two instances' folders and
the ingest API of each instance, every one adding its articles and then editing each.

Nothing is lost (every article is there, in its edited version), nothing is duplicated
(one article per slug and per id, its two revisions each in `feedpub history`, and one more where
its pending link resolved after it was published: a change readers see),
and related links across writers resolve as if the articles had come one by one: the
store's writers queue on its revision row (sources/store/postgres.py), so each write
reads what the writes before it committed.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from feedpub.settings import utc_now

from .conftest import free_port
from .harness import FEEDPUB, Served, stop_all, wait_for

ARTICLES = 250       # per writer
TOKEN = "writers-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parent.parent
WRITERS = ("cli-a", "cli-b", "api-a", "api-b")

pytestmark = pytest.mark.heavy


def title(writer: str, n: int) -> str:
    return f"Kabar {writer.replace('-', ' ').title()} Nomor {n:03d}"


def body(writer: str, n: int, *, edited: bool) -> str:
    # Each article names one of another writer's: the links cross writers, in both directions.
    other = WRITERS[(WRITERS.index(writer) + 1) % len(WRITERS)]
    state = "diperbarui" if edited else "pertama"
    return (f"BATURAJA - OKES.NEWS - Laporan {state} dari {writer} nomor {n}.\n"
            f"BACA JUGA: {title(other, n)}\n(*)")


def slug(writer: str, n: int) -> str:
    return f"{writer}-{n:03d}"


def cli_writer(folder: Path, writer: str) -> None:
    source = folder / "in" / writer
    source.mkdir(parents=True)
    for edited in (False, True):
        for n in range(ARTICLES):
            (source / f"{slug(writer, n)}.txt").write_text(
                f"---\ntitle: {title(writer, n)}\n---\n{body(writer, n, edited=edited)}\n", encoding="utf-8")
        done = subprocess.run([*FEEDPUB, "ingest", str(source)], cwd=folder, capture_output=True, text=True,
                              timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 0, done.stdout + done.stderr


def api_writer(url: str, writer: str) -> None:
    with requests.Session() as session:
        session.headers.update(AUTH)
        for n in range(ARTICLES):
            answer = session.post(url + "/api/articles", timeout=60, json={
                "title": title(writer, n), "slug": slug(writer, n), "body": body(writer, n, edited=False)})
            assert answer.status_code == 201, answer.text
        for n in range(ARTICLES):
            answer = session.patch(url + f"/api/articles/{slug(writer, n)}", timeout=60,
                                   json={"body": body(writer, n, edited=True)})
            assert answer.status_code == 200, answer.text


def test_four_writers_through_two_instances_lose_and_duplicate_nothing(postgres_url, tmp_path, monkeypatch,
                                                                        record_property):
    from sources.store.postgres import PostgresStore

    monkeypatch.setenv("FEEDPUB_STORE_URL", postgres_url)
    folders = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "feedpub.toml").write_text(
            f'[site]\nbase_url = "https://okes.example"\n[schedule]\nrebuild_minutes = 60\n'
            f'[api]\ntoken = "{TOKEN}"\n[server]\nworkers = 1\n[store]\nsuggest_related = false\n', encoding="utf-8")
        folders.append(folder)
    instances = [Served(folder, port=free_port(), wait=False, log=folder / "serve.log") for folder in folders]
    failures: list[BaseException] = []
    try:
        for served in instances:
            served.wait_until_serving()

        def run(target, *args) -> None:
            try:
                target(*args)
            except BaseException as exc:   # reported below, in the test's thread
                failures.append(exc)

        threads = [threading.Thread(target=run, args=args) for args in (
            (cli_writer, folders[0], "cli-a"), (cli_writer, folders[1], "cli-b"),
            (api_writer, instances[0].url, "api-a"), (api_writer, instances[1].url, "api-b"))]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        assert not failures, failures
        store = PostgresStore(postgres_url, clock=utc_now)
        try:
            with store._connection() as cur:
                counts = cur.execute("SELECT count(*), count(DISTINCT id), count(DISTINCT slug) FROM articles "
                                     "WHERE slug != 'okes-forkopimda-oku-pilkada-2024'").fetchone()
                revisions = cur.execute("SELECT count(*) FROM revisions").fetchone()[0]
            assert counts == (4 * ARTICLES,) * 3
            # Each article twice, and once more where its link resolved after it was published; the sample once.
            assert 2 * 4 * ARTICLES + 1 <= revisions <= 3 * 4 * ARTICLES + 1
            stored = {a.slug: a for a in store.articles(
                [a.id for a in store.page(10 * ARTICLES) if a.slug != "okes-forkopimda-oku-pilkada-2024"],
                utc_now())}
            for writer in WRITERS:
                target = WRITERS[(WRITERS.index(writer) + 1) % len(WRITERS)]
                for n in range(ARTICLES):
                    article = stored[slug(writer, n)]
                    assert "diperbarui" in article.content_text, article.slug          # the edit, not lost
                    assert [link.target.slug for link in article.related] == [slug(target, n)], article.slug
                    history = store.history(article.slug)
                    assert [r.number for r in history] in ([1, 2], [1, 2, 3]) and "pertama" in history[0].article.content_text
                    assert all("related" in r.changed for r in history[1:] if "content_text" not in r.changed)
            revision = store.revision()
        finally:
            store.close()
        # `feedpub history` tells the same, through either instance's configuration.
        for folder, key in ((folders[0], slug("api-b", 7)), (folders[1], slug("cli-a", 200))):
            done = subprocess.run([*FEEDPUB, "history", key, "--json"], cwd=folder, capture_output=True, text=True,
                                  timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
            assert [v["number"] for v in json.loads(done.stdout)["revisions"]] in ([1, 2], [1, 2, 3]), done.stderr
        wait_for(lambda: all(json.loads((folder / "data" / "status.json").read_bytes())["last_build"]["revision"]
                             == revision for folder in folders), timeout=120)
        record_property("writes", 2 * 4 * ARTICLES)
        record_property("writes_per_second", round(2 * 4 * ARTICLES / seconds, 1))
    finally:
        stop_all(instances)
