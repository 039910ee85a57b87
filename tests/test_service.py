"""The running service: `feedpub serve` as a real process, `feedpub ingest` beside it."""

from __future__ import annotations

import os
import re
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import feedparser
import pytest

from feedpub.settings import load_config
from scheduler import Service

from .conftest import INGEST_TIME, SAMPLE, write_article
from .harness import DEADLINE, FEEDPUB, Served, wait_for


@pytest.fixture
def served(tmp_path):
    (tmp_path / "feedpub.toml").write_text('[schedule]\nrebuild_minutes = 60\n', encoding="utf-8")
    service = Served(tmp_path)
    yield service
    service.stop()


def entry_titles(served, path="/atom.xml"):
    parsed = feedparser.parse(served.get(path).content)
    assert parsed.bozo == 0
    return [entry.title for entry in parsed.entries]


def test_a_fresh_service_serves_the_sample_article(served):
    assert (served.cwd / "data" / "feedpub.sqlite3").exists()
    for path in ("/rss.xml", "/atom.xml"):
        response = served.get(path)
        assert response.status_code == 200
        parsed = feedparser.parse(response.content)
        assert parsed.bozo == 0
        assert parsed.feed.links[0].href.startswith(served.url)   # self links right out of the box
        (entry,) = parsed.entries
        assert "Forkopimda" in entry.content[0].value
        again = served.get(path, **{"If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304


def test_an_ingest_beside_the_service_is_built_and_served(served):
    path = write_article(served.cwd, "incoming/banjir.txt", "PALEMBANG - OKES.NEWS - Banjir melanda Palembang.")
    result = served.ingest(path)
    assert result.returncode == 0, result.stderr
    assert "created" in result.stdout
    wait_for(lambda: "Banjir melanda Palembang" in entry_titles(served))


def test_an_embargoed_article_appears_at_its_time_and_not_before(served):
    release = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=6)
    marker = write_article(served.cwd, "in/marker.txt", "Penanda biasa.")
    write_article(served.cwd, "in/embargo.txt", f"---\npublished: {release.isoformat()}\n---\nBerita terembargo.")
    assert served.ingest(marker.parent).returncode == 0
    wait_for(lambda: "Penanda biasa" in entry_titles(served))
    # Until a moment before its time, no document mentions it (polled, not checked once).
    polls = 0
    while datetime.now(timezone.utc) < release - timedelta(seconds=0.5):
        for path in ("/rss.xml", "/atom.xml", "/feed.json", "/", "/feeds.opml"):
            assert "terembargo" not in served.get(path).text
        polls += 1
    assert polls > 0, "the machine was too slow to observe the embargo"
    wait_for(lambda: "Berita terembargo" in entry_titles(served))
    assert datetime.now(timezone.utc) >= release


def test_sigterm_stops_the_service_cleanly(served):
    assert served.get("/rss.xml").status_code == 200
    assert served.stop() == 0
    assert "stopped" in served.process.stderr.read()
    assert not list((served.cwd / "public").glob(".*.tmp"))


def test_the_periodic_rebuild_picks_up_a_change(tmp_path, ingest, store):
    """With the change watcher off, only the periodic job can publish an embargoed article."""
    (tmp_path / "feedpub.toml").write_text(
        f'[schedule]\nrebuild_minutes = 0.02\n[output]\npath = "{tmp_path / "public"}"\n', encoding="utf-8")
    config = load_config(tmp_path / "feedpub.toml")
    clock = {"now": INGEST_TIME}
    ingest(SAMPLE)
    ingest(write_article(tmp_path, "nanti.txt", f"---\npublished: {(INGEST_TIME + timedelta(hours=1)).isoformat()}\n---\nNanti."))
    service = Service(config, store, clock=lambda: clock["now"])
    service.build_now("start")
    assert b"Nanti." not in (tmp_path / "public" / "atom.xml").read_bytes()
    service.start()
    try:
        service.scheduler.remove_job("watch-store")
        for job in service.scheduler.get_jobs():
            if job.id.startswith("release:"):
                job.remove()
        clock["now"] = INGEST_TIME + timedelta(hours=2)
        wait_for(lambda: b"Nanti." in (tmp_path / "public" / "atom.xml").read_bytes())
    finally:
        service.stop()


def test_builds_longer_than_a_watcher_tick_raise_no_apscheduler_warning(tmp_path, ingest, store, caplog,
                                                                      monkeypatch):
    """The store watcher ticks every 0.25 s; a build it asked for may take longer. APScheduler
    must not skip its ticks with "maximum number of running instances reached"."""
    import logging

    import scheduler

    (tmp_path / "feedpub.toml").write_text(
        f'[schedule]\nrebuild_minutes = 60\n[output]\npath = "{tmp_path / "public"}"\n', encoding="utf-8")
    real_build = scheduler.build

    def slow_build(*args, **kwargs):   # a build of a big site: several ticks long
        time.sleep(4 * scheduler.WATCH_SECONDS)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(scheduler, "build", slow_build)
    caplog.set_level(logging.WARNING, logger="apscheduler")
    ingest(SAMPLE)
    service = Service(load_config(tmp_path / "feedpub.toml"), store, clock=lambda: INGEST_TIME)
    service.start()
    try:
        for n in range(3):
            ingest(write_article(tmp_path, f"berita-{n}.txt", f"Berita nomor {n} dari Baturaja."))
            wait_for(lambda: service.last_build is not None and service.last_build.revision == store.revision())
        assert service.builds >= 3
    finally:
        service.stop()
    skipped = [record.getMessage() for record in caplog.records if "maximum number of running instances" in
               record.getMessage()]
    assert skipped == []


def test_builds_during_a_slow_image_measurement_raise_no_apscheduler_warning(tmp_path, ingest, store, caplog):
    """Each build queues a measurement of the lead images still unmeasured; one still running
    must not be queued again (APScheduler would skip it with a warning), and the images
    stored meanwhile are measured after it."""
    import logging

    from sources.model import Image

    (tmp_path / "feedpub.toml").write_text(
        f'[schedule]\nrebuild_minutes = 60\n[output]\npath = "{tmp_path / "public"}"\n', encoding="utf-8")
    caplog.set_level(logging.WARNING, logger="apscheduler")
    service = Service(load_config(tmp_path / "feedpub.toml"), store, clock=lambda: INGEST_TIME)
    measured: list[str] = []

    def slow_measure(url: str) -> Image:   # an image server that takes its time
        time.sleep(1.0)
        measured.append(url)
        return Image(url, "image/jpeg", 1234)

    service.measure = slow_measure
    service.start()
    try:
        for n in range(3):
            ingest(write_article(tmp_path, f"foto-{n}.txt", f"---\nimage: https://images.example/{n}.jpg\n---\n"
                                                            f"Berita bergambar nomor {n}."))
            wait_for(lambda: service.last_build is not None and service.last_build.revision == store.revision())
        wait_for(lambda: not store.unmeasured_images(20), timeout=DEADLINE * 2)
    finally:
        service.stop()
    assert sorted(measured) == [f"https://images.example/{n}.jpg" for n in range(3)]   # each once
    skipped = [record.getMessage() for record in caplog.records if "maximum number of running instances" in
               record.getMessage()]
    assert skipped == []


def test_the_readmes_diagram_gives_the_store_watchers_real_interval():
    import scheduler

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    (figure,) = re.findall(r"store watcher \(([\d.]+) s\)", readme)
    assert float(figure) == scheduler.WATCH_SECONDS


def test_release_jobs_follow_the_store_one_per_embargoed_article(tmp_path, ingest, store):
    config = load_config(cwd=tmp_path)
    first, second = INGEST_TIME + timedelta(hours=3), INGEST_TIME + timedelta(hours=5)
    a = write_article(tmp_path, "a.txt", f"---\npublished: {first.isoformat()}\n---\nSatu.")
    b = write_article(tmp_path, "b.txt", f"---\npublished: {second.isoformat()}\n---\nDua.")
    ingest(a, b)
    service = Service(config, store, clock=lambda: INGEST_TIME)
    service.scheduler.start(paused=True)
    try:
        service.sync_release_jobs(INGEST_TIME)
        jobs = {job.id: job for job in service.scheduler.get_jobs()}
        assert {job_id: job.next_run_time for job_id, job in jobs.items()} == {
            "release:tag:okes.example,2024-09-18:a": first, "release:tag:okes.example,2024-09-18:b": second}
        assert all(job.misfire_grace_time is None and job.max_instances == 1 for job in jobs.values())
        # Moved, unpublished, deleted: the jobs follow at the next sync.
        moved = first + timedelta(minutes=30)
        a.write_text(f"---\npublished: {moved.isoformat()}\n---\nSatu.", encoding="utf-8")
        ingest(a, now=INGEST_TIME + timedelta(minutes=1))
        service.sync_release_jobs(INGEST_TIME)
        assert service.scheduler.get_job("release:tag:okes.example,2024-09-18:a").next_run_time == moved
        store.unpublish("a", INGEST_TIME)
        store.delete("b", INGEST_TIME)
        service.sync_release_jobs(INGEST_TIME)
        assert [job.id for job in service.scheduler.get_jobs()] == []
    finally:
        service.scheduler.shutdown(wait=False)


def test_a_release_that_fires_late_still_builds(tmp_path, ingest, store):
    """Paused past its time by more than APScheduler's default 1 s grace, the release still runs."""
    (tmp_path / "feedpub.toml").write_text(f'[output]\npath = "{tmp_path / "public"}"\n', encoding="utf-8")
    config = load_config(tmp_path / "feedpub.toml")
    due = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=2)
    ingest(write_article(tmp_path, "telat.txt", f"---\npublished: {due.isoformat()}\n---\nTerlambat."))
    service = Service(config, store)
    service.build_now("start")
    service.scheduler.start(paused=True)
    try:
        service.sync_release_jobs(datetime.now(timezone.utc))
        assert [job.id for job in service.scheduler.get_jobs()] == ["release:tag:okes.example,"
                                                                    f"{due.astimezone(INGEST_TIME.tzinfo).date()}:telat"]
        wait_for(lambda: datetime.now(timezone.utc) > due + timedelta(seconds=2))
        assert b"Terlambat." not in (tmp_path / "public" / "atom.xml").read_bytes()
        service.scheduler.resume()
        wait_for(lambda: b"Terlambat." in (tmp_path / "public" / "atom.xml").read_bytes())
    finally:
        service.stop()


def test_cli_build_and_ingest_exit_codes(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    run = lambda *args: subprocess.run([*FEEDPUB, *args], cwd=tmp_path, capture_output=True, text=True, env=env)  # noqa: E731
    good = run("ingest", str(SAMPLE))
    assert good.returncode == 0 and "1 created" in good.stdout and "derived" in good.stdout
    (tmp_path / "bad.txt").write_bytes(b"")
    bad = run("ingest", "bad.txt")
    assert bad.returncode == 1 and "bad.txt: the file is empty" in bad.stdout
    built = run("build")
    assert built.returncode == 0 and re.search(r"\d+ written, 0 unchanged", built.stdout)
    assert (tmp_path / "public" / "rss.xml").exists()
    store_bytes = (tmp_path / "data" / "feedpub.sqlite3").read_bytes()
    (tmp_path / "feedpub.toml").write_text("[site]\ntitel = 'x'\n", encoding="utf-8")
    config_error = run("ingest", str(SAMPLE), "--author", "Orang Lain")
    assert config_error.returncode == 2 and "feedpub.toml: site.titel: unknown key" in config_error.stderr
    assert (tmp_path / "data" / "feedpub.sqlite3").read_bytes() == store_bytes


def test_a_taken_port_is_a_clear_error(tmp_path):
    import socket

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([*FEEDPUB, "serve", "--port", str(port)], cwd=tmp_path, capture_output=True,
                                text=True, env=env, timeout=DEADLINE)
    assert result.returncode == 1
    assert f"feedpub: error: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_during_builds_leaves_a_consistent_public_folder_and_a_clean_restart(tmp_path):
    """Stopped at varying points of a build: every file matches the manifest, and a restart serves."""
    import hashlib
    import json
    import random

    (tmp_path / "feedpub.toml").write_text('[schedule]\nrebuild_minutes = 60\n[feeds]\nitems = 200\n', encoding="utf-8")
    for n in range(150):
        write_article(tmp_path / "corpus", f"c{n:03}.txt", f"Berita korpus {n}.\n" + "Paragraf panjang. " * 40)
    seed = random.Random(6)
    for attempt in range(4):
        served = Served(tmp_path)
        if attempt == 0:
            assert served.ingest(tmp_path / "corpus").returncode == 0
        else:
            write_article(tmp_path / "more", f"m{attempt}.txt", f"Tambahan {attempt}.")
            assert served.ingest(tmp_path / "more" / f"m{attempt}.txt").returncode == 0
        time.sleep(seed.uniform(0.0, 0.6))           # somewhere around the triggered build
        assert served.stop() == 0
        public = tmp_path / "public"
        manifest = json.loads((public / ".manifest.json").read_bytes())["documents"]
        for name, entry in manifest.items():
            assert hashlib.sha256((public / name).read_bytes()).hexdigest() == entry["sha256"], name
        assert not list(public.glob(".*.tmp"))
    restarted = Served(tmp_path)
    try:
        wait_for(lambda: "Tambahan 3." in restarted.get("/atom.xml").text)
    finally:
        restarted.stop()
