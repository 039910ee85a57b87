"""Long imports and full builds show progress on a terminal, one line otherwise."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

from .conftest import ROOT, write_article

FEEDPUB = [sys.executable, "-c", "import sys; from feedpub.cli import main; sys.exit(main(sys.argv[1:]))"]


def articles(folder: Path, count: int) -> Path:
    for n in range(count):
        write_article(folder, f"berita-{n}.txt", f"---\ntitle: Berita nomor {n}\ncategories: [Daerah]\n---\nIsi {n}.")
    write_article(folder, "rusak.txt", "---\ntitle: [tidak ditutup\n---\nIsi.")
    return folder


def run(args: list[str], cwd: Path, *, terminal: bool) -> tuple[int, str, str]:
    """Run feedpub with stderr on a pseudo-terminal (``terminal``) or on a pipe."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not terminal:
        done = subprocess.run(FEEDPUB + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout, done.stderr
    leader, follower = pty.openpty()
    # A real terminal has a size; a new pseudo-terminal is 0x0 (a bar would have no room).
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(FEEDPUB + args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=follower, text=True)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:   # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    out = process.stdout.read()
    code = process.wait(timeout=120)
    os.close(leader)
    return code, out, shown.decode("utf-8", "replace")


def test_an_import_off_a_terminal_says_one_line_and_its_errors(tmp_path):
    code, out, err = run(["ingest", str(articles(tmp_path / "in", 30))], tmp_path, terminal=False)
    lines = out.splitlines()
    (notice,) = err.splitlines()   # no progress bar: only the store it made, and where
    assert code == 1 and notice.startswith(f"created a new store at {tmp_path / 'data' / 'feedpub.sqlite3'} (")
    assert lines[-1] == "30 created, 0 updated, 0 unchanged, 1 failed"
    assert len(lines) == 2 and "rusak.txt:2" in lines[0], lines   # the rejected file, by name and line


def test_an_import_on_a_terminal_shows_a_progress_bar(tmp_path):
    code, out, shown = run(["ingest", str(articles(tmp_path / "in", 30))], tmp_path, terminal=True)
    assert code == 1 and "31/31 [" in shown and "articles/s" in shown, shown
    assert re.search(r"\d+/31 \[\d\d:\d\d<\d\d:\d\d", shown), shown   # time taken < time left
    assert out.splitlines()[-1] == "30 created, 0 updated, 0 unchanged, 1 failed"


def test_a_full_build_on_a_terminal_shows_progress_and_off_one_line(tmp_path):
    run(["ingest", str(articles(tmp_path / "in", 5))], tmp_path, terminal=False)
    code, out, shown = run(["build", "--full"], tmp_path, terminal=True)
    # The main feed and "Daerah", three subscription documents each (no archive page yet).
    assert code == 0 and "6/6 [" in shown and "documents/s" in shown, shown
    code, out, err = run(["build", "--full"], tmp_path, terminal=False)
    assert code == 0 and err == "" and len(out.splitlines()) == 1
    assert out.startswith("built revision 5 (full): 0 written,") and out.rstrip().endswith("(asked for)")
    code, out, err = run(["build"], tmp_path, terminal=False)
    assert out.startswith("built revision 5 (incremental): 0 written, 0 unchanged, 0 removed"), out
