"""Subscriber statistics: who polls which feed, how often, and at what cost.

The server hands each answered request for a feed document to :attr:`PollLog.append`,
which only appends a tuple of what the request already holds (path, status, the body
sent, user agent, client) to a bounded in-memory queue. A background thread of the poll log
takes the queue every :data:`DRAIN_SECONDS`, dates and counts what it took, and writes
the counts every couple of seconds to the poll records (sources/store/roles.py
``PollRecords``), so no request reads a clock, waits for a disk or a database: beside an
embedded store a small SQLite file of their own (:class:`SQLitePolls`), with a shared
PostgreSQL store a table of it, where the polls of every instance meet. ``feedpub stats``
reads them and :func:`summarise` (pure) turns the rows into a report:

- subscribers reported by aggregators in their User-Agent, in the forms Feedly,
  Inoreader, NewsBlur, Feedbin, The Old Reader and Feedspot send (and any other
  "N subscribers"/"N readers"), latest per aggregator, feed and aggregator's feed
  id; a reader that reports no count (Miniflux, a self-hosted reader) is one
  reader per client;
- other clients (address + User-Agent), polls per hour over the span the log
  actually covers, the share answered with 304, bytes sent;
- clients polling far more often than Cache-Control allows (median interval
  under half of ``max-age``), flagged.
"""

from __future__ import annotations

import re
import signal
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import groupby, islice
from pathlib import Path

from sources.errors import FeedpubError
from sources.store.roles import PollRecords

# Readers that poll on their users' behalf, by a name their User-Agent holds wherever it
# stands: Inoreader's is "Mozilla/5.0 (compatible; inoreader.com; 7 subscribers)", The
# Old Reader's "Mozilla/5.0 (compatible; theoldreader.com; 6 subscribers; feed-id=...)".
# tests/data/user-agents/ holds each form these services publish.
_READERS = tuple((name, re.compile(pattern, re.IGNORECASE)) for name, pattern in (
    ("Feedly", r"\bfeedly\b"),
    ("Inoreader", r"\binoreader\b"),
    ("NewsBlur", r"\bnewsblur\b"),
    ("Feedbin", r"\bfeedbin\b"),
    ("The Old Reader", r"\btheoldreader\b"),
    ("Feedspot", r"\bfeedspot\b"),
    ("Miniflux", r"\bminiflux\b"),
))
_COUNT = re.compile(r"\b(\d{1,3}(?:,\d{3})+|\d+)\s+(?:subscribers?|readers?)\b", re.IGNORECASE)
# One reader may poll one feed as several of its own feeds (http and https, say), each with
# its count: Feedbin "feed-id:123", The Old Reader and Feedly "feed-id=...", NewsBlur "/site/123".
_FEED_ID = re.compile(r"feed-?id[:=]\s*([^\s;)]+)|newsblur\.com/site/(\d+)", re.IGNORECASE)
_COMPATIBLE = re.compile(r"^Mozilla/[\d.]+\s*\(compatible;\s*([^;)]+)", re.IGNORECASE)
MAX_QUEUE = 100_000   # polls kept in memory between drains; beyond, the oldest are dropped
USER_AGENT_KEPT = 300   # characters of a poll's User-Agent kept: the queue must not hold what a client sends
CLIENT_KEPT = 64        # ... and of its client address (the server's peer address: cut when written)
# How often the poll log's thread takes the queue and dates what it took: a poll is recorded
# in the second it was taken, at most this much after it was answered. Short enough that
# the queue stays small (what it holds is still in the processor's cache when counted).
DRAIN_SECONDS = 0.25
# One poll as the queue holds it: (path, status, the body sent (the very bytes object the
# server sent: its size is taken when drained), user agent cut to USER_AGENT_KEPT, client
# address). Polls alike are tuples of the same objects but for the header strings, compared
# in C by the drain. Only strings, ints and bytes: Python's garbage collector stops tracking
# such a tuple the first time it sees it, where one holding a list (an answer's headers)
# would be carried into its older generations and bring on full collections, each walking
# every object of the worker (docs/BENCHMARKS.md, "Where the 304's time went").
Poll = tuple[str, int, bytes, str, str]


def reported_subscribers(user_agent: str) -> tuple[str, int] | None:
    """(reader, subscribers) a feed reader reports in its User-Agent, if any: its count, or
    1 for a known reader that gives none (Miniflux: one instance, its person)."""
    known = next((name for name, pattern in _READERS if pattern.search(user_agent)), None)
    count = _COUNT.search(user_agent)
    if count is None:
        return (known, 1) if known else None
    if known is None:
        # "Mozilla/5.0 (compatible; Reader/1.0; ...)" names the reader inside; else its product token does.
        compatible = _COMPATIBLE.match(user_agent)
        product = compatible.group(1) if compatible else user_agent.split("(")[0]
        known = product.split("/")[0].strip()[:60] or "unknown"
    return known, int(count.group(1).replace(",", ""))


def _subscription(user_agent: str, client: str, reader: str) -> tuple[str, str]:
    """What one reported count stands for: the reader and its feed id; a reader that
    reports no count is counted once per client (address and User-Agent)."""
    if not _COUNT.search(user_agent):
        return reader, f"{client} {user_agent}"
    feed_id = _FEED_ID.search(user_agent)
    return reader, (feed_id.group(1) or feed_id.group(2)) if feed_id else ""


@dataclass
class FeedReport:
    path: str
    polls: int = 0
    not_modified: int = 0
    bytes_sent: int = 0
    subscribers: dict[str, int] = field(default_factory=dict)   # reader -> latest reported count (summed over its feed ids)
    other_clients: int = 0
    polls_per_hour: float = 0.0      # over the hours the log covers (``observed_hours``)
    observed_hours: float = 0.0      # from the first poll recorded in the window to the last (at least a minute)
    flagged: list[dict] = field(default_factory=list)            # clients polling too often

    @property
    def share_304(self) -> float:
        return self.not_modified / self.polls if self.polls else 0.0

    def as_dict(self) -> dict:
        return {
            "path": self.path, "polls": self.polls, "polls_per_hour": round(self.polls_per_hour, 2),
            "observed_hours": round(self.observed_hours, 3),
            "share_304": round(self.share_304, 3), "bytes_sent": self.bytes_sent,
            "subscribers": self.subscribers, "subscribers_total": sum(self.subscribers.values()),
            "other_clients": self.other_clients, "flagged": self.flagged,
        }


def summarise(rows: Iterable[tuple], *, max_age: int, since: float, until: float) -> list[FeedReport]:
    """Rows are (time, path, status, bytes, user agent, client address[, count]), oldest
    first; a row with a count stands for that many polls in the same second (bytes: their sum).
    Polls per hour are over the span the rows cover within [since, until], not the whole
    window: a log begun an hour ago says nothing of the 23 hours before it."""
    reports: dict[str, FeedReport] = {}
    times: dict[tuple[str, str, str], list[tuple[float, int]]] = {}
    latest: dict[str, dict[tuple[str, str], int]] = {}   # feed -> (reader, its feed id) -> count
    first = last = None
    for moment, path, status, sent, agent, address, *rest in rows:
        count = rest[0] if rest else 1
        report = reports.setdefault(path, FeedReport(path))
        report.polls += count
        report.not_modified += count if status == 304 else 0
        report.bytes_sent += sent
        reported = reported_subscribers(agent)
        if reported:   # rows are in time order: the latest count wins
            latest.setdefault(path, {})[_subscription(agent, address, reported[0])] = reported[1]
        times.setdefault((path, address, agent), []).append((moment, count))
        first = moment if first is None else min(first, moment)
        last = moment if last is None else max(last, moment)
    for path, counts in latest.items():
        for (reader, _), count in counts.items():
            reports[path].subscribers[reader] = reports[path].subscribers.get(reader, 0) + count
    span = (min(last, until) - max(first, since)) if first is not None else 0.0
    hours = max(span / 3600, 1 / 60)
    for (path, address, agent), moments in times.items():
        report = reports[path]
        if not reported_subscribers(agent):
            report.other_clients += 1
        interval = _median_interval(moments)
        if interval is not None and interval < max_age / 2:
            report.flagged.append({"client": address, "user_agent": agent, "polls": sum(n for _, n in moments),
                                   "median_interval_seconds": round(interval, 1), "max_age": max_age})
    for report in reports.values():
        report.polls_per_hour = report.polls / hours
        report.observed_hours = hours
        report.flagged.sort(key=lambda item: item["median_interval_seconds"])
    return sorted(reports.values(), key=lambda r: r.path)


def _median_interval(moments: list[tuple[float, int]]) -> float | None:
    """The median time between one client's polls, from (time, polls in that second) in time
    order: polls sharing a second are 0 apart. None below 3 polls (too few to judge)."""
    gaps = sorted(later - earlier for (earlier, _), (later, _) in zip(moments, moments[1:], strict=False))
    zeros = sum(count - 1 for _, count in moments)
    total = zeros + len(gaps)
    if total < 2:
        return None

    def nth(index: int) -> float:   # the zeros sort before every gap
        return 0.0 if index < zeros else gaps[index - zeros]

    middle = total // 2
    return nth(middle) if total % 2 else (nth(middle - 1) + nth(middle)) / 2


class StatsError(FeedpubError):
    """The poll log cannot be read or written; the message names the file."""


class SQLitePolls:
    """Poll records in a SQLite file of their own (``stats.sqlite3`` beside an embedded
    store): the serve process makes it (``create``); ``feedpub stats`` reads it, or
    finds no polls when there is none yet."""

    def __init__(self, path: Path, *, create: bool = True):
        self.path = path
        self.create = create
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._failing("cannot make the poll log"), self._connect() as db:
                db.execute("CREATE TABLE IF NOT EXISTS polls (at REAL NOT NULL, path TEXT NOT NULL, status INTEGER "
                           "NOT NULL, bytes INTEGER NOT NULL, user_agent TEXT NOT NULL, client TEXT NOT NULL)")
                db.execute("CREATE INDEX IF NOT EXISTS polls_by_time ON polls (at)")
                # Polls of one client in one second share a row (see PollLog.flush); a log from before has none.
                if "count" not in {row[1] for row in db.execute("PRAGMA table_info(polls)")}:
                    db.execute("ALTER TABLE polls ADD COLUMN count INTEGER NOT NULL DEFAULT 1")

    @contextmanager
    def _failing(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StatsError(f"{self.path}: {doing}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.execute("PRAGMA journal_mode = WAL")
        return db

    def add_polls(self, rows: Sequence[tuple]) -> None:
        with self._failing("cannot record feed polls"), self._connect() as db:
            db.executemany("INSERT INTO polls (at, path, status, bytes, user_agent, client, count) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def polls_since(self, since: float) -> list[tuple]:
        if not self.path.exists():
            return []
        with self._failing("cannot read the poll log"), \
                sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10) as db:
            return db.execute("SELECT at, path, status, bytes, user_agent, client, count FROM polls WHERE at >= ? "
                              "ORDER BY at", (since,)).fetchall()

    def close(self) -> None:
        """Nothing held between calls: each opens the file for itself."""


class PollLog:
    """Cheap on the request path: :attr:`append` takes a :data:`Poll` (the server makes it:
    feeds/serving/server.py); a thread dates and counts the queue every ``drain_seconds``
    and writes the counts every ``flush_seconds`` to the poll records that ``open_records``
    opens (in the thread's process: a worker's own connection)."""

    def __init__(self, open_records: Callable[[], PollRecords], *, flush_seconds: float = 2.0,
                 drain_seconds: float = DRAIN_SECONDS, clock: Callable[[], float] = time.time):
        self.records = open_records()
        self.flush_seconds = flush_seconds
        self.drain_seconds = drain_seconds
        self.clock = clock
        self._queue: deque = deque(maxlen=MAX_QUEUE)
        # The queue's own append, atomic (no lock) and no Python call on the request path.
        self.append: Callable[[Poll], None] = self._queue.append
        # (second, path, status, user agent, client) -> [polls, bytes sent]: drained, not yet written.
        self._counted: dict[tuple[int, str, int, str, str], list[int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feedpub-stats", daemon=True)

    def start(self) -> PollLog:
        self._thread.start()
        return self

    def drain(self) -> int:
        """Take the polls appended so far, dated now (whole seconds), and count them with
        the polls alike (same second, feed, status, client); returns how many were taken."""
        queue = self._queue
        taken = len(queue)   # only this thread takes from the queue: these many are there
        if not taken:
            return 0
        second = int(self.clock())
        counted = self._counted
        # Taken and compared without a Python step per poll (the request threads append
        # meanwhile): a run of equal polls (one client's burst, or a load test) is one step,
        # and its polls are compared, not hashed; equal polls in separate runs meet in ``counted``.
        for (path, status, body, agent, client), run in groupby(islice(iter(queue.popleft, None), taken)):
            polls = len(list(run))
            row = counted.get(key := (second, path, status, agent, client[:CLIENT_KEPT]))
            if row is None:
                counted[key] = [polls, len(body) * polls]
            else:   # the same poll but for its body (another representation, a build in between)
                row[0] += polls
                row[1] += len(body) * polls
        return taken

    def flush(self) -> int:
        """Drain, then write the polls counted so far; returns how many polls were written.
        Polls alike become one row with their count: an aggregator's burst, or a load test,
        costs a row per second instead of a row per request (an insert costs several times
        the request's own cost of recording it: docs/BENCHMARKS.md)."""
        self.drain()
        counted, self._counted = self._counted, {}
        if counted:
            self.records.add_polls([(float(second), path, status, sent, agent, client, polls)
                                    for (second, path, status, agent, client), (polls, sent) in counted.items()])
        return sum(polls for polls, _ in counted.values())

    def _run(self) -> None:
        # Stop signals are for the main thread (Python runs handlers only there); taken by
        # this thread, one could leave a main thread that waits on a lock unaware of it.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        written = time.monotonic()
        while not self._stop.wait(self.drain_seconds):
            if time.monotonic() - written < self.flush_seconds:
                self.drain()
                continue
            written = time.monotonic()
            try:
                self.flush()
            except FeedpubError:
                pass   # a locked or full disk, a database away: these polls are lost, not the next

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        try:
            self.flush()
        finally:
            self.records.close()
