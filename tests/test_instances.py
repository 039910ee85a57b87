"""Several `feedpub serve` instances on one PostgreSQL store, as behind a load balancer: each
builds its own output folder from the shared store, and the bytes depend on the store alone.

Two instances (ports and folders of their own, one ``site.base_url``) start at the same
moment on an empty database; then a sequence of changes comes through every way in: the
CLI in either instance's folder, the ingest API of either instance, an embargo that lifts.
After each, both have built it (their status names the store's revision) and their
manifests, which list every document with its SHA-256, are byte for byte equal. Their feed
polls land in the shared database: ``feedpub stats`` in either folder shows both.
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from feedpub.settings import utc_now

from .conftest import SAMPLE, free_port
from .harness import Served, run_feedpub, stop_all, wait_for

TOKEN = "instances-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE_URL = "https://okes.example"


def config_file(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "feedpub.toml"
    path.write_text(f'[site]\nbase_url = "{BASE_URL}"\n[schedule]\nrebuild_minutes = 60\n[api]\ntoken = "{TOKEN}"\n'
                    f'[server]\nworkers = 1\n[output]\npath = "{folder / "public"}"\n[store]\n'
                    f'path = "{folder / "data" / "feedpub.sqlite3"}"\n', encoding="utf-8")
    return path


def config(folder: Path) -> Path:
    config_file(folder)
    return folder


def run(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return run_feedpub(folder, *args)


def built_revision(folder: Path) -> int | None:
    try:
        status = json.loads((folder / "data" / "status.json").read_bytes())
    except (OSError, ValueError):
        return None
    return (status.get("last_build") or {}).get("revision")


def manifests(folder: Path) -> dict[str, bytes]:
    public = folder / "public"
    return {str(path.relative_to(public)): path.read_bytes() for path in sorted(public.rglob(".manifest.json"))}


@pytest.fixture
def shared(postgres_url, tmp_path, monkeypatch):
    monkeypatch.setenv("FEEDPUB_STORE_URL", postgres_url)
    return postgres_url


def test_two_instances_serve_byte_identical_documents_after_every_change(shared, tmp_path):
    from sources.store.postgres import PostgresStore

    folders = [config(tmp_path / name) for name in ("a", "b")]
    # At the same moment, on an empty database: the migrations and the sample article run once.
    starting = [Served(folder, port=free_port(), wait=False, log=folder / "serve.log") for folder in folders]
    store = None
    try:
        for served in starting:
            served.wait_until_serving()
        a, b = starting
        store = PostgresStore(shared, clock=utc_now)
        assert store.count() == 1 and len(store.history(store.page(1)[0].id)) == 1

        def both_built() -> None:
            revision = store.revision()
            wait_for(lambda: all(built_revision(folder) == revision for folder in folders))
            assert manifests(folders[0]) == manifests(folders[1])
            assert manifests(folders[0])

        both_built()
        source = tmp_path / "in" / "banjir.txt"
        source.parent.mkdir()
        source.write_text("---\ntitle: Banjir Rendam Baturaja\ncategories: [Peristiwa]\n---\n"
                          "BATURAJA - OKES.NEWS - Hujan deras merendam tiga desa.\n"
                          "BACA JUGA: BPBD Kerahkan Perahu Karet\n(*)\n", encoding="utf-8")
        run(folders[0], "ingest", str(source))                                   # the CLI, by instance a
        both_built()
        created = requests.post(b.url + "/api/articles", headers=AUTH, timeout=10, json={   # the API of b
            "title": "BPBD Kerahkan Perahu Karet", "slug": "bpbd-perahu", "categories": ["Peristiwa"],
            "body": "BATURAJA - OKES.NEWS - BPBD mengerahkan dua perahu karet.\n(*)"})
        assert created.status_code == 201, created.text
        both_built()
        edited = requests.patch(a.url + "/api/articles/bpbd-perahu", headers=AUTH, timeout=10,   # the API of a
                                json={"tags": ["Banjir"]})
        assert edited.status_code == 200, edited.text
        both_built()
        source.write_text(source.read_text(encoding="utf-8").replace("tiga desa", "empat desa"), encoding="utf-8")
        run(folders[1], "ingest", str(source))                                   # the CLI, by instance b
        both_built()
        run(folders[0], "delete", "bpbd-perahu")
        both_built()
        # An embargo that lifts: the store does not change when it does, every instance's clock does.
        release = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=4)
        run(folders[1], "ingest", "--slug", "terembargo", "--published", release.isoformat(), str(SAMPLE))
        both_built()
        time.sleep(max(0.0, (release - datetime.now(timezone.utc)).total_seconds()))
        wait_for(lambda: all(b"terembargo" in (folder / "public" / "atom.xml").read_bytes() for folder in folders))
        wait_for(lambda: manifests(folders[0]) == manifests(folders[1]))

        # Polls of either instance, in the shared database: `feedpub stats` anywhere shows both.
        assert a.get("/atom.xml", **{"User-Agent": "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 7 subscribers)"}).ok
        assert b.get("/atom.xml", **{"User-Agent": "Inoreader/1.0 (+http://www.inoreader.com; 5 subscribers)"}).ok

        def reported() -> dict | None:
            found = json.loads(run(folders[1], "stats", "--json").stdout)
            atom = next((feed for feed in found if feed["path"] == "atom.xml"), None)
            return atom if atom and len(atom["subscribers"]) == 2 else None

        atom = wait_for(reported)
        assert atom["subscribers"] == {"Feedly": 7, "Inoreader": 5}
        assert json.loads(run(folders[0], "stats", "--json").stdout) == json.loads(
            run(folders[1], "stats", "--json").stdout)
    finally:
        if store is not None:
            store.close()
        stop_all(starting)
    logs = [(folder / "serve.log").read_text() for folder in folders]
    assert sum(log.count("sample: created: ") for log in logs) == 1, logs   # one ingested it, under the lock ...
    assert not any("sample: unchanged: " in log for log in logs), logs      # ... the other found it there


def test_a_commit_anywhere_wakes_an_instances_store_watcher(postgres_url, tmp_path, ingest_settings):
    """No revision check runs here (the scheduler is not started): the notification of the
    commit alone gets it built, once the instance has been quiet for MAX_WAIT."""
    from feedpub.settings import load_config
    from scheduler import MAX_WAIT, Service
    from sources.ingest import ingest_paths
    from sources.store.postgres import PostgresStore

    config = load_config(config_file(tmp_path), env={"FEEDPUB_STORE_URL": postgres_url})
    instance_store = PostgresStore(postgres_url, clock=utc_now)
    writer = PostgresStore(postgres_url, clock=utc_now)   # another process's, as far as the store can tell
    service = Service(config, instance_store)
    try:
        service.build_now("start")
        service._stop_listening = instance_store.on_change(service.store_changed)
        time.sleep(MAX_WAIT)   # quiet: the next notified change is built at once
        ingest_paths(writer, [SAMPLE], settings=ingest_settings, now=utc_now, report=lambda _: None)
        wait_for(lambda: service.last_build.revision == writer.revision())
        assert service.last_reason == "store changed (notified)"
    finally:
        service.stop()
        writer.close()
        instance_store.close()
