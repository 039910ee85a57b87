"""A full build in two processes: months and feeds claimed as they go.

Both processes plan every feed's pages from the store, then claim the next month of
archive pages, then the next feed, from counters they share (:class:`~.builder.Claims`).
Each stages what it renders; the parent publishes both halves at once, or neither when
either failed.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sources.store.roles import FeedQueries

from ..publishing.atomic import PublishError, discard_temporaries
from ..publishing.publish import Manifest, finish, write_documents
from ..site import SiteSettings
from .builder import Builder, Claims, Progress, fingerprint
from .fragments import CACHE_NAME, FragmentCache

# A full build of a site with at least this many feeds renders in two processes: below it
# the whole build takes about as long as starting one more interpreter (docs/BENCHMARKS.md,
# "Figures behind choices in the code").
PARALLEL_FROM = 64


def _render_part(open_store: Callable[[], FeedQueries], site: SiteSettings, now: datetime,
                 slugs: dict[str, dict[str, str]], output_dir: Path, claims: Claims, queue) -> None:
    """The second process of a full build: render and stage what it claims, report back (the
    parent swaps it in with its own, or removes it when the build fails)."""
    done = None
    try:
        store = open_store()
        fragments = FragmentCache(output_dir / CACHE_NAME, fingerprint(site))   # emptied by the parent
        try:
            previous = Manifest(output_dir)
            progress = lambda done, total: queue.put(("progress", done))   # noqa: E731
            builder = Builder(store, site, now, slugs, fragments)
            done = write_documents(output_dir, builder.everything(progress, claims), previous)
        finally:
            fragments.close()
            store.close()
        queue.put(("done", done))
    except BaseException as exc:   # reported to the parent, which raises it
        if done is not None:
            done.discard()
        queue.put(("error", exc))


def full_in_two(builder: Builder, open_store: Callable[[], FeedQueries], output_dir: Path,
                 progress: Progress | None):
    """Both cores: a second process takes months and feeds as this one does (the one that is
    ahead takes the next: the second starts ~0.2 s later); the manifest is ours."""
    context = multiprocessing.get_context("spawn")   # never fork a process with scheduler threads
    queue = context.Queue()
    claims = Claims(context)
    worker = context.Process(target=_render_part, daemon=True, args=(
        open_store, builder.site, builder.now, builder.slugs, output_dir, claims, queue))
    worker.start()
    counts = {"mine": 0, "theirs": 0, "total": 0}
    result: list = []

    def report() -> None:
        if progress and counts["total"]:
            progress(counts["mine"] + counts["theirs"], counts["total"])

    def drain(block: bool) -> None:
        while not result:
            try:
                kind, value = queue.get(timeout=1) if block else queue.get_nowait()
            except queue_module.Empty:
                if block and worker.is_alive():
                    continue
                if block:
                    raise PublishError(f"{output_dir}: the second build process stopped "
                                       f"(exit code {worker.exitcode})") from None
                return
            if kind == "progress":
                counts["theirs"] = value
            else:
                result.append((kind, value))
            report()

    def advance(done: int, total: int) -> None:
        counts["mine"], counts["total"] = done, total
        drain(block=False)
        report()

    done = None
    try:
        previous = Manifest(output_dir)
        done = write_documents(output_dir, builder.everything(advance, claims), previous)
        drain(block=True)
        kind, value = result[0]
        if kind == "error":
            raise value
    except BaseException:
        # Nothing of a failed build is published: the second process stops at its next
        # claim and what it staged goes too (feeds/publishing/publish.py).
        claims.stop()
        if done is not None:
            done.discard()
        _discard_part(worker, result, drain, output_dir)
        raise
    finally:
        worker.join()
    done.add(value)
    return finish(output_dir, previous, done)


def _discard_part(worker, result: list, drain: Callable[[bool], None], output_dir: Path) -> None:
    """Remove what the second process of a failed full build staged: its report lists it;
    when it stopped without one, its temporary files are known by its pid."""
    try:
        if worker.is_alive() or not result:
            drain(True)
    except PublishError:
        pass   # it stopped without a report
    if result and result[0][0] == "done":
        result[0][1].discard()
    elif not result:
        discard_temporaries(output_dir, worker.pid)
