"""How long a command takes to start: ``feedpub --help`` and ``feedpub status``.

Each command is run ``--runs`` times in turn with a bare ``python -c pass`` (the same
interpreter), in a fresh temporary folder with a configuration and a store, so every
figure is a median over the same stretch of a noisy machine. Printed: each median and
its excess over the bare start, as CPU time (user + system, from the child's own
resource usage: what the command costs, whatever else the shared machine is doing) and
as wall time. Targets, on CPU time: ``--help`` at most 150 ms more than a bare start,
``status`` at most 250 ms more.

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


def _time(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"{' '.join(command)} exited with {child.returncode}")
    return usage.ru_utime + usage.ru_stime, wall


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
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        wall: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                used, took = _time(command, cwd, env)
                cpu[name].append(used)
                wall[name].append(took)
    bare_cpu, bare_wall = statistics.median(cpu["bare python"]), statistics.median(wall["bare python"])
    print(f"{args.runs} runs each, medians    {'CPU':>7} {'over bare':>10} {'wall':>8} {'over bare':>10} {'target (CPU)':>13}")
    print(f"{'bare python':<24} {bare_cpu * 1000:>4.0f} ms {'':>10} {bare_wall * 1000:>5.0f} ms")
    met = True
    for name, target in TARGETS_MS.items():
        used, took = statistics.median(cpu[name]), statistics.median(wall[name])
        excess = (used - bare_cpu) * 1000
        met &= excess <= target
        print(f"{name:<24} {used * 1000:>4.0f} ms {excess:>7.0f} ms {took * 1000:>5.0f} ms "
              f"{(took - bare_wall) * 1000:>7.0f} ms {target:>7.0f} ms  {'met' if excess <= target else 'NOT MET'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
