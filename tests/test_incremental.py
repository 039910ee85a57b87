"""An incremental build gives what `feedpub build --full` gives, byte for byte.

Hypothesis draws sequences of ingests, edits (headline, publication time across
months, categories, tags, author, related links), deletions, unpublishing,
restores, an article's own address given or taken away, and clock moves
(embargoes come due). After every step one folder is built incrementally and
another with ``full=True``; every file of the two trees (the manifest, the build
state and the RFC 3229 deltas included) must be equal, the syndication partners'
feeds too (MSN's, with expiry items; SmartNews's, behind a secret, for two categories, with
media:status: their announcements of deletions and take-downs end as the clock moves). Small pages (2 entries) and
short feeds (3) make archive pages open, close, shift and vanish within a dozen
steps; article pages at ``{yyyy}/{mm}/{slug}`` move when an edit moves the
publication to another month.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedpub.settings import utc_now
from feeds.building.build import STATE_NAME, build
from feeds.building.fragments import CACHE_NAME
from feeds.publishing.atomic import retired
from feeds.site import Partner, SiteSettings
from sources.model import Article, Image, RelatedLink, SaveResult, Status
from sources.store import SQLiteStore

JAKARTA = ZoneInfo("Asia/Jakarta")
START = datetime(2024, 9, 20, 12, 0, tzinfo=JAKARTA)
SITE = SiteSettings(
    title="OKES.NEWS", description="Berita Ogan Komering Ulu", base_url="https://okes.example",
    items_per_feed=3, archive_entries=2, tombstone_days=2, catalogue=("category", "tag", "author"),
)
CATEGORIES = ("Politik", "Ekonomi", "Olahraga")
TAGS = ("Pilkada 2024", "Banjir", "Harga Cabai")
AUTHORS = ("Rahmad Hidayat", "Siti Aminah", None)
HEADLINES = ("Rapat Pilkada OKU", "Banjir Baturaja", "Harga Cabai Naik", "Jalan Rusak di Kecamatan Baturaja Timur")
# Enough text for MSN (450 characters), given to every other article.
LONG_TEXT = "<p>" + "Warga OKU menyampaikan keluhan tentang jalan rusak kepada pemerintah daerah. " * 7 + "</p>"

days = st.integers(-75, 3)   # publication times across three months, some still embargoed
terms = st.tuples(st.lists(st.sampled_from(CATEGORIES), max_size=2), st.lists(st.sampled_from(TAGS), max_size=2),
                  st.sampled_from(AUTHORS))
create = st.tuples(st.just("create"), days, st.integers(0, 3), terms,
                   st.lists(st.integers(0, 3), max_size=2), st.booleans())
edit = st.tuples(st.just("edit"), st.integers(0, 30), st.none() | st.integers(0, 3), st.none() | days,
                 st.none() | terms)
delete = st.tuples(st.just("delete"), st.integers(0, 30))
unpublish = st.tuples(st.just("unpublish"), st.integers(0, 30))
restore = st.tuples(st.just("restore"), st.integers(0, 30))
own_url = st.tuples(st.just("url"), st.integers(0, 30), st.booleans())   # hosted elsewhere, or here again
wait = st.tuples(st.just("wait"), st.integers(1, 4 * 24 * 60))   # minutes
operations = st.lists(st.one_of(create, create, create, edit, delete, unpublish, restore, own_url, wait),
                      min_size=1, max_size=14)
# Article pages at an address holding the publication month: an edit across months moves one. And
# partners whose feeds refuse some articles (short titles or texts, no image) and announce deletions.
PAGES_SITE = replace(SITE, article_url="{base_url}/{yyyy}/{mm}/{slug}", partners=(
    Partner("msn", "msn"),
    Partner("sn", "smartnews", categories=("Politik", "Ekonomi"), private="0123456789abcdef0123456789abcdef")))


def tree(folder: Path) -> dict[str, bytes]:
    """Every file of a build, but the build's own note of when it ran and its kept entries
    (a database: its bytes depend on the order of writes)."""
    retired()   # the versions the last build replaced are removed on a thread of their own
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file() and path.name != STATE_NAME and not path.name.startswith(CACHE_NAME)}


def documents(folder: Path) -> dict[str, bytes]:
    """The published documents and variants (RFC 3229 delta histories depend on earlier builds)."""
    return {path: body for path, body in tree(folder).items() if not path.startswith(".delta/")}


def put(store: SQLiteStore, article: Article, action: str) -> None:
    store.save(lambda existing: SaveResult(action, article), article_id=article.id, slug=article.slug)


def apply(store: SQLiteStore, op, clock: datetime, created: list[str]) -> datetime:
    kind = op[0]
    if kind == "wait":
        return clock + timedelta(minutes=op[1])
    if kind == "create":
        _, offset, headline, (categories, tags, author), links, draft = op
        n = len(created) + 1
        published = clock + timedelta(days=offset)
        put(store, Article(
            id=f"tag:okes.example,2024:a{n}", slug=f"berita-{n}", url=None,
            title=f"{HEADLINES[headline]} {n}", summary=f"Ringkasan {n}.",
            content_html=f"<p>Isi berita {n}.</p>" + (LONG_TEXT if n % 2 else ""), content_text=f"Isi berita {n}.",
            image=Image(f"https://img.okes.example/{n}.jpg", "image/jpeg", 90_000 + n, 1200, 800) if n % 3 else None,
            author=author, city="BATURAJA", publication="OKES.NEWS", published=published,
            updated=max(published, clock), categories=tuple(dict.fromkeys(categories)),
            tags=tuple(dict.fromkeys(tags)), language="id",
            related=tuple(RelatedLink(HEADLINES[i]) for i in links),
            status=Status.DRAFT if draft else Status.PUBLISHED, stored=clock), "created")
        created.append(f"tag:okes.example,2024:a{n}")
        return clock
    if not created:
        return clock
    article = store.get(created[op[1] % len(created)])
    if kind == "edit":
        _, _, headline, offset, new_terms = op
        published = article.published if offset is None else clock + timedelta(days=offset)
        changed = replace(article, published=published, updated=max(published, clock, article.updated),
                          stored=clock, related=tuple(RelatedLink(link.title) for link in article.related
                                                      if not link.suggested),
                          content_html=article.content_html + "<p>Ralat.</p>")
        if headline is not None:
            changed = replace(changed, title=f"{HEADLINES[headline]} {article.slug}")
        if new_terms is not None:
            categories, tags, author = new_terms
            changed = replace(changed, categories=tuple(dict.fromkeys(categories)),
                              tags=tuple(dict.fromkeys(tags)), author=author)
        put(store, changed, "updated")
    elif kind == "delete":
        store.delete(article.id, clock)
    elif kind == "unpublish":
        store.unpublish(article.id, clock)
    elif kind == "url":
        url = f"https://okes.news/{article.slug}" if op[2] else None
        put(store, replace(article, url=url, stored=clock, related=tuple(
            RelatedLink(link.title) for link in article.related if not link.suggested)), "updated")
    elif kind == "restore" and article.status is not Status.PUBLISHED:
        put(store, replace(article, status=Status.PUBLISHED, stored=clock,
                           related=tuple(RelatedLink(link.title) for link in article.related if not link.suggested)),
            "updated")
    return clock


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_incremental_builds_equal_full_builds(ops):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        store = SQLiteStore(root / "store.sqlite3", clock=utc_now)
        clock, created = START, []
        build(store, PAGES_SITE, root / "incremental", clock)
        build(store, PAGES_SITE, root / "full", clock, full=True)
        try:
            for step, op in enumerate(ops):
                clock = apply(store, op, clock, created)
                report = build(store, PAGES_SITE, root / "incremental", clock)
                build(store, PAGES_SITE, root / "full", clock, full=True)
                assert not report.full, report.why_full
                incremental, full = tree(root / "incremental"), tree(root / "full")
                assert incremental.keys() == full.keys(), (step, op)
                differing = [path for path in full if incremental[path] != full[path]]
                assert not differing, (step, op, differing)
                # Every article readers see has its page (when it has no address of its own), and
                # no other page is there but the deleted ones' (which answer 410).
                pages = {path for path in full if path.startswith("2024/") and not path.endswith((".br", ".gz"))}
                articles = [store.get(article_id) for article_id in created]
                assert {PAGES_SITE.article_path(a.url, a.slug, a.published) for a in articles
                        if a.is_visible(clock) and not a.url} <= pages, (step, op)
                assert pages <= {PAGES_SITE.article_path(None, a.slug, a.published) for a in articles
                                 if a.is_visible(clock) or a.status is Status.DELETED}, (step, op)
        finally:
            store.close()


def test_a_build_with_nothing_changed_writes_nothing(tmp_path):
    store = SQLiteStore(tmp_path / "store.sqlite3", clock=utc_now)
    clock, created = START, []
    for n in range(5):
        clock = apply(store, ("create", -n * 20, n % 4, ([CATEGORIES[n % 3]], [TAGS[0]], AUTHORS[0]), [], False),
                      clock, created)
    first = build(store, SITE, tmp_path / "public", clock)
    before = {path: path.stat().st_mtime_ns for path in (tmp_path / "public").rglob("*")}
    again = build(store, SITE, tmp_path / "public", clock + timedelta(minutes=15))
    assert first.full and first.written and not again.full
    assert again.written == again.unchanged == again.removed == ()
    assert {path: path.stat().st_mtime_ns for path in (tmp_path / "public").rglob("*")} == before
    store.close()


def test_an_edit_renders_only_the_documents_it_touches(tmp_path):
    store = SQLiteStore(tmp_path / "store.sqlite3", clock=utc_now)
    clock, created = START, []
    for n in range(12):
        clock = apply(store, ("create", -n * 9, n % 4, ([CATEGORIES[n % 3]], [], AUTHORS[n % 2]), [], False),
                      clock, created)
    full = build(store, SITE, tmp_path / "public", clock)
    apply(store, ("edit", 11, None, None, None), clock, created)   # the oldest article: only archives
    edit = build(store, SITE, tmp_path / "public", clock)
    rendered = set(edit.written) | set(edit.unchanged)
    assert not edit.full and edit.written
    # Its archive page in the main feed, its category's and its author's, each with its page
    # for people, and its own page: nothing else.
    assert rendered - {"articles/berita-12"} == {
        f"{folder}archive/2024-06-1.{suffix}" for folder in ("", "category/olahraga/", "author/siti-aminah/")
        for suffix in ("xml", "html")}, rendered
    assert len(full.written) > 30
    store.close()


def test_a_full_build_in_two_processes_equals_one_in_one(tmp_path, monkeypatch):
    import feeds.building.build as building

    store = SQLiteStore(tmp_path / "store.sqlite3", clock=utc_now)
    clock, created = START, []
    for n in range(40):   # 40 tags, 3 categories, 2 authors: 46 feeds... and 30 more tags below
        clock = apply(store, ("create", -n, n % 4, ([CATEGORIES[n % 3]], [f"Topik {n}", f"Topik {n + 30}"],
                                                    AUTHORS[n % 2]), [n % 4], False), clock, created)
    site = replace(SITE, items_per_feed=5, archive_entries=3)
    assert len(store.terms("tag", clock)) + 3 + 2 + 1 >= building.PARALLEL_FROM
    seen = []
    two = build(store, site, tmp_path / "two", clock, full=True, progress=lambda done, total: seen.append((done, total)))
    monkeypatch.setattr(building, "PARALLEL_FROM", 10**9)
    one = build(store, site, tmp_path / "one", clock, full=True)
    assert tree(tmp_path / "two") == tree(tmp_path / "one")
    assert sorted(two.written) == sorted(one.written) and len(one.written) > 200
    # Progress counts feed documents: every archive page, and each feed's three subscription documents.
    pages = [path for path in one.written if (path.startswith("archive/") or "/archive/" in path)
             and path.endswith(".xml")]
    assert seen[-1][0] == seen[-1][1] == len(pages) + 3 * 76
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    store.close()


def test_two_processes_whose_plans_differ_still_take_every_month_both_hold_once(tmp_path):
    """A write can land between the plans of a full build's two processes: each month and
    feed that both plans hold still goes to exactly one of them (the write itself is in the
    change log, for the next build)."""
    import shutil

    from feeds.building.builder import Builder, Claims, fingerprint
    from feeds.rendering.catalogue import term_slugs
    from feeds.building.fragments import FragmentCache

    first = SQLiteStore(tmp_path / "first.sqlite3", clock=utc_now)
    clock, created = START, []
    for n in range(24):   # one every 4 days: four months
        clock = apply(first, ("create", -4 * n, n % 4, ([CATEGORIES[n % 3]], [TAGS[n % 3]], AUTHORS[n % 2]), [],
                              False), clock, created)
    first.close()   # all in the main file, to copy
    shutil.copyfile(tmp_path / "first.sqlite3", tmp_path / "second.sqlite3")
    first, second = SQLiteStore(tmp_path / "first.sqlite3", clock=utc_now), SQLiteStore(tmp_path / "second.sqlite3", clock=utc_now)
    for n in range(5):   # the write only the second plan holds: backdated, a month before all others
        apply(second, ("create", -200 - n, 0, ([CATEGORIES[0]], [TAGS[0]], AUTHORS[0]), [], False), clock, created)
    slugs = {kind: term_slugs(first.terms(kind, clock)) for kind in SITE.catalogue}   # the parent's, as sent
    claims = Claims()
    made: list[list[str]] = [[], []]
    generators = [Builder(store, SITE, clock, {k: dict(v) for k, v in slugs.items()},
                           FragmentCache(None, fingerprint(SITE))).everything(claims=claims)
                  for store in (first, second)]
    while generators:   # the two take turns, a document each
        for made_by, generator in zip(made, list(generators)):
            document = next(generator, None)
            if document is None:
                generators.remove(generator)
            else:
                made_by.append(document.path)
    alone = [{doc.path for doc in Builder(store, SITE, clock, {k: dict(v) for k, v in slugs.items()},
                                           FragmentCache(None, fingerprint(SITE))).everything()}
             for store in (first, second)]
    both = alone[0] & alone[1]
    assert len(both) > 30 and alone[0] != alone[1]
    together = made[0] + made[1]
    assert made[0] and made[1]
    assert {path: together.count(path) for path in both} == dict.fromkeys(both, 1)
    first.close()
    second.close()


def test_an_edit_renders_only_the_edited_entry_again(tmp_path, monkeypatch):
    """Every other entry of the documents it touches comes from the kept fragments."""
    import feeds.building.builder as building

    store = SQLiteStore(tmp_path / "store.sqlite3", clock=utc_now)
    clock, created = START, []
    for n in range(12):
        clock = apply(store, ("create", -n, n % 4, ([CATEGORIES[n % 3]], [TAGS[n % 2]], AUTHORS[n % 2]), [], False),
                      clock, created)
    build(store, SITE, tmp_path / "public", clock)
    rendered: list[tuple[str, str]] = []

    def counting(entries, site, fmt):
        rendered.extend((entry.id, fmt) for entry in entries)
        return real(entries, site, fmt)

    real = building.entry_fragments
    monkeypatch.setattr(building, "entry_fragments", counting)
    apply(store, ("edit", 0, None, None, None), clock, created)   # the newest: in every subscription document
    edit = build(store, SITE, tmp_path / "public", clock)
    assert not edit.full and len(edit.written) > 9   # main, category, tag and author feeds, 3 formats each
    assert sorted(rendered) == [(created[0], fmt) for fmt in ("atom", "html", "json", "rss")]
    build(store, SITE, tmp_path / "full", clock, full=True)
    assert documents(tmp_path / "public") == documents(tmp_path / "full")
    store.close()


def test_a_full_build_renders_each_archived_entry_once(tmp_path, monkeypatch):
    """Month by month: an article's Atom entry serves all its archive pages (main, category,
    tag, author) and its feeds' subscription documents, rendered once."""
    import feeds.building.builder as building

    store = SQLiteStore(tmp_path / "store.sqlite3", clock=utc_now)
    clock, created = START, []
    for n in range(30):   # 30 articles over three months, 3 to a page: every feed has archive pages
        clock = apply(store, ("create", -3 * n, n % 4, ([CATEGORIES[n % 3]], [TAGS[n % 2]], AUTHORS[n % 2]), [],
                              False), clock, created)
    site = replace(SITE, items_per_feed=5, archive_entries=3)
    rendered: list[tuple[str, str]] = []

    def counting(entries, site, fmt):
        rendered.extend((entry.id, fmt) for entry in entries)
        return real(entries, site, fmt)

    def reading(self, fmt, ids):
        asked.extend(ids)
        return real_get(self, fmt, ids)

    real, real_get, asked = building.entry_fragments, building.FragmentCache.get, []
    monkeypatch.setattr(building, "entry_fragments", counting)
    monkeypatch.setattr(building.FragmentCache, "get", reading)
    report = build(store, site, tmp_path / "public", clock, full=True)
    pages = [path for path in report.written if "archive/" in path]
    assert len(pages) > 20
    atom = [article_id for article_id, fmt in rendered if fmt == "atom"]
    assert sorted(atom) == sorted(created)   # once each, though each is in 4 feeds
    # Archive pages take their entries from memory; only subscription documents (8 feeds,
    # 5 entries each, 3 formats and the feed's page) look in the cache.
    assert len(asked) <= 8 * 5 * 4
    store.close()


def test_damaged_kept_entries_are_rendered_again_not_trusted(tmp_path, caplog):
    store = SQLiteStore(tmp_path / "store.sqlite3", clock=utc_now)
    clock, created = START, []
    for n in range(6):
        clock = apply(store, ("create", -n, n % 4, ([CATEGORIES[n % 3]], [], AUTHORS[0]), [], False),
                      clock, created)
    build(store, SITE, tmp_path / "public", clock)
    (tmp_path / "public" / CACHE_NAME).write_bytes(b"not a database, " * 512)
    apply(store, ("edit", 1, 2, None, None), clock, created)
    report = build(store, SITE, tmp_path / "public", clock)
    assert not report.full and report.written
    assert f"{CACHE_NAME}: cannot open the kept entries" in caplog.text
    build(store, SITE, tmp_path / "full", clock, full=True)
    assert documents(tmp_path / "public") == documents(tmp_path / "full")
    store.close()


def test_a_full_build_starts_a_new_file_of_kept_entries(tmp_path):
    """Unlinked rather than emptied: DELETE of a large cache takes seconds and leaves its size."""
    import sqlite3

    def junk(cache: Path) -> None:   # an entry no article has, 4 MB of it, in the file itself
        db = sqlite3.connect(cache)
        db.execute("INSERT INTO fragments (id, format, updated, changed, image, body) "
                   "VALUES ('x', 'atom', 0, NULL, 0, ?)", (b"<entry/>" * 500_000,))
        db.commit()
        db.close()

    def has_junk(cache: Path) -> bool:
        db = sqlite3.connect(cache)
        try:
            return db.execute("SELECT count(*) FROM fragments WHERE id = 'x'").fetchone()[0] > 0
        finally:
            db.close()

    store = SQLiteStore(tmp_path / "store.sqlite3", clock=utc_now)
    clock, created = START, []
    for n in range(6):
        clock = apply(store, ("create", -n, n % 4, ([CATEGORIES[n % 3]], [], AUTHORS[0]), [], False), clock, created)
    public = tmp_path / "public"
    build(store, SITE, public, clock)
    cache = public / CACHE_NAME
    junk(cache)
    assert cache.stat().st_size > 4_000_000
    build(store, SITE, public, clock, full=True)
    assert cache.stat().st_size < 1_000_000 and not has_junk(cache)
    build(store, SITE, tmp_path / "fresh", clock, full=True)
    assert documents(public) == documents(tmp_path / "fresh")
    store.close()
