"""How fresh are the feeds? Ingest -> changed feed served -> hub notified.

Starts ``feedpub serve`` on a free loopback port with a WebSub hub that this
script runs itself (also on loopback), then 50 times: commits one new article
to the store (the moment ``feedpub ingest`` would have acknowledged it), polls
/atom.xml until the article is served, and waits for the hub to hear about
atom.xml. Prints p50/p95/max of both latencies. Target: p50 <= 1 s.

With ``--store postgresql://...`` (an empty database or schema: it is filled) it starts
``--instances`` (default 2) instances on that shared store instead, each with its own
folder and port, and measures from commit to the article served by every instance
(p50/p95/p99/max). Target: every instance within 1 s.

    .venv/bin/python bench/freshness.py [--runs 50]
    .venv/bin/python bench/freshness.py --store postgresql://postgres@127.0.0.1/test [--instances 2] [--runs 200]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feedpub.settings import load_config, utc_now  # noqa: E402
from sources.ingest import ingest_paths  # noqa: E402
from sources.store import SQLiteStore  # noqa: E402
from sources.store.postgres import PostgresStore  # noqa: E402


class Hub:
    def __init__(self):
        self.heard: list[tuple[float, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
                hub.heard.append((time.perf_counter(), form.get("hub.url", [""])[0]))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hub"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def shared(url: str, instances: int, runs: int) -> None:
    """Several instances on one PostgreSQL store: commit -> served by every one of them."""
    hub = Hub()
    with tempfile.TemporaryDirectory() as work:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "FEEDPUB_STORE_URL": url}
        folders, services, urls = [], [], []
        for n in range(instances):
            cwd = Path(work) / f"instance-{n}"
            cwd.mkdir()
            (cwd / "feedpub.toml").write_text('[site]\nbase_url = "https://okes.example"\n[schedule]\n'
                                              f'rebuild_minutes = 60\n[websub]\nhubs = ["{hub.url}"]\n')
            port = free_port()
            folders.append(cwd)
            urls.append(f"http://127.0.0.1:{port}/atom.xml")
            services.append(subprocess.Popen(
                [sys.executable, "-c", "import sys; from feedpub.cli import main; sys.exit(main())", "serve",
                 "--port", str(port)], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env))
        try:
            for service in services:
                service.stdout.readline()   # "serving ..."
            config = load_config(folders[0] / "feedpub.toml", env={"FEEDPUB_STORE_URL": url})
            store = PostgresStore(url, clock=utc_now)
            first, every, notified = [], [], []
            sessions = [requests.Session() for _ in urls]
            time.sleep(1.0)
            for n in range(runs):
                token = f"Kesegaran{n:03d}"
                path = Path(work) / "in" / f"segar-{n:03d}.txt"
                path.parent.mkdir(exist_ok=True)
                path.write_text(f"{token} diukur sekarang.", encoding="utf-8")
                heard_before = len(hub.heard)
                ingest_paths(store, [path], settings=config.ingest, report=lambda _: None,
                             now=lambda: datetime.now(timezone.utc).replace(microsecond=0))
                start = time.perf_counter()
                served: dict[int, float] = {}
                while len(served) < len(urls):
                    for i, (session, feed) in enumerate(zip(sessions, urls)):
                        if i not in served and token in session.get(feed, timeout=5).text:
                            served[i] = time.perf_counter() - start
                    time.sleep(0.005)
                first.append(min(served.values()))
                every.append(max(served.values()))
                deadline = time.perf_counter() + 10
                while len(hub.heard) == heard_before and time.perf_counter() < deadline:
                    time.sleep(0.005)
                notified.append(hub.heard[heard_before][0] - start if len(hub.heard) > heard_before else float("inf"))
                time.sleep(0.2)
            store.close()
        finally:
            for service in services:
                service.send_signal(signal.SIGTERM)
            for service in services:
                service.wait(timeout=30)
    print(f"freshness over {runs} commits to a shared PostgreSQL store, {instances} instances (seconds from commit)")
    print(f"{'':28}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}")
    for name, values in (("served by one instance", first), (f"served by all {instances}", every),
                         ("hub notified", notified)):
        print(f"{name:<28}{statistics.median(values):>8.3f}{percentile(values, 0.95):>8.3f}"
              f"{percentile(values, 0.99):>8.3f}{max(values):>8.3f}")
    print(f"target p99 <= 1.000 s (all instances): {'met' if percentile(every, 0.99) <= 1.0 else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--store", help="a PostgreSQL URL: measure several instances sharing it")
    parser.add_argument("--instances", type=int, default=2)
    args = parser.parse_args()
    if args.store:
        shared(args.store, args.instances, args.runs)
        return
    runs = args.runs
    hub = Hub()
    with tempfile.TemporaryDirectory() as work:
        cwd = Path(work)
        (cwd / "feedpub.toml").write_text(f'[schedule]\nrebuild_minutes = 60\n[websub]\nhubs = ["{hub.url}"]\n')
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        service = subprocess.Popen([sys.executable, "-c", "import sys; from feedpub.cli import main; sys.exit(main())", "serve", "--port", "0"],
                                   cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        try:
            url = re.search(r"serving (http://\S+)/", service.stdout.readline()).group(1)
            topic = url + "/atom.xml"
            config = load_config(cwd / "feedpub.toml")
            store = SQLiteStore(cwd / config.store_path, clock=utc_now)
            served, notified = [], []
            session = requests.Session()
            time.sleep(1.0)   # let the first build's notifications pass
            for n in range(runs):
                token = f"Kesegaran{n:03d}"
                path = cwd / "in" / f"segar-{n:03d}.txt"
                path.parent.mkdir(exist_ok=True)
                path.write_text(f"{token} diukur sekarang.", encoding="utf-8")
                heard_before = len(hub.heard)
                ingest_paths(store, [path], settings=config.ingest, report=lambda _: None,
                             now=lambda: datetime.now(timezone.utc).replace(microsecond=0))
                start = time.perf_counter()
                while token not in session.get(topic, timeout=5).text:
                    time.sleep(0.01)
                served.append(time.perf_counter() - start)
                deadline = time.perf_counter() + 10
                while not any(t == topic for _, t in hub.heard[heard_before:]) and time.perf_counter() < deadline:
                    time.sleep(0.005)
                heard = [when for when, t in hub.heard[heard_before:] if t == topic]
                notified.append(heard[0] - start if heard else float("inf"))
                time.sleep(0.2)   # separate ingests: this measures latency, not bursts
            store.close()
        finally:
            service.send_signal(signal.SIGTERM)
            service.wait(timeout=30)
    print(f"freshness over {runs} ingests (seconds from commit)")
    print(f"{'':24}{'p50':>8}{'p95':>8}{'max':>8}")
    for name, values in (("feed served", served), ("hub notified", notified)):
        print(f"{name:<24}{statistics.median(values):>8.3f}{percentile(values, 0.95):>8.3f}{max(values):>8.3f}")
    target = statistics.median(notified)
    print(f"target p50 <= 1.000 s (hub notified): {'met' if target <= 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
