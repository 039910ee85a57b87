"""``/healthz`` and ``/metrics``, and the request counts behind them.

:class:`Observed` wraps the serve process's WSGI app: it answers the two paths
itself and counts every other response by status, with the body bytes sent.
Counting costs a dict update in a tally that belongs to the worker thread
(no lock, no I/O); a scrape adds the threads' tallies up.

What the service knows (builds, hub notifications, whether the store answers)
comes from a callable handed in by the composition root (scheduler.py), which
returns a :class:`ServiceFigures` of plain values, or None while the service is
still starting: this module knows nothing of scheduling.

- ``/healthz``: JSON; 200 when the store answers and the last build succeeded
  less than ``STALE_INTERVALS`` rebuild intervals ago, else 503 with the
  problems named (load balancers and uptime checks read the status).
- ``/metrics``: the Prometheus text exposition format, version 0.0.4.
"""

from __future__ import annotations

import json
import mmap
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

StartResponse = Callable[..., object]

STALE_INTERVALS = 3          # a last build older than this many rebuild intervals is unhealthy
HUB_OUTCOMES = ("delivered", "retrying", "failed")
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class ServiceFigures:
    """What the running service reports, read when /healthz or /metrics is asked for."""

    now: datetime
    rebuild_seconds: float                   # the periodic rebuild's interval
    store_reachable: bool
    store_error: str | None = None
    last_build_at: datetime | None = None    # the last successful build's time
    last_build_seconds: float | None = None  # how long it took
    last_build_error: str | None = None      # the last build attempt's error; None when it succeeded
    build_failures_in_a_row: int = 0         # failed attempts since the last build that succeeded
    builds_total: int = 0                    # successful builds
    build_failures_total: int = 0
    documents_written_total: int = 0         # documents whose bytes changed, over all builds
    hub_notifications: Mapping[str, int] = field(default_factory=dict)   # outcome -> attempts


def health(figures: ServiceFigures | None) -> tuple[int, dict]:
    """(HTTP status, JSON body) of /healthz: a pure decision over the figures."""
    if figures is None:
        return 503, {"status": "starting", "problems": ["the service is starting"]}
    problems = []
    if not figures.store_reachable:
        problems.append(f"store unreachable: {figures.store_error}")
    if figures.last_build_error:
        # The documents of the last successful build are still served; readers see no error.
        in_a_row = f" ({figures.build_failures_in_a_row} attempts in a row)" if figures.build_failures_in_a_row > 1 else ""
        problems.append(f"last build failed{in_a_row}: {figures.last_build_error}")
    age = None
    limit = STALE_INTERVALS * figures.rebuild_seconds
    if figures.last_build_at is None:
        problems.append("no build yet")
    else:
        age = max(0.0, (figures.now - figures.last_build_at).total_seconds())
        if age > limit:
            problems.append(f"last build is {age:.0f} s old (more than {STALE_INTERVALS} rebuild intervals)")
    return (503 if problems else 200), {
        "status": "failing" if problems else "ok",
        "problems": problems,
        "store_reachable": figures.store_reachable,
        "last_build_age_seconds": age,
        "last_build_seconds": figures.last_build_seconds,
        "last_build_error": figures.last_build_error,
        "build_failures_in_a_row": figures.build_failures_in_a_row,
        "max_build_age_seconds": limit,
    }


class Counters:
    """Responses by status and body bytes: one tally per thread, added up when read."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._tallies: list[_Tally] = []
        self._register = threading.Lock()   # taken once per thread, on its first response

    def record(self, status: str, size: int) -> None:
        try:
            tally = self._local.tally
        except AttributeError:
            tally = self._local.tally = _Tally()
            with self._register:
                self._tallies.append(tally)   # kept after the thread ends: counters only grow
        tally.requests[status] = tally.requests.get(status, 0) + 1
        tally.bytes += size

    def snapshot(self) -> tuple[dict[str, int], int]:
        with self._register:
            tallies = list(self._tallies)
        requests: dict[str, int] = {}
        sent = 0
        for tally in tallies:
            for status, count in dict(tally.requests).items():   # copied in one step under the GIL
                requests[status] = requests.get(status, 0) + count
            sent += tally.bytes
        return requests, sent


class SharedCounters:
    """The counts of one worker process, in a file of its own mapped into its memory.

    Each worker of ``feedpub serve`` (feeds/serving/workers.py) writes only its own file, so no
    lock: a response costs two increments of 64-bit slots (slot = status code; slot 0
    holds the body bytes). The serve process reads every file for /metrics
    (:func:`read_shared_counters`); the kernel's page cache makes a write visible to
    that read at once. A worker that is replaced leaves its file: counters only grow.
    """

    SLOTS = 600   # status codes 100-599; slot 0: bytes

    def __init__(self, path: Path):
        self.path = path
        with open(path, "r+b") as file:
            self._map = mmap.mmap(file.fileno(), self.SLOTS * 8)
        # Public for the workers' request path (feeds/serving/workers.py), which adds to the
        # slots itself: a method call cost as much as the two additions.
        self.slots = memoryview(self._map).cast("Q")

    @classmethod
    def create(cls, folder: Path) -> SharedCounters:
        path = folder / f"counts-{os.getpid()}"
        with open(path, "xb") as file:
            file.truncate(cls.SLOTS * 8)
        return cls(path)

    def record(self, code: int, size: int) -> None:
        slots = self.slots
        slots[code if 100 <= code < 600 else 500] += 1
        slots[0] += size


def read_shared_counters(folder: Path) -> tuple[dict[str, int], int]:
    """Responses by status and body bytes, added up over the workers' count files."""
    requests: dict[str, int] = {}
    sent = 0
    for path in sorted(folder.glob("counts-*")):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        slots = memoryview(data[:SharedCounters.SLOTS * 8]).cast("Q") if len(data) >= SharedCounters.SLOTS * 8 else ()
        for code in range(100, len(slots)):
            if slots[code]:
                requests[str(code)] = requests.get(str(code), 0) + slots[code]
        sent += slots[0] if len(slots) else 0
    return requests, sent


class _Tally:
    __slots__ = ("requests", "bytes")

    def __init__(self) -> None:
        self.requests: dict[str, int] = {}
        self.bytes = 0


def metrics(figures: ServiceFigures | None, requests: Mapping[str, int], sent: int) -> str:
    """The Prometheus text exposition of the figures and the request counts."""
    lines: list[str] = []

    def metric(name: str, kind: str, text: str, samples: Iterable[tuple[str, float | int]]) -> None:
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{labels} {value}" for labels, value in samples)

    f = figures
    metric("feedpub_builds_total", "counter", "Builds that succeeded.", [("", f.builds_total if f else 0)])
    metric("feedpub_build_failures_total", "counter", "Builds that failed (the previous documents stayed served).",
           [("", f.build_failures_total if f else 0)])
    if f and f.last_build_seconds is not None:
        metric("feedpub_build_seconds", "gauge", "How long the last successful build took.",
               [("", round(f.last_build_seconds, 6))])
    if f and f.last_build_at is not None:
        metric("feedpub_last_build_timestamp_seconds", "gauge", "When the last successful build ran (Unix time).",
               [("", int(f.last_build_at.timestamp()))])
    metric("feedpub_documents_written_total", "counter", "Documents whose bytes changed and were written, all builds.",
           [("", f.documents_written_total if f else 0)])
    outcomes = dict.fromkeys(HUB_OUTCOMES, 0) | dict(f.hub_notifications if f else {})
    metric("feedpub_hub_notifications_total", "counter",
           "WebSub publish notification attempts by outcome (retrying: failed, tried again later).",
           [(f'{{outcome="{outcome}"}}', count) for outcome, count in sorted(outcomes.items())])
    metric("feedpub_http_requests_total", "counter", "HTTP responses by status (/healthz and /metrics not counted).",
           [(f'{{status="{status}"}}', count) for status, count in sorted(requests.items())])
    metric("feedpub_http_response_bytes_total", "counter", "Body bytes of the HTTP responses counted above.",
           [("", sent)])
    return "\n".join(lines) + "\n"


class Observed:
    """WSGI middleware: answers /healthz and /metrics, counts every other response."""

    def __init__(self, app: Callable, figures: Callable[[], ServiceFigures | None],
                 counters: Counters | None = None,
                 elsewhere: Callable[[], tuple[dict[str, int], int]] | None = None):
        """``elsewhere``: counts of responses other processes sent (the granian workers'
        :func:`read_shared_counters`), added to this process's own in /metrics."""
        self.app = app
        self.figures = figures
        self.counters = counters or Counters()
        self.elsewhere = elsewhere
        self._own = {"/healthz": self._healthz, "/metrics": self._metrics}

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        own = self._own.get(environ.get("PATH_INFO", ""))
        if own is not None:
            return own(environ, start_response)
        seen: list[str] = []

        def recording(status: str, headers: list, exc_info=None):
            seen.append(status)
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        body = self.app(environ, recording)
        if type(body) is list:   # what the apps here return: counted now, no wrapper
            self.counters.record(seen[-1][:3] if seen else "500", sum(map(len, body)))
            return body
        return _CountedBody(body, seen, self.counters)

    def _healthz(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        status, report = health(self.figures())
        body = json.dumps(report, indent=1, sort_keys=True).encode() + b"\n"
        reason = "OK" if status == 200 else "Service Unavailable"
        return self._answer(environ, start_response, f"{status} {reason}", "application/json", body)

    def _metrics(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        requests, sent = self.counters.snapshot()
        if self.elsewhere is not None:
            more, more_sent = self.elsewhere()
            for status, count in more.items():
                requests[status] = requests.get(status, 0) + count
            sent += more_sent
        body = metrics(self.figures(), requests, sent).encode()
        return self._answer(environ, start_response, "200 OK", METRICS_TYPE, body)

    @staticmethod
    def _answer(environ: dict, start_response: StartResponse, status: str, content_type: str,
                body: bytes) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
            return [b""]
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))),
                                ("Cache-Control", "no-store")])
        return [b""] if method == "HEAD" else [body]


class _CountedBody:
    """An app's body iterable, counted as it is sent and recorded when the server closes it."""

    def __init__(self, body: Iterable[bytes], seen: list[str], counters: Counters):
        self._body, self._seen, self._counters, self._size = body, seen, counters, 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            self._size += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._counters.record(self._seen[-1][:3] if self._seen else "500", self._size)
