"""Build benchmark (issue #4): full, incremental and no-op builds at 1k, 10k and 100k articles.

    python -m bench.build [1000 10000 100000] [--store postgresql://USER@HOST:PORT/DB]

Each size uses a copy of the cached corpus store (bench/corpus.py: realistic
articles, ~80 a day, 12 categories, 300 tags, 150 authors; built once) and the
catalogue on (a feed per category, tag and author, each with its archives).
Every measurement runs in a fresh child process, which reports its own peak
memory (ru_maxrss). Printed per size:

- full: ``feedpub build --full`` into an empty folder: seconds, documents,
  entries rendered (an article counts once per document it is in), entries/s;
- feedgen alone: feedgen rendering the same documents (same feeds, same
  entries, RSS + Atom + JSON Feed for subscription documents, Atom for archive
  pages; every 50th checked byte for byte against the full build's) from
  entries already in memory, each handed to feedgen with the rest of its
  document; nothing sanitised, compressed or written: the cost of rendering
  alone. The ratio full / feedgen is the figure (<= 1.0 is the target). The full
  build also writes the pages for people (each feed's and archive page's, and each
  article's: feeds/rendering/), which feedgen alone leaves out;
  "simplified": the baseline of this benchmark's first version, documents whose
  entries carry fewer elements and far fewer attributes, kept for comparison;
- edit (new) / edit (old): an incremental build after editing the newest
  article (it is in every subscription document of its feeds) or one from the
  first month (only its archive pages change), median of 5;
- no-op: a build with nothing changed, median of 5;
- full CPU s (system): the full build's CPU time in both its processes, and of it the
  kernel's. On this machine's ext4 (no journal), creating a file costs ~7 us, but 100-200 us
  for up to six minutes after many files were deleted anywhere on the file system (ext4
  skips recently freed inodes one by one); a full build creates ~3 files a document, so a
  run right after a test suite or another run (whose scratch folder it deletes) shows it as
  system time;
- peak MB: the largest resident set of the full build's process (its own: VmHWM, not
  ru_maxrss, which a child inherits from the process it was forked from). An SQLite store's
  page cache is in the build's process; PostgreSQL's is in the server's.

With ``--store postgresql://...`` each size is measured twice in the same run: on the
SQLite copy as above, then on a copy of the same corpus in a new schema of that database
(``feedpub store copy``'s code: the same rows, the same revision), with the same full,
incremental and no-op builds (feedgen alone is the same on both and runs once). A second
table gives the PostgreSQL figures beside SQLite's and their ratios; the schema is dropped
at the end.

The machine is shared and noisy: compare figures within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from feedgen.feed import FeedGenerator

from bench.corpus import END, store_path
from feedpub.settings import utc_now
from feeds.rendering.archive import paginate
from feeds.building.build import build
from feeds.building.builder import Builder
from feeds.building.fragments import FragmentCache
from feeds.rendering.catalogue import term_feed, term_slugs
from feeds.rendering.entries import FeedView, History, deleted_entries, main_feed, make_entry
from feeds.publishing.publish import read_manifest
from feeds.rendering.formats import render_atom, render_json_feed, render_rss
from feeds.site import SiteSettings
from sources.model import SaveResult
from sources.store import SQLiteStore
from sources.store.sql import SQLStore

SITE = SiteSettings(title="Berita Contoh", description="Benchmark newsroom", base_url="https://news.example.com",
                    catalogue=("category", "tag", "author"))
NOW = END + timedelta(hours=1)


def _peak_mb() -> float:
    """The largest resident set of this program: VmHWM, which starts afresh with it. Linux carries
    ru_maxrss over from the process a child was forked from, so with ``--store`` every child
    reported at least what the parent held after copying the corpus into PostgreSQL."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _entries(public: Path) -> tuple[int, int]:
    """(documents, entries rendered) of a build, from its manifest."""
    manifest = read_manifest(public)
    entries = 0
    for path, entry in manifest.items():
        basis = entry.get("basis")
        if basis and "places" in basis:   # an archive page
            entries += basis["entries"]
        elif basis:                       # a subscription Atom document, standing for three formats
            entries += len(basis["entries"]) * 3
    return len(manifest), entries


def open_store(location: str) -> SQLStore:
    """The corpus copy a child measures: a SQLite file, or a PostgreSQL URL (its schema)."""
    if location.startswith("postgresql://"):
        from sources.store.postgres import PostgresStore

        return PostgresStore(location, clock=utc_now)
    return SQLiteStore(Path(location), clock=utc_now)


def child_full(location: str, public: Path) -> dict:
    store = open_store(location)
    before = os.times()
    started = time.perf_counter()
    build(store, SITE, public, NOW, full=True)
    seconds = time.perf_counter() - started
    after = os.times()   # the second build process has been waited for: it is in children_*
    documents, entries = _entries(public)
    return {"seconds": seconds, "documents": documents, "entries": entries, "peak_mb": _peak_mb(),
            "user": after.user + after.children_user - before.user - before.children_user,
            "system": after.system + after.children_system - before.system - before.children_system}


def _edit(store: SQLStore, article_id: str, n: int) -> None:
    article = store.get(article_id)
    edited = replace(article, content_html=article.content_html + f"<p>Ralat {n}.</p>",
                     updated=article.updated + timedelta(seconds=n + 1), stored=NOW,
                     related=tuple(link for link in article.related if not link.suggested))
    store.save(lambda existing: SaveResult("updated", edited), article_id=edited.id, slug=edited.slug)


def child_incremental(location: str, public: Path) -> dict:
    store = open_store(location)
    newest = store.latest_ids(None, None, NOW, 1)[0]
    oldest = _oldest(store)
    figures: dict[str, list[float]] = {"edit_new": [], "edit_old": [], "noop": []}
    rendered: dict[str, int] = {}
    for n in range(5):
        for name, article_id in (("edit_new", newest), ("edit_old", oldest)):
            _edit(store, article_id, n)
            started = time.perf_counter()
            report = build(store, SITE, public, NOW)
            figures[name].append(time.perf_counter() - started)
            assert not report.full, report.why_full
            rendered[name] = len(report.written) + len(report.unchanged)
        started = time.perf_counter()
        report = build(store, SITE, public, NOW)
        figures["noop"].append(time.perf_counter() - started)
        assert not (report.written or report.unchanged)
    result = {name: statistics.median(values) for name, values in figures.items()}
    result.update({f"{name}_documents": count for name, count in rendered.items()})
    return result


def _oldest(store: SQLStore) -> str:
    first = store.place_near(None, None, NOW, datetime(1970, 1, 2).astimezone(), before=False)
    return next(place[0] for place in store.places(None, None, NOW, datetime.fromtimestamp(first).astimezone(),
                                                  datetime.fromtimestamp(first + 1).astimezone()))


def child_feedgen(location: str, public: Path) -> dict:
    """feedgen rendering the feed documents of a full build from data already in memory;
    only rendering is timed.

    Two figures. ``seconds``: the documents the build writes, each entry handed to feedgen
    with the rest of its document (feeds/rendering/formats.py without kept entries; every 50th
    document is checked byte for byte against the full build's file in ``public``).
    ``simplified_seconds``: the documents of this benchmark's first version, whose entries
    carry fewer elements and far fewer attributes (no related links, media, category schemes
    and labels, sources: in the 10k main feed 13.6 elements and 5.6 attributes an entry
    against 17.2 and 24.6), kept for comparison with earlier figures.
    """
    store = open_store(location)
    slugs = {kind: term_slugs(store.terms(kind, NOW)) for kind in SITE.catalogue}
    feeds = [(None, main_feed(SITE))] + [((kind, name), term_feed(kind, name, slug, SITE))
                                        for kind in SITE.catalogue for name, slug in sorted(slugs[kind].items())]
    tombstones = deleted_entries(store.deleted_since(NOW - timedelta(days=SITE.tombstone_days), NOW), SITE)
    # Each document's time as the build gives it (entries, removals, an archive page's links), not timed.
    times = Builder(store, SITE, NOW, slugs, FragmentCache(None, "bench"))
    timing = {"seconds": 0.0, "simplified_seconds": 0.0}
    rendered, checked = [0], []

    def render(made, *args) -> None:
        started = time.perf_counter()
        doc = made(*args)
        timing["seconds"] += time.perf_counter() - started
        if rendered[0] % 50 == 0:
            checked.append(doc.body == (public / doc.path).read_bytes())
        rendered[0] += 1

    def simplified(*args) -> None:
        started = time.perf_counter()
        _feedgen(*args)
        timing["simplified_seconds"] += time.perf_counter() - started

    for key, feed in feeds:
        kind, name = key if key else (None, None)
        pages = paginate(feed, store.places(kind, name, NOW), SITE.zone, SITE.archive_entries)
        articles = store.articles(store.latest_ids(kind, name, NOW, SITE.items_per_feed), NOW)
        entries = tuple(make_entry(article, SITE, slugs) for article in articles)
        deleted = tombstones if key is None else ()
        view = FeedView(feed, entries, times.updated(key, list(entries), deleted), deleted)
        render(render_rss, view, SITE)
        render(render_atom, replace(view, history=History(prev=pages[-1].path if pages else None)), SITE)
        render(render_json_feed, view, SITE)
        for fmt in ("rss", "atom", "json"):
            simplified(feed.title, feed.atom_path, articles, fmt)
        for page in pages:
            articles = store.articles(page.visible, NOW)
            entries = tuple(make_entry(article, SITE, slugs) for article in articles)
            history = History(archive=True, current=feed.atom_path, prev=page.prev, next=page.next)
            updated = times.page_time(page, list(entries), times.page_changed([page])[0])
            render(render_atom, FeedView(replace(feed, atom_path=page.path), entries, updated, history=history), SITE)
            simplified(feed.title, page.path, articles, "atom")
    if not all(checked):
        raise SystemExit(f"{checked.count(False)} of {len(checked)} documents differ from the full build's")
    return {"seconds": timing["seconds"], "simplified_seconds": timing["simplified_seconds"], "checked": len(checked)}


def _feedgen(title: str, path: str, articles: list, fmt: str) -> bytes:
    fg = FeedGenerator()
    fg.id(SITE.url(path))
    fg.title(title)
    fg.subtitle(SITE.description)
    fg.link(href=SITE.url(path), rel="self")
    fg.link(href=SITE.url(""), rel="alternate")
    fg.language(SITE.language)
    fg.updated(max((a.updated for a in articles), default=NOW))
    for article in articles:
        fe = fg.add_entry(order="append")
        fe.id(article.id)
        fe.title(article.title)
        fe.link(href=SITE.article_link(article.url, article.slug, article.published))
        fe.summary(article.summary)
        fe.content(article.content_html, type="html")
        fe.published(article.published)
        fe.updated(article.updated)
        if article.author:
            fe.author({"name": article.author})
        for category in (*article.categories, *article.tags):
            fe.category(term=category)
    if fmt == "rss":
        return fg.rss_str(pretty=True)
    if fmt == "atom":
        return fg.atom_str(pretty=True)
    # feedgen has no JSON Feed: the same data through json, as feedpub does
    return json.dumps({"items": [{"id": a.id, "title": a.title, "content_html": a.content_html}
                                 for a in articles]}).encode()


def _run_child(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench.build", "--child", *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"child {args} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(n: int, scratch: Path, postgres: str | None = None, *, feedgen: bool = True) -> dict:
    source = store_path(n)
    store_file = scratch / f"store-{n}.sqlite3"
    shutil.copyfile(source, store_file)
    public = scratch / f"public-{n}"
    full = _run_child("full", str(store_file), str(public))
    rendered = _run_child("feedgen", str(store_file), str(public)) if feedgen else None
    incremental = _run_child("incremental", str(store_file), str(public))
    row = {"n": n, "full": full, "feedgen": rendered, "incremental": incremental}
    if postgres:
        with postgres_copy(source, postgres, n) as url:
            pg_public = scratch / f"public-{n}-postgresql"
            row["postgresql"] = {"full": _run_child("full", url, str(pg_public)),
                                 "incremental": _run_child("incremental", url, str(pg_public)),
                                 "database_mb": _schema_mb(url)}
    return row


@contextmanager
def postgres_copy(source: Path, url: str, n: int) -> Iterator[str]:
    """The corpus copied into a new schema of the database at ``url``; dropped afterwards."""
    import psycopg

    from sources.store.copy import copy_store
    from sources.store.postgres import PostgresStore

    schema = f"feedpub_bench_{n}_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    in_schema = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    try:
        sqlite, target = SQLiteStore(source, clock=utc_now), PostgresStore(in_schema, clock=utc_now)
        try:
            report = copy_store(sqlite, target)
            print(f"{n:,} articles copied to PostgreSQL in {report.seconds:.0f} s", file=sys.stderr)
        finally:
            sqlite.close()
            target.close()
        with psycopg.connect(in_schema, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")   # as autovacuum leaves a table loaded in one go, planned alike
        yield in_schema
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _schema_mb(url: str) -> float:
    """The store's size in PostgreSQL: tables, indexes and TOAST of its schema."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return float(conn.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')").fetchone()[0]) / 1e6


def backends_table(rows: list[dict]) -> str:
    """PostgreSQL beside SQLite, same corpus, same run; ratios PostgreSQL / SQLite."""
    lines = ["| articles | store | full s | full CPU s | edit (new) ms | edit (old) ms | no-op ms | peak MB |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        if "postgresql" not in row:
            continue
        pg = row["postgresql"]
        for name, full, inc in (("SQLite", row["full"], row["incremental"]), ("PostgreSQL", pg["full"], pg["incremental"])):
            lines.append(f"| {row['n']:,} | {name} | {full['seconds']:.1f} | {full['user'] + full['system']:.1f} | "
                         f"{inc['edit_new'] * 1000:.0f} ({inc['edit_new_documents']} docs) | "
                         f"{inc['edit_old'] * 1000:.0f} ({inc['edit_old_documents']} docs) | {inc['noop'] * 1000:.1f} | "
                         f"{full['peak_mb']:.0f} |")
        sq_full, sq_inc, pg_full, pg_inc = row["full"], row["incremental"], pg["full"], pg["incremental"]
        lines.append(f"| {row['n']:,} | PostgreSQL / SQLite | {pg_full['seconds'] / sq_full['seconds']:.2f}x | "
                     f"{(pg_full['user'] + pg_full['system']) / (sq_full['user'] + sq_full['system']):.2f}x | "
                     f"{pg_inc['edit_new'] / sq_inc['edit_new']:.2f}x | {pg_inc['edit_old'] / sq_inc['edit_old']:.2f}x | "
                     f"{pg_inc['noop'] / sq_inc['noop']:.1f}x | |")
    sizes = ", ".join(f"{row['n']:,}: {row['postgresql']['database_mb']:.0f} MB" for row in rows if "postgresql" in row)
    lines.append(f"\nFull CPU s: the build's processes only (PostgreSQL's server processes not included). "
                 f"The PostgreSQL store's size (tables, indexes, TOAST): {sizes}.")
    return "\n".join(lines)


def table(rows: list[dict]) -> str:
    lines = ["| articles | documents | entries | full s | full CPU s (system) | entries/s | feedgen alone s | "
             "full / feedgen | simplified s | full / simplified | edit (new) ms | edit (old) ms | no-op ms | peak MB |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        full, gen, inc = row["full"], row["feedgen"], row["incremental"]
        alone = (f"{gen['seconds']:.1f} | {full['seconds'] / gen['seconds']:.2f} | {gen['simplified_seconds']:.1f} | "
                 f"{full['seconds'] / gen['simplified_seconds']:.2f}" if gen else "- | - | - | -")   # --no-feedgen
        lines.append(
            f"| {row['n']:,} | {full['documents']:,} | {full['entries']:,} | {full['seconds']:.1f} | "
            f"{full['user'] + full['system']:.1f} ({full['system']:.1f}) | {full['entries'] / full['seconds']:,.0f} | "
            f"{alone} | {inc['edit_new'] * 1000:.0f} ({inc['edit_new_documents']} docs) | "
            f"{inc['edit_old'] * 1000:.0f} ({inc['edit_old_documents']} docs) | {inc['noop'] * 1000:.1f} | "
            f"{full['peak_mb']:.0f} |")
    checked = ", ".join(f"{row['feedgen']['checked']:,}" for row in rows if row["feedgen"])
    if checked:
        lines.append(f"\nfeedgen alone: the documents the build wrote (every 50th checked byte for byte: {checked}); "
                     "simplified: fewer elements per entry (this benchmark's first baseline).")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 10000, 100000])
    parser.add_argument("--store", metavar="URL", help="also measure on a copy in this PostgreSQL database")
    parser.add_argument("--no-feedgen", action="store_true", help="leave feedgen alone out (the longest part at 100k)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, location, public = args.child
        result = {"full": child_full, "incremental": child_incremental, "feedgen": child_feedgen}[kind](
            location, Path(public))
        print(json.dumps(result))
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="feedpub-bench-") as scratch:
        for n in args.sizes:
            rows.append(measure(n, Path(scratch), args.store, feedgen=not args.no_feedgen))
            print(f"{n:,} articles done", file=sys.stderr)
    print(table(rows))
    if args.store:
        print()
        print(backends_table(rows))


if __name__ == "__main__":
    main()
