"""Instructions per request: one feedpub worker against the do-nothing WSGI app, under callgrind.

bench/serve.py's ``--ceiling`` compares CPU time per request, which on a shared 2-core
machine moves with whatever else runs (the load generator included). Instruction counts
do not: valgrind's callgrind counts the instructions a process executes, the same for
the same program and requests whatever the machine is doing. This starts, on the
public/ of bench/serve.py's store (built once into a temporary folder):

- ``feedpub``: one granian worker as ``feedpub serve`` runs it (:func:`feeds.serving.workers.run_workers`,
  poll log and request counts included), without the serve process;
- ``wsgi-ceil``: bench/ceiling_app.py under granian's CLI with the same worker settings;

each under ``valgrind --tool=callgrind --trace-children=yes``, warms it up, then for each
case (304, gzip 200, plain 200, as in bench/serve.py) zeroes the worker's counts, sends
``--requests`` requests one after the other on one keep-alive connection, waits for the
poll log's writer and dumps them.
Prints instructions per request of the worker process (all its threads: the poll log's
writer too) and the ratio wsgi-ceil / feedpub against bench/serve.py's target.

    apt-get install valgrind
    .venv/bin/python bench/ceiling_instructions.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from serve import CEILING_TARGET, FEED, free_port, make_store

CASES = (("304", None), ("gzip 200", {"Accept-Encoding": "gzip"}), ("plain 200", {}))
# Seconds waited after the warm-up and after the counted requests, so that the poll log's
# writer (every 2 s) takes the counted polls inside the window and the warm-up's outside it.
SETTLE_SECONDS = 5


def make_site(cwd: Path) -> Path:
    """bench/serve.py's store, built once: its public/."""
    config = make_store(cwd)
    subprocess.run([sys.executable, "-m", "feedpub.cli", "build"], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    return (cwd / config.output_dir).resolve()


def run_feedpub_worker(cwd: Path, port: int) -> None:
    """One worker as `feedpub serve` starts it (run in the process valgrind starts)."""
    from feedpub.settings import load_config, poll_records
    from feeds.serving.workers import WorkerSettings, listen, run_workers

    config = load_config(cwd / "feedpub.toml")
    (cwd / "counts").mkdir(exist_ok=True)
    poll_records(config)().close()
    run_workers(listen("127.0.0.1", port), WorkerSettings(
        root=(cwd / config.output_dir).resolve(), max_age=900, hubs=config.site.hubs,
        base_url=f"http://127.0.0.1:{port}", gone=(), moved=(), upstream=str(cwd / "none.sock"),
        counters=cwd / "counts", stats=poll_records(config), max_request_body=1 << 20, body_gate=None), workers=1)


def session_pids(session: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == session:
            pids.append(int(entry))
    return pids


class Client:
    """Requests one after the other on one keep-alive connection."""

    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def get(self, headers: dict[str, str]) -> http.client.HTTPResponse:
        self.connection.putrequest("GET", FEED, skip_accept_encoding=True)
        for name, value in {"User-Agent": "bench", **headers}.items():
            self.connection.putheader(name, value)
        self.connection.endheaders()
        response = self.connection.getresponse()
        response.read()
        return response


def measure(name: str, command: list[str], env: dict[str, str], port: int, out: Path, requests: int) -> dict[str, float]:
    """Instructions per request of the worker ``command`` starts, by case; ``out``: the site's folder."""
    process = subprocess.Popen(["valgrind", "--tool=callgrind", "--trace-children=yes", "-q",
                                f"--callgrind-out-file={out}/{name}.%p", *command], env=env, cwd=out,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 600   # a start under valgrind takes a minute on a loaded machine
        while True:
            try:
                client = Client(port)
                etag = client.get({}).getheader("ETag")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{name} did not start under valgrind")
                time.sleep(1)
        figures = {}
        for case, headers in CASES:
            headers = {"If-None-Match": etag} if headers is None else headers
            for _ in range(200):   # every path taken once at least, caches filled
                client.get(headers)
            time.sleep(SETTLE_SECONDS)
            pids = session_pids(process.pid)
            for pid in pids:
                subprocess.run(["callgrind_control", "-z", str(pid)], capture_output=True, check=False)
            for _ in range(requests):
                status = client.get(headers).status
                assert status == (304 if case == "304" else 200), (name, case, status)
            time.sleep(SETTLE_SECONDS)
            before = {path: path.stat().st_mtime_ns for path in out.glob(f"{name}.*")}
            for pid in pids:
                subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True, check=False)
            dumped = [path for path in out.glob(f"{name}.*") if before.get(path) != path.stat().st_mtime_ns]
            figures[case] = max(map(total_instructions, dumped)) / requests   # the worker: the one that ran
        return figures
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def total_instructions(dump: Path) -> int:
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests counted per case")
    parser.add_argument("--worker", nargs=2, metavar=("FOLDER", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_feedpub_worker(Path(args.worker[0]), int(args.worker[1]))
        return
    with tempfile.TemporaryDirectory() as work:
        cwd = Path(work)
        public = make_site(cwd)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "FEEDPUB_BENCH_PUBLIC": str(public)}
        granian = str(Path(sys.executable).parent / "granian")
        results = {}
        port = free_port()
        results["feedpub"] = measure("feedpub", [sys.executable, __file__, "--worker", str(cwd), str(port)], env, port,
                                     cwd, args.requests)
        port = free_port()
        results["wsgi-ceil"] = measure("wsgi-ceil", [
            granian, "--interface", "wsgi", "--workers", "1", "--blocking-threads", "1", "--http", "1",
            "--runtime-mode", "st", "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
            "--log-level", "warning", "--working-dir", str(ROOT / "bench"), "ceiling_app:app"], env, port, cwd,
            args.requests)
    print(f"instructions per request of one worker ({args.requests} requests a case, callgrind):")
    print("| case | feedpub | wsgi-ceil | wsgi-ceil / feedpub |")
    print("| --- | ---: | ---: | ---: |")
    for case, _ in CASES:
        ratio = results["wsgi-ceil"][case] / results["feedpub"][case]
        print(f"| {case} | {results['feedpub'][case]:,.0f} | {results['wsgi-ceil'][case]:,.0f} | {ratio:.2f}x "
              f"({'met' if ratio >= CEILING_TARGET else 'not met'}: target {CEILING_TARGET}x) |")


if __name__ == "__main__":
    main()
