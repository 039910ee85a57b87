"""Serving public/ from granian's worker processes; everything else from the serve process.

``feedpub serve`` is one process that owns the service (the jobs, the store
watcher, builds, WebSub, the ingest API, /healthz, /metrics): APScheduler's job
stores must never be shared between processes. The traffic that must be fast,
aggregators polling feeds, needs none of that: it reads files and the build
manifest. So the serve process listens on the public address and hands the
socket to granian's worker processes (Rust HTTP/1.1, one Python thread each for
public/, :data:`BODY_READERS` more with the ingest API on), where a
:class:`WorkerApp` answers (called by granian's WSGI worker with granian's protocol
object, past granian's WSGI wrapper: :meth:`WorkerApp.handler`):

- every request for the files of public/ itself, with :class:`feeds.serving.server.PublicFiles`;
- ``/api`` and below, ``/healthz`` and ``/metrics`` by forwarding them over a Unix
  socket to a waitress server inside the serve process (:func:`forward`), which
  runs the same WSGI app as before. A request body over the cap is refused here,
  from its Content-Length, before any of it is read.

Nothing that answers ``/api``, ``/healthz`` or ``/metrics`` takes the thread that
answers public documents (:class:`InternalRequests`). granian calls the worker's
handler on the worker's Python thread; those requests are handed at once to threads of their
own, which forward them and answer through granian's protocol object (it answers
from any thread). Only a request body cannot move: granian 2.8's ``wsgi.input``
blocks the thread that runs the request (releasing the GIL) until its bytes or its
end arrive, with no timeout, and once the app returns granian drops the body, waiting
for a read in progress first. So a body is read only when the API will read it (the
API on, the right bearer token, a method that carries one: :class:`BodyGate`, handed in;
any other answer does not depend on it), at most :data:`BODY_READERS` at a time on
the threads granian runs beyond the first, and answered 408 once it has not arrived
within its deadline (docs/RELIABILITY.md, "Hostile input, second review").

What workers know reaches the serve process without locks or messages:

- request counts: each worker counts into a file of its own, mapped into memory
  (:class:`feeds.serving.health.SharedCounters`); ``/metrics`` adds the files up;
- feed polls: each worker has its own :class:`feeds.serving.stats.PollLog` appending to the
  poll records (``stats.sqlite3``, where SQLite serialises the writers, or the shared
  PostgreSQL store's table; `feedpub stats` reads them),
  flushed when the worker stops.

Workers are started with the ``spawn`` method: forking a process that runs
scheduler and server threads can copy a lock some thread holds.
"""

from __future__ import annotations

import http.client
import logging
import multiprocessing
import multiprocessing.util
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from sources.store.roles import PollRecords

from .dispatch import INTERNAL_STARTS, is_api, is_internal
from .health import SharedCounters
from .server import CHANNEL_TIMEOUT, CONNECTION_LIMIT, PublicFiles, enough_descriptors
from .stats import PollLog

log = logging.getLogger(__name__)

WORKERS = 2                      # one per core of the machine it was measured on (docs/BENCHMARKS.md)
PARENT_CHECK_SECONDS = 1.0       # how often a worker checks that the serve process lives
STOP_ATTEMPTS = 3                # SIGTERMs a worker gets before it is killed ...
STOP_WAIT_SECONDS = 1.0          # ... this long apart
BACKLOG = 1024                   # connections the kernel queues while every worker's places are taken (waitress's too)
FORWARD_TIMEOUT = 60.0           # seconds an /api request may take in the serve process
FORWARD_THREADS = 8              # threads of a worker that pass requests on to the serve process ...
FORWARD_PENDING = 64             # ... and the requests they take at once; more get 503 at once
# Request bodies a worker reads at once, each holding one of granian's Python threads
# (run_workers gives a worker this many beyond the first when the API is on): the
# first is always free for public documents. More get 503 at once.
BODY_READERS = 2
# The request head (request line and headers) a worker reads: hyper, granian's HTTP layer,
# refuses a head with 431 once its read buffer holds this much and the head is not done, and
# a read adds at most as much again: a head up to 128 KB is read, one of 256 KB or more always
# gets 431 (waitress's limit was 256 KB; granian's default buffer, 417 KB, let 500 KB heads
# through). hyper has two limits of its own that granian does not expose: a request target
# over 65,534 bytes gets 414, and more than 100 header fields get 431.
MAX_REQUEST_HEAD = 128 * 1024
# RFC 9110 7.6.1: these describe one connection, not the message; never passed on.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                        "upgrade", "date", "server"})   # the last two: granian sends its own


@dataclass(frozen=True)
class WorkerSettings:
    """Everything a worker needs, as plain values (pickled into each spawned worker)."""

    root: Path                    # public/
    max_age: int                  # Cache-Control max-age, seconds
    hubs: tuple[str, ...]
    base_url: str
    gone: tuple[str, ...]
    moved: tuple[tuple[str, str], ...]
    upstream: str                 # the serve process's Unix socket for /api, /healthz, /metrics
    counters: Path                # folder of the workers' request-count files
    stats: Callable[[], PollRecords]   # opens the poll records in the worker (picklable)
    max_request_body: int         # a declared request body this long or longer gets 413 unread
    body_gate: BodyGate | None    # which bodies the ingest API reads (sources/api_gate.py); None: the API is off
    body_seconds: float = 30.0    # a body the API will read must arrive within this, else 408
    parent: int = 0               # the serve process's pid (set by run_workers)


class WorkerApp:
    """One granian worker's answers: public/ from :class:`PublicFiles`, counted on the way
    out; ``/api``, ``/healthz`` and ``/metrics`` handed to ``internal``."""

    def __init__(self, public: PublicFiles, counters: SharedCounters, internal: InternalRequests):
        self.public = public
        self.counters = counters
        self.internal = internal

    def handler(self) -> Callable[[Responder, dict], object]:
        """What granian calls per request, with its protocol object and the request's scope.

        Not granian's WSGI call (``granian.wsgi._callback_wrapper``): that one merges the
        scope into a new environ dict, makes a ``start_response`` object, parses the status
        code back out of the status line and joins the body list, for every request. The
        scope holds every key :meth:`PublicFiles.answer` reads (``REQUEST_METHOD``,
        ``PATH_INFO``, ``REMOTE_ADDR``, the ``HTTP_*`` headers), and the answer is handed to
        the protocol object as it is, so a 304 costs what its own decisions cost
        (docs/BENCHMARKS.md, "Serving at granian's ceiling")."""
        answer = self.public.answer
        counts = self.counters.slots   # slot = status code (every code answer() gives), slot 0 = bytes
        take = self.internal.take

        def call(proto: Responder, scope: dict) -> object:
            path = scope["PATH_INFO"]
            if path.startswith(INTERNAL_STARTS) and is_internal(path):
                return take(proto, scope)
            code, _status, headers, body = answer(scope)
            counts[code] += 1
            counts[0] += len(body)
            proto.response_bytes(code, headers, body)
            return code

        return call


Answer = tuple[int, list[tuple[str, str]], bytes]   # (status code, headers, body)


def _plain(code: int, text: bytes, *extra: tuple[str, str]) -> Answer:
    return code, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(text))), *extra], text


TOO_LARGE = _plain(413, b"Request body too large\n", ("Connection", "close"))
BUSY = _plain(503, b"The service is busy: try again\n", ("Retry-After", "1"), ("Connection", "close"))
TOO_SLOW = _plain(408, b"The request body did not arrive in time\n", ("Connection", "close"))


class BodyGate(Protocol):
    """Which request bodies the ingest API reads (sources/api_gate.py ``BodyGate``, handed
    in by the composition root: the API's rules stay with the API)."""

    def reads_body(self, method: str, authorization: str) -> bool: ...


class Responder(Protocol):
    """granian's protocol object for one request (its WSGIProtocol): the first call answers."""

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None: ...


class InternalRequests:
    """One worker's requests for the serve process, answered off the thread granian runs
    the app on: :meth:`take` returns at once but for a body the API will read."""

    def __init__(self, upstream: str, *, max_request_body: int, body_gate: BodyGate | None = None,
                 body_seconds: float = 30.0, body_readers: int = BODY_READERS):
        self.upstream = upstream
        self.max_request_body = max_request_body
        self.body_gate = body_gate
        self.body_seconds = body_seconds
        self.readers = threading.BoundedSemaphore(body_readers)
        self.pending = threading.BoundedSemaphore(FORWARD_PENDING)
        self.pool = ThreadPoolExecutor(FORWARD_THREADS, thread_name_prefix="feedpub-forward")

    def take(self, proto: Responder, environ: dict) -> None:
        """Called by granian with its protocol object (it answers from any thread) and the
        request's environ."""
        raw_length = (environ.get("CONTENT_LENGTH") or "").strip()
        declared = int(raw_length) if raw_length.isdigit() else None
        if declared is not None and declared >= self.max_request_body:
            _send(proto, TOO_LARGE)
            return
        body = None
        if self._reads_body(environ):
            if not self.readers.acquire(blocking=False):
                _send(proto, BUSY)
                return
            try:
                body = self._read_body(proto, environ, self.max_request_body if declared is None else declared)
            finally:
                self.readers.release()
            if body is None:
                return   # the deadline came first: answered 408
            if len(body) >= self.max_request_body:
                _send(proto, TOO_LARGE)
                return
        if not self.pending.acquire(blocking=False):
            _send(proto, BUSY)
            return
        self.pool.submit(self._forward, proto, environ, body)

    def _reads_body(self, environ: dict) -> bool:
        """Whether the API will read this request's body."""
        return (self.body_gate is not None and is_api(environ.get("PATH_INFO", ""))
                and self.body_gate.reads_body(environ.get("REQUEST_METHOD", ""), environ.get("HTTP_AUTHORIZATION", "")))

    def _read_body(self, proto: Responder, environ: dict, size: int) -> bytes | None:
        """The body, or None when ``body_seconds`` passed first and the client got 408.

        granian 2.8 cannot interrupt the read (see the module docstring): the 408 goes out
        from a timer's thread, and this thread stays in the read until the client sends
        the rest or closes the connection."""
        first = threading.Lock()   # the read's end and the timer: whichever takes it answers

        def expire() -> None:
            if first.acquire(blocking=False):
                log.warning("a request body for %s did not arrive within %s s: 408",
                            environ.get("PATH_INFO", ""), self.body_seconds)
                _send(proto, TOO_SLOW)

        timer = threading.Timer(self.body_seconds, expire)
        timer.daemon = True
        timer.start()
        try:
            body = environ["wsgi.input"].read(size)
        finally:
            timer.cancel()
        return body if first.acquire(blocking=False) else None

    def _forward(self, proto: Responder, environ: dict, body: bytes | None) -> None:
        try:
            answer = forward(environ, self.upstream, body)
        except Exception:  # noqa: BLE001 - a bug here must still answer, not leave the client waiting
            log.exception("forwarding %s to the serve process failed", environ.get("PATH_INFO", ""))
            answer = _plain(500, b"Internal error\n")
        finally:
            self.pending.release()
        _send(proto, answer)


def _send(proto: Responder, answer: Answer) -> None:
    code, headers, body = answer
    proto.response_bytes(code, headers, body)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def forward(environ: dict, upstream: str, body: bytes | None) -> Answer:
    """Pass one request to the serve process and bring its answer back. ``body``: the
    request's body as read, or None when it was not read (none is passed on)."""
    raw_length = (environ.get("CONTENT_LENGTH") or "").strip()
    target = quote(environ.get("PATH_INFO", "/").encode("latin-1"), safe="/:@!$&'()*+,;=-._~")
    if environ.get("QUERY_STRING"):
        target += "?" + environ["QUERY_STRING"]
    connection = _UnixConnection(upstream, FORWARD_TIMEOUT)
    try:
        connection.putrequest(environ.get("REQUEST_METHOD", "GET"), target, skip_host=True, skip_accept_encoding=True)
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                name = key[5:].replace("_", "-")
                if name.lower() not in HOP_BY_HOP and name != "CONTENT-LENGTH":
                    connection.putheader(name, value)
        if environ.get("CONTENT_TYPE"):
            connection.putheader("Content-Type", environ["CONTENT_TYPE"])
        if body is not None and (body or raw_length):
            connection.putheader("Content-Length", str(len(body)))
        connection.putheader("X-Forwarded-For", environ.get("REMOTE_ADDR", ""))
        connection.endheaders(body or None)
        response = connection.getresponse()
        data = response.read()
        headers = [(name, value) for name, value in response.getheaders() if name.lower() not in HOP_BY_HOP]
        return response.status, headers, data
    except (OSError, http.client.HTTPException) as exc:
        # The serve process is stopping or was killed (before its answer, or halfway through
        # it: IncompleteRead, BadStatusLine), or a request outlived the timeout. Raised out
        # of the app, any of them would be a 500 (found by tests/test_reliability_kills.py).
        log.warning("forwarding %s to the serve process failed: %s", target, exc)
        return _plain(502, b"The service is not answering\n")
    finally:
        connection.close()


def load_worker_app(settings: WorkerSettings) -> WorkerApp:
    """Called by granian in each worker process: its app, its counters, its poll log."""
    # granian copies os.environ into every request's environ (PEP 3333 allows it, nothing
    # here reads it): with a few dozen variables that copy was a third of a 304's time.
    os.environ.clear()
    public = PublicFiles(settings.root, max_age=settings.max_age, hubs=settings.hubs, base_url=settings.base_url,
                         gone=settings.gone, moved=dict(settings.moved))
    polls = PollLog(settings.stats).start()
    public.poll_log = polls.append
    # Run when the worker's process ends after a stop signal (multiprocessing calls its
    # finalizers; atexit handlers are not run in its children).
    multiprocessing.util.Finalize(None, polls.stop, exitpriority=10)
    # The pid run_workers recorded, not os.getppid() now: a worker still loading when the
    # serve process was killed already has init as its parent, and would watch that forever
    # (found: 1 in 3 runs of tests/test_workers.py's kill test on a loaded machine).
    threading.Thread(target=_exit_with_parent, args=(settings.parent or os.getppid(), polls),
                     name="feedpub-parent-watch", daemon=True).start()
    internal = InternalRequests(settings.upstream, max_request_body=settings.max_request_body,
                                body_gate=settings.body_gate, body_seconds=settings.body_seconds)
    return WorkerApp(public, SharedCounters.create(settings.counters), internal)


def _worker_call(app: WorkerApp, scope_opts: dict,
                 access_log_fmt: str | None = None) -> Callable[[Responder, dict], object]:
    """Put in place of granian's WSGI call wrapper (``granian.wsgi._callback_wrapper``, same
    arguments): ``app`` is what :func:`load_worker_app` returned. feedpub serves at the
    root (no ``url_path_prefix``) and logs no access (``log_access=False``): neither of
    the wrapper's two options applies."""
    return app.handler()


def _spawn_worker(*args: object, **kwargs: object) -> None:
    """Each worker process's target: granian's own WSGI worker (``MPServer._spawn_wsgi_worker``)
    calling :meth:`WorkerApp.handler`'s function per request. granian 2.8 hands the app only the
    WSGI arguments, and the protocol object only to its call wrapper, which it looks up by
    name when the worker starts: the name is replaced here, in the worker's process only."""
    import granian.server.mp as granian_mp

    granian_mp._wsgi_call_wrap = _worker_call
    granian_mp.MPServer._spawn_wsgi_worker(*args, **kwargs)


def _exit_with_parent(parent: int, polls: PollLog) -> None:
    """A worker whose serve process is gone (killed with SIGKILL, say) would serve public/
    on the shared socket forever, with nobody to stop it: it ends itself within a second."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})   # for the main thread
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    log.warning("the serve process (pid %d) is gone: this server worker stops", parent)
    polls.stop()
    os._exit(0)


def listen(host: str, port: int, backlog: int = BACKLOG) -> socket.socket:
    """The public listening socket, bound before any worker starts: ``port=0`` gets a free
    port, and its number is known to the serve process (every worker shares the socket)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def run_workers(sock: socket.socket, settings: WorkerSettings, *, workers: int = WORKERS) -> None:
    """Serve ``sock`` with granian's WSGI workers until SIGINT or SIGTERM; returns once every
    worker has stopped. A worker that dies is replaced."""
    from granian._granian import SocketHolder
    from granian.constants import HTTPModes, Interfaces, RuntimeModes
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server.mp import MPServer

    class SharedSocketServer(MPServer):
        """granian's process manager over a socket bound by the caller. granian binds its
        own (one per worker with SO_REUSEPORT on Linux), which with port 0 would be a
        different port in each worker."""

        def _init_shared_socket(self) -> None:
            self._ssp = None
            self._sfd = sock.fileno()
            self._shd = SocketHolder(self._sfd, False, self.backlog)
            self._sso = sock

        def _drop_shared_socket(self) -> None:
            pass   # the caller's to close

        def _stop_workers(self) -> None:
            """Stop every worker, asking again while one has not stopped: a worker that was
            still starting can miss the first SIGTERM (granian installs its handler, then
            registers what the handler wakes up; a signal in between is lost and the worker
            waits forever: seen about once in 30 stops on a loaded machine). Killed after
            STOP_ATTEMPTS (its last poll records, at most 2 s of them, are lost)."""
            for worker in self.wrks:
                worker.terminate()
            for _ in range(STOP_ATTEMPTS):
                for worker in self.wrks:
                    worker.join(STOP_WAIT_SECONDS)
                waiting = [worker for worker in self.wrks if worker.is_alive()]
                if not waiting:
                    break
                for worker in waiting:
                    worker.terminate()
            for worker in self.wrks:
                if worker.is_alive():
                    log.warning("a server worker (pid %s) did not stop: killed", worker.inner.pid)
                    worker.kill()
                    worker.join()
            self.wrks.clear()

    # granian reads the start method when it starts a worker; see the module docstring.
    multiprocessing.set_start_method("spawn", force=True)
    settings = replace(settings, parent=os.getpid())
    # Each connection is a descriptor in the worker that holds it; workers inherit this limit.
    enough_descriptors(CONNECTION_LIMIT + 256)
    host, port = sock.getsockname()[:2]
    server = SharedSocketServer(
        "feedpub", address=host, port=port, interface=Interfaces.WSGI, workers=workers,
        # One Python thread per worker: the app never waits on I/O on the hot path, so more
        # threads would only take turns holding the GIL (docs/BENCHMARKS.md). With the API
        # on, BODY_READERS more: a request body holds the thread it is read on (module docstring).
        blocking_threads=1 + (BODY_READERS if settings.body_gate is not None else 0), respawn_failed_workers=True,
        # Connections a worker holds at once (granian's default: backlog / workers, 512 each):
        # idle and slowloris connections hold places too, so the whole server keeps
        # CONNECTION_LIMIT, as many as waitress did, and the listen backlog beyond that.
        backlog=BACKLOG, backpressure=max(1, CONNECTION_LIMIT // workers),
        # A request head must arrive whole within CHANNEL_TIMEOUT (a slowloris client is
        # dropped then); so is an idle connection, new or kept alive between requests
        # (tests/test_hostile_clients.py).
        http1_settings=HTTP1Settings(header_read_timeout=CHANNEL_TIMEOUT * 1000, keep_alive=True,
                                     max_buffer_size=MAX_REQUEST_HEAD),
        # HTTP/1.1 only (feed readers and proxies speak it; h2c without TLS has no clients
        # here) on a single-threaded Rust runtime per worker: less CPU per 304 than granian's
        # defaults (docs/BENCHMARKS.md, "Serving").
        http=HTTPModes.http1, runtime_mode=RuntimeModes.st, log_level=LogLevels.warning, log_access=False,
        # granian logs to stdout by default; feedpub's stdout is its own ("serving ...").
        log_dictconfig={"handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "generic", "stream": "ext://sys.stderr"},
            "access": {"class": "logging.StreamHandler", "formatter": "access", "stream": "ext://sys.stderr"},
        }},
    )
    server.serve(spawn_target=_spawn_worker, target_loader=partial(load_worker_app, settings), wrap_loader=False)
