"""Related links: resolved by normalised title (current, then former headlines), cut-short markers,
pending until the target arrives, then bound to it: headline corrections and later namesakes never move them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .conftest import INGEST_TIME, SAMPLE, latest_published, write_article

BHABIN = "Bhabinkamtibmas Dituntut Mampu Ciptakan Situasi Aman dan Kondusif Selama Pemilukada"
AHY_FULL = "AHY Tekankan Keadilan dalam Pengadaan Tanah: Hak Warga Harus Dihormati"

pytestmark = pytest.mark.both_stores


def article(tmp_path, slug, title, body="Isi berita.", extra=""):
    return write_article(tmp_path, f"{slug}.txt", f"---\ntitle: \"{title}\"\n{extra}---\n{body}")


def links_of(store, now=INGEST_TIME + timedelta(hours=1)):
    sample = [a for a in latest_published(store, now, 50) if a.slug.startswith("okes-")][0]
    return {link.title: link for link in sample.related}


def test_markers_stay_pending_until_their_targets_arrive(tmp_path, store, ingest):
    ingest(SAMPLE)
    assert all(link.target is None and link.target_id is None for link in links_of(store).values())
    ingest(article(tmp_path, "bhabin", BHABIN.upper() + "!"))   # case and punctuation are ignored
    links = links_of(store)
    assert links[BHABIN].target.slug == "bhabin"
    assert links[BHABIN].display_title == BHABIN   # the editor's words, not the target's headline
    assert links["AHY Tekankan Keadilan dalam Pengadaan Tanah"].target is None


def test_a_cut_short_marker_matches_the_one_title_it_begins(tmp_path, store, ingest):
    ingest(article(tmp_path, "ahy", AHY_FULL))
    ingest(SAMPLE)
    link = links_of(store)["AHY Tekankan Keadilan dalam Pengadaan Tanah"]
    assert link.target.slug == "ahy" and link.display_title == "AHY Tekankan Keadilan dalam Pengadaan Tanah"


def test_an_ambiguous_cut_short_marker_stays_pending(tmp_path, store, ingest):
    ingest(article(tmp_path, "ahy-1", AHY_FULL))
    ingest(article(tmp_path, "ahy-2", "AHY Tekankan Keadilan dalam Pengadaan Tanah untuk Petani"))
    ingest(SAMPLE)
    assert links_of(store)["AHY Tekankan Keadilan dalam Pengadaan Tanah"].target_id is None


def test_an_exact_title_wins_over_longer_ones(tmp_path, store, ingest):
    ingest(article(tmp_path, "ahy-1", AHY_FULL))
    ingest(article(tmp_path, "ahy-exact", "AHY tekankan keadilan dalam pengadaan tanah"))
    ingest(SAMPLE)
    assert links_of(store)["AHY Tekankan Keadilan dalam Pengadaan Tanah"].target.slug == "ahy-exact"


def test_a_link_to_an_embargoed_article_is_not_shown_before_its_release(tmp_path, store, ingest):
    release = INGEST_TIME + timedelta(days=1)
    ingest(article(tmp_path, "bhabin", BHABIN, extra=f"published: {release.isoformat()}\n"))
    ingest(SAMPLE)
    before = links_of(store, now=release - timedelta(seconds=1))[BHABIN]
    assert before.target_id is not None and before.target is None
    assert links_of(store, now=release)[BHABIN].target.slug == "bhabin"


def test_a_retitled_target_keeps_the_link(tmp_path, store, ingest):
    path = article(tmp_path, "bhabin", BHABIN)
    ingest(path)
    ingest(SAMPLE)
    assert links_of(store)[BHABIN].target is not None
    path.write_text('---\ntitle: "Judul yang sama sekali lain"\n---\nIsi berita.', encoding="utf-8")
    ingest(path, now=INGEST_TIME + timedelta(minutes=5))
    link = links_of(store)[BHABIN]
    assert link.target.slug == "bhabin" and link.display_title == BHABIN


def test_an_article_never_links_to_itself(tmp_path, store, ingest):
    ingest(write_article(tmp_path, "self.txt", '---\ntitle: "Diri Sendiri"\n---\nIsi.\nBACA JUGA: Diri Sendiri'))
    only = latest_published(store, INGEST_TIME, 1)[0]
    assert only.related[0].target_id is None


def test_a_resolved_link_stays_bound_when_a_namesake_arrives_later(tmp_path, ingest, ingest_settings):
    from feedpub.settings import utc_now
    from sources.ingest import ingest_paths
    from sources.store import SQLiteStore

    first = article(tmp_path, "ahy-1", AHY_FULL)
    second = article(tmp_path, "ahy-2", "AHY Tekankan Keadilan dalam Pengadaan Tanah untuk Petani")
    outcomes = []
    for order in ([first, second, SAMPLE], [first, SAMPLE, second], [SAMPLE, second, first], [SAMPLE, first, second]):
        store = SQLiteStore(tmp_path / f"order-{len(outcomes)}.sqlite3", clock=utc_now)
        for path in order:
            ingest_paths(store, [path], settings=ingest_settings, now=lambda: INGEST_TIME, report=lambda _: None)
        outcomes.append(links_of(store)["AHY Tekankan Keadilan dalam Pengadaan Tanah"].target_id)
        store.close()
    # Pending while ambiguous; once it resolved, the second candidate does not undo it.
    ahy_1, ahy_2 = "tag:okes.example,2024-09-18:ahy-1", "tag:okes.example,2024-09-18:ahy-2"
    assert outcomes == [None, ahy_1, ahy_2, ahy_1]


def test_retitling_one_of_two_candidates_resolves_the_link_to_the_other(tmp_path, store, ingest):
    ingest(article(tmp_path, "ahy-1", AHY_FULL))
    second = article(tmp_path, "ahy-2", "AHY Tekankan Keadilan dalam Pengadaan Tanah untuk Petani")
    ingest(second)
    ingest(SAMPLE)
    assert links_of(store)["AHY Tekankan Keadilan dalam Pengadaan Tanah"].target_id is None
    second.write_text('---\ntitle: "Petani Menanti Kepastian Lahan"\n---\nIsi berita.', encoding="utf-8")
    ingest(second, now=INGEST_TIME + timedelta(minutes=1))
    assert links_of(store)["AHY Tekankan Keadilan dalam Pengadaan Tanah"].target.slug == "ahy-1"


def test_a_deleted_target_shows_the_link_as_text(tmp_path, store, ingest):
    ingest(article(tmp_path, "bhabin", BHABIN))
    ingest(SAMPLE)
    assert links_of(store)[BHABIN].target is not None
    store.delete("bhabin", INGEST_TIME + timedelta(minutes=1))
    ingest(article(tmp_path, "bhabin-2", BHABIN))   # a namesake does not take the link over
    link = links_of(store)[BHABIN]
    assert link.target is None and link.target_id == "tag:okes.example,2024-09-18:bhabin"
