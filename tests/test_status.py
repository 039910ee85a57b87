"""`feedpub status`: readable at a glance, and JSON for scripts."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta, timezone

from .conftest import write_article
from .harness import FEEDPUB, Served, wait_for


def run_status(served, *args):
    import os
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return subprocess.run([*FEEDPUB, "status", *args], cwd=served.cwd, capture_output=True, text=True, env=env)


def test_status_of_a_running_service(tmp_path):
    (tmp_path / "feedpub.toml").write_text('[schedule]\nrebuild_minutes = 60\n', encoding="utf-8")
    served = Served(tmp_path)
    try:
        later = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=2)
        path = write_article(tmp_path, "nanti.txt", f'---\ntitle: "Berita Nanti"\npublished: {later.isoformat()}\n---\nIsi.')
        assert served.ingest(path).returncode == 0

        def reported():
            answer = json.loads(run_status(served, "--json").stdout)
            jobs = {job["id"] for job in answer["service"]["jobs"]} if answer["service"] else set()
            return answer if any(j.startswith("release:") for j in jobs) else None

        answer = wait_for(reported)
        assert answer["running"] is True
        assert answer["store"]["articles"] == 2
        build = answer["service"]["last_build"]
        assert build["revision"] == answer["store"]["revision"] and build["seconds"] >= 0
        jobs = {job["id"]: job["next_run"] for job in answer["service"]["jobs"]}
        assert {"watch-store", "rebuild"} <= set(jobs)
        release = [job_id for job_id in jobs if job_id.startswith("release:")]
        assert release == ["release:tag:localhost," + later.astimezone(
            __import__("zoneinfo").ZoneInfo("Asia/Jakarta")).date().isoformat() + ":nanti"]
        assert datetime.fromisoformat(jobs[release[0]]) == later
        assert [item["title"] for item in answer["scheduled"]] == ["Berita Nanti"]

        text = run_status(served).stdout
        assert "service:   running" in text and "Berita Nanti" in text and "last build:" in text
        assert "scheduled: 1 article(s) waiting for their time" in text
        # Times named by the site's zone, as `feedpub history` and `feedpub ingest` name them.
        release_at = later.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Jakarta"))
        assert f"({release_at:%Y-%m-%d %H:%M:%S} WIB)" in text and "UTC+07:00" not in text, text
    finally:
        served.stop()
    after = json.loads(run_status(served, "--json").stdout)
    assert after["running"] is False


def test_status_without_a_service(tmp_path):
    import os
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    assert subprocess.run([*FEEDPUB, "build"], cwd=tmp_path, capture_output=True, env=env).returncode == 0
    result = subprocess.run([*FEEDPUB, "status"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert result.returncode == 0
    assert "service:   not running" in result.stdout and "last build: none recorded" in result.stdout


def test_a_burst_of_a_hundred_ingests_costs_one_or_two_builds(tmp_path):
    (tmp_path / "feedpub.toml").write_text('[schedule]\nrebuild_minutes = 60\n', encoding="utf-8")
    served = Served(tmp_path)
    try:
        def builds():
            answer = json.loads(run_status(served, "--json").stdout)
            return answer["service"]["builds"], answer["service"]["last_build"]["revision"], answer["store"]["revision"]

        before, _, _ = wait_for(builds)
        for n in range(100):
            write_article(tmp_path / "burst", f"b{n:03}.txt", f"Berita kilat nomor {n}.")
        result = served.ingest(tmp_path / "burst")
        assert "100 created" in result.stdout
        after = wait_for(lambda: (lambda b: b if b[1] == b[2] else None)(builds()))
        assert 1 <= after[0] - before <= 2, f"{after[0] - before} builds for one burst"
    finally:
        served.stop()


def test_ingest_status_and_history_tell_scheduled_articles_and_each_state_apart(tmp_path):
    import os
    import re
    from pathlib import Path
    from zoneinfo import ZoneInfo

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}

    def run(*args):
        return subprocess.run([*FEEDPUB, *args], cwd=tmp_path, capture_output=True, text=True, env=env)

    later = (datetime.now(timezone.utc) + timedelta(hours=2)).replace(microsecond=0).astimezone(ZoneInfo("Asia/Jakarta"))
    for name, front in (("a", ""), ("b", f"published: {later.isoformat()}\n"), ("c", ""), ("d", "")):
        write_article(tmp_path / "naskah", f"{name}.txt", f"---\ntitle: Berita {name.upper()}\n{front}---\nIsi {name}.")
    ingested = run("ingest", "naskah")
    assert "4 created" in ingested.stdout
    assert f"b.txt: embargoed until {later:%Y-%m-%d %H:%M:%S} WIB ({later.isoformat()}): in no feed or page before then" \
        in ingested.stdout
    assert ingested.stdout.count("embargoed") == 1
    assert "embargoed" not in run("ingest", "naskah").stdout   # unchanged: nothing new to say
    assert run("unpublish", "c").returncode == 0 and run("delete", "d").returncode == 0

    text = run("status").stdout
    assert re.search(r"store: +\S+feedpub\.sqlite3: 1 published, 1 scheduled, 1 draft\(s\), 1 deleted, revision \d+",
                     text), text
    counts = json.loads(run("status", "--json").stdout)["store"]
    assert (counts["published"], counts["scheduled"], counts["drafts"], counts["deleted"], counts["articles"]) == (
        1, 1, 1, 1, 4)
    (line,) = run("history", "b").stdout.splitlines()[1:]
    assert "  scheduled  Berita B  created" in line
    assert json.loads(run("history", "b", "--json").stdout)["revisions"][0]["status"] == "scheduled"
    assert "  published  Berita A  created" in run("history", "a").stdout
