"""Two versions of a document never share a time, and a document's time never goes back.

A document's time is its ``updated``/``lastBuildDate``, the ``Last-Modified`` feedpub's
server sends, and the modification time of its files, from which nginx makes both its
``Last-Modified`` and its ``ETag`` (time and size). A client that sends only
``If-Modified-Since`` (or nginx's ``ETag`` of a document whose size did not change) sees a
new version only when its time moved on: so every change that alters a document's entries,
removals included (an entry unpublished, deleted, moved to another month or section),
gives it a later second, however many changes land in the same second. So do an archive
page's links to the pages before and after it (a month's pages came or went between them, a
newer page closed), and an article leaving a partner's feed (feeds/rendering/partners.py: an
edit out of its filter, a removal, a refusal).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from feedpub.settings import utc_now
from feeds.building.build import build
from feeds.publishing.publish import read_manifest
from feeds.serving.server import PublicFiles
from sources.store import SQLiteStore

from .test_archives import ARCHIVED_SITE, entry_ids, links, newsroom  # noqa: F401 (a fixture)
from .test_incremental import PAGES_SITE, START, apply, operations

# Archive pages and two partners' feeds (one filtered by category, one refusing some articles).
SITE = replace(ARCHIVED_SITE, partners=PAGES_SITE.partners)


def versions(folder: Path) -> dict[str, tuple[str, datetime]]:
    """Each document of the build -> (its digest, its time)."""
    return {path: (entry["sha256"], datetime.fromisoformat(entry["updated"]))
            for path, entry in read_manifest(folder).items()}


def assert_every_change_moved_the_time_on(before: dict, after: dict, step: int, done: list) -> None:
    for path in before.keys() & after.keys():
        (old_digest, old_time), (new_digest, new_time) = before[path], after[path]
        assert new_time >= old_time, f"after {done}: {path} went back from {old_time} to {new_time}"
        if new_digest != old_digest:
            assert int(new_time.timestamp()) > int(old_time.timestamp()), (
                f"after {done}: {path} changed but kept the second {old_time}")


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_each_new_version_of_a_document_has_a_later_second(ops):
    # Every operation at one clock reading but its waits: changes land in the same second.
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        store = SQLiteStore(root / "store.sqlite3", clock=utc_now)
        clock, created = START, []
        try:
            build(store, SITE, root / "public", clock)
            seen = versions(root / "public")
            for step, op in enumerate(ops):
                clock = apply(store, op, clock, created)
                build(store, SITE, root / "public", clock)
                now = versions(root / "public")
                # Against each document's last version, also when it was gone in between.
                assert_every_change_moved_the_time_on(seen, now, step, ops[:step + 1])
                seen.update(now)
        finally:
            store.close()


def month_pages(public: Path, month: str) -> list[str]:
    """The main feed's archive pages of ``month``, in order."""
    return sorted((str(path.relative_to(public)) for path in (public / "archive").glob(f"{month}-*.xml")),
                  key=lambda path: int(path.rpartition("-")[2].removesuffix(".xml")))


def answer_since(public: Path, path: str, since: datetime) -> int:
    """The status feedpub's server answers a client sending only ``If-Modified-Since``."""
    files = PublicFiles(public, max_age=60)
    sent = format_datetime(since.astimezone(timezone.utc), usegmt=True)
    status, _, _, _ = files.answer({"REQUEST_METHOD": "GET", "PATH_INFO": "/" + path, "HTTP_IF_MODIFIED_SINCE": sent})
    return int(str(status).split()[0])


def test_two_articles_stored_in_one_second_give_the_feed_two_seconds(tmp_path):
    store = SQLiteStore(tmp_path / "store.sqlite3", clock=utc_now)
    created: list[str] = []
    public = tmp_path / "public"
    try:
        apply(store, ("create", -1, 0, (["Politik"], [], None), [], False), START, created)
        build(store, ARCHIVED_SITE, public, START)
        first = versions(public)
        # Another article, and then an edit of the first, at the same clock reading.
        apply(store, ("create", -1, 1, (["Politik"], [], None), [], False), START, created)
        build(store, ARCHIVED_SITE, public, START)
        second = versions(public)
        apply(store, ("edit", 0, 2, None, None), START, created)
        build(store, ARCHIVED_SITE, public, START)
        third = versions(public)
        for path in ("atom.xml", "rss.xml", "feed.json", "category/politik/atom.xml"):
            times = [int(found[path][1].timestamp()) for found in (first, second, third)]
            assert times[0] < times[1] < times[2], (path, times)
            assert answer_since(public, path, second[path][1]) == 200
    finally:
        store.close()


def test_an_article_edited_out_of_a_partners_categories_moves_its_feed_on(tmp_path):
    # SmartNews takes Politik and Ekonomi: the newest article leaves by an edit into Olahraga, and
    # its feed goes back to the older article, whose dates are all earlier than the feed's time.
    store = SQLiteStore(tmp_path / "store.sqlite3", clock=utc_now)
    created: list[str] = []
    public = tmp_path / "public"
    try:
        for _ in range(2):
            apply(store, ("create", -1, 0, (["Politik"], [], None), [], False), START, created)
        build(store, SITE, public, START)
        path = next(path for path in read_manifest(public) if path.startswith("partners/sn/"))
        before = versions(public)[path]
        apply(store, ("edit", 1, None, None, (["Olahraga"], [], None)), START, created)
        build(store, SITE, public, START)
        after = versions(public)[path]
        assert after[0] != before[0], "the article did not leave the partner's feed"
        assert int(after[1].timestamp()) > int(before[1].timestamp())
        assert answer_since(public, path, before[1]) == 200
    finally:
        store.close()


def archived_month(public: Path) -> tuple[str, list[str]]:
    """The newest month with two archive pages, and its pages."""
    month = max(path.name[:7] for path in (public / "archive").glob("*.xml")
                if len(month_pages(public, path.name[:7])) >= 2)
    return month, month_pages(public, month)


def around(store: SQLiteStore, public: Path, change: Callable[[list[str]], object]) -> tuple[list[str], dict, dict]:
    """Build, make ``change`` to the pages of the newest month with two archive pages, build
    again: (those pages, the versions before, after), every changed document at a later second."""
    build(store, ARCHIVED_SITE, public, START)
    _, pages = archived_month(public)
    before = versions(public)
    change(pages)
    build(store, ARCHIVED_SITE, public, START)
    after = versions(public)
    assert_every_change_moved_the_time_on(before, after, 0, [change])
    return pages, before, after


def test_unpublishing_an_archived_article_moves_the_time_of_every_page_it_shifts(newsroom, tmp_path):
    store, _ = newsroom
    public = tmp_path / "public"
    # The month's oldest: every page of the month shifts.
    pages, before, after = around(store, public, lambda pages: store.unpublish(entry_ids(public / pages[0])[-1], START))
    for path in pages:
        assert after[path][1] > before[path][1], path
        assert answer_since(public, path, before[path][1]) == 200, path


def test_unpublishing_the_newest_article_of_a_month_moves_the_time_of_its_last_page(newsroom, tmp_path):
    store, _ = newsroom
    public = tmp_path / "public"
    pages, before, after = around(store, public, lambda pages: store.unpublish(entry_ids(public / pages[-1])[0], START))
    assert after[pages[-1]][1] > before[pages[-1]][1]
    assert answer_since(public, pages[-1], before[pages[-1]][1]) == 200


def test_a_page_that_gains_its_next_archive_link_gets_a_later_second(tmp_path):
    # Four articles a page: the fifth to eighth fill the open page, and the eighth closes it,
    # which links the first page to it. No entry of the first page changed.
    store = SQLiteStore(tmp_path / "store.sqlite3", clock=utc_now)
    created: list[str] = []
    public = tmp_path / "public"
    try:
        for n in range(7):
            apply(store, ("create", -1, 0, ([], [], None), [], False), START + timedelta(minutes=n), created)
        build(store, ARCHIVED_SITE, public, START)
        first = month_pages(public, "2024-09")
        before = versions(public)
        assert "next-archive" not in links(public / first[0])
        apply(store, ("create", -1, 0, ([], [], None), [], False), START + timedelta(minutes=7), created)
        build(store, ARCHIVED_SITE, public, START)
        after = versions(public)
        assert links(public / first[0])["next-archive"].endswith(month_pages(public, "2024-09")[1])
        assert int(after[first[0]][1].timestamp()) > int(before[first[0]][1].timestamp())
        assert answer_since(public, first[0], before[first[0]][1]) == 200
        assert_every_change_moved_the_time_on(before, after, 0, ["the eighth article"])
    finally:
        store.close()


def test_a_months_first_page_whose_prev_archive_link_moves_gets_a_later_second(newsroom, tmp_path):
    store, _ = newsroom
    public = tmp_path / "public"
    # The articles of the last page of the month before go, and with them that page: the next
    # month's first page now links the page before that one.
    build(store, ARCHIVED_SITE, public, START)
    month, pages = archived_month(public)
    older = max(path.name[:7] for path in (public / "archive").glob("*.xml") if path.name[:7] < month)
    shown = links(public / pages[0])["prev-archive"]
    before = versions(public)
    for article_id in entry_ids(public / month_pages(public, older)[-1]):
        store.unpublish(article_id, START)
    build(store, ARCHIVED_SITE, public, START)
    after = versions(public)
    assert links(public / pages[0])["prev-archive"] != shown
    assert int(after[pages[0]][1].timestamp()) > int(before[pages[0]][1].timestamp())
    assert_every_change_moved_the_time_on(before, after, 0, ["unpublished"])


def test_deleting_an_archived_article_moves_the_time_of_its_page(newsroom, tmp_path):
    store, _ = newsroom
    public = tmp_path / "public"
    # Its place stays: no page shifts.
    pages, before, after = around(store, public, lambda pages: store.delete(entry_ids(public / pages[0])[0], START))
    assert after[pages[0]][1] > before[pages[0]][1]
    assert answer_since(public, pages[0], before[pages[0]][1]) == 200
