"""The service as tests drive it: `feedpub serve` as a real process, and a patient wait."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
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
    def __init__(self, cwd: Path):
        self.cwd = cwd
        self.process = subprocess.Popen(
            [*FEEDPUB, "serve", "--port", "0"], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        )
        line = self.process.stdout.readline()
        match = re.search(r"serving (http://\S+)/", line)
        if not match:
            self.process.kill()
            raise AssertionError(f"no address announced: {line!r} {self.process.stderr.read()}")
        self.url = match.group(1)

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
