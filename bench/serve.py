"""Serving speed: feedpub's server against nginx over the same public/, in one run.

Makes a store of 50 long articles in a temporary folder (rss.xml about 188 KB),
starts ``feedpub serve --port 0`` there (which builds public/ with its .br and
.gz variants) and nginx (Debian's package; its configuration generated into the
same folder: 127.0.0.1 only, 2 workers, ``gzip_static on``, ``etag on``,
``access_log off``) over that public/, then loads each with wrk (2 threads,
64 connections, a few seconds each, loopback only) for:

- ``304``: ``If-None-Match`` with the ETag that server gave for /rss.xml;
- ``gzip 200``: ``Accept-Encoding: gzip``;
- ``plain 200``: no Accept-Encoding.

Prints requests/s of each server and the ratio to nginx. ``--rounds N`` repeats the
whole series N times, servers interleaved case by case, and prints the median of
each figure and of each round's ratio: on a shared machine the load changes from
one second to the next, and a ratio within a round is what compares. It also
prints the CPU time each server's processes used per request (from /proc): less
sensitive to other load than requests/s, and what bounds requests/s on a machine
given to the server; and their threads' context switches per request, which move
that CPU time with the load (a thread put to sleep and woken again per request).

"nginx-feedpub" is nginx again with the configuration ``feedpub nginx-config`` prints for
the same site (feeds/serving/nginx.py: content types, pages for browsers, the 410 marks,
A-IM passed on, ``brotli_static``, and its buffered access log of feed polls, which the
serve process follows as ``stats.access_log``), in the same run: its req/s and CPU per
request against plain nginx's are the targets of issue #19, printed at the end (304 and
gzip 200: at most 1.05x plain nginx's CPU per request, at least 0.95x its req/s).

``--ceiling`` adds two do-nothing apps under granian with the workers ``feedpub serve``
runs (2 processes, one Python thread each, HTTP/1.1, single-threaded runtime), both
answering from fixed bytes and headers with no lookup: ``wsgi-ceil``
(bench/ceiling_app.py, WSGI, the interface feedpub's workers are started with, sending
the headers feedpub sends) and ``rsgi-ceil``
(bench/ceiling_rsgi.py, granian's own RSGI interface, with granian's default event
loop: rloop or uvloop when installed, else asyncio). The first is the most any WSGI app
reaches on this machine under granian's WSGI call, so the share of a request's time that
is feedpub's (feedpub's workers answer past that call, through granian's protocol object:
feeds/serving/workers.py); the second whether granian's native interface would raise that ceiling.
``--rsgi`` adds RSGI variants: another event loop, granian's Rust task implementation,
its multi-threaded runtime, or ``response_file`` for the 200s (docs/BENCHMARKS.md).
With ``--ceiling`` it ends with feedpub's ratios to ``wsgi-ceil`` against the target
(:data:`CEILING_TARGET`).

    apt-get install nginx wrk
    .venv/bin/python bench/serve.py [--duration 5] [--rounds 3] [--without-log] [--ceiling] [--rsgi rloop+rust,uvloop]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feedpub.settings import load_config, utc_now  # noqa: E402
from sources.ingest import ingest_paths  # noqa: E402
from sources.store import SQLiteStore  # noqa: E402

FEED = "/rss.xml"
CEILING_TARGET = 0.9   # feedpub's CPU per request at most 1/0.9 of the do-nothing WSGI app's (docs/BENCHMARKS.md)
ARTICLES = 50
PARAGRAPHS = 5      # per article: with 50 articles, rss.xml comes to about 188 KB
WORDS = ("pemerintah kabupaten ogan komering ulu menggelar rapat koordinasi kesiapan pemilihan kepala daerah "
         "serentak bersama forum komunikasi pimpinan daerah kepolisian resor kodim kejaksaan negeri pengadilan "
         "masyarakat diminta menjaga ketertiban keamanan selama tahapan kampanye berlangsung bupati menyampaikan "
         "apresiasi kepada seluruh jajaran yang telah bekerja keras memastikan logistik tiba tepat waktu di setiap "
         "tempat pemungutan suara desa kecamatan baturaja timur barat sungai ogan jembatan jalan banjir petani "
         "harga karet kopi pasar sekolah guru siswa rumah sakit puskesmas vaksinasi").split()
NGINX = """\
worker_processes 2;
daemon off;
{user}
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    types {{ text/html html; application/xml xml; application/feed+json json; text/xsl xsl;
             text/x-opml opml; image/png png; }}
    charset utf-8;
    charset_types application/xml application/rss+xml application/atom+xml
                  application/feed+json text/xsl text/x-opml;
    server {{
        listen 127.0.0.1:{port};
        root {public};
        etag on;
        gzip_static on;
        gzip_vary on;
        add_header Cache-Control "public, max-age=900, stale-while-revalidate=900";
        location ~ /\\. {{ return 404; }}
        location ~ \\.(gz|br)$ {{ return 404; }}
        location = /rss.xml {{ types {{ }} default_type application/rss+xml; }}
        location = /atom.xml {{ types {{ }} default_type application/atom+xml; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen, what: str, timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} is not listening on 127.0.0.1:{port} after {timeout} s")


def make_store(cwd: Path, extra_config: str = ""):
    """The bench's site in ``cwd``: its ``feedpub.toml`` (with ``extra_config``) and a store of
    the articles of :func:`make_articles`; returns the loaded configuration."""
    (cwd / "feedpub.toml").write_text("[schedule]\nrebuild_minutes = 15\n" + extra_config, encoding="utf-8")
    config = load_config(cwd / "feedpub.toml")
    store = SQLiteStore(cwd / config.store_path, clock=utc_now)
    (cwd / "in").mkdir()
    ingest_paths(store, make_articles(cwd / "in"), settings=config.ingest, report=lambda _: None,
                 now=lambda: datetime(2024, 9, 10, tzinfo=timezone.utc))
    store.close()
    return config


def make_articles(folder: Path) -> list[Path]:
    rng = random.Random(5)   # the same articles every run
    start = datetime(2024, 9, 1, 8, 0, tzinfo=timezone(timedelta(hours=7)))
    paths, titles = [], []
    for n in range(ARTICLES):
        title = " ".join(rng.choice(WORDS) for _ in range(7)).capitalize() + f" {n + 1}"
        lines = ["---", f"title: {title}", f"published: {(start + timedelta(hours=n)).isoformat()}",
                 "author: Redaksi OKES.NEWS", "categories: [Daerah]", f"tags: [Baturaja, Pilkada {2024 + n % 3}]",
                 "---"]
        for p in range(PARAGRAPHS):
            sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(45, 75))).capitalize() + "."
            lines.append(("BATURAJA - OKES.NEWS - " if p == 0 else "") + sentence)
            if p == 3 and titles:
                lines.append(f"BACA JUGA:{titles[-1]}")
        lines.append("(*)")
        path = folder / f"artikel-{n + 1:02d}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
        titles.append(title)
    return paths


def get(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.putrequest("GET", path, skip_accept_encoding=True)
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def scenarios(port: int) -> list[tuple[str, dict[str, str], int, str | None]]:
    """(name, request headers, expected status, expected Content-Encoding) for this server."""
    status, headers, _ = get(port, FEED, {})
    assert status == 200, f"port {port}: {FEED} answered {status}"
    return [
        ("304", {"If-None-Match": headers["etag"]}, 304, None),
        ("gzip 200", {"Accept-Encoding": "gzip"}, 200, "gzip"),
        ("plain 200", {}, 200, None),
    ]


def session_processes(session: int) -> list[tuple[str, list[str]]]:
    """(pid, fields of /proc/PID/stat after "(comm)") of the processes of a session (a server and its workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:   # fields after "(comm)": state ppid pgrp session ... utime stime
            found.append((entry, fields))
    return found


def cpu_seconds(session: int) -> float:
    """CPU time (user + system) used so far by the processes of a session (a server and its workers)."""
    return sum(process_cpu(session).values())


def process_cpu(session: int) -> dict[str, float]:
    """CPU time (user + system) used so far by each process of a session, by pid."""
    return {pid: (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for pid, fields in session_processes(session)}


def busiest_share(before: dict[str, float], after: dict[str, float]) -> float:
    """The share of a server's CPU time in between that its busiest process took. feedpub's
    workers accept from one shared socket, and one load's 64 connections may go to one
    worker or be split: fewer busy threads, fewer context switches, less CPU per request
    (docs/BENCHMARKS.md, "Serving at granian's ceiling"); granian's own workers (the
    ceiling apps) each listen with SO_REUSEPORT, where the kernel splits them evenly."""
    spent = {pid: after[pid] - before.get(pid, 0.0) for pid in after}
    total = sum(spent.values())
    return max(spent.values()) / total if total > 0 else 0.0


def context_switches(session: int) -> int:
    """Context switches (voluntary and not) so far of the live threads of a session's processes: a
    thread that sleeps and is woken costs CPU time that instruction counts do not show
    (docs/BENCHMARKS.md, "Serving at granian's ceiling")."""
    switches = 0
    for pid, _ in session_processes(session):
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for thread in threads:
            try:
                with open(f"/proc/{pid}/task/{thread}/status", encoding="ascii", errors="replace") as status:
                    switches += sum(int(line.split()[1]) for line in status if "ctxt_switches:" in line)
            except (OSError, ValueError):
                continue
    return switches


def wrk(port: int, headers: dict[str, str], seconds: int, threads: int, connections: int) -> tuple[float, int, str]:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(f"http://127.0.0.1:{port}{FEED}")
    output = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    count = int(re.search(r"(\d+) requests in", output).group(1))
    problems = re.findall(r"(Non-2xx or 3xx responses: \d+|Socket errors: .*)", output)
    p99 = re.search(r"99%\s+(\S+)", output)
    return rate, count, "; ".join(problems) + (f" p99 {p99.group(1)}" if p99 else "")


class Runner:
    def __init__(self, name: str, process: subprocess.Popen, port: int):
        self.name, self.process, self.port = name, process, port

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start_feedpub(cwd: Path) -> Runner:
    process = subprocess.Popen([sys.executable, "-c", "import sys; from feedpub.cli import main; sys.exit(main())", "serve", "--port", "0"],
                               cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    line = process.stdout.readline()
    match = re.search(r"serving http://127\.0\.0\.1:(\d+)/", line)
    if not match:
        process.kill()
        raise SystemExit(f"feedpub serve did not start: {line!r}")
    return Runner("feedpub", process, int(match.group(1)))


def start_nginx(cwd: Path, public: Path) -> Runner:
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""   # the temporary folder is readable by its owner only
    (cwd / "nginx.conf").write_text(NGINX.format(user=user, tmp=cwd, port=port, public=public), encoding="utf-8")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    process = subprocess.Popen([nginx, "-p", str(cwd), "-c", str(cwd / "nginx.conf"), "-e", str(cwd / "nginx-error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_listening(port, process, "nginx")
    return Runner("nginx", process, port)


def start_nginx_feedpub(cwd: Path, *, log: bool = True) -> Runner:
    """nginx with the configuration `feedpub nginx-config` prints for the site in ``cwd``;
    ``log`` False: without its access log (as with no ``stats.access_log``)."""
    from feeds.serving.nginx import standalone

    port = free_port()
    made = subprocess.run([sys.executable, "-c", "import sys; from feedpub.cli import main; sys.exit(main())",
                           "nginx-config", "--listen", f"127.0.0.1:{port}"], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    name = "nginx-feedpub" if log else "nginx-fp-nolog"
    block = made.stdout if log else re.sub(r"\n *access_log \S+ feedpub [^;]*;", "", made.stdout)
    prefix = cwd / name
    prefix.mkdir(exist_ok=True)
    (prefix / "nginx.conf").write_text(standalone(block, prefix, workers=2, as_root=os.geteuid() == 0),
                                       encoding="utf-8")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    process = subprocess.Popen([nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e",
                                str(prefix / "error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_listening(port, process, "nginx with feedpub's configuration")
    return Runner(name, process, port)


def print_targets(results: dict[str, dict[str, list[float]]], costs: dict[str, dict[str, list[float]]],
                  following: dict[str, list[float]]) -> None:
    """Issue #19's targets for nginx with feedpub's configuration against plain nginx, and what
    following its access log cost the serve process (not nginx's: not in the targets)."""
    print()
    for case in ("304", "gzip 200"):
        if case not in results or "nginx-feedpub" not in results[case]:
            continue
        cpu = statistics.median(costs[case]["nginx-feedpub"]) / statistics.median(costs[case]["nginx"])
        rate = statistics.median(a / b for a, b in zip(results[case]["nginx-feedpub"], results[case]["nginx"],
                                                       strict=True))
        print(f"target {case}: nginx-feedpub CPU/request {cpu:.2f}x plain nginx (<= 1.05x: "
              f"{'met' if cpu <= 1.05 else 'not met'}), req/s {rate:.2f}x (>= 0.95x: "
              f"{'met' if rate >= 0.95 else 'not met'}); the serve process following its log: "
              f"{statistics.median(following.get(case, [0.0])):.1f} us per request")


def start_ceiling(public: Path, workers: int, interface: str = "wsgi", name: str = "ceiling",
                  extra: tuple[str, ...] = (), env: dict[str, str] | None = None) -> Runner:
    """A do-nothing app under granian's CLI with the worker settings of ``feedpub serve``."""
    granian = shutil.which("granian") or str(Path(sys.executable).parent / "granian")
    port = free_port()
    module = "ceiling_app:app" if interface == "wsgi" else "ceiling_rsgi:app"
    process = subprocess.Popen([granian, "--interface", interface, "--workers", str(workers), "--blocking-threads", "1",
                                "--http", "1", "--runtime-mode", "st", "--host", "127.0.0.1",
                                "--port", str(port), "--no-access-log", "--log-level", "warning",
                                *extra, "--working-dir", str(ROOT / "bench"), module],
                               env={**os.environ, "FEEDPUB_BENCH_PUBLIC": str(public), **(env or {})},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_listening(port, process, "granian")
    return Runner(name, process, port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per server and case")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2, help="feedpub's server.workers (the ceiling runs as many)")
    parser.add_argument("--rounds", type=int, default=1, help="series, servers interleaved; medians printed")
    parser.add_argument("--cases", default="304,gzip 200,plain 200",
                        help="comma-separated cases to load (fewer cases, more rounds in the same time)")
    parser.add_argument("--without-log", action="store_true",
                        help="also nginx with feedpub's configuration without its access log (no stats.access_log)")
    parser.add_argument("--ceiling", action="store_true",
                        help="also do-nothing WSGI and RSGI apps under granian")
    parser.add_argument("--rsgi", default="", metavar="VARIANTS",
                        help="comma-separated do-nothing RSGI variants to add: an event loop (asyncio, uvloop, "
                             "rloop), with '+rust' for granian's Rust task implementation, '+mt' for its multi-threaded "
                             "runtime, '+file' for response_file, e.g. asyncio,rloop+file")
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is not installed: apt-get install nginx wrk")
    runners: list[Runner] = []
    with tempfile.TemporaryDirectory() as work:
        cwd = Path(work)
        config = make_store(cwd, f"[server]\nworkers = {args.workers}\n"
                                 "[stats]\naccess_log = \"nginx-feedpub/feeds.log\"\n")
        try:
            runners.append(start_feedpub(cwd))
            public = (cwd / config.output_dir).resolve()
            runners.append(start_nginx(cwd, public))
            runners.append(start_nginx_feedpub(cwd))
            if args.without_log:
                runners.append(start_nginx_feedpub(cwd, log=False))
            if args.ceiling:
                runners.append(start_ceiling(public, args.workers, "wsgi", "wsgi-ceil"))
                runners.append(start_ceiling(public, args.workers, "rsgi", "rsgi-ceil"))
            for variant in filter(None, args.rsgi.split(",")):
                loop, *flags = variant.split("+")
                extra = ("--loop", loop, *(("--task-impl", "rust") if "rust" in flags else ()),
                         *(("--runtime-mode", "mt") if "mt" in flags else ()))
                runners.append(start_ceiling(public, args.workers, "rsgi", variant, extra=extra,
                                             env={"FEEDPUB_BENCH_FILE": "1" if "file" in flags else "0"}))
            sizes = {suffix: (public / (FEED.lstrip("/") + suffix)).stat().st_size for suffix in ("", ".gz", ".br")}
            print(f"{FEED}: {sizes[''] / 1000:.0f} KB, gzip {sizes['.gz'] / 1000:.0f} KB, "
                  f"brotli {sizes['.br'] / 1000:.0f} KB; wrk -t{args.threads} -c{args.connections} "
                  f"-d{args.duration}s on 127.0.0.1, {os.cpu_count()} cores")
            results: dict[str, dict[str, list[float]]] = {}
            costs: dict[str, dict[str, list[float]]] = {}   # server CPU time per request, microseconds
            following: dict[str, list[float]] = {}   # the serve process's, reading nginx-feedpub's log
            switches: dict[str, dict[str, list[float]]] = {}   # context switches per request of each server's threads
            cases = {runner.name: scenarios(runner.port) for runner in runners}
            for round_number in range(args.rounds):
                for index, (case, *_rest) in enumerate(cases["nginx"]):
                    if case not in args.cases.split(","):
                        continue
                    for runner in runners:
                        name, headers, status, coding = cases[runner.name][index]
                        got, answer, _ = get(runner.port, FEED, headers)   # the case does what it says
                        assert got == status and answer.get("content-encoding") == coding, (runner.name, name, got,
                                                                                           answer)
                        processes = process_cpu(runner.process.pid)
                        before = sum(processes.values())
                        switched = context_switches(runner.process.pid)
                        serve_before = cpu_seconds(runners[0].process.pid)   # feedpub serve: follows nginx's log
                        rate, count, notes = wrk(runner.port, headers, args.duration, args.threads, args.connections)
                        processes_after = process_cpu(runner.process.pid)
                        cost = (sum(processes_after.values()) - before) / count * 1e6
                        switches.setdefault(case, {}).setdefault(runner.name, []).append(
                            (context_switches(runner.process.pid) - switched) / count)
                        if runner.name == "nginx-feedpub":
                            following.setdefault(case, []).append(
                                (cpu_seconds(runners[0].process.pid) - serve_before) / count * 1e6)
                        results.setdefault(case, {}).setdefault(runner.name, []).append(rate)
                        costs.setdefault(case, {}).setdefault(runner.name, []).append(cost)
                        print(f"  round {round_number + 1} {runner.name:<13} {case:<10} {rate:>10.0f} req/s "
                              f"{cost:6.1f} us CPU/request {switches[case][runner.name][-1]:5.2f} switches/request, "
                              f"busiest process {busiest_share(processes, processes_after):.2f} of the CPU  {notes}",
                              flush=True)
        finally:
            for runner in reversed(runners):
                runner.stop()
    others = [runner.name for runner in runners if runner.name != "nginx"]
    print()
    label = f"median of {args.rounds} rounds" if args.rounds > 1 else "req/s"
    print(f"| case ({label}) | nginx req/s | " + " | ".join(f"{name} req/s | {name}/nginx" for name in others) + " |")
    print("| --- | ---: | " + " | ".join("---: | ---:" for _ in others) + " |")
    for case, rates in results.items():
        cells = " | ".join(
            f"{statistics.median(rates[name]):.0f} | "
            f"{statistics.median(a / b for a, b in zip(rates[name], rates['nginx'], strict=True)):.2f}x"
            for name in others)
        print(f"| {case} | {statistics.median(rates['nginx']):.0f} | {cells} |")
    print()
    print("| case: server CPU per request (median) | nginx | " + " | ".join(others) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in others) + " |")
    for case, spent in costs.items():
        cells = " | ".join(f"{statistics.median(spent[name]):.1f} us ({statistics.median(spent[name]) / statistics.median(spent['nginx']):.1f}x)"
                           for name in others)
        print(f"| {case} | {statistics.median(spent['nginx']):.1f} us | {cells} |")
    print_targets(results, costs, following)
    if "wsgi-ceil" in others:
        print_ceiling_ratios(results, costs, switches)


def print_ceiling_ratios(results: dict[str, dict[str, list[float]]], costs: dict[str, dict[str, list[float]]],
                         switches: dict[str, dict[str, list[float]]]) -> None:
    """feedpub against the do-nothing WSGI app, each ratio taken within a round (same seconds,
    same load) and the median printed: requests/s, and the ceiling's CPU per request over
    feedpub's, the figure the target is judged by (the load generator shares the cores); then
    each one's context switches per request (median), which move its CPU per request."""
    print()
    print(f"feedpub / wsgi-ceil (median of the rounds' ratios; target: CPU per request at least {CEILING_TARGET}x):")
    for case in results:
        rate = [a / b for a, b in zip(results[case]["feedpub"], results[case]["wsgi-ceil"], strict=True)]
        cpu = [b / a for a, b in zip(costs[case]["feedpub"], costs[case]["wsgi-ceil"], strict=True)]
        verdict = "met" if statistics.median(cpu) >= CEILING_TARGET else "not met"
        print(f"  {case:<10} CPU per request {statistics.median(cpu):.2f}x (rounds {min(cpu):.2f}-{max(cpu):.2f}), "
              f"req/s {statistics.median(rate):.2f}x (rounds {min(rate):.2f}-{max(rate):.2f}): {verdict}; "
              f"switches per request {statistics.median(switches[case]['feedpub']):.2f} against "
              f"{statistics.median(switches[case]['wsgi-ceil']):.2f}")


if __name__ == "__main__":
    main()
