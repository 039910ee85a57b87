"""``feedpub status``: what the running service last wrote, plus the store's embargoes.

The serving process writes ``status.json`` beside the store after every build
and hub delivery (scheduler.py); this module reads it and asks the store for
the articles still waiting for their publish time, so the answer is right
whether or not a service is running. It never creates a store: with none it raises
:class:`~feedpub.settings.NoStoreError`, which says how to make one.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from feedpub.settings import Config, open_store


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def collect_status(config: Config, now: datetime | None = None) -> dict:
    # Every time shown to a person is in the site's zone, like the feeds' dates.
    now = (now or datetime.now(timezone.utc)).astimezone(ZoneInfo(config.site.timezone)).replace(microsecond=0)
    try:
        service = json.loads(config.status_path.read_bytes())
    except (OSError, ValueError):
        service = None
    store = open_store(config, create=False)
    try:
        upcoming = [{"id": a.id, "title": a.title, "published": a.published.astimezone(now.tzinfo).isoformat()}
                    for a in store.upcoming(now)]
        articles, revision, counts, sample = store.count(), store.revision(), store.counts(now), store.sample()
        sources = []
        if config.sources:   # from the store: right with or without a service
            from sources.remote import states as source_states   # requests and feedparser: only when polling

            sources = source_states(store, config.sources)
    finally:
        store.close()
    return {
        "now": now.isoformat(),
        "timezone": config.site.timezone,   # the zone's name: "WIB" in the text, as `feedpub history` says
        "config": config.source,
        "store": {"path": config.store_label, "articles": articles, "revision": revision,
                  "published": counts.published, "scheduled": counts.scheduled, "drafts": counts.drafts,
                  "deleted": counts.deleted},
        "sample": None if sample is None else {
            "id": sample.id, "slug": sample.slug,
            "status": "scheduled" if sample.status.value == "published" and sample.published > now
            else sample.status.value},
        "service": service,
        "running": bool(service) and _alive(service.get("pid")),
        "scheduled": upcoming,
        "sources": sources,
    }


def _next(moment: str | None, now: datetime) -> str:
    if not moment:
        return "paused"
    when = datetime.fromisoformat(moment)
    if when <= now:
        return "due (recurs)"
    return f"{_ago(moment, now)} ({when.astimezone(now.tzinfo):%Y-%m-%d %H:%M:%S %Z})"


def _ago(moment: str | None, now: datetime) -> str:
    if not moment:
        return "never"
    seconds = int((now - datetime.fromisoformat(moment)).total_seconds())
    if seconds < 0:
        return f"in {-seconds} s"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def format_status(report: dict) -> str:
    now = datetime.fromisoformat(report["now"])
    if report.get("timezone"):   # an ISO time holds only the offset ("UTC+07:00"); people read "WIB"
        now = now.astimezone(ZoneInfo(report["timezone"]))
    service = report["service"] or {}
    lines = []
    state = "running" if report["running"] else "not running"
    lines.append(f"service:   {state}" + (f" (pid {service['pid']}, {service['base_url']}/)" if service else ""))
    if service.get("instance") and report["running"]:   # absent in a status written before instances led
        lines.append(f"instance:  {service['instance']}, " + (
            "the leader (hub pings, partner polls, image measurements)" if service.get("leader")
            else "a follower (another instance of the store leads)"))
    if report.get("config"):
        lines.append(f"config:    {report['config'] if report['config'] != 'defaults' else 'the embedded defaults'}")
    store = report["store"]
    if "published" in store:
        held = (f"{store['published']} published, {store['scheduled']} scheduled, {store['drafts']} draft(s), "
                f"{store['deleted']} deleted")
    else:   # a report from before the counts were kept apart
        held = f"{store['articles']} articles"
    lines.append(f"store:     {store['path']}: {held}, revision {store['revision']}")
    sample = report.get("sample")
    if sample:
        lines.append(f"sample:    the newsroom's sample article is in the store ({sample['slug']}, {sample['status']}): "
                     f"a demo; `feedpub delete {sample['slug']}` removes it without a trace")
    build = service.get("last_build")
    if build:
        behind = "" if build["revision"] == store["revision"] else f"; the store is now at {store['revision']}"
        lines.append(f"last build: {_ago(build['at'], now)} ({build['reason']}), {build['seconds'] * 1000:.0f} ms, "
                     f"{len(build['written'])} written, {build['unchanged']} unchanged, "
                     f"revision {build['revision']}{behind}")
    else:
        lines.append("last build: none recorded")
    if service.get("last_error"):
        # Documents are still served as the last successful build left them.
        failed = service.get("failures_in_a_row") or 1
        when = f"{_ago(service['last_error_at'], now)}, " if service.get("last_error_at") else ""
        lines.append(f"last error: {when}{failed} failed build(s) in a row, the documents of the last build "
                     f"still served: {service['last_error']}")
    jobs = service.get("jobs") or []
    if jobs:
        lines.append("jobs:")
        # Written when the service last changed state: a time already past has recurred since.
        lines.append(f"  (as of {_ago(service.get('written'), now)})" if service.get("written") else "  (as last written)")
        lines += [f"  {job['id']:<60} next {_next(job['next_run'], now)}" for job in jobs]
    scheduled = report["scheduled"]
    lines.append(f"scheduled: {len(scheduled)} article(s) waiting for their time")
    lines += [f"  {item['published']}  {item['title']}  ({item['id']})" for item in scheduled]
    hubs = service.get("hubs") or []
    if hubs:
        lines.append("hub notifications:")
        for d in hubs:
            detail = f", next try {_ago(d['next_retry'], now)}" if d.get("next_retry") else ""
            error = f": {d['last_error']}" if d.get("last_error") else ""
            lines.append(f"  {d['state']:<9} {d['topic']} -> {d['hub']} ({d['attempts']} attempt(s){detail}){error}")
    else:
        lines.append("hub notifications: none")
    sources = report.get("sources") or []
    if not sources:
        lines.append("sources:   none configured")
    else:
        lines.append("sources:")
        last = {s["name"]: s.get("last_result") for s in service.get("sources") or []}
        for s in sources:
            if not s["enabled"]:
                state = "disabled"
            elif s["failures"]:
                state = "failing"
            else:
                state = "ok" if s["last_poll"] else "waiting"
            detail = f"last poll {_ago(s['last_poll'], now)}" + (f" ({s['last_status']})" if s["last_status"] else "")
            if s["failures"]:
                detail += f", {s['failures']} failure(s) in a row"
            if s["next_poll"]:
                detail += f", next try {_ago(s['next_poll'], now)}"
            result = last.get(s["name"]) or ""
            if result:
                detail += f"; {result}"
            if s["last_error"] and not result.startswith("failed"):
                detail += f"; error: {s['last_error']}"
            lines.append(f"  {state:<9} {s['name']} <{s['url']}>: {detail}")
    return "\n".join(lines)
