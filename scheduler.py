"""The service's jobs and its run loop: the one place that wires sources to feeds.

Jobs (APScheduler 3.x, one BackgroundScheduler in the serving process, memory
job store: a job store is never shared between processes). Each calls a plain
function the CLI can call too (:func:`feeds.building.build.build`,
:func:`feeds.publishing.websub.notify_hub`).

``watch-store``     every 0.25 s: compares the store's revision with the one last
                    built. A change (a ``feedpub ingest`` in another process, say)
                    is built once the store is quiet for a tick, or after 0.6 s
                    at most: served within a second, and a burst of changes costs
                    one or two builds. A shared store (PostgreSQL) also tells of
                    each commit (LISTEN/NOTIFY, ``store.on_change``): the first
                    change after a quiet spell is then built at once, and the
                    revision check stays the truth and the fallback when a
                    notification is lost. A late tick is worthless (the next is
                    0.25 s away): grace 1 s. After a failed build (a full disk, a
                    read-only output folder) it tries again 1 s, 2 s, 4 s ... later
                    (at most ``MAX_RETRY``), not every tick: each attempt renders
                    everything again and logs an error. The watcher only decides:
                    each tick returns at once, and the build it asks for runs as a
                    job of its own, ``store-change-build <n>``. (A watcher that built
                    in its own run was still running at its next ticks, which
                    APScheduler skipped with a warning each: "maximum number of
                    running instances reached".)
``rebuild``         every ``schedule.rebuild_minutes``: the periodic rebuild. A late
                    one still runs, once (coalesce, grace = the interval).
``release:<id>``    one date job per embargoed article at its publish time, set
                    again from the store at start and after every build, so a
                    restart, a moved time, an unpublish or a delete is followed.
                    Visibility itself is decided by each build from the publish
                    time, never by this job having run; the job only makes the
                    build happen on time. Never skipped however late
                    (``misfire_grace_time=None``: APScheduler's default 1 s grace
                    silently drops a date job that fires late). Every instance of a
                    shared store builds at the time from its own clock (no leader
                    needed for its files to be on time); the leader also records the
                    release in the store (the revision moves), so that it can tell
                    when every instance has built it.
``lead``            every second: is this instance the leader (see below)? And, on a
                    shared store, its beat: the revision it has built.
``hub:<hub> <topic> try <n>`` a WebSub publish notification, retried with
                    exponential backoff; a newer change to the same topic replaces
                    a pending retry, so each change reaches each hub once.
``poll:<name>``     every ``interval_minutes`` of each enabled ``[[sources]]`` table,
                    and once at start (the leader's; see below): :func:`sources.remote.poll_source`
                    for that partner feed. Its articles reach the feeds through the store
                    watcher. A failure is logged and recorded in the store and the
                    source backs off (``poll:<name> retry at <time>``, a date job at
                    the time the backoff or Retry-After allows); nothing a partner
                    does raises into the scheduler, and each source has its own
                    job, so a slow or failing one never holds up another.
``measure-images <n>`` after a build that left lead images unmeasured (the API stores
                    them so, and so does a poll of a partner that gave no length):
                    :func:`sources.media.measure_image` for up to 20 of them, one
                    deadline (``images.timeout_seconds``) per look-up, public
                    addresses only unless ``images.allow_hosts`` lists the host.
                    In an executor of its own: a slow image server never delays a
                    poll, a build or a release. One at a time: builds during it ask
                    for none, and it looks for images stored meanwhile when it ends.

Builds never overlap (one lock). State a person needs (last build, jobs, hub
deliveries) is written to ``status.json`` beside the store for ``feedpub status``.

One leader. Instances sharing a store (PostgreSQL) each build their own files, but
what must happen once is done by one of them, the leader: WebSub pings, recording
a release, polling partner feeds, measuring lead images. The lead is a session
advisory lock of the store (``store.leadership``), checked and tried every second:
when the leader dies its lock goes with its session, and another instance takes
over at its next ``lead`` tick (a second; 9 s at most when the leader's machine
vanished without closing its connection: sources/store/postgres.py). A hub must
never fetch an old version of a topic through the load balancer, so the leader
pings for a change only once every live instance (one that beat within
``LIVE_SECONDS``) serves it (has built it, and its server has seen the new manifest); a dead instance is waited for until it falls
silent. A new leader polls a partner feed when its interval since the last poll,
by whichever instance, is over (the source's state is in the store). Each change
reaches each hub once while the leader lives; across a takeover, at least once: the
new leader pings the changes it built in the last ``HANDOVER_SECONDS``, which the
old one may have died before pinging. On SQLite the one process is
the leader, always, and nothing waits (``Leadership.alone``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import secrets
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

import requests
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from feedpub.settings import Config, open_store, poll_records, utc_now, with_address
from feeds.building.build import BuildReport, build
from feeds.publishing.atomic import TEMPORARY_NAME, write_atomic
from feeds.publishing.websub import HubError, notify_hub
from feeds.rendering.entries import main_feed
from feeds.serving.access_log import ACCESS_LOG_POSITION, AccessLogFollower
from feeds.serving.dispatch import PathDispatch
from feeds.serving.health import HUB_OUTCOMES, Observed, ServiceFigures, read_shared_counters
from feeds.serving.server import RECHECK_SECONDS, PublicFiles, create_server
from feeds.serving.stats import PollLog
from feeds.serving.workers import WorkerSettings, listen, run_workers
from feeds.site import SiteSettings
from sources.api import IngestAPI
from sources.api_gate import BodyGate
from sources.errors import FeedpubError
from sources.ingest import ingest_paths
from sources.media import measure_image
from sources.model import Image, SourceState
from sources.remote import PollResult, RemoteSource, first_poll, poll_source, polled_lately, user_agent
from sources.remote import states as source_states
from sources.store.roles import ArticleStore

log = logging.getLogger("feedpub")

WATCH_SECONDS = 0.25   # how often the store's revision is compared
MAX_WAIT = 0.6         # longest a change waits for a burst to settle
MAX_RETRY = 60.0       # longest the store watcher waits to try a failed build again (seconds)
SAMPLE_ARTICLE = "okes-forkopimda-oku-pilkada-2024.txt"
LEAD_SECONDS = 1.0     # how often an instance checks the lead and beats
LIVE_SECONDS = 5.0     # an instance silent this long is dead: pings no longer wait for it
FORGET_SECONDS = 3600  # the leader removes beats older than this from the store
# A follower pings, once it takes over, the changes it built this recently: the dead leader may
# not have pinged them (it waits for every instance, up to LIVE_SECONDS for a dead one, and the
# takeover takes up to 10 s). A change pinged by both costs the hub one more fetch.
HANDOVER_SECONDS = 20.0


class ServeError(FeedpubError):
    """The service cannot start (the address is taken, say)."""


@dataclass
class Delivery:
    """One WebSub notification of one topic to one hub."""

    hub: str
    topic: str
    state: str = "pending"          # pending, delivered, retrying, failed
    attempts: int = 0
    last_attempt: str | None = None
    last_error: str | None = None
    next_retry: str | None = None


def retry_delay(failures: int) -> float:
    """Seconds the store watcher waits after ``failures`` failed builds in a row: 1, 2, 4 ... ``MAX_RETRY``."""
    return min(MAX_RETRY, 2.0 ** (failures - 1))


def ready_topics(unannounced: dict[str, int], built: dict[str, int]) -> list[str]:
    """The topics whose change (the store revision it was built at) every live instance has
    built (``built``: instance -> the revision it has built), in order."""
    floor = min(built.values(), default=None)
    return sorted(topic for topic, revision in unannounced.items() if floor is not None and revision <= floor)


def backoff(attempt: int) -> timedelta:
    """Delay before retry ``attempt`` (1-based): 2 s, 4 s, 8 s ... at most 10 minutes."""
    return timedelta(seconds=min(600, 2 ** attempt))


class Service:
    """Builds on demand, on change, on schedule and at embargo times; notifies hubs."""

    def __init__(self, config: Config, store: ArticleStore, *, clock: Callable[[], datetime] = utc_now,
                 session: requests.Session | None = None, monotonic: Callable[[], float] = time.monotonic):
        self.config = config
        self.store = store
        self.clock = clock
        self.monotonic = monotonic   # for waits (burst settling, retry backoff): immune to clock changes
        self.session = session or requests.Session()
        self.started = clock()
        self.last_build: BuildReport | None = None
        self.last_reason = ""
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self.failures_in_a_row = 0                      # builds failed since the last one that succeeded
        self._retry_after: float | None = None          # monotonic time before which the watcher does not retry
        self.builds = 0
        self.build_failures = 0                         # /metrics counters (feeds/serving/health.py)
        self.documents_written = 0
        self.hub_outcomes = dict.fromkeys(HUB_OUTCOMES, 0)   # notification attempts by outcome
        self._pending: tuple[int, float] | None = None   # (revision, first seen) of an unbuilt change
        self._build_asked = False   # a store-change build is queued or running: the watcher waits for it
        self._builds_asked = 0      # numbers the store-change build jobs (see _ask_for_build)
        self._built_at: float | None = None              # monotonic time the last build ended
        self._stop_listening: Callable[[], None] | None = None
        self.deliveries: dict[tuple[str, str], Delivery] = {}
        self.polls: dict[str, PollResult] = {}          # the last poll of each remote source, by name
        self._poll_locks: dict[str, threading.Lock] = {}  # one poll of a source at a time
        self._claims: dict[str, datetime] = {}          # source name -> when this instance last polled it
        # APScheduler's shutdown(wait=True) holds its job store lock while it waits for running
        # jobs, so a job that adds a job then deadlocks it: polls add theirs under this lock,
        # and stop() sets ``_stopping`` under it first.
        # Held by every job that adds, removes or lists jobs (re-entrant: status() is
        # called from inside such sections).
        self._jobs_lock = threading.RLock()
        self._stopping = False
        self._image_retry: dict[str, datetime] = {}   # image URL -> not measured again before
        self._measuring = False     # a measure-images job is queued or running
        self._measurements = 0      # numbers the measure-images jobs
        self.measure: Callable[[str], Image] = lambda url: measure_image(url, config.images)
        self._build_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self.scheduler = BackgroundScheduler(timezone=timezone.utc)
        # Lead (see the module docstring). An instance's name is unique among the store's
        # instances, and says where it runs.
        self.instance = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.leadership = store.leadership("leader")
        self.leader = self.leadership.alone
        # topic -> (store revision of its change, monotonic time it was built): not pinged yet by
        # this instance (a follower keeps its last HANDOVER_SECONDS, for when it takes over).
        self._unannounced: dict[str, tuple[int, float]] = {}
        self._built_before: int | None = None    # the revision built before the last build

    # --- building ----------------------------------------------------------------------

    def build_now(self, reason: str) -> BuildReport | None:
        with self._build_lock:
            return self._build(reason)

    def _build(self, reason: str) -> BuildReport | None:
        try:
            report = build(self.store, self.config.site, self.config.output_dir, self.clock())
        except Exception as exc:
            # The previous documents stay served; the store watcher tries again after a
            # backoff, the periodic rebuild and release jobs at their times. Not only the
            # project's errors (a failing store raises StoreError): an OSError from removing
            # a stale file or a bug must reach status and /healthz too, not just a job log.
            if not isinstance(exc, FeedpubError):
                log.exception("build failed (%s) on an unexpected error", reason)
                exc = f"{type(exc).__name__}: {exc}"
            self.last_error, self.last_error_at = str(exc), self.clock()
            self.build_failures += 1
            self.failures_in_a_row += 1
            self._retry_after = self.monotonic() + retry_delay(self.failures_in_a_row)
            log.error("build failed (%s; %d in a row): %s", reason, self.failures_in_a_row, exc)
            self.write_status()
            return None
        self._built_at = self.monotonic()
        self._built_before = self.last_build.revision if self.last_build else None
        if self.failures_in_a_row:
            log.info("build succeeded after %d failed attempt(s)", self.failures_in_a_row)
        self.last_build, self.last_reason, self.last_error = report, reason, None
        self.last_error_at, self.failures_in_a_row, self._retry_after = None, 0, None
        self.builds += 1
        self.documents_written += len(report.written)
        level = logging.INFO if report.written or report.removed else logging.DEBUG
        log.log(level, "%s (%s)", report.summary(), reason)
        self.sync_release_jobs(report.now)
        self.queue_image_measurements()
        if self.leadership.alone:
            for topic in report.topics:
                for hub in self.config.site.hubs:
                    self.queue_notification(hub, topic)
        elif self.config.site.hubs:   # pinged by the leader's lead() once every instance serves it
            with self._state_lock:
                self._unannounced.update(dict.fromkeys(report.topics, (report.revision, self._built_at)))
        self.write_status()
        return report

    def store_changed(self) -> None:
        """A commit was announced (from the store's listening thread)."""
        self.rebuild_if_changed(notified=True)

    def rebuild_if_changed(self, *, notified: bool = False) -> None:
        """Ask for a build once the store has been quiet for a tick, or once a change has
        waited ``MAX_WAIT`` seconds: a burst of writes costs one or two builds, and a single
        write is served within a second. ``notified``: a commit was just announced; after a
        quiet spell (no build for ``MAX_WAIT``), its change is built at once: it is the first
        of a burst or alone, and the rest of a burst waits for it to settle. Returns at once:
        the build runs as a job of its own (:meth:`_ask_for_build`)."""
        # A build already asked for or running is followed by this check on a later tick;
        # until then the store is not even read (a build holds its connection for a while).
        if self._build_asked or not self._build_lock.acquire(blocking=False):
            return
        try:
            due = self._change_due(notified)
        finally:
            self._build_lock.release()
        if due:
            self._ask_for_build(due)

    def _change_due(self, notified: bool) -> str | None:
        """Why the store's change should be built now, or None: not yet (under the build lock)."""
        if self._retry_after is not None and self.monotonic() < self._retry_after:
            return None   # the last build failed: tried again once its backoff is over
        revision = self.store.revision()
        built = self.last_build.revision if self.last_build else None
        if revision == built:
            self._pending = None
            return None
        moment = self.monotonic()
        quiet = self._built_at is not None and moment - self._built_at >= MAX_WAIT
        if self._pending is None and not (notified and quiet):
            self._pending = (revision, moment)
            return None
        if self._pending is None:
            return "store changed (notified)"
        seen, since = self._pending
        if revision != seen and moment - since < MAX_WAIT:
            self._pending = (revision, since)   # still moving: wait for it to settle
            return None
        self._pending = None
        return "store changed"

    def _ask_for_build(self, reason: str) -> None:
        """A one-off job that builds the store's change. Each has an id of its own: APScheduler
        counts running instances per id, and the one before may still be returning."""
        with self._jobs_lock:
            if self._stopping:
                return
            if self.scheduler.running:
                self._build_asked = True
                self._builds_asked += 1
                self.scheduler.add_job(self._build_store_change, "date", args=[reason],
                                       id=f"store-change-build {self._builds_asked}",
                                       misfire_grace_time=None, max_instances=1)
                return
        self._build_store_change(reason)   # no scheduler (a service driven tick by tick): here

    def _build_store_change(self, reason: str) -> None:
        try:
            with self._build_lock:
                self._build(reason)
        finally:
            self._build_asked = False

    # --- embargoes -----------------------------------------------------------------------

    def sync_release_jobs(self, now: datetime) -> None:
        """One date job per future article, exactly: added, moved or removed to match the store."""
        wanted = {f"release:{article.id}": article.published for article in self.store.upcoming(now)}
        with self._jobs_lock:
            if self._stopping or not self.scheduler.running:
                return   # the store is read again at the next start
            for job in self.scheduler.get_jobs():
                if job.id.startswith("release:") and job.id not in wanted:
                    job.remove()
            for job_id, due in wanted.items():
                existing = self.scheduler.get_job(job_id)
                if existing is not None and existing.next_run_time == due:
                    continue
                self.scheduler.add_job(
                    self.release, "date", run_date=due, id=job_id,
                    replace_existing=True, misfire_grace_time=None, coalesce=True, max_instances=1,
                )

    def release(self) -> None:
        """An embargo lifts (job ``release:<id>``): build now. The leader of a shared store
        first records the release, so that every instance's beat says when it has built it."""
        if self.leader and not self.leadership.alone:
            try:
                self.store.record_release()
            except FeedpubError as exc:   # the build still runs: this instance's files are on time
                log.error("the release was not recorded: %s", exc)
        self.build_now("embargo lifted")

    # --- the lead ----------------------------------------------------------------------

    def lead(self) -> None:
        """Job ``lead``: take or keep the lead, beat, and ping what every instance has built."""
        leading = self.leadership.held()
        if leading != self.leader:
            self.leader = leading
            self._lead_changed()
        if self.leadership.alone:
            return
        self._beat()
        if not self.leader:
            # What the leader pings: kept only as long as a leader that dies may not have pinged it.
            moment = self.monotonic()
            with self._state_lock:
                for topic, (_, built_at) in list(self._unannounced.items()):
                    if moment - built_at > HANDOVER_SECONDS:
                        del self._unannounced[topic]
        else:
            try:
                for instance in self.store.silent_since(self.clock() - timedelta(seconds=FORGET_SECONDS)):
                    self.store.leave(instance)
            except FeedpubError as exc:
                log.warning("cannot forget stopped instances: %s", exc)
            self.announce_built()

    def _lead_changed(self) -> None:
        if self.leader:
            log.info("instance %s leads the instances of %s", self.instance, self.config.store_label)
            self._reschedule_polls()
            self.queue_image_measurements()
        else:
            log.warning("instance %s no longer leads (its lock on the store is gone)", self.instance)
        self.write_status()

    def served_revision(self) -> int | None:
        """The store revision this instance's server answers with: the last build's once the
        server has looked at its manifest (it does every RECHECK_SECONDS), the one before until then."""
        if self.last_build is None or self._built_at is None:
            return None
        if self.monotonic() - self._built_at >= RECHECK_SECONDS:
            return self.last_build.revision
        return self._built_before

    def _beat(self) -> None:
        """Tell the other instances which revision this one serves (-1 before its first build:
        a request it takes meanwhile waits for that build, which may predate a change)."""
        served = self.served_revision()
        try:
            self.store.beat(self.instance, -1 if served is None else served, self.clock())
        except FeedpubError as exc:   # the others stop waiting for this one after LIVE_SECONDS
            log.warning("%s", exc)

    def announce_built(self) -> None:
        """Ping the hubs for each change every live instance has built (the leader's)."""
        with self._state_lock:
            if not self._unannounced or not self.leader:
                return
            unannounced = {topic: revision for topic, (revision, _) in self._unannounced.items()}
        try:
            built = self.store.built_by_live(self.clock() - timedelta(seconds=LIVE_SECONDS))
        except FeedpubError as exc:
            log.warning("%s", exc)
            return
        served = self.served_revision()
        built[self.instance] = -1 if served is None else served
        ready = ready_topics(unannounced, built)
        with self._state_lock:
            for topic in ready:
                if self._unannounced.get(topic, (None,))[0] == unannounced[topic]:   # not changed again meanwhile
                    del self._unannounced[topic]
        for topic in ready:
            for hub in self.config.site.hubs:
                self.queue_notification(hub, topic)

    def _reschedule_polls(self) -> None:
        """A new leader polls each partner feed once its interval since the last poll is over."""
        with self._jobs_lock:
            if self._stopping or not self.scheduler.running:
                return
            for source in self.config.sources:
                job = self.scheduler.get_job(source.job_id)
                if job is not None:
                    job.modify(next_run_time=self._first_poll(source))

    def _first_poll(self, source: RemoteSource) -> datetime:
        now = datetime.now(timezone.utc)   # APScheduler's clock, as the job's times are
        if self.leadership.alone:
            return now   # the one process polls at start, as it always did
        try:
            state = self.store.source_state(source.url)
        except FeedpubError as exc:
            log.warning("%s", exc)
            return now
        return first_poll(state, source, now)

    # --- lead images ----------------------------------------------------------------------

    def queue_image_measurements(self) -> None:
        """Images stored unmeasured (the API takes no network detour on its request path,
        an image server was down at ingest) are measured here, off every request path.
        One measurement at a time: while one runs (its look-ups may take a while), builds
        queue none (APScheduler would skip it with "maximum number of running instances
        reached"); it looks for more itself when it ends."""
        if self._measuring or not self.leader:
            return
        due = [url for url in self.store.unmeasured_images(20)
               if self._image_retry.get(url, self.clock()) <= self.clock()]
        if not due:
            return
        with self._jobs_lock:
            if self._stopping or not self.scheduler.running:
                return
            self._measuring = True
            self._measurements += 1
            # An id each: the one before may still be returning (instances are counted per id).
            self.scheduler.add_job(self._measure_queued, "date", run_date=self.clock(), args=[due],
                                   id=f"measure-images {self._measurements}", coalesce=True,
                                   max_instances=1, misfire_grace_time=None, executor="images")

    def _measure_queued(self, urls: list[str]) -> None:
        try:
            self.measure_images(urls)
        finally:
            self._measuring = False
        self.queue_image_measurements()   # images stored while these were looked up

    def measure_images(self, urls: list[str]) -> None:
        for url in urls:
            try:
                image = self.measure(url)
            except FeedpubError as exc:
                # Tried again after an hour (at the next build past that time), never in a loop.
                self._image_retry[url] = self.clock() + timedelta(hours=1)
                log.warning("lead image: %s", exc)
                continue
            try:
                changed = self.store.record_image(image)
            except FeedpubError as exc:
                self._image_retry[url] = self.clock() + timedelta(hours=1)   # likewise
                log.error("lead image: %s", exc)
                continue
            log.info("lead image: %s is %s, %d bytes, %dx%d px (%d article(s))", url, image.media_type, image.length,
                     image.width or 0, image.height or 0, changed)

    # --- WebSub --------------------------------------------------------------------------

    def queue_notification(self, hub: str, topic: str) -> None:
        delivery = Delivery(hub, topic)
        with self._state_lock:
            self.deliveries[(hub, topic)] = delivery
        with self._jobs_lock:
            if self._stopping:
                return
            if self.scheduler.running:
                # A newer change replaces a retry still pending for the same topic and hub.
                for job in self.scheduler.get_jobs():
                    if job.id.startswith(f"hub:{hub} {topic} "):
                        job.remove()
                self._schedule_delivery(delivery, self.clock())
                return
        self.deliver(delivery)   # no scheduler (a one-off build): notify right here

    def _schedule_delivery(self, delivery: Delivery, due: datetime) -> None:
        # One job id per attempt: a job cannot re-add itself under its own id while
        # it runs (APScheduler skips it: "maximum number of running instances").
        with self._jobs_lock:
            if self._stopping or not self.scheduler.running:
                return
            self.scheduler.add_job(
                self.deliver, "date", run_date=due, args=[delivery],
                id=f"hub:{delivery.hub} {delivery.topic} try {delivery.attempts + 1}",
                replace_existing=True, misfire_grace_time=None, coalesce=True, max_instances=1,
            )

    def deliver(self, delivery: Delivery) -> None:
        """One attempt; on failure the next is scheduled with backoff until retries run out."""
        hub, topic = delivery.hub, delivery.topic
        with self._state_lock:
            delivery.attempts += 1
            delivery.last_attempt = self.clock().isoformat()
        try:
            notify_hub(self.session, hub, topic, timeout=self.config.hub_timeout)
        except HubError as exc:
            with self._state_lock:
                current = self.deliveries.get((hub, topic)) is delivery   # not replaced by a newer change
                delivery.last_error = str(exc)
                self.hub_outcomes["failed" if delivery.attempts > self.config.hub_retries else "retrying"] += 1
                if delivery.attempts > self.config.hub_retries:
                    delivery.state, delivery.next_retry = "failed", None
                    log.error("WebSub: gave up notifying %s of %s after %d attempts: %s",
                              hub, topic, delivery.attempts, exc)
                else:
                    due = self.clock() + backoff(delivery.attempts)
                    delivery.state, delivery.next_retry = "retrying", due.isoformat()
                    log.warning("WebSub: %s (attempt %d); retrying at %s", exc, delivery.attempts, due.isoformat())
            if delivery.state == "retrying" and current and self.scheduler.running:
                self._schedule_delivery(delivery, due)
        else:
            with self._state_lock:
                delivery.state, delivery.last_error, delivery.next_retry = "delivered", None, None
                self.hub_outcomes["delivered"] += 1
            log.info("WebSub: notified %s of %s", hub, topic)
        self.write_status()

    # --- remote sources -----------------------------------------------------------------

    def poll(self, source: RemoteSource) -> PollResult | None:
        """Poll one partner feed (job ``poll:<name>``). Whatever happens stays here: the
        scheduler and the other sources never see it."""
        if not self.leader:
            return None   # the leader polls (see the module docstring)
        lock = self._poll_locks.setdefault(source.name, threading.Lock())
        if not lock.acquire(blocking=False):
            return None   # already being polled (a retry met the interval job)
        try:
            if not self.leadership.alone and not self._claim_poll(source):
                return None   # by the leader before this one, within the interval
            result = poll_source(self.store, source, self.clock(), settings=self.config.ingest,
                                 user_agent=user_agent(self.config.site.base_url))
        except Exception as exc:   # a bug, or the store's StoreError: logged, shown in the status, the job lives on
            log.exception("remote source %s: the poll failed", source.name)
            result = PollResult(source.name, source.url, "failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            lock.release()
        with self._state_lock:
            self.polls[source.name] = result
        with self._jobs_lock:
            if not self._stopping:
                if self.scheduler.running:
                    self._schedule_retry(source, result.next_poll)
                self.write_status()
        return result

    def _claim_poll(self, source: RemoteSource) -> bool:
        """Whether this instance polls ``source`` now: not if another instance polled it within
        its interval (this one's own polls keep to its job's schedule). Its time is stored before
        the request goes out, so that a leader killed in the middle of a poll does not leave the
        next one to poll the source again at once."""
        now = self.clock()
        state = self.store.source_state(source.url)
        ours = state is not None and state.last_poll is not None and state.last_poll == self._claims.get(source.name)
        if not ours and polled_lately(state, source, now):
            return False
        self.store.save_source_state(replace(state or SourceState(source.url), last_poll=now))
        self._claims[source.name] = now
        return True

    def _schedule_retry(self, source: RemoteSource, due: datetime | None) -> None:
        """One date job at the time a backing-off source may be polled again (none once it is well)."""
        job_id = f"{source.job_id} retry at {due.isoformat()}" if due else None
        for job in self.scheduler.get_jobs():
            if job.id.startswith(f"{source.job_id} retry at ") and job.id != job_id:
                job.remove()
        if job_id and self.scheduler.get_job(job_id) is None:
            # An id per time: a job cannot re-add itself under its own id while it runs.
            self.scheduler.add_job(self.poll, "date", run_date=due, args=[source], id=job_id, executor="sources",
                                   misfire_grace_time=None, coalesce=True, max_instances=1)

    def sources_status(self) -> list[dict]:
        try:
            found = source_states(self.store, self.config.sources)
        except FeedpubError as exc:
            log.warning("cannot read the remote sources' state: %s", exc)
            return []
        with self._state_lock:
            for entry in found:
                last = self.polls.get(entry["name"])
                entry["last_result"] = last.summary() if last else None
        return found

    # --- status --------------------------------------------------------------------------

    def figures(self) -> ServiceFigures:
        """For /healthz and /metrics (feeds/serving/health.py); asks the store whether it answers."""
        try:
            self.store.revision()
            reachable, store_error = True, None
        except FeedpubError as exc:   # StoreError: the health check reports it
            reachable, store_error = False, str(exc)
        report = self.last_build
        with self._state_lock:
            outcomes = dict(self.hub_outcomes)
        return ServiceFigures(
            now=self.clock(), rebuild_seconds=self.config.rebuild_seconds,
            store_reachable=reachable, store_error=store_error,
            last_build_at=report.now if report else None, last_build_seconds=report.seconds if report else None,
            last_build_error=self.last_error, build_failures_in_a_row=self.failures_in_a_row,
            builds_total=self.builds, build_failures_total=self.build_failures,
            documents_written_total=self.documents_written, hub_notifications=outcomes,
        )

    def status(self) -> dict:
        report = self.last_build
        with self._state_lock:
            deliveries = [asdict(d) for d in sorted(self.deliveries.values(), key=lambda d: (d.hub, d.topic))]
        jobs = []
        with self._jobs_lock:
            if self.scheduler.running and not self._stopping:
                jobs = sorted(
                    ({"id": job.id, "next_run": job.next_run_time.isoformat() if job.next_run_time else None}
                     for job in self.scheduler.get_jobs()),
                    key=lambda job: job["id"],
                )
        return {
            "written": self.clock().isoformat(),
            "pid": os.getpid(),
            "started": self.started.isoformat(),
            "base_url": self.config.site.base_url,
            "instance": self.instance,
            "leader": self.leader,
            "last_build": None if report is None else {
                "at": report.now.isoformat(),
                "reason": self.last_reason,
                "seconds": round(report.seconds, 4),
                "revision": report.revision,
                "written": list(report.written),
                "unchanged": len(report.unchanged),
                "removed": list(report.removed),
            },
            "last_error": self.last_error,
            "last_error_at": self.last_error_at.isoformat() if self.last_error_at else None,
            "failures_in_a_row": self.failures_in_a_row,
            "builds": self.builds,
            "jobs": jobs,
            "hubs": deliveries,
            "sources": self.sources_status(),
        }

    def write_status(self) -> None:
        try:
            body = json.dumps(self.status(), indent=1, sort_keys=True).encode() + b"\n"
            write_atomic(self.config.status_path, body)
        except FeedpubError as exc:
            log.warning("cannot write the status file: %s", exc)

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        rebuild_seconds = self.config.rebuild_seconds
        self.scheduler.add_job(
            self.rebuild_if_changed, "interval", seconds=WATCH_SECONDS, id="watch-store",
            coalesce=True, max_instances=1, misfire_grace_time=1,
        )
        self.scheduler.add_job(
            self.build_now, "interval", seconds=rebuild_seconds, args=["periodic rebuild"], id="rebuild",
            coalesce=True, max_instances=1, misfire_grace_time=int(rebuild_seconds),
        )
        if not self.leadership.alone:
            self._beat()   # waited for from now on
            self.leader = self.leadership.held()
            if self.leader:
                log.info("instance %s leads the instances of %s", self.instance, self.config.store_label)
        self.scheduler.add_job(self.lead, "interval", seconds=LEAD_SECONDS, id="lead", coalesce=True,
                               max_instances=1, misfire_grace_time=1)
        enabled = [source for source in self.config.sources if source.enabled]
        # Threads of their own: a slow partner never delays a build, a release or another partner.
        self.scheduler.add_executor(ThreadPoolExecutor(max_workers=min(max(len(enabled), 1), 32)), "sources")
        # And image look-ups theirs: a slow image server never takes a thread a poll is waiting for.
        self.scheduler.add_executor(ThreadPoolExecutor(max_workers=1), "images")
        for source in enabled:
            interval = max(1.0, source.interval_minutes * 60)
            self.scheduler.add_job(
                self.poll, "interval", seconds=interval, args=[source], id=source.job_id, executor="sources",
                next_run_time=self._first_poll(source),   # at start, unless another instance polled lately
                coalesce=True, max_instances=1, misfire_grace_time=int(interval),
            )
        self.scheduler.start()
        self._stop_listening = self.store.on_change(self.store_changed)
        self.sync_release_jobs(self.clock())
        self.write_status()

    def stop(self) -> None:
        with self._jobs_lock:
            self._stopping = True
        if self._stop_listening is not None:
            self._stop_listening()
        if self.scheduler.running:
            # wait=True lets a running build finish; its files are replaced atomically anyway.
            self.scheduler.shutdown(wait=True)
        self.leadership.resign()   # another instance leads from its next tick
        if not self.leadership.alone:
            try:
                self.store.leave(self.instance)   # pings stop waiting for this one at once
            except FeedpubError as exc:
                log.warning("%s", exc)
        self.session.close()


def ingest_sample_if_empty(store: ArticleStore, config: Config, now: Callable[[], datetime]) -> None:
    """A new installation on the embedded defaults starts with the newsroom's sample article,
    so there is something to read. Marked as the sample: deleting it leaves no trace. Only
    a new store gets it (never written to: revision 0), so a deleted sample does not come
    back at the next start, and never a site whose configuration says ``store.sample =
    false`` (``feedpub init`` writes that)."""
    if not config.sample or store.revision() or store.count():
        return
    sample = resources.files("sources") / "sample" / SAMPLE_ARTICLE
    with resources.as_file(sample) as path:
        ingest_paths(store, [path], settings=config.ingest, now=now, sample=True,
                     report=lambda line: log.info("sample: %s", line))


def remove_interrupted_writes(folder: Path, *, recursive: bool) -> int:
    """Remove the temporary files of atomic writes a crash (SIGKILL, power loss) cut short.

    Nothing else ever removes them (the write that made one died with its process), so
    a service killed now and then would fill the disk; the server never serves them
    (dot-files). Safe even if another process is writing the folder right now: its
    rename then fails and it reports a PublishError, with its previous file in place.
    """
    removed = 0
    for path in (folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp")):
        if TEMPORARY_NAME.fullmatch(path.name) and path.is_file():
            try:
                path.unlink()
                removed += 1
            except OSError as exc:   # read-only folder, say: the build will report it
                log.warning("cannot remove %s: %s", path, exc.strerror or exc)
    return removed


def _raise_system_exit(signum: int, _frame) -> None:
    raise SystemExit(0)


STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def feed_urls_for(site: SiteSettings) -> Callable[[object], tuple[str, ...]]:
    """The feeds a published article appears in, as absolute URLs (for the ingest API's answers)."""
    main = main_feed(site)
    urls = tuple(site.url(path) for path in (main.rss_path, main.atom_path, main.json_path))
    return lambda article: urls


def serve(config: Config, *, clock: Callable[[], datetime] = utc_now) -> None:
    """Create the store if needed, build, serve public/ and run the jobs until SIGINT/SIGTERM.

    This process holds the service (jobs, builds, the ingest API, /healthz, /metrics) and
    the listening socket; granian's worker processes answer on that socket, serving
    public/ themselves and passing the rest here over a Unix socket (feeds/serving/workers.py).
    """
    # From here on SIGTERM unwinds like SIGINT: through the finally below (until granian
    # takes both signals over to stop its workers, and returns).
    signal.signal(signal.SIGTERM, _raise_system_exit)
    created = not config.store_path.exists()
    store = open_store(config)
    if created:
        log.info("created a new store at %s (%s)", config.store_path,
                 f"from {config.source}" if config.source != "defaults" else "the embedded defaults")
    service = None
    internal = None
    listener = None
    private = None
    follower = None
    try:
        # Instances starting at once on an empty shared store: one ingests, the others find it done.
        with store.exclusive("sample"):
            ingest_sample_if_empty(store, config, clock)
        config.output_dir.mkdir(parents=True, exist_ok=True)
        # Before any build of this process can have a write in flight.
        removed = (remove_interrupted_writes(config.output_dir, recursive=True)
                   + remove_interrupted_writes(config.status_path.parent, recursive=False))
        if removed:
            log.warning("removed %d temporary file(s) of writes interrupted by a crash", removed)
        try:
            listener = listen(config.host, config.port)
        except OSError as exc:
            raise ServeError(f"cannot listen on {config.host}:{config.port}: {exc}") from exc
        # Only now is the port known (--port 0), and with it a default base URL.
        config = with_address(config, config.host, listener.getsockname()[1])
        # The Unix socket the workers forward /api, /healthz and /metrics to, and their
        # request counters: in a folder only this user can enter.
        private = Path(tempfile.mkdtemp(prefix="feedpub-serve-"))
        (private / "counts").mkdir()
        max_age = int(config.rebuild_seconds)
        poll_records(config)().close()   # the poll log's table, made once before the workers write to it
        if config.access_log is not None:
            # nginx answers the feeds in front of this process: their polls are in its log.
            follower = AccessLogFollower(config.access_log, poll_records(config),
                                         config.status_path.parent / ACCESS_LOG_POSITION).start()
            log.info("recording feed polls from nginx's access log %s", config.access_log)
        app = PublicFiles(config.output_dir, max_age=max_age, hubs=config.site.hubs, gone=config.gone,
                          moved=dict(config.moved), base_url=config.site.base_url)
        # Off (404 for /api/*) without a token; its writes reach the feeds through the store watcher.
        api = IngestAPI(store, settings=config.ingest, token=config.api_token,
                        max_body_bytes=config.api_max_body_bytes, clock=clock, feed_urls=feed_urls_for(config.site))
        # /healthz and /metrics; the service's figures once it exists (503 "starting" before).
        observed = Observed(PathDispatch(app, api), lambda: service.figures() if service is not None else None,
                            elsewhere=lambda: read_shared_counters(private / "counts"))
        # The API answers 413 (JSON) above api.max_body_bytes; far above it, the workers
        # refuse the request from its Content-Length alone instead of reading it.
        max_request_body = 2 * config.api_max_body_bytes + 65536
        internal = create_server(observed, unix_socket=str(private / "service.sock"), threads=4,
                                 max_request_body=max_request_body)
        threading.Thread(target=internal.run, name="feedpub-internal", daemon=True).start()
        log.info("ingest API %s", f"on {config.site.base_url}/api/" if config.api_token else "off (no api.token)")
        service = Service(config, store, clock=clock)
        service.start()
        # A stop signal during the first build waits for it to finish: either the
        # whole build lands or none of it starts (builds in the scheduler's threads
        # are waited for by Service.stop()).
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            service.build_now("start")
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        log.info("serving %s/ from %s (store %s)", config.site.base_url, config.output_dir, config.store_label)
        # The socket listens already: a request made from here on waits for a worker.
        print(f"feedpub: serving {config.site.base_url}/", flush=True)
        run_workers(listener, WorkerSettings(
            root=config.output_dir.resolve(), max_age=max_age, hubs=config.site.hubs, base_url=config.site.base_url,
            gone=tuple(config.gone), moved=tuple(dict(config.moved).items()), upstream=str(private / "service.sock"),
            counters=private / "counts", stats=poll_records(config), max_request_body=max_request_body,
            body_gate=BodyGate.for_token(config.api_token) if config.api_token else None,
            body_seconds=config.api_body_timeout_seconds),
            workers=config.workers)
    finally:
        if follower is not None:
            follower.stop()
        if service is not None:
            service.stop()
        if internal is not None:
            _close_from_its_loop(internal)
        if listener is not None:
            listener.close()
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)
        store.close()
        log.info("stopped")


def _close_from_its_loop(server) -> None:
    """waitress closes its sockets from inside its own loop (its trigger runs the call
    there): closed from another thread, they race the loop's select()."""
    try:
        server.trigger.pull_trigger(server.close)
    except OSError:   # the trigger is closed already: the loop has ended
        pass
    server.task_dispatcher.shutdown()
