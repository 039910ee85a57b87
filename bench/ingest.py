"""Ingest benchmark (issue #22): a newsroom's archive imported into an empty store.

    python -m bench.ingest [N ...]          (default: 10000)

The articles are bench/corpus.py's, written once as the newsroom writes them (text
files with YAML front matter, a dateline, ``BACA JUGA:`` markers) into a cached folder,
``<cache>/ingest-N-SEED/YYYY/MM/SLUG.txt`` (see :func:`bench.corpus.cache_dir`). Each
size then runs in a fresh child process: :func:`sources.ingest.ingest_paths` of the
folder into a new SQLite store on disk, as ``feedpub ingest DIR`` does it (suggested
related links on; images not measured: no network). Printed per size:

- total: seconds for all N articles, and articles per second;
- first 1k / last 1k: seconds for the first and the last 1,000 articles, and their
  ratio; then the same in the process's CPU seconds (what other processes' load on a
  shared machine changes least; waiting for the disk is not in it);
- settled: the ratio of the last 1k's CPU seconds to those of the 1,000 articles after
  the first 10,000 (runs of 20,000 or more): the first thousands go into an empty store,
  whose indexes are small and whose suggestion index is still filling, so the first 1k
  is cheaper than any later 1k; this ratio says whether the cost still grows after that;
- peak MB: the importing process's largest resident set (its ``VmHWM``: ``ru_maxrss``
  would also count the resident set of the process that started it, as Linux carries
  a process's high-water mark over ``exec``);
- a large import reads and parses its files in a worker process of its own
  (:mod:`sources.readahead`): the CPU columns above are the importing process's (the
  saves: the slower stage, which sets the pace), and the worker's are printed beside
  them (``worker``: its CPU seconds in the first and the last 1k, over the whole run,
  and the peak MB of the processes the import started, the worker and
  multiprocessing's resource tracker, each one's ``VmHWM`` added up; ``all MB`` adds
  the importing process's). The worker runs up to a few chunks of items ahead of the
  saves, so its window figures lean early (the first 1k includes a little of the second).

Then the same folder is imported again into the store it filled (``again``): every
article is found unchanged, nothing is written.

The machine is shared and noisy: compare figures within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.corpus import SOURCE_ROOT, cache_dir, generate_in_background

WINDOW = 1000   # articles timed at each end of the run
SETTLED = 10_000   # and from here on too: the store no longer empty (see "settled" below)
SAMPLE = 1000   # articles between two readings of the worker's high-water mark


def corpus_folder(n: int, seed: int = 0, *, cache: Path | None = None) -> Path:
    """The folder of ``n`` corpus articles as text files, written on first use and cached."""
    cache = cache or cache_dir()
    target = cache / f"ingest-{n}-{seed}"
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    ignore = cache / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    partial = cache / f".{target.name}.partial-{os.getpid()}"
    try:
        for article in generate_in_background(n, seed):
            file = partial / Path(article.source).relative_to(SOURCE_ROOT)
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(article.content_text, encoding="utf-8")
        os.replace(partial, target)   # a run cut short never leaves a half-written corpus behind
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _child(folder: Path, store_file: Path, *, once: bool = False) -> dict:
    """Runs in the child process: one import, timed."""
    from feedpub.settings import utc_now
    from sources.ingest import ingest_paths
    from sources.model import IngestSettings
    from sources.store import SQLiteStore

    settings = IngestSettings(tag_authority="news.example.com", timezone="Asia/Jakarta", language="id")
    marks: dict[int, float] = {}
    cpu: dict[int, float] = {}
    worker: dict[int, float] = {}
    peaks: dict[int, int] = {}   # the import's own processes: pid -> VmHWM, kB

    def progress(done: int, total: int) -> None:
        if done in (0, WINDOW, SETTLED, SETTLED + WINDOW, total - WINDOW, total):
            marks[done] = time.perf_counter()
            cpu[done] = time.process_time()
            worker[done] = _children_cpu(peaks)
        elif done % SAMPLE == 0:
            _children_cpu(peaks)

    def quiet(message: str) -> None:
        if message.startswith(("error", "warning")):
            print(message, file=sys.stderr)

    figures = {}
    worker_peak = 0   # kB: the largest of the runs' (their processes' high-water marks added up)
    for run in ("first",) if once else ("first", "again"):
        store = SQLiteStore(store_file, clock=utc_now)
        marks.clear()
        cpu.clear()
        worker.clear()
        peaks.clear()   # each run starts a worker of its own
        started_cpu, started_worker = time.process_time(), _children_cpu(peaks)
        try:
            summary = ingest_paths(store, [folder], settings=settings, now=utc_now, report=quiet, progress=progress)
        finally:
            store.close()
        total = max(marks)
        figures[run] = {
            "articles": total, "seconds": marks[total] - marks[0],
            "created": summary.created, "unchanged": summary.unchanged, "failed": summary.failed,
            "first_window": marks.get(WINDOW, marks[total]) - marks[0],
            "last_window": marks[total] - marks.get(total - WINDOW, marks[0]),
            "first_cpu": cpu.get(WINDOW, cpu[total]) - cpu[0],
            "last_cpu": cpu[total] - cpu.get(total - WINDOW, cpu[0]),
            "settled_cpu": (cpu[SETTLED + WINDOW] - cpu[SETTLED]) if SETTLED + WINDOW in cpu else float("nan"),
            "worker_first_cpu": worker.get(WINDOW, worker[total]) - worker[0],
            "worker_last_cpu": worker[total] - worker.get(total - WINDOW, worker[0]),
            "all_cpu": time.process_time() - started_cpu, "worker_all_cpu": _children_cpu(peaks) - started_worker,
        }
        worker_peak = max(worker_peak, sum(peaks.values()))
    figures["peak_mb"] = _high_water(Path("/proc/self/status")) / 1024
    figures["worker_peak_mb"] = worker_peak / 1024
    return figures


def _high_water(status: Path) -> int:
    """A process's largest resident set so far, kB (``VmHWM`` of /proc/PID/status); 0 if it is gone."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children_cpu(peaks: dict[int, int]) -> float:
    """CPU seconds of this process's children: the running ones (from /proc) and the ended;
    each running child's high-water mark is kept in ``peaks``."""
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    ticks, me = 0, os.getpid()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == me:   # ppid; utime and stime follow (proc(5))
            ticks += int(fields[11]) + int(fields[12])
            pid = int(stat.parent.name)
            peaks[pid] = max(peaks.get(pid, 0), _high_water(stat.parent / "status"))
    return ticks / os.sysconf("SC_CLK_TCK") + ended.ru_utime + ended.ru_stime


def measure(n: int, seed: int, *, once: bool = False) -> dict:
    folder = corpus_folder(n, seed)
    with tempfile.TemporaryDirectory(prefix="feedpub-ingest-", dir=cache_dir()) as work:
        done = subprocess.run([sys.executable, "-m", "bench.ingest", "--child", str(folder),
                               str(Path(work) / "store.sqlite3"), *(["--once"] if once else [])],
                              capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"the import of {n} articles failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", type=int, nargs="*", default=[10_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--once", action="store_true", help="leave out the second import (again s)")
    parser.add_argument("--child", nargs=2, metavar=("FOLDER", "STORE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(Path(args.child[0]), Path(args.child[1]), once=args.once)))
        return 0
    print(f"{'articles':>9} {'total s':>8} {'per s':>7} {'first 1k s':>10} {'last 1k s':>9} {'ratio':>6} "
          f"{'CPU first':>9} {'CPU last':>8} {'ratio':>6} {'peak MB':>8} {'again s':>8} | "
          f"{'CPU all':>7} {'worker first':>12} {'last':>5} {'all':>6} {'peak MB':>7} {'all MB':>6} | {'settled':>7}")
    nan = float("nan")
    for n in args.sizes:
        corpus_folder(n, args.seed)   # written before the clock starts
        figures = measure(n, args.seed, once=args.once)
        first, again = figures["first"], figures.get("again", {"unchanged": n, "seconds": float("nan")})
        if first["created"] != n or first["failed"] or again["unchanged"] != n:
            print(f"warning: {n} articles: {first['created']} created, {first['failed']} failed; "
                  f"again {again['unchanged']} unchanged", file=sys.stderr)
        print(f"{n:>9} {first['seconds']:>8.1f} {n / first['seconds']:>7.0f} {first['first_window']:>10.2f} "
              f"{first['last_window']:>9.2f} {first['last_window'] / first['first_window']:>5.2f}x "
              f"{first['first_cpu']:>9.2f} {first['last_cpu']:>8.2f} {first['last_cpu'] / first['first_cpu']:>5.2f}x "
              f"{figures['peak_mb']:>8.0f} {again['seconds']:>8.1f} | {first.get('all_cpu', nan):>7.1f} "
              f"{first.get('worker_first_cpu', nan):>12.2f} {first.get('worker_last_cpu', nan):>5.2f} "
              f"{first.get('worker_all_cpu', nan):>6.1f} {figures['worker_peak_mb']:>7.0f} "
              f"{figures['peak_mb'] + figures['worker_peak_mb']:>6.0f} | "
              f"{first['last_cpu'] / first.get('settled_cpu', nan):>6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
