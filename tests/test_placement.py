"""An article's placement: the rule of what is a place in a feed's history, said once in
Python (``Placement.is_place``) and once in SQL (the store's ``PLACE``), agrees on any
row, on either backend; and a placement an older feedpub logged without titles counts as
a changed link."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedpub.settings import utc_now
from feeds.building.build import build
from feeds.site import SiteSettings
from sources.model import Article, RelatedLink, SaveResult, Status
from sources.placement import UNKNOWN, Placement
from sources.store import SQLiteStore

JAKARTA = ZoneInfo("Asia/Jakarta")
START = datetime(2024, 9, 20, 12, 0, tzinfo=JAKARTA)
T0 = 1_726_800_000   # 2024-09-20 02:40 UTC: the rows' times are drawn around it
ROWS = 6             # articles; the even ones carry the tag "Banjir"

pytestmark = pytest.mark.both_stores


def article(n: int, title: str, *, tags: tuple[str, ...] = (), related: tuple[str, ...] = ()) -> Article:
    return Article(
        id=f"tag:okes.example,2024:a{n}", slug=f"berita-{n}", url=None, title=title, summary=f"Ringkasan {n}.",
        content_html=f"<p>Isi berita {n}.</p>", content_text=f"Isi berita {n}.", author=None, city="BATURAJA",
        publication="OKES.NEWS", published=START - timedelta(hours=n), updated=START - timedelta(hours=n),
        categories=(), tags=tags, language="id", related=tuple(RelatedLink(t) for t in related),
        status=Status.PUBLISHED, stored=START)


def put(store: SQLiteStore, value: Article, action: str) -> None:
    store.save(lambda existing: SaveResult(action, value), article_id=value.id, slug=value.slug)


row = st.tuples(
    st.sampled_from([status.value for status in Status]),
    st.integers(T0 - 5, T0 + 5),                       # published_ts: some still ahead of ``now``
    st.none() | st.integers(T0 - 5, T0 + 5),           # deleted_ts
)


def test_the_store_and_placement_agree_on_what_is_a_place(store):
    ids = []
    for n in range(ROWS):
        put(store, article(n, f"Berita {n}", tags=("Banjir",) if n % 2 == 0 else ()), "created")
        ids.append(f"tag:okes.example,2024:a{n}")
    tagged = set(ids[::2])

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(rows=st.lists(row, min_size=ROWS, max_size=ROWS), now_ts=st.integers(T0 - 6, T0 + 6),
           moment_ts=st.integers(T0 - 6, T0 + 6))
    def agree(rows, now_ts, moment_ts):
        with store._transaction(write=True) as cur:   # any row, whatever the store's own writes allow
            for id_, (status, published_ts, deleted_ts) in zip(ids, rows):
                cur.execute("UPDATE articles SET status = ?, published_ts = ?, deleted_ts = ? WHERE id = ?",
                            (status, published_ts, deleted_ts, id_))
        now = datetime.fromtimestamp(now_ts, timezone.utc)
        moment = datetime.fromtimestamp(moment_ts, timezone.utc)
        placements = store.placements(ids)
        for kind, name, members in ((None, None, set(ids)), ("tag", "Banjir", tagged)):
            expected = sorted((p.published_ts, id_) for id_, p in placements.items()
                              if id_ in members and p.is_place(now_ts))
            found = store.places(kind, name, now)
            assert [(ts, id_) for id_, ts, _ in found] == expected, (kind, rows, now_ts)
            assert all(visible == (placements[id_].status is Status.PUBLISHED) for id_, _, visible in found)
            times = [ts for ts, _ in expected]
            assert store.place_near(kind, name, now, moment, before=True) == max(
                (ts for ts in times if ts < moment_ts), default=None), (kind, rows, now_ts, moment_ts)
            assert store.place_near(kind, name, now, moment, before=False) == min(
                (ts for ts in times if ts >= moment_ts), default=None), (kind, rows, now_ts, moment_ts)

    agree()


def test_a_placement_logged_before_titles_were_recorded_shows_an_unknown_link():
    logged = Placement.from_json('{"status": "published", "published_ts": 100, "deleted_ts": null, '
                                 '"categories": ["Politik"], "tags": [], "author": null}')
    assert (logged.title, logged.slug, logged.url) == (UNKNOWN, UNKNOWN, UNKNOWN)
    assert logged.link_view(100) is UNKNOWN
    assert logged.link_view(99) is None          # still embargoed: a link shows nothing of it anyway
    assert logged.is_place(100) and not logged.is_place(99)
    known = replace(logged, title="Rapat Pilkada OKU", slug="rapat", url=None)
    assert known.link_view(100) == ("Rapat Pilkada OKU", "rapat", None, 100)   # the month may be in its address


SITE = SiteSettings(title="OKES.NEWS", description="Berita Ogan Komering Ulu", base_url="https://okes.example",
                    items_per_feed=3, archive_entries=2, catalogue=("tag",))


def _rendered_after_an_edit_of_the_link_target(root: Path, *, logged_without_titles: bool):
    """Build; edit the body of an article another links to; build again: its report."""
    store = SQLiteStore(root / "store.sqlite3", clock=utc_now)
    try:
        target = article(1, "Rapat Pilkada OKU")
        put(store, target, "created")
        put(store, article(2, "Banjir Baturaja", tags=("Banjir",), related=("Rapat Pilkada OKU",)), "created")
        build(store, SITE, root / "public", START)
        edited = store.get(target.id)
        put(store, replace(edited, content_html="<p>Ralat.</p>", content_text="Ralat.",
                           related=tuple(link for link in edited.related if not link.suggested)), "updated")
        if logged_without_titles:   # as migration 5 logged placements at first
            db = sqlite3.connect(store.path, isolation_level=None, timeout=10)
            db.execute("UPDATE changes SET before = json_remove(before, '$.title', '$.slug', '$.url') "
                       "WHERE before IS NOT NULL")
            db.close()
        return build(store, SITE, root / "public", START + timedelta(minutes=1))
    finally:
        store.close()


def test_a_link_target_logged_without_titles_is_built_in_full(tmp_path):
    # Only the article that links to the edited one is in the tag's feed: an edit of the
    # target's body leaves that feed alone when the log says what a link to it showed.
    known = _rendered_after_an_edit_of_the_link_target(tmp_path / "known", logged_without_titles=False)
    assert not known.full, known.why_full
    assert not any(path.startswith("tag/") for path in known.written), sorted(known.written)
    # A log that does not say what a link showed, nor where the article's page was, cannot
    # tell what to render again: everything is.
    legacy = _rendered_after_an_edit_of_the_link_target(tmp_path / "legacy", logged_without_titles=True)
    assert legacy.full and legacy.why_full == "the change log predates article pages"
    assert any(path.startswith("tag/") for path in set(legacy.written) | set(legacy.unchanged))
