"""The service's jobs and its run loop: the one place that wires sources to feeds.

Jobs (APScheduler 3.x, one BackgroundScheduler in the serving process, memory
job store: a job store is never shared between processes):

``watch-store``  every 0.5 s, compares the store's revision with the one last
                 built; a change (a ``feedpub ingest`` in another process, say)
                 is built within a second, and a burst of changes costs one build.
``rebuild``      every ``schedule.rebuild_minutes``: the periodic rebuild.
``release``      a date job at the next embargoed article's publish time, set
                 again after every build from the store, so a restart loses
                 nothing. Visibility itself is decided by the build from the
                 publish time, never by this job having run.

Builds never overlap (one lock). Every job calls a plain function that the CLI
calls as well (:func:`feeds.build.build`).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import resources

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from feeds.build import BuildReport, build
from feeds.server import PublicFiles, create_server
from settings import Config, with_address
from sources.errors import FeedpubError
from sources.ingest import ingest_paths
from sources.store import ArticleStore, SQLiteStore

log = logging.getLogger("feedpub")


class ServeError(FeedpubError):
    """The service cannot start (the address is taken, say)."""

WATCH_SECONDS = 0.5
SAMPLE_ARTICLE = "okes-forkopimda-oku-pilkada-2024.txt"


def utc_now() -> datetime:
    """The wall clock, read only here and in the CLI and passed down as a value."""
    return datetime.now(timezone.utc).replace(microsecond=0)


class Service:
    """Builds on demand, on change, on schedule and at embargo times."""

    def __init__(self, config: Config, store: ArticleStore, *, clock: Callable[[], datetime] = utc_now):
        self.config = config
        self.store = store
        self.clock = clock
        self.last_build: BuildReport | None = None
        self._build_lock = threading.Lock()
        self.scheduler = BackgroundScheduler(timezone=timezone.utc)

    # --- job functions -------------------------------------------------------------------

    def build_now(self, reason: str) -> BuildReport:
        with self._build_lock:
            return self._build(reason)

    def _build(self, reason: str) -> BuildReport:
        report = build(self.store, self.config.site, self.config.output_dir, self.clock())
        self.last_build = report
        level = logging.INFO if report.written or report.removed else logging.DEBUG
        log.log(level, "%s (%s)", report.summary(), reason)
        self._schedule_release(report.now)
        return report

    def rebuild_if_changed(self) -> None:
        # A build already running will be followed by this check on the next tick.
        if not self._build_lock.acquire(blocking=False):
            return
        try:
            built = self.last_build.revision if self.last_build else None
            if self.store.revision() != built:
                self._build("store changed")
        finally:
            self._build_lock.release()

    def _schedule_release(self, now: datetime) -> None:
        if not self.scheduler.running:
            return
        due = self.store.next_release_after(now)
        if due is None:
            try:
                self.scheduler.remove_job("release")
            except JobLookupError:
                pass
            return
        self.scheduler.add_job(
            self.build_now, "date", run_date=due, args=["embargo lifted"], id="release",
            replace_existing=True,
            # A release must never be skipped, however late it fires (APScheduler's
            # default grace is 1 s, after which a date job is silently dropped).
            misfire_grace_time=None, coalesce=True, max_instances=1,
        )

    # --- life cycle --------------------------------------------------------------------

    def start(self) -> None:
        rebuild_seconds = max(1.0, self.config.site.rebuild_minutes * 60)
        self.scheduler.add_job(
            self.rebuild_if_changed, "interval", seconds=WATCH_SECONDS, id="watch-store",
            # The next tick is half a second away: a late tick is worth nothing.
            coalesce=True, max_instances=1, misfire_grace_time=1,
        )
        self.scheduler.add_job(
            self.build_now, "interval", seconds=rebuild_seconds, args=["periodic rebuild"], id="rebuild",
            # A late periodic rebuild is still wanted, once.
            coalesce=True, max_instances=1, misfire_grace_time=int(rebuild_seconds),
        )
        self.scheduler.start()
        self._schedule_release(self.clock())

    def stop(self) -> None:
        if self.scheduler.running:
            # wait=True lets a running build finish; its files are replaced atomically anyway.
            self.scheduler.shutdown(wait=True)


def ingest_sample_if_empty(store: ArticleStore, config: Config, now: Callable[[], datetime]) -> None:
    """A new installation starts with the newsroom's sample article, so there is something to read."""
    if store.count():
        return
    sample = resources.files("sources") / "sample" / SAMPLE_ARTICLE
    with resources.as_file(sample) as path:
        ingest_paths(store, [path], settings=config.ingest, now=now,
                     report=lambda line: log.info("sample: %s", line))


def _raise_system_exit(signum: int, _frame) -> None:
    raise SystemExit(0)


def serve(config: Config, *, clock: Callable[[], datetime] = utc_now) -> None:
    """Create the store if needed, build, serve public/ and run the jobs until SIGINT/SIGTERM."""
    # From here on SIGTERM unwinds like SIGINT: through the finally below.
    signal.signal(signal.SIGTERM, _raise_system_exit)
    store = SQLiteStore(config.store_path)
    service = None
    server = None
    try:
        ingest_sample_if_empty(store, config, clock)
        app = PublicFiles(config.output_dir, max_age=int(max(1.0, config.site.rebuild_minutes * 60)))
        config.output_dir.mkdir(parents=True, exist_ok=True)
        try:
            server = create_server(app, config.host, config.port)
        except (OSError, ValueError) as exc:
            raise ServeError(f"cannot listen on {config.host}:{config.port}: {exc}") from exc
        config = with_address(config, config.host, int(server.effective_port))
        service = Service(config, store, clock=clock)
        service.build_now("start")
        service.start()
        log.info("serving %s/ from %s (store %s)", config.site.base_url, config.output_dir, config.store_path)
        print(f"feedpub: serving {config.site.base_url}/", flush=True)
        server.run()  # returns on SIGINT (KeyboardInterrupt) or SIGTERM (SystemExit)
    finally:
        if service is not None:
            service.stop()
        if server is not None:
            server.close()
        store.close()
        log.info("stopped")
