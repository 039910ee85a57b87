"""Disk trouble: a build that cannot write leaves the documents served as they were,
and says so in ``feedpub status`` and ``/healthz`` until a build succeeds again.

Two honest ways for a write to fail, each in a real ``feedpub serve``:

- a full disk: the process runs under ``RLIMIT_FSIZE``, so a write past the limit fails
  with EFBIG ("File too large") where a full disk fails with ENOSPC: the same
  ``OSError`` from the same ``write`` in :func:`feeds.publishing.atomic.write_atomic` (Python
  ignores SIGXFSZ, so the process lives on). The store is written by ``feedpub
  ingest`` in another process, without the limit, as a newsroom's tool would.
- a read-only output folder (``chmod a-w``). Permissions do not bind root (its
  CAP_DAC_OVERRIDE capability), so a test run as root starts the service without it.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from scheduler import MAX_RETRY, WATCH_SECONDS, retry_delay
from scheduler import Service as SchedulerService
from feedpub.settings import load_config
from feedpub.status import format_status

from .conftest import INGEST_TIME, SAMPLE
from .harness import FEEDPUB, wait_for

ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
TOKEN = "disk-test-token-0123456789"
DOCUMENTS = ("/rss.xml", "/atom.xml", "/feed.json", "/category/politik/rss.xml", "/index.html")
CODINGS = (None, "gzip", "br")
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE = 24, 1   # <linux/prctl.h>, <linux/capability.h>
# RLIMIT_FSIZE of the service: room for its documents (a few KB) and its store's first write-ahead
# log (every migration in one transaction), none for a feed holding a 600 KB article.
LIMIT = 512 * 1024


def served(url: str) -> dict[tuple[str, str | None], tuple[str, bytes]]:
    """(path, Accept-Encoding) -> (ETag, body as sent) of every document in every coding."""
    found = {}
    for path in DOCUMENTS:
        for coding in CODINGS:
            response = requests.get(url + path, headers={"Accept-Encoding": coding or "identity"}, timeout=5,
                                    stream=True)
            assert response.status_code == 200, (path, response.status_code)
            found[(path, coding)] = (response.headers["ETag"], response.raw.read())   # the bytes as sent
    return found


def settled(url: str) -> dict[tuple[str, str | None], tuple[str, bytes]]:
    """``served``, once the server shows the last build whole: every compressed request
    answered compressed and two looks alike (a worker takes up a new manifest within 50 ms,
    and until then answers a document it has not vouched for uncompressed)."""
    def look():
        first = served(url)
        compressed = all(etag.endswith(('-gz"', '-br"')) for (_, coding), (etag, _) in first.items() if coding)
        return first if compressed and served(url) == first else None

    return wait_for(look)


def titles_in(url: str) -> str:
    return requests.get(url + "/feed.json", timeout=5).text


class Running:
    """``feedpub serve`` in ``cwd``, started with ``prepare`` run in the child before exec."""

    def __init__(self, cwd: Path, prepare: Callable[[], None] | None = None):
        self.cwd, self.prepare = cwd, prepare
        self.process = subprocess.Popen([*FEEDPUB, "serve", "--port", "0"], cwd=cwd, env=ENV, preexec_fn=prepare,
                                        stdout=subprocess.PIPE, stderr=open(cwd / "serve.log", "ab"))
        line = self.process.stdout.readline().decode()
        assert "serving http://" in line, (line, (cwd / "serve.log").read_text(errors="replace")[-2000:])
        self.url = line.split("serving ", 1)[1].strip().rstrip("/")

    def feedpub(self, *args: str) -> subprocess.CompletedProcess:
        """Another feedpub command beside the service, as the same user."""
        return subprocess.run([*FEEDPUB, *args], cwd=self.cwd, env=ENV, capture_output=True, text=True, timeout=60)

    def health(self) -> tuple[int, dict]:
        response = requests.get(self.url + "/healthz", timeout=5)
        return response.status_code, response.json()

    def status(self) -> dict:
        answer = self.feedpub("status", "--json")
        assert answer.returncode == 0, answer.stderr
        return json.loads(answer.stdout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self.process.stdout.close()


def without_permission_override() -> None:
    """Run in the child before exec: drop CAP_DAC_OVERRIDE from the capability bounding set,
    so that root's service, like anyone else's, cannot write into a folder without write
    permission (prctl(2) PR_CAPBSET_DROP; an exec'd root process gets only the bounding set)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE)")


def limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def article(folder: Path, name: str, title: str, paragraphs: int = 1) -> Path:
    path = folder / "incoming" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    # Every paragraph different, so that the compressed variants grow too, as real text does.
    body = "\n".join(f"Paragraf {n} tentang {title.lower()}, dengan rincian nomor {n * 7919 % 10007}."
                     for n in range(paragraphs))
    path.write_text(f"---\ntitle: {title}\ncategories: [Politik]\n---\nBATURAJA - OKES.NEWS - {body}\n",
                    encoding="utf-8")
    return path


def assert_failing_visibly(service: Running, cause: str) -> dict:
    """/healthz and `feedpub status` (JSON and text) both name the failed build and its cause."""
    status, health = wait_for(lambda: (lambda h: h if h[0] == 503 else None)(service.health()))
    assert any(problem.startswith("last build failed") and cause in problem for problem in health["problems"]), health
    assert cause in health["last_build_error"] and health["build_failures_in_a_row"] >= 1
    report = service.status()
    assert cause in report["service"]["last_error"], report["service"]
    text = service.feedpub("status").stdout
    assert "last error:" in text and cause in text, text
    return report


def assert_recovered(service: Running, title: str) -> float:
    """A build succeeds again by itself and everything says so; seconds it took."""
    started = time.monotonic()
    wait_for(lambda: title in titles_in(service.url))
    wait_for(lambda: service.health()[0] == 200)
    took = time.monotonic() - started
    assert service.status()["service"]["last_error"] is None
    assert "last error:" not in service.feedpub("status").stdout
    return took


def record(record_property, before: dict, service: Running, recovery: float, attempts: int) -> None:
    figures = {"representations_served_byte_identical": len(before), "failed_build_attempts": attempts,
               "seconds_to_recover": round(recovery, 1)}
    for name, value in figures.items():
        record_property(name, value)
    print("\ndisk trouble:", json.dumps(figures))


@pytest.mark.heavy
def test_a_full_disk_leaves_the_documents_served_and_the_failure_visible(tmp_path, record_property):
    (tmp_path / "feedpub.toml").write_text('[schedule]\nrebuild_minutes = 60\n', encoding="utf-8")
    service = Running(tmp_path, limit_file_size)
    try:
        # A category feed to watch as well, created without the limit.
        assert service.feedpub("ingest", str(article(tmp_path, "awal.txt", "Berita Awal"))).returncode == 0
        wait_for(lambda: "Berita Awal" in titles_in(service.url))
        before = settled(service.url)
        files = {path: (tmp_path / "public" / path).read_bytes() for path in ("rss.xml", "atom.xml", "feed.json")}

        big = article(tmp_path, "besar.txt", "Laporan Panjang", paragraphs=9000)
        assert service.feedpub("ingest", str(big)).returncode == 0   # the store takes it (no limit there)
        assert_failing_visibly(service, "File too large")
        # Served as before, byte for byte, in every coding; nothing of the new article anywhere.
        assert served(service.url) == before
        assert "Laporan Panjang" not in titles_in(service.url)
        assert {path: (tmp_path / "public" / path).read_bytes() for path in files} == files
        assert not list((tmp_path / "public").rglob(".*.tmp"))   # the cut-short write was cleaned up

        attempts = service.health()[1]["build_failures_in_a_row"]

        # Room again (the article goes): the next build succeeds and says so.
        assert service.feedpub("delete", "besar").returncode == 0
        assert service.feedpub("ingest", str(article(tmp_path, "kecil.txt", "Berita Kecil"))).returncode == 0
        record(record_property, before, service, assert_recovered(service, "Berita Kecil"), attempts)
    finally:
        service.stop()


@pytest.mark.heavy
def test_a_read_only_output_folder_leaves_the_documents_served_and_the_failure_visible(tmp_path, record_property):
    (tmp_path / "feedpub.toml").write_text(f'[schedule]\nrebuild_minutes = 60\n[api]\ntoken = "{TOKEN}"\n',
                                           encoding="utf-8")
    service = Running(tmp_path, without_permission_override if os.geteuid() == 0 else None)
    public = tmp_path / "public"

    def post(title: str) -> None:
        response = requests.post(service.url + "/api/articles", timeout=10,
                                 headers={"Authorization": f"Bearer {TOKEN}"},
                                 json={"title": title, "body": f"BATURAJA - OKES.NEWS - {title}.",
                                       "categories": ["Politik"]})
        assert response.status_code == 201, response.text

    folders = []
    try:
        post("Berita Awal")
        wait_for(lambda: "Berita Awal" in titles_in(service.url))
        before = settled(service.url)
        folders = [public, *(p for p in public.rglob("*") if p.is_dir())]
        for folder in folders:
            folder.chmod(0o555)

        post("Berita Tertahan")   # stored (the store is elsewhere); the build cannot write it out
        assert_failing_visibly(service, "Permission denied")
        assert served(service.url) == before
        assert "Berita Tertahan" not in titles_in(service.url)

        attempts = service.health()[1]["build_failures_in_a_row"]
        for folder in folders:
            folder.chmod(0o755)
        # The store watcher tries again by itself.
        record(record_property, before, service, assert_recovered(service, "Berita Tertahan"), attempts)
    finally:
        for folder in folders:
            folder.chmod(0o755)
        service.stop()


def test_after_a_failed_build_the_store_watcher_backs_off_and_status_says_since_when(tmp_path, store, ingest):
    """Not a retry every tick (a render of everything and an error logged twice a second)
    while the disk stays full: 1 s, 2 s, 4 s ... apart; and the status names the failures."""
    ingest(SAMPLE)
    (tmp_path / "blocker").write_text("a file where the output folder should be")
    (tmp_path / "feedpub.toml").write_text(
        f'[output]\npath = "{tmp_path / "blocker" / "public"}"\n[store]\npath = "{tmp_path / "data" / "s.sqlite3"}"\n',
        encoding="utf-8")
    ticks = {"now": 100.0}
    service = SchedulerService(load_config(tmp_path / "feedpub.toml"), store, clock=lambda: INGEST_TIME,
                               monotonic=lambda: ticks["now"])

    def watch_for(seconds: float) -> int:
        """Store-watcher ticks over ``seconds``; the builds they attempted."""
        before = service.build_failures
        for _ in range(int(seconds / WATCH_SECONDS)):
            ticks["now"] += WATCH_SECONDS
            service.rebuild_if_changed()
        return service.build_failures - before

    assert watch_for(0.5) == 1                  # the change is seen, then built: it fails
    assert watch_for(0.75) == 0                 # within the first second: no new attempt
    assert watch_for(1.0) == 1                  # then one
    # 2, 4 and 8 s apart (each plus the half second the watcher takes to see and settle the change).
    assert watch_for(20) == 3
    assert service.failures_in_a_row == 5
    assert [retry_delay(n) for n in (1, 2, 3, 20)] == [1, 2, 4, MAX_RETRY]

    recorded = service.status()
    assert recorded["failures_in_a_row"] == 5 and recorded["last_error_at"] == INGEST_TIME.isoformat()
    assert "blocker" in recorded["last_error"]
    later = INGEST_TIME + timedelta(seconds=90)
    text = format_status({"now": later.isoformat(), "service": recorded, "running": True, "scheduled": [],
                          "store": {"path": "s.sqlite3", "articles": 1, "revision": 1}})
    assert "last error: 1 min ago, 5 failed build(s) in a row, the documents of the last build still served: " in text

    # The folder is usable again: the next attempt succeeds and clears it all.
    (tmp_path / "blocker").unlink()
    assert watch_for(MAX_RETRY + 1) == 0 and service.last_build is not None
    assert (service.failures_in_a_row, service.last_error, service.status()["last_error_at"]) == (0, None, None)


def test_a_store_failing_mid_build_is_reported_like_a_write_that_failed(tmp_path, store, ingest):
    """A store that fails mid-build (here: a closed connection) raises a StoreError naming
    the store, which reaches status and /healthz rather than only the scheduler's log."""
    ingest(SAMPLE)
    (tmp_path / "feedpub.toml").write_text(
        f'[output]\npath = "{tmp_path / "public"}"\n[store]\npath = "{tmp_path / "data" / "s.sqlite3"}"\n',
        encoding="utf-8")
    service = SchedulerService(load_config(tmp_path / "feedpub.toml"), store, clock=lambda: INGEST_TIME)
    store.close()
    assert service.build_now("test") is None
    assert service.last_error.startswith(f"{store.path}: cannot read ") and service.failures_in_a_row == 1
    assert service.status()["last_error"] == service.last_error
