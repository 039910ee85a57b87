"""Every role of the store behaves the same on SQLite and on PostgreSQL: the same answers in
the same order, the same change log, whole writes or none. Each test runs on both
backends (the ``store`` fixture, tests/conftest.py); a difference between them fails one."""

from __future__ import annotations

import pickle
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from sources.errors import StoreError
from sources.model import Article, Image, RelatedLink, SaveResult, SourceState, Status
from sources.placement import Placement

pytestmark = pytest.mark.both_stores

T0 = datetime(2024, 9, 20, 12, 0, tzinfo=timezone.utc)


def article(slug: str, title: str, *, at: datetime = T0, id_: str | None = None, tags: tuple[str, ...] = (),
            categories: tuple[str, ...] = (), author: str | None = None, related: tuple[str, ...] = (),
            url: str | None = None, image: Image | None = None, status: Status = Status.PUBLISHED) -> Article:
    return Article(
        id=id_ or f"tag:okes.example,2024:{slug}", slug=slug, url=url, title=title, summary=f"Ringkasan {title}.",
        content_html=f"<p>{title}.</p>", content_text=f"{title}.", author=author, city="BATURAJA",
        publication="OKES.NEWS", published=at, updated=at, categories=categories, tags=tags, language="id",
        image=image, related=tuple(RelatedLink(t) for t in related), status=status, stored=at)


def put(store, value: Article, action: str = "created") -> SaveResult:
    return store.save(lambda existing: SaveResult(action, value), article_id=value.id, slug=value.slug)


def edit(store, value: Article) -> SaveResult:
    return put(store, value, "updated")


def test_ties_and_names_are_ordered_by_code_point(store):
    # One publication time for all: the id breaks the tie, byte by byte as SQLite compares
    # (a database's own collation would put "a" before "B", "Z" before "é", or ignore "-").
    ids = ["tag:x,2024:B", "tag:x,2024:a", "tag:x,2024:a-b", "tag:x,2024:ab", "tag:x,2024:é", "tag:x,2024:Z"]
    for n, id_ in enumerate(ids):
        put(store, article(f"s{n}", f"Judul {n}", id_=id_, tags=(["Ékonomi", "banjir", "Banjir", "Zebra"][n % 4],)))
    # The newest entries are the places' order backwards: of one second, the last id first.
    assert store.latest_ids(None, None, T0, 10) == sorted(ids, reverse=True)
    assert [a.id for a in store.page(10)] == sorted(ids)
    assert [id_ for id_, _, _ in store.places(None, None, T0)] == sorted(ids)
    assert store.terms("tag", T0) == ["Banjir", "Zebra", "banjir", "Ékonomi"]


def test_newest_first_then_feeds_of_a_term(store):
    for n in range(5):
        put(store, article(f"b{n}", f"Berita {n}", at=T0 + timedelta(minutes=n), tags=("Banjir",) if n % 2 else ()))
    assert store.latest_ids(None, None, T0 + timedelta(hours=1), 3) == [f"tag:okes.example,2024:b{n}" for n in (4, 3, 2)]
    assert store.latest_ids("tag", "Banjir", T0 + timedelta(hours=1), 5) == [
        "tag:okes.example,2024:b3", "tag:okes.example,2024:b1"]
    # Not yet visible at T0 + 2 min: b3 and b4.
    assert store.latest_ids(None, None, T0 + timedelta(minutes=2), 10) == [
        f"tag:okes.example,2024:b{n}" for n in (2, 1, 0)]
    assert store.has_term("tag", "Banjir", T0 + timedelta(minutes=1))
    assert not store.has_term("tag", "Banjir", T0)
    assert store.place_near(None, None, T0 + timedelta(hours=1), T0 + timedelta(minutes=2), before=True) == int(
        (T0 + timedelta(minutes=1)).timestamp())
    assert sorted(store.released_between(T0 + timedelta(minutes=2), T0 + timedelta(minutes=4))) == [
        "tag:okes.example,2024:b3", "tag:okes.example,2024:b4"]
    assert [a.slug for a in store.upcoming(T0 + timedelta(minutes=2))] == ["b3", "b4"]



@pytest.mark.parametrize("chunk", [200, 2])
def test_questions_asked_of_many_feeds_at_once_get_each_feeds_own_answer(store, chunk, monkeypatch):
    # A build asks these of every touched feed in one statement (of at most EACH_CHUNK questions:
    # 2 makes several statements, the last of a question alone); each feed's answer must be the
    # one its own question gets, in its own order, ties broken by id.
    monkeypatch.setattr("sources.store.sql.EACH_CHUNK", chunk)
    for n in range(12):
        put(store, article(f"m{n}", f"Berita {n}", at=T0 + timedelta(days=n * 9, minutes=-(n % 3)),
                           tags=("Banjir",) if n % 2 else ("Banjir", "Cabai"), categories=("Politik",) if n % 3 else (),
                           author="Siti" if n % 4 else None, id_=f"tag:x,2024:{'m' if n % 5 else 'M'}{n}"))
    now = T0 + timedelta(days=70)
    store.delete("m4", now - timedelta(days=1))
    store.delete("m5", now - timedelta(hours=1))
    store.unpublish("m6", now - timedelta(hours=2))
    feeds = [(None, None), ("tag", "Banjir"), ("tag", "Cabai"), ("category", "Politik"), ("author", "Siti"),
             ("tag", "Tidak Ada")]
    assert store.latest_ids_each(feeds, now, 3) == [store.latest_ids(kind, name, now, 3) for kind, name in feeds]
    assert store.latest_ids_each(feeds, now, 3)[1] != []
    spans = [(kind, name, start, end) for kind, name in feeds
             for start, end in ((None, None), (T0 + timedelta(days=20), T0 + timedelta(days=50)))]
    assert store.places_each(spans, now) == [store.places(kind, name, now, start, end)
                                             for kind, name, start, end in spans]
    moments = [(kind, name, moment, before) for kind, name in feeds for before in (True, False)
               for moment in (T0 - timedelta(days=1), T0 + timedelta(days=30), now + timedelta(seconds=1))]
    assert store.place_near_each(moments, now) == [store.place_near(kind, name, now, moment, before=before)
                                                   for kind, name, moment, before in moments]
    terms = [feed for feed in feeds if feed[0]]
    assert store.published_terms(terms, now) == {term for term in terms if store.has_term(*term, now)} == {
        ("tag", "Banjir"), ("tag", "Cabai"), ("category", "Politik"), ("author", "Siti")}
    by_feed = store.deleted_by_feed(T0, now)
    assert {feed: [t.id for t in found] for feed, found in by_feed.items()} == {
        feed: [t.id for t in store.deleted_since(T0, now, *feed)] for feed in feeds
        if store.deleted_since(T0, now, *feed)}
    assert [t.id for t in by_feed[None, None]] == ["tag:x,2024:M5", "tag:x,2024:m4"]
    assert store.feeds_changed() == {feed: store.feed_changed(*feed) for feed in feeds if store.feed_changed(*feed)}
    # The last removal (m6 unpublished) at the second the store's clock gave it: after the newest
    # article stored (m11, days ahead of these clock readings), not at its own reading.
    assert store.feeds_changed()[None, None] == store.get("tag:x,2024:m6").stored > now

def test_links_resolve_by_title_and_prefix_and_stay_bound(store):
    put(store, article("holder", "Rapat Pleno KPU", related=("Banjir Baturaja", "AHY Tekankan")))
    holder = "tag:okes.example,2024:holder"
    assert [link.target_id for link in store.get(holder).related] == [None, None]
    put(store, article("banjir", "Banjir Baturaja"))
    put(store, article("ahy", "AHY Tekankan Keadilan"))
    links = store.articles([holder], T0)[0].related
    assert [(link.target_id, link.target.slug) for link in links] == [
        ("tag:okes.example,2024:banjir", "banjir"), ("tag:okes.example,2024:ahy", "ahy")]
    assert store.linking_to(["tag:okes.example,2024:banjir"]) == {holder}
    put(store, article("ahy-2", "AHY Tekankan Keadilan Lagi"))   # a second title beginning with it: bound still
    assert store.get(holder).related[1].target_id == "tag:okes.example,2024:ahy"
    put(store, article("pending", "Rapat Lain", related=("AHY Tekankan",)))   # two titles begin with it: none wins
    assert store.get("tag:okes.example,2024:pending").related[0].target_id is None
    store.delete("banjir", T0)   # bound still, shown as text
    assert store.get(holder).related[0].target_id == "tag:okes.example,2024:banjir"
    assert store.articles([holder], T0)[0].related[0].target is None


def test_the_change_log_keeps_each_articles_placement_before_the_change(store):
    first = put(store, article("a", "Rapat Pleno", tags=("Pilkada",))).article
    start = store.revision()
    assert start == 1
    edit(store, replace(first, title="Rapat Pleno KPU", tags=("KPU",)))
    put(store, article("b", "Banjir Baturaja"))
    changes = store.changes_since(start)
    assert set(changes) == {first.id, "tag:okes.example,2024:b"}
    before = changes[first.id]
    assert isinstance(before, Placement) and before.tags == ("Pilkada",) and before.title == "Rapat Pleno"
    assert changes["tag:okes.example,2024:b"] is None   # new
    assert store.placements([first.id])[first.id].tags == ("KPU",)
    assert store.changes_since(store.revision()) == {}
    store.forget_changes(store.revision())
    assert store.changes_since(start) is None           # trimmed past it: a full build follows
    assert store.changes_since(store.revision()) == {}


def test_revisions_and_tombstones(store):
    first = put(store, article("a", "Rapat Pleno")).article
    edit(store, replace(first, title="Rapat Pleno KPU", stored=T0 + timedelta(minutes=5)))
    store.unpublish("a", T0 + timedelta(minutes=6))
    put(store, replace(first, title="Rapat Pleno KPU", stored=T0 + timedelta(minutes=7)), "updated")
    store.delete("a", T0 + timedelta(minutes=8))
    history = store.history("a")
    assert [(r.number, r.article.status, r.changed) for r in history] == [
        (1, Status.PUBLISHED, ("created",)), (2, Status.PUBLISHED, ("title",)), (3, Status.DRAFT, ("status",)),
        (4, Status.PUBLISHED, ("status",)), (5, Status.DELETED, ("status",))]
    (tombstone,) = store.deleted_since(T0, T0 + timedelta(hours=1))
    assert (tombstone.id, tombstone.deleted) == (first.id, T0 + timedelta(minutes=8))
    assert store.count() == 1 and store.page(10) == []


def test_a_write_that_fails_halfway_leaves_nothing(store):
    put(store, article("a", "Rapat Pleno"))
    revision = store.revision()

    def half_then_fail(existing):
        raise RuntimeError("the writer died halfway")

    with pytest.raises(RuntimeError):
        store.save(half_then_fail, article_id=None, slug="b")
    taken = article("b", "Banjir", id_="tag:okes.example,2024:a")   # the id of another article
    with pytest.raises(StoreError, match="that id already belongs to another article"):
        store.save(lambda existing: SaveResult("created", taken), article_id=None, slug="b")
    clash = article("a", "Banjir", id_="tag:okes.example,2024:other")   # the slug of another article
    with pytest.raises(StoreError, match="slug 'a' already belongs to article tag:okes.example,2024:a"):
        store.save(lambda existing: SaveResult("created", clash), article_id=clash.id, slug=clash.slug)
    assert store.revision() == revision and store.count() == 1
    assert [r.number for r in store.history("a")] == [1]


def test_source_states_and_partner_articles(store):
    assert store.source_state("https://mitra.example/feed.xml") is None
    state = SourceState("https://mitra.example/feed.xml", etag='"v1"', last_modified="Fri, 20 Sep 2024 12:00:00 GMT",
                        last_poll=T0, last_status="200", failures=0, next_poll=None)
    store.save_source_state(state)
    assert store.source_state(state.url) == state
    failed = replace(state, last_status="503", last_error="Service Unavailable", failures=2,
                     next_poll=T0 + timedelta(minutes=4))
    store.save_source_state(failed)
    assert store.source_state(state.url) == failed
    assert store.revision() == 0   # not an article change
    partner = replace(article("mitra-1", "Dari Mitra", url="https://mitra.example/1"),
                      upstream_id="1", via_url=state.url, via_name="Mitra")
    put(store, partner)
    assert store.find_upstream(state.url, "1").id == partner.id
    assert store.find_by_url("https://mitra.example/1").id == partner.id


def test_the_image_queue(store):
    for slug, url in (("b", "https://img.example/b.jpg"), ("a", "https://img.example/a.jpg"),
                      ("c", "https://img.example/a.jpg")):
        put(store, article(slug, f"Judul {slug}", image=Image(url)))
    assert store.unmeasured_images(10) == ["https://img.example/a.jpg", "https://img.example/b.jpg"]
    revision = store.revision()
    measured = Image("https://img.example/a.jpg", "image/jpeg", 1234, 1200, 675)
    assert store.record_image(measured) == 2
    assert store.revision() == revision + 1   # enclosures appear: a build must follow
    assert store.unmeasured_images(10) == ["https://img.example/b.jpg"]
    assert store.find_image("https://img.example/a.jpg") == measured
    assert store.record_image(measured) == 0
    # A header that gives no size is stored as 0 x 0: measured, never asked again.
    assert store.record_image(Image("https://img.example/b.jpg", "image/x-icon", 99)) == 1
    assert store.unmeasured_images(10) == []
    assert store.find_image("https://img.example/b.jpg") == Image("https://img.example/b.jpg", "image/x-icon", 99, 0, 0)


def test_the_opener_pickles_and_opens_the_same_store(store):
    put(store, article("a", "Rapat Pleno"))
    again = pickle.loads(pickle.dumps(store.opener()))()
    try:
        assert again.revision() == store.revision() and again.latest_ids(None, None, T0, 5) == [
            "tag:okes.example,2024:a"]
    finally:
        again.close()


def test_exclusive_holds_a_named_lock(store):
    opened = store.opener()()
    try:
        with store.exclusive("sample"):
            with opened.exclusive("another"):   # other names do not wait
                pass
        with opened.exclusive("sample"):        # released when the block ended
            pass
    finally:
        opened.close()


def test_instances_beat_and_the_silent_ones_are_not_waited_for(store):
    store.beat("a", 3, T0)
    store.beat("b", 2, T0 + timedelta(seconds=1))
    store.beat("a", 4, T0 + timedelta(seconds=2))   # the same instance again: one row, the latest
    assert store.built_by_live(T0) == {"a": 4, "b": 2}
    assert store.built_by_live(T0 + timedelta(seconds=2)) == {"a": 4}
    assert store.silent_since(T0 + timedelta(seconds=2)) == ["b"]
    store.leave("b")
    assert store.built_by_live(T0) == {"a": 4} and store.silent_since(T0 + timedelta(hours=1)) == ["a"]
    assert store.revision() == 0   # beats change no document


def test_a_recorded_release_moves_the_revision_alone(store):
    put(store, article("a", "Rapat Pleno"))
    before = store.revision()
    assert store.record_release() == before + 1 == store.revision()
    assert store.changes_since(before + 1) == {}
