"""The service as tests drive it: `feedpub serve` as a real process, and a patient wait."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import requests

FEEDPUB = [sys.executable, "-c", "import sys; from feedpub.cli import main; sys.exit(main())"]
DEADLINE = 15  # seconds: generous for a loaded 2-core machine; the figure of merit is in bench/


def wait_for(predicate, timeout=DEADLINE, interval=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


class Served:
    def __init__(self, cwd: Path, *, port: int | None = None, wait: bool = True, log: Path | None = None):
        """``port``: listen there (the site's base_url is then the config's); ``wait`` False:
        return at once, :meth:`wait_until_serving` later (instances started together); ``log``:
        its stderr goes to this file, not a pipe (a long test would fill the pipe, and the
        service would stop at its next log line)."""
        self.cwd = cwd
        self.url = f"http://127.0.0.1:{port}" if port else None
        self.process = subprocess.Popen(
            [*FEEDPUB, "serve", "--port", str(port or 0)], cwd=cwd, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if log is None else log.open("ab"),
            text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        )
        if wait:
            self.wait_until_serving()

    def wait_until_serving(self) -> None:
        line = self.process.stdout.readline()
        match = re.search(r"serving (https?://\S+)/", line)
        if not match:
            self.process.kill()
            raise AssertionError(f"no address announced: {line!r} {self.process.stderr and self.process.stderr.read()}")
        self.url = self.url or match.group(1)

    def get(self, path, **headers):
        return requests.get(self.url + path, headers=headers, timeout=5)

    def ingest(self, *args):
        return subprocess.run([*FEEDPUB, "ingest", *map(str, args)], cwd=self.cwd, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=DEADLINE)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def stop_all(instances: list[Served]) -> None:
    """Stop every instance, even when one of them will not stop (that error is raised after)."""
    errors = []
    for served in instances:
        try:
            served.stop()
        except (subprocess.TimeoutExpired, OSError) as exc:
            errors.append(exc)
    if errors:
        raise errors[0]


def sqlite_store_before(path: Path, marker: str, fill: Callable[[sqlite3.Connection], None]) -> None:
    """An SQLite store at ``path`` as a feedpub of an earlier schema left it: every migration
    before the first one with a statement containing ``marker``, then the rows ``fill`` writes."""
    from sources.store.schema import MIGRATIONS

    before = next(number for number, migration in enumerate(MIGRATIONS)
                  if any(marker in statement for statement in migration.statements("sqlite")))
    with closing(sqlite3.connect(path)) as db:
        for migration in MIGRATIONS[:before]:
            for statement in migration.statements("sqlite"):
                db.execute(statement)
        fill(db)
        db.execute(f"PRAGMA user_version = {before}")
        db.commit()


def run_feedpub(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """A feedpub command run in ``folder`` with this checkout's code; it must succeed."""
    done = subprocess.run([*FEEDPUB, *args], cwd=folder, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert done.returncode == 0, done.stdout + done.stderr
    return done
