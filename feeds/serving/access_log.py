"""Feed polls from nginx's access log, for `feedpub stats` (``stats.access_log``).

With nginx in front (feeds/serving/nginx.py), the feed polls are nginx's to answer and
it writes each to its access log in :data:`feeds.serving.nginx.LOG_FORMAT` (only the
feed documents' locations log). The serve process follows that file with an
:class:`AccessLogFollower` and writes the polls to the same poll records its own workers
would (feeds/serving/stats.py), so ``feedpub stats`` shows the same figures either way.

Following survives what happens to a log:

- rotation by renaming (logrotate's default, then ``nginx -s reopen``): the rest of the
  old file is read to its end through the descriptor still open, then the new file from
  its start; rotation by copying and truncating (``copytruncate``): a file shorter than the
  position read so far is read again from its start;
- a restart: the file's identity (device, inode) and the position read so far are kept in
  a small file of their own (``position``), written before the polls they cover are
  recorded, so a restart never counts a line twice (a crash between the two loses at most
  the lines of one read instead). A log rotated while the service was stopped is found
  again by its identity among the files beside it (``feeds.log.1``) and read to its end.

Only whole lines are taken: a line nginx is still writing waits for its newline.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from sources.store.roles import PollRecords

from ..publishing.atomic import write_atomic
from .nginx import LOG_FIELDS

log = logging.getLogger(__name__)

ACCESS_LOG_POSITION = "access-log-position.json"   # beside status.json: the file read and how far
READ_AT_ONCE = 4 << 20                 # bytes of log read per step
# What feedpub's own server counts as a poll (feeds/serving/server.py): answered 200, 226 or 304.
_COUNTED = frozenset({b"200", b"226", b"304"})
_MSEC, _STATUS, _SENT, _CLIENT, _METHOD, _URI, _AGENT = (
    LOG_FIELDS.index(name) for name in ("msec", "status", "body_bytes_sent", "remote_addr", "request_method", "uri",
                                        "http_user_agent"))


def _unescape(field: bytes) -> str:
    """A field as nginx's escape=json wrote it (\\" \\\\ \\n \\t \\uXXXX ...)."""
    text = field.decode("utf-8", "replace")
    if "\\" not in text:
        return text
    try:
        return json.loads(f'"{text}"')
    except ValueError:
        return text


def as_rows(lines: Iterable[bytes]) -> list[tuple]:
    """The poll records' rows for whole log lines: polls alike (same second, feed, status, user
    agent, client) in one row with their count, as the workers' poll log writes them
    (feeds/serving/stats.py ``PollLog.flush``). A line of another format, another method or a
    status feedpub would not count (a 404) is left out. Per line only a split and a dict
    look-up: the serve process reads every poll nginx answers (bench/serve.py measures it)."""
    grouped: dict[tuple[bytes, ...], list[int]] = {}
    for line in lines:
        fields = line.rstrip(b"\r\n").split(b"\t")
        if (len(fields) != len(LOG_FIELDS) or fields[_STATUS] not in _COUNTED
                or fields[_METHOD] not in (b"GET", b"HEAD")):
            continue
        key = (fields[_MSEC].partition(b".")[0], fields[_URI], fields[_STATUS], fields[_AGENT], fields[_CLIENT])
        row = grouped.get(key)
        try:
            sent = int(fields[_SENT])
        except ValueError:
            continue
        if row is None:
            grouped[key] = [1, sent]
        else:
            row[0] += 1
            row[1] += sent
    rows = []
    for (second, uri, status, agent, client), (count, sent) in grouped.items():
        try:
            moment = float(second)
        except ValueError:
            continue
        rows.append((moment, _unescape(uri).lstrip("/"), int(status), sent, _unescape(agent)[:300],
                     client.decode("ascii", "replace")[:64], count))
    return rows


Identity = tuple[int, int]   # (device, inode)


class AccessLogFollower:
    """Reads the polls nginx logs in ``path`` as they come; :meth:`step` reads what is new,
    :meth:`start` does so every ``interval`` seconds on a thread of its own."""

    def __init__(self, path: Path, records: Callable[[], PollRecords], position: Path, *, interval: float = 1.0):
        self.path = path
        self.open_records = records
        self.position = position
        self.interval = interval
        self._file = None
        self._identity: Identity | None = None
        self._offset = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feedpub-access-log", daemon=True)
        self._records: PollRecords | None = None
        self._saved: tuple | None = None
        self._resume()

    # --- position ----------------------------------------------------------------------

    def _resume(self) -> None:
        """Open the file read last at the position read so far: the log itself, or the file it
        was rotated to while nobody read it (found beside it by its identity)."""
        try:
            kept = json.loads(self.position.read_bytes())
            identity, offset = (int(kept["device"]), int(kept["inode"])), int(kept["offset"])
        except (OSError, ValueError, KeyError, TypeError):
            return   # never read: the log from its start
        for candidate in self._candidates():
            try:
                stat = os.stat(candidate)
            except OSError:
                continue
            if (stat.st_dev, stat.st_ino) == identity:
                if self._open(candidate, offset if offset <= stat.st_size else 0):
                    self._saved = (identity, self._offset)
                return

    def _candidates(self) -> Iterator[Path]:
        yield self.path
        try:
            yield from sorted(p for p in self.path.parent.iterdir() if p.name.startswith(self.path.name + ".")
                              and not p.name.endswith((".gz", ".bz2", ".xz")))   # compressed: read to its end
        except OSError:
            return

    def _open(self, path: Path, offset: int) -> bool:
        try:
            handle = open(path, "rb")   # noqa: SIM115 - held across steps, closed by _close
        except OSError:
            return False
        stat = os.fstat(handle.fileno())
        self._close()
        self._file, self._identity, self._offset = handle, (stat.st_dev, stat.st_ino), offset
        handle.seek(offset)
        return True

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _save(self) -> None:
        if self._identity is None or self._saved == (self._identity, self._offset):
            return
        self._saved = (self._identity, self._offset)
        body = json.dumps({"device": self._identity[0], "inode": self._identity[1], "offset": self._offset,
                           "log": str(self.path)}, sort_keys=True).encode() + b"\n"
        write_atomic(self.position, body)

    # --- reading -----------------------------------------------------------------------

    def _read_whole_lines(self) -> list[bytes]:
        """The whole lines after the position (a line still being written waits)."""
        assert self._file is not None
        self._file.seek(self._offset)
        data = self._file.read(READ_AT_ONCE)
        end = data.rfind(b"\n") + 1
        self._offset += end
        return data[:end].splitlines()

    def step(self) -> int:
        """Read what nginx logged since the last step, across a rotation; record its polls.
        Returns how many polls were recorded."""
        lines: list[bytes] = []
        if self._file is None and not self._open(self.path, 0):
            return 0   # no log yet: nginx makes it with its first logged request
        while True:
            before = self._offset
            lines += self._read_whole_lines()
            if self._offset > before:
                continue   # more than READ_AT_ONCE waiting: read on
            try:
                now = os.stat(self.path)
            except OSError:
                break       # renamed, the new one not made yet: read on next time
            if (now.st_dev, now.st_ino) != self._identity:
                self._open(self.path, 0)   # rotated: the old file is read to its end, on to the new
                continue
            if now.st_size < self._offset:
                self._offset = 0            # truncated in place (copytruncate): from its start
                continue
            break
        rows = as_rows(lines)
        # The position first: a crash between the two loses these polls, never counts them twice.
        self._save()
        if rows:
            if self._records is None:
                self._records = self.open_records()
            self._records.add_polls(rows)
        return sum(row[-1] for row in rows)

    # --- the thread --------------------------------------------------------------------

    def start(self) -> AccessLogFollower:
        self._thread.start()
        return self

    def _run(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})   # for the main thread
        while not self._stop.wait(self.interval):
            try:
                self.step()
            except Exception:  # noqa: BLE001 - a bad moment (a full disk, a database away) must not end following
                log.exception("reading nginx's access log %s failed; trying again", self.path)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        try:
            self.step()   # the last lines nginx wrote
        except Exception:  # noqa: BLE001 - stopping goes on: the position kept says where to resume
            log.exception("reading nginx's access log %s failed while stopping", self.path)
        finally:
            self._close()
            if self._records is not None:
                self._records.close()
