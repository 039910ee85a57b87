"""How long a command takes to start: ``feedpub --help`` and ``feedpub status``.

Each command is run ``--runs`` times in turn with a bare ``python -c pass`` (the same
interpreter), in a fresh temporary folder with a configuration and a store, so every
figure is a median over the same stretch of a noisy machine. Printed: each median and
its excess over the bare start. Targets: ``--help`` at most 150 ms more than a bare
start, ``status`` at most 250 ms more.

    .venv/bin/python -m bench.startup [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS_MS = {"feedpub --help": 150.0, "feedpub status": 250.0}


def _time(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    python = sys.executable
    commands = {
        "bare python": [python, "-c", "pass"],
        "feedpub --help": [python, "-m", "feedpub", "--help"],
        "feedpub status": [python, "-m", "feedpub", "status"],
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("FEEDPUB_")}
    with tempfile.TemporaryDirectory(prefix="feedpub-startup-") as folder:
        cwd = Path(folder)
        (cwd / "feedpub.toml").write_text('[site]\nbase_url = "https://news.example"\n', encoding="utf-8")
        # A store to report on: `feedpub build` creates it (and is not what is measured).
        subprocess.run([python, "-m", "feedpub", "build"], cwd=cwd, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for command in commands.values():   # warm the page cache and the bytecode
            _time(command, cwd, env)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                samples[name].append(_time(command, cwd, env))
    bare = statistics.median(samples["bare python"])
    print(f"{'command':<16} {'median':>9} {'over bare':>10} {'target':>8}")
    print(f"{'bare python':<16} {bare * 1000:>7.0f} ms")
    met = True
    for name, target in TARGETS_MS.items():
        median = statistics.median(samples[name])
        excess = (median - bare) * 1000
        met &= excess <= target
        print(f"{name:<16} {median * 1000:>7.0f} ms {excess:>7.0f} ms {target:>5.0f} ms"
              f"  {'met' if excess <= target else 'NOT MET'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
