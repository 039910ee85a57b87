"""The ``feedpub`` command: init, serve, build, ingest.

    feedpub init [FOLDER] [--title ...]     a new site: a commented feedpub.toml and its store
    feedpub serve [--host H] [--port P]     build, serve public/, rebuild on schedule and on change
    feedpub build                           build once into public/ and exit
    feedpub ingest PATH... [--dry-run ...]  import text, Markdown, HTML, JSON Lines (directories recursively)
    feedpub delete ID_OR_SLUG...            delete articles: they leave every feed, Atom keeps a tombstone
    feedpub unpublish ID_OR_SLUG...         turn articles into drafts
    feedpub status [--json]                 last build, jobs, embargoed articles, hub notifications
    feedpub history ID_OR_SLUG [--json]     an article's stored versions: when, status, title, what changed
    feedpub store copy SRC DST              every row of one store into a new one (SQLite -> PostgreSQL), checked
    feedpub partners check [NAME]           what each syndication partner would refuse or show badly, and why
    feedpub nginx-config [--listen L]       an nginx server block serving the output folder as `feedpub serve` does

Every command finds its configuration the same way wherever it runs: ``--config FILE``,
else the file ``FEEDPUB_CONFIG`` names, else ``feedpub.toml`` in the working directory or
the nearest folder above it, else the embedded defaults (feedpub/settings.py find_config).
Exit status: 0 success, 1 some input was rejected, 2 bad usage or configuration,
3 no store to read (status, history, stats, delete, unpublish never create one).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from feedpub.settings import DEFAULTS, Config, NoStoreError, load_config, open_store, store_exists
from sources.errors import ConfigError, FeedpubError

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_NO_STORE = 0, 1, 2, 3
EXIT_INTERRUPTED = 130   # 128 + SIGINT, as a shell reports a command Ctrl-C stopped


def _common_options(*, in_subcommand: bool) -> argparse.ArgumentParser:
    # Accepted before and after the command. In the subcommand they default to
    # SUPPRESS so that "feedpub --config X build" keeps X instead of resetting it.
    suppress = {"default": argparse.SUPPRESS} if in_subcommand else {}
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE",
                        help="TOML configuration (default: $FEEDPUB_CONFIG, else feedpub.toml here or in the "
                             "nearest folder above)", **suppress)
    common.add_argument("-v", "--verbose", action="store_true", help="log debugging detail", **suppress)
    return common


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="feedpub", description="A newsroom feed publisher.",
                                     parents=[_common_options(in_subcommand=False)])
    common = _common_options(in_subcommand=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init", parents=[common],
                               help="make a new site: a commented feedpub.toml and its store (never the sample article)")
    init.add_argument("folder", nargs="?", default=".", metavar="FOLDER", help="where (default: here)")
    init.add_argument("--title", default=DEFAULTS["site"]["title"], help="the site's name (default: feedpub)")
    init.add_argument("--base-url", default="",
                      help="the site's public address, e.g. https://okes.news (default: the address "
                           "`feedpub serve` listens on)")
    init.add_argument("--language", default=DEFAULTS["site"]["language"],
                      help="language of everything people read: id or en (default: id)")
    init.add_argument("--timezone", default=DEFAULTS["site"]["timezone"],
                      help="the newsroom's time zone (default: Asia/Jakarta)")

    serve = commands.add_parser("serve", parents=[common], help="build, serve public/ and rebuild on schedule and on change")
    serve.add_argument("--host", help="address to listen on (default: server.host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on; 0 picks a free one (default: server.port, 8080)")

    build = commands.add_parser("build", parents=[common],
                                help="build the output folder once: what changed since the last build")
    build.add_argument("--full", action="store_true",
                       help="render every document (the result is byte-identical to an incremental build)")

    ingest = commands.add_parser("ingest", parents=[common],
                                 help="import newsroom text, Markdown, HTML and JSON Lines files or directories")
    ingest.add_argument("paths", nargs="+", metavar="PATH")
    ingest.add_argument("--dry-run", action="store_true",
                        help="print what would be created, updated or left alone; change nothing")
    ingest.add_argument("--id", help="permanent tag: URI (one file only)")
    ingest.add_argument("--title", help="headline (one file only); derived from the lead when absent")
    ingest.add_argument("--slug", help="URL and file-name slug (one file only); default: the file name")
    ingest.add_argument("--url", help="canonical URL (one file only)")
    ingest.add_argument("--summary", help="summary (one file only); default: the lead")
    ingest.add_argument("--published", help="publish time, ISO 8601; default: now. A future time embargoes the article")
    ingest.add_argument("--updated", help="update time, ISO 8601")
    ingest.add_argument("--author", help="byline")
    ingest.add_argument("--category", dest="categories", action="append", metavar="NAME", help="repeatable")
    ingest.add_argument("--tag", dest="tags", action="append", metavar="NAME", help="repeatable")
    ingest.add_argument("--image", help="lead image URL")
    ingest.add_argument("--language", help="language tag; default: site.language")
    ingest.add_argument("--dateline", help="where the story happened, e.g. 'BATURAJA - OKES.NEWS -'; "
                        "default: the one the text opens with")

    delete = commands.add_parser("delete", parents=[common], help="delete articles by id or slug")
    delete.add_argument("keys", nargs="+", metavar="ID_OR_SLUG")
    unpublish = commands.add_parser("unpublish", parents=[common],
                                    help="turn articles into drafts (ingest the file again to publish)")
    unpublish.add_argument("keys", nargs="+", metavar="ID_OR_SLUG")

    status = commands.add_parser("status", parents=[common],
                                 help="last build, jobs, embargoed articles, hub notifications")
    status.add_argument("--json", action="store_true", help="print JSON for scripts")

    stats = commands.add_parser("stats", parents=[common],
                                help="per feed: reported subscribers, clients, polls per hour, 304 share, bytes")
    stats.add_argument("--hours", type=float, default=24.0, help="how far back (default 24)")
    stats.add_argument("--json", action="store_true", help="print JSON for scripts")

    history = commands.add_parser("history", parents=[common],
                                  help="an article's stored versions: when, status, title and what changed")
    history.add_argument("key", metavar="ID_OR_SLUG")
    history.add_argument("--json", action="store_true", help="print JSON for scripts (every version in full)")

    store = commands.add_parser("store", parents=[common], help="move a site's store")
    store_commands = store.add_subparsers(dest="store_command", required=True, metavar="STORE_COMMAND")
    copy = store_commands.add_parser("copy", parents=[common],
                                     help="copy every row of a store into a new, empty one, then check counts "
                                          "and per-article digests")
    copy.add_argument("source", metavar="SRC_URL", help="a path, sqlite:///PATH or postgresql://... URL")
    copy.add_argument("target", metavar="DST_URL", help="likewise; must be empty (created if need be)")
    nginx = commands.add_parser("nginx-config", parents=[common],
                                help="print an nginx server block that serves the output folder as "
                                     "`feedpub serve` does")
    nginx.add_argument("--listen", default="80", help="nginx's listen value (default: 80)")
    nginx.add_argument("--no-brotli", action="store_true",
                       help="without brotli_static (no libnginx-mod-http-brotli-static): gzip only")
    partners = commands.add_parser("partners", parents=[common], help="syndication partners' feeds ([partners.NAME])")
    partner_commands = partners.add_subparsers(dest="partners_command", required=True, metavar="SUBCOMMAND")
    check = partner_commands.add_parser("check", parents=[common],
                                        help="list every article a partner would refuse or show badly, and why "
                                             "(exit 1 when one would be refused)")
    check.add_argument("names", nargs="*", metavar="NAME", help="only these partners (default: every one)")
    return parser


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # APScheduler logs every run of the quarter-second store watcher at INFO.
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if verbose else logging.WARNING)


def _cmd_serve(config: Config, args: argparse.Namespace) -> int:
    from scheduler import serve
    from feedpub.settings import with_address

    config = with_address(config, args.host or config.host, config.port if args.port is None else args.port)
    serve(config)
    return EXIT_OK


@contextmanager
def _progress(unit: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on a terminal (stderr); nothing at all otherwise: the command's
    summary line is its one line of output."""
    from tqdm import tqdm

    bar = tqdm(unit=unit, file=sys.stderr, disable=not sys.stderr.isatty(), leave=False, dynamic_ncols=True)

    def advance(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)
        if done == total:
            bar.refresh()   # the finished bar is shown however fast it went

    try:
        yield advance
    finally:
        bar.close()


def _open_or_create(config: Config):
    """The store, made when there is none, saying so and where: a second store made by
    mistake (in the wrong folder) is seen at once."""
    created = not store_exists(config)
    store = open_store(config)
    if created:
        how = (f"from {config.source}" if config.source != "defaults" else
               "the embedded defaults: no feedpub.toml here or above; `feedpub init` makes a site")
        print(f"created a new store at {config.store_label} ({how})", file=sys.stderr)
    return store


def _cmd_init(config: Config | None, args: argparse.Namespace) -> int:
    from pathlib import Path

    from feedpub.init import init_site

    if getattr(args, "config", None):
        raise ConfigError("--config: feedpub init writes FOLDER/feedpub.toml (commands there find it); "
                          "give the folder instead")
    site = init_site(Path(args.folder), title=args.title, base_url=args.base_url, language=args.language,
                     timezone=args.timezone)
    print(f"wrote {site.config_path}")
    store = site.config.store_path
    print(f"kept the store already at {store}" if site.store_existed else f"created a new store at {store}")
    print("next: feedpub ingest FILE...  (from this folder or any below it), then feedpub serve")
    return EXIT_OK


def _cmd_build(config: Config, args: argparse.Namespace) -> int:
    from feeds.building.build import build
    from feedpub.settings import utc_now

    store = _open_or_create(config)
    try:
        with _progress("documents") as advance:
            report = build(store, config.site, config.output_dir, utc_now(), full=args.full, progress=advance)
    finally:
        store.close()
    print(report.summary() + (f" ({report.why_full})" if report.full and report.why_full else ""))
    return EXIT_OK


def _cmd_ingest(config: Config, args: argparse.Namespace) -> int:
    from feedpub.settings import utc_now
    from sources.ingest import ingest_paths
    from sources.media import measure_image

    keys = ("id", "title", "slug", "url", "summary", "published", "updated", "author",
            "categories", "tags", "image", "language", "dateline")
    overrides = {key: getattr(args, key) for key in keys if getattr(args, key) is not None}
    if args.dry_run and not store_exists(config):
        # Nothing is stored yet, and a dry run must not create the store: compare with an empty one.
        from dataclasses import replace
        from pathlib import Path

        config = replace(config, store_path=Path(":memory:"), store_url="")
        store = open_store(config)
    else:
        store = _open_or_create(config)
    try:
        # A dry run lists every article (that is its point); a real import names only the
        # rejected ones and what needs attention, unless -v.
        quiet = not (args.dry_run or args.verbose)
        with _progress("articles") as advance, _first_interrupt() as interrupted:
            summary = ingest_paths(store, args.paths, settings=config.ingest, now=utc_now, overrides=overrides,
                                   measure=lambda url: measure_image(url, config.images), dry_run=args.dry_run,
                                   progress=advance, report=_quiet_report if quiet else print,
                                   stop=interrupted)
    finally:
        store.close()
    print(summary.line(dry_run=args.dry_run))
    if summary.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_REJECTED if summary.failed else EXIT_OK


@contextmanager
def _first_interrupt() -> Iterator[Callable[[], bool]]:
    """Whether Ctrl-C (SIGINT) was pressed: the first asks a long import to stop after the
    article at hand, committing what it did; a second interrupts at once (what was not
    committed is rolled back)."""
    import signal
    import threading

    pressed = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield pressed.is_set
        return

    def handler(signum: int, frame: object) -> None:
        if pressed.is_set():
            raise KeyboardInterrupt
        pressed.set()
        print("stopping after this article (Ctrl-C again to stop at once)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield pressed.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


def _quiet_report(message: str) -> None:
    if not message.startswith(("created: ", "updated: ", "unchanged: ")):
        print(message)


DONE = {"delete": "deleted", "unpublish": "unpublished"}


def _change_status(config: Config, args: argparse.Namespace, action: str) -> int:
    from feedpub.settings import utc_now

    store = open_store(config, create=False)
    failed = 0
    try:
        for key in args.keys:
            try:
                article = getattr(store, action)(key, utc_now())
            except FeedpubError as exc:
                failed += 1
                print(f"error: {exc}")
                continue
            if action == "delete" and article.sample:
                print(f"removed the sample article: {article.id} ({article.slug}), without a trace "
                      "(no tombstone, no 410 page, no stored version)")
                continue
            print(f"{DONE[action]}: {article.id} ({article.slug})")
    finally:
        store.close()
    return EXIT_REJECTED if failed else EXIT_OK


def _cmd_delete(config: Config, args: argparse.Namespace) -> int:
    return _change_status(config, args, "delete")


def _cmd_unpublish(config: Config, args: argparse.Namespace) -> int:
    return _change_status(config, args, "unpublish")


def _cmd_stats(config: Config, args: argparse.Namespace) -> int:
    import time

    from feedpub.settings import poll_records
    from feeds.serving.stats import summarise

    if not 0 < args.hours <= 24 * 366:
        print(f"feedpub: error: --hours: {args.hours:g} is not between 0 and 8784 (a year)", file=sys.stderr)
        return EXIT_USAGE
    polled_here = not config.shared_store and config.stats_path.exists()   # stats.sqlite3 beside an embedded store
    if not store_exists(config) and not polled_here:   # no service ever ran with this store
        from feedpub.settings import no_store_message

        raise NoStoreError(no_store_message(config))
    until = time.time()
    since = until - args.hours * 3600
    max_age = int(config.rebuild_seconds)
    records = poll_records(config, create=False)()
    try:
        rows = records.polls_since(since)
    finally:
        records.close()
    reports = summarise(rows, max_age=max_age, since=since, until=until)
    if args.json:
        print(json.dumps([report.as_dict() for report in reports], indent=2))
        return EXIT_OK
    if not reports:
        print(f"no feed polls recorded in the last {args.hours:g} h")
    else:
        print(f"polls recorded over {_hours(reports[0].observed_hours)} (the first to the last in the "
              f"last {args.hours:g} h); polls/h are over that span")
    for report in reports:
        counts = ", ".join(f"{name} {count}" for name, count in sorted(report.subscribers.items())) or "none"
        print(f"/{report.path}: {sum(report.subscribers.values())} reported subscribers ({counts}), "
              f"{report.other_clients} other client(s), {report.polls_per_hour:.1f} polls/h, "
              f"{report.share_304:.0%} answered 304, {report.bytes_sent} bytes sent")
        for client in report.flagged:
            print(f"  polls too often: {client['client']} {client['user_agent']!r}: every "
                  f"{client['median_interval_seconds']} s (Cache-Control max-age {client['max_age']} s)")
    return EXIT_OK


def _hours(hours: float) -> str:
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h"


def _cmd_status(config: Config, args: argparse.Namespace) -> int:
    from feedpub.status import collect_status, format_status

    report = collect_status(config)
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else format_status(report))
    return EXIT_OK


HISTORY_TITLE_WIDTH = 48


def _shown_status(article, now) -> str:
    """A published article whose time is still ahead is "scheduled" to a person."""
    return "scheduled" if article.status.value == "published" and article.published > now else article.status.value


def _format_history(revisions: list, tz, now) -> str:
    latest = revisions[-1].article
    titles = [r.article.title if len(r.article.title) <= HISTORY_TITLE_WIDTH
              else r.article.title[:HISTORY_TITLE_WIDTH - 1] + "…" for r in revisions]
    width = max(len(title) for title in titles)
    lines = [f"{latest.id} ({latest.slug}): {len(revisions)} version{'s' if len(revisions) != 1 else ''}, oldest first"]
    for revision, title in zip(revisions, titles, strict=True):
        what = "created" if revision.changed == ("created",) else "changed: " + ", ".join(revision.changed)
        lines.append(f"{revision.number:>3}  {revision.stored.astimezone(tz):%Y-%m-%d %H:%M:%S %Z}  "
                     f"{_shown_status(revision.article, now):<9}  {title:<{width}}  {what}")
    return "\n".join(lines)


def _cmd_history(config: Config, args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from feedpub.settings import utc_now
    from sources.revisions import snapshot

    store = open_store(config, create=False)
    try:
        revisions = store.history(args.key)   # StoreError for an unknown key: exit 1 in main()
    finally:
        store.close()
    tz, now = ZoneInfo(config.site.timezone), utc_now()
    if not args.json:
        print(_format_history(revisions, tz, now))
        return EXIT_OK
    latest = revisions[-1].article
    print(json.dumps({
        "id": latest.id,
        "slug": latest.slug,
        "revisions": [
            {"number": r.number, "stored": r.stored.astimezone(tz).isoformat(), "status": _shown_status(r.article, now),
             "title": r.article.title, "changed": list(r.changed), "article": snapshot(r.article)}
            for r in revisions
        ],
    }, indent=2, ensure_ascii=False))
    return EXIT_OK


def _cmd_store(config: Config, args: argparse.Namespace) -> int:
    from feedpub.settings import open_store_at, store_exists_at
    from sources.store.sql import display_url
    from sources.store.copy import copy_store

    if not store_exists_at(args.source, "SRC_URL"):   # opening it would make an empty one
        print(f"feedpub: error: SRC_URL: no store at {display_url(args.source)}", file=sys.stderr)
        return EXIT_USAGE
    source = open_store_at(args.source, "SRC_URL")
    try:
        target = open_store_at(args.target, "DST_URL")
        try:
            with _progress("articles") as advance:
                report = copy_store(source, target, progress=advance)
        finally:
            target.close()
    finally:
        source.close()
    print(report.summary())
    return EXIT_OK


def _cmd_partners(config: Config, args: argparse.Namespace) -> int:
    from feedpub.settings import utc_now
    from feeds.building.partners import check
    from feeds.rendering.partners import profile_of

    known = [partner.name for partner in config.site.partners]
    if not known:
        print(f"feedpub: no syndication partner in {config.source}: add a [partners.NAME] table "
              "(README.md, \"Syndication partners\")", file=sys.stderr)
        return EXIT_USAGE
    unknown = [name for name in args.names if name not in known]
    if unknown:
        print(f"feedpub: no partner named {', '.join(map(repr, unknown))} in {config.source} "
              f"(its partners: {', '.join(known)})", file=sys.stderr)
        return EXIT_USAGE
    store = open_store(config, create=False)
    try:
        feeds = check(store, config.site, utc_now(), args.names or None)
    finally:
        store.close()
    refused = False
    for feed in feeds:
        partner, findings = feed.partner, feed.findings
        refusals = [f for f in findings if f.refused]
        refused = refused or bool(refusals)
        articles = {f.article_id for f in findings if f.article_id}
        print(f"{partner.name} ({profile_of(partner).title}), {config.site.url(partner.path)}: "
              f"{len(feed.items)} items, {len(feed.withdrawn)} withdrawn; "
              f"{len({f.article_id for f in refusals})} refused, "
              f"{len(articles - {f.article_id for f in refusals})} shown badly")
        for finding in sorted(findings, key=lambda f: f.article_id is not None):   # the feed first, then each article
            what = "refused" if finding.refused else "badly  "
            where = f"{finding.article_id} {finding.title!r}" if finding.article_id else "the feed"
            print(f"  {what} {where}: {finding.reason}")
    return EXIT_REJECTED if refused else EXIT_OK


def _cmd_nginx_config(config: Config, args: argparse.Namespace) -> int:
    from urllib.parse import urlsplit

    from feeds.publishing.publish import read_manifest
    from feeds.serving.nginx import NginxSite, check_manifest, render

    site = NginxSite(
        root=config.output_dir, server_name=urlsplit(config.site.base_url).hostname or "_" if config.base_url_given
        else "_", listen=args.listen, upstream=f"{config.host}:{config.port}", base_url=config.site.base_url,
        max_age=int(config.rebuild_seconds), hubs=config.site.hubs, gone=config.gone, moved=config.moved,
        max_body_bytes=config.api_max_body_bytes, access_log=config.access_log, brotli=not args.no_brotli)
    try:
        text = render(site)
    except ValueError as exc:
        print(f"feedpub: error: {config.source}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(text, end="")
    problems = check_manifest(read_manifest(config.output_dir))
    for problem in problems:
        print(f"feedpub: nginx would serve {config.output_dir}/{problem}", file=sys.stderr)
    return EXIT_REJECTED if problems else EXIT_OK


COMMANDS = {
    "init": _cmd_init, "serve": _cmd_serve, "build": _cmd_build, "ingest": _cmd_ingest, "delete": _cmd_delete,
    "unpublish": _cmd_unpublish, "status": _cmd_status, "stats": _cmd_stats, "history": _cmd_history,
    "store": _cmd_store, "nginx-config": _cmd_nginx_config,
    "partners": _cmd_partners,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        # init makes a configuration: it reads none (not even one in a folder above).
        config = None if args.command == "init" else load_config(args.config)
        return COMMANDS[args.command](config, args)
    except ConfigError as exc:
        print(f"feedpub: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except NoStoreError as exc:
        print(f"feedpub: {exc}", file=sys.stderr)
        return EXIT_NO_STORE
    except FeedpubError as exc:
        print(f"feedpub: error: {exc}", file=sys.stderr)
        return EXIT_REJECTED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
