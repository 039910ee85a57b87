"""The sample article `feedpub serve` puts in a new store stays a demo: marked, named by
`feedpub status`, removed without a trace, and never given to a site made by `feedpub init`."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path

import feedparser

from feedpub.settings import utc_now
from sources.ingest import ingest_paths
from sources.model import IngestSettings
from sources.store import SQLiteStore, schema

from .conftest import SAMPLE
from .harness import FEEDPUB, Served, wait_for

ROOT = Path(__file__).resolve().parent.parent
SLUG = SAMPLE.stem


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("FEEDPUB_CONFIG", None)
    return subprocess.run([*FEEDPUB, *args], cwd=cwd, capture_output=True, text=True, env=env)


def entries(served: Served) -> list:
    parsed = feedparser.parse(served.get("/atom.xml").content)
    assert parsed.bozo == 0
    return parsed.entries


def test_deleting_the_sample_leaves_no_tombstone_page_or_version_and_it_does_not_come_back(tmp_path):
    (tmp_path / "feedpub.toml").write_text("[schedule]\nrebuild_minutes = 60\n", encoding="utf-8")
    served = Served(tmp_path)
    try:
        (entry,) = entries(served)
        page = entry.link.removeprefix(served.url)
        assert served.get(page).status_code == 200
        status = run(tmp_path, "status")
        assert f"sample:    the newsroom's sample article is in the store ({SLUG}, published)" in status.stdout
        assert f"`feedpub delete {SLUG}` removes it without a trace" in status.stdout
        sample_id = json.loads(run(tmp_path, "status", "--json").stdout)["sample"]["id"]

        deleted = run(tmp_path, "delete", SLUG)
        assert deleted.returncode == 0 and f"removed the sample article: {sample_id}" in deleted.stdout
        wait_for(lambda: entries(served) == [])
        assert b"deleted-entry" not in served.get("/atom.xml").content   # no tombstone
        assert served.get(page).status_code == 404                       # no 410 page
    finally:
        served.stop()
    history = run(tmp_path, "history", SLUG)
    assert history.returncode == 1 and f"no article has the id or slug '{SLUG}'" in history.stderr
    with sqlite3.connect(tmp_path / "data" / "feedpub.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM articles").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM revisions").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM changes WHERE article_id = ?", (sample_id,)).fetchone() == (0,)
    db.close()
    public = [path for path in (tmp_path / "public").rglob("*") if path.is_file()]   # the build's own files too
    assert public and not [path for path in public if b"Forkopimda" in path.read_bytes()
                           or sample_id.encode() in path.read_bytes() or SLUG.encode() in path.read_bytes()]
    after = run(tmp_path, "status")
    assert "sample:" not in after.stdout and "0 published, 0 scheduled, 0 draft(s), 0 deleted" in after.stdout

    again = Served(tmp_path)   # a store that had the sample never gets it again
    try:
        assert entries(again) == []
    finally:
        again.stop()


def test_a_site_made_by_feedpub_init_never_gets_the_sample(tmp_path):
    assert run(tmp_path, "init", "--title", "OKES.NEWS").returncode == 0
    served = Served(tmp_path)
    try:
        assert entries(served) == []
        assert "sample:" not in run(tmp_path, "status").stdout
    finally:
        served.stop()


def test_a_store_that_took_the_sample_before_it_was_marked_knows_it(tmp_path):
    path = tmp_path / "data" / "feedpub.sqlite3"
    store = SQLiteStore(path, clock=utc_now)
    ingest_paths(store, [SAMPLE], settings=IngestSettings(tag_authority="localhost"), now=utc_now,
                 report=lambda line: None)   # from the package's sources/sample/ folder, as `feedpub serve` did
    store.close()
    # Back to the schema before the column (the migration that adds it, and what follows, run again).
    marking = next(number for number, migration in enumerate(schema.MIGRATIONS)
                   if any("ADD COLUMN sample" in statement for statement in migration.statements("sqlite")))
    later = [statement for migration in schema.MIGRATIONS[marking:] for statement in migration.statements("sqlite")]
    with sqlite3.connect(path) as db:
        for index in re.findall(r"CREATE INDEX (\w+)", "\n".join(later)):
            db.execute(f"DROP INDEX IF EXISTS {index}")   # a later migration may have dropped it
        for table in re.findall(r"CREATE TABLE (\w+)", "\n".join(later)):
            db.execute(f"DROP TABLE IF EXISTS {table}")   # or renamed it
        for table, column in re.findall(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", "\n".join(later)):
            db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        db.execute(f"PRAGMA user_version = {marking}")
    db.close()
    store = SQLiteStore(path, clock=utc_now)
    try:
        sample = store.sample()
        assert sample is not None and sample.slug == SLUG and sample.sample
        store.delete(SLUG, utc_now())
        assert store.count() == 0 and store.sample() is None
    finally:
        store.close()
