"""Revisions: every stored version of an article is kept, and `feedpub history` shows them."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from datetime import timedelta, timezone

import pytest

from sources.errors import StoreError
from sources.model import Article, Image, LinkTarget, RelatedLink, Status
from sources.revisions import build_history, changes, dumps, from_snapshot, snapshot

from .conftest import INGEST_TIME, store_dump, write_article

pytestmark = pytest.mark.both_stores

T0 = INGEST_TIME                      # 2024-09-18 14:30 WIB
T1 = INGEST_TIME + timedelta(hours=1)
T2 = INGEST_TIME + timedelta(hours=2)
T3 = INGEST_TIME + timedelta(hours=3)

LEAD = "BATURAJA - OKES.NEWS - Pemkab OKU menggelar rapat koordinasi kesiapan Pilkada 2024."


def story(title: str, second: str = "Rapat berlangsung di ruang Abdi Praja.") -> str:
    return f"---\ntitle: {title}\nauthor: Rahmad Hidayat\n---\n{LEAD}\n{second}\n"


@pytest.fixture
def edited_then_deleted(tmp_path, store, ingest):
    """Created at T0, retitled at T1, a paragraph rewritten at T2, deleted at T3."""
    path = write_article(tmp_path / "in", "rakor.txt", story("Rakor Pilkada"))
    assert ingest(path, now=T0).created == 1
    path.write_text(story("Rakor Kesiapan Pilkada OKU"), encoding="utf-8")
    assert ingest(path, now=T1).updated == 1
    path.write_text(story("Rakor Kesiapan Pilkada OKU", "Rapat berlangsung di Baturaja."), encoding="utf-8")
    assert ingest(path, now=T2).updated == 1
    # The delete's clock in UTC: the store keeps the instant, the CLI shows the site's zone.
    store.delete("rakor", T3.astimezone(timezone.utc))
    return path


# --- the store -----------------------------------------------------------------------------


def test_every_version_is_kept_with_its_time_and_what_changed(store, edited_then_deleted):
    history = store.history("rakor")
    assert [r.number for r in history] == [1, 2, 3, 4]
    assert [r.stored for r in history] == [T0, T1, T2, T3]
    assert [r.changed for r in history] == [
        ("created",),
        ("title", "content_text", "updated"),
        ("content_html", "content_text", "updated"),
        ("status",),
    ]
    assert [r.article.title for r in history] == ["Rakor Pilkada"] + ["Rakor Kesiapan Pilkada OKU"] * 3
    assert [r.article.status for r in history] == [Status.PUBLISHED] * 3 + [Status.DELETED]
    assert [r.article.updated for r in history] == [T0, T1, T2, T2]
    assert "Abdi Praja" in history[1].article.content_html and "Baturaja." in history[2].article.content_html
    assert all(r.article.stored == r.stored for r in history)
    # The last version is what the store holds now.
    current = store.get(history[0].article.id)
    assert not changes(history[-1].article, current) and current.stored == T3
    # By id as by slug.
    assert store.history(current.id) == history


def test_an_unpublished_article_brought_back_by_ingest_has_both_versions(tmp_path, store, ingest):
    path = write_article(tmp_path, "rakor.txt", story("Rakor Pilkada"))
    ingest(path, now=T0)
    store.unpublish("rakor", T1)
    ingest(path, now=T2)
    history = store.history("rakor")
    assert [(r.number, r.stored, r.article.status, r.changed) for r in history] == [
        (1, T0, Status.PUBLISHED, ("created",)),
        (2, T1, Status.DRAFT, ("status",)),
        (3, T2, Status.PUBLISHED, ("updated", "status")),
    ]


def test_an_unchanged_reingest_or_repeated_delete_adds_no_revision(tmp_path, store, ingest):
    path = write_article(tmp_path, "rakor.txt", story("Rakor Pilkada"))
    ingest(path, now=T0)
    summary = ingest(path, now=T1)
    assert summary.unchanged == 1
    assert [r.number for r in store.history("rakor")] == [1]
    store.delete("rakor", T2)
    store.delete("rakor", T3)   # already deleted: nothing is written
    assert [(r.number, r.stored) for r in store.history("rakor")] == [(1, T0), (2, T2)]


def test_a_write_refused_for_a_slug_conflict_adds_no_revision(tmp_path, store, ingest):
    write_article(tmp_path, "rakor.txt", story("Rakor Pilkada"))
    ingest(tmp_path / "rakor.txt", now=T0)
    before = store_dump(store)
    # Another story that claims the same slug under its own id: the INSERT fails.
    other = write_article(tmp_path / "other", "lain.txt",
                          "---\nid: tag:okes.example,2024-09-18:lain\nslug: rakor\n---\n" + LEAD + "\n")
    summary = ingest(other, now=T1)
    assert summary.failed == 1 and "already belongs to article" in ingest.messages[-1]
    assert store_dump(store) == before
    assert [r.number for r in store.history("rakor")] == [1]


def test_a_failure_after_the_revision_is_written_rolls_it_back(tmp_path, store, ingest, monkeypatch):
    path = write_article(tmp_path, "rakor.txt", story("Rakor Pilkada"))
    ingest(path, now=T0)
    before = store_dump(store)
    add_revision = store._add_revision

    def add_then_fail(cur, previous, current):
        add_revision(cur, previous, current)
        assert cur.execute("SELECT count(*) FROM revisions").fetchone()[0] == 2   # it was written...
        raise store.ERRORS[0]("disk I/O error")                                  # ...then the write fails

    monkeypatch.setattr(store, "_add_revision", add_then_fail)
    path.write_text(story("Rakor Kesiapan Pilkada OKU"), encoding="utf-8")
    assert ingest(path, now=T1).failed == 1
    with pytest.raises(StoreError, match="rolled back"):
        store.delete("rakor", T2)
    assert store_dump(store) == before
    monkeypatch.undo()
    assert [(r.number, r.article.title, r.article.status) for r in store.history("rakor")] == [
        (1, "Rakor Pilkada", Status.PUBLISHED)]


def test_an_article_stored_before_revisions_were_kept_loses_no_version(tmp_path, store, ingest):
    path = write_article(tmp_path, "rakor.txt", story("Rakor Pilkada"))
    ingest(path, now=T0)
    with store._connection() as cur:   # as a store written by an older feedpub: the article, no revisions
        cur.execute("DELETE FROM revisions")
    only = store.history("rakor")
    assert [(r.number, r.stored, r.article.title, r.changed) for r in only] == [(1, T0, "Rakor Pilkada", ("created",))]
    path.write_text(story("Rakor Kesiapan Pilkada OKU"), encoding="utf-8")
    ingest(path, now=T1)
    history = store.history("rakor")
    assert [(r.number, r.stored, r.article.title, r.changed) for r in history] == [
        (1, T0, "Rakor Pilkada", ("created",)),
        (2, T1, "Rakor Kesiapan Pilkada OKU", ("title", "content_text", "updated")),
    ]


def test_an_unknown_key_is_named(store):
    with pytest.raises(StoreError, match="no article has the id or slug 'tidak-ada'"):
        store.history("tidak-ada")


# --- snapshots (pure) ------------------------------------------------------------------------


def full_article() -> Article:
    return Article(
        id="tag:okes.example,2024-09-18:rakor", slug="rakor", url="https://okes.example/rakor",
        title="Rakor", summary="Ringkas", content_html="<p>Isi</p>", content_text="Isi", author="Rahmad",
        city="BATURAJA", publication="OKES.NEWS", published=T0, updated=T1, categories=("Politik",),
        tags=("Pilkada 2024", "OKU"), language="id", image=Image("https://okes.example/a.jpg", "image/jpeg", 1234),
        related=(RelatedLink("Bhabinkamtibmas", "tag:x,2024:b", LinkTarget("tag:x,2024:b", "b", None, "Bhabin")),),
        status=Status.DRAFT, source="/in/rakor.txt", stored=T2,
    )


def test_a_snapshot_keeps_every_field_and_where_links_lead_but_not_the_stored_time():
    article = full_article()
    data = json.loads(dumps(article))
    assert list(data) == [f.name for f in fields(Article) if f.name != "stored"]
    assert data["published"] == "2024-09-18T14:30:00+07:00"
    assert data["related"] == [{"title": "Bhabinkamtibmas", "target": "tag:x,2024:b"}]
    assert data["image"] == {"url": "https://okes.example/a.jpg", "media_type": "image/jpeg", "length": 1234}
    assert data["status"] == "draft" and data["tags"] == ["Pilkada 2024", "OKU"]
    back = from_snapshot(data, T3)
    assert back == replace(article, related=(RelatedLink("Bhabinkamtibmas", "tag:x,2024:b"),), stored=T3)
    assert from_snapshot(dumps(article), T3) == back


def test_an_old_snapshot_without_a_newer_field_loads_with_its_default():
    data = snapshot(full_article())
    del data["language"], data["source"], data["author"]
    article = from_snapshot(data, T3)
    assert (article.language, article.source, article.author) == ("id", None, None)


def test_changes_name_what_a_reader_could_see_differ():
    a = full_article()
    assert changes(a, a) == []
    assert changes(a, replace(a, stored=T3)) == []                       # bookkeeping
    # Whether its target is visible at some moment is not part of a version; where it leads is.
    assert changes(a, replace(a, related=(RelatedLink("Bhabinkamtibmas", "tag:x,2024:b"),))) == []
    assert changes(a, replace(a, related=(RelatedLink("Bhabinkamtibmas"),))) == ["related"]   # pending again
    assert changes(a, replace(a, published=T0.astimezone(timezone.utc))) == []       # same instant
    assert changes(a, replace(a, title="Lain", tags=("OKU",), image=None)) == ["title", "tags", "image"]
    assert changes(a, replace(a, related=(RelatedLink("Lain"),))) == ["related"]


@pytest.mark.skipif(not hasattr(RelatedLink, "suggested"), reason="suggested links not in the model")
def test_links_the_store_suggested_are_part_of_a_version():
    a = replace(full_article(), related=())
    suggested = replace(a, related=(RelatedLink("Lain", "tag:x,2024:l", suggested=True),))
    assert changes(a, suggested) == ["related"]
    assert snapshot(suggested)["related"] == [{"title": "Lain", "target": "tag:x,2024:l", "suggested": True}]
    assert from_snapshot(snapshot(suggested), T3).related == suggested.related


def test_a_snapshot_from_before_links_were_bound_holds_titles():
    data = snapshot(full_article())
    data["related"] = ["Bhabinkamtibmas"]
    assert from_snapshot(data, T3).related == (RelatedLink("Bhabinkamtibmas"),)


def test_build_history_orders_by_number_and_compares_neighbours():
    a = full_article()
    rows = [(2, T1.isoformat(), dumps(replace(a, title="Baru"))), (1, T0.isoformat(), dumps(a)),
            (3, T2.isoformat(), dumps(replace(a, title="Baru", status=Status.DELETED)))]
    history = build_history(rows)
    assert [(r.number, r.stored, r.changed) for r in history] == [
        (1, T0, ("created",)), (2, T1, ("title",)), (3, T2, ("status",))]


# --- the command -----------------------------------------------------------------------------


def test_history_command_prints_one_line_per_version_in_the_site_zone(capsys, cli_store, edited_then_deleted):
    from feedpub.cli import main

    assert main(["history", "rakor"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "tag:okes.example,2024-09-18:rakor (rakor): 4 versions, oldest first",
        "  1  2024-09-18 14:30:00 WIB  published  Rakor Pilkada               created",
        "  2  2024-09-18 15:30:00 WIB  published  Rakor Kesiapan Pilkada OKU  changed: title, content_text, updated",
        "  3  2024-09-18 16:30:00 WIB  published  Rakor Kesiapan Pilkada OKU  "
        "changed: content_html, content_text, updated",
        "  4  2024-09-18 17:30:00 WIB  deleted    Rakor Kesiapan Pilkada OKU  changed: status",
    ]
    cli_store.write_text('[site]\nbase_url = "https://okes.example"\ntimezone = "UTC"\n', encoding="utf-8")
    assert main(["history", "tag:okes.example,2024-09-18:rakor"]) == 0
    assert "  4  2024-09-18 10:30:00 UTC  deleted " in capsys.readouterr().out


def test_history_command_json_gives_every_version_in_full(capsys, cli_store, edited_then_deleted):
    from feedpub.cli import main

    assert main(["history", "rakor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["id"], report["slug"]) == ("tag:okes.example,2024-09-18:rakor", "rakor")
    versions = report["revisions"]
    assert [(v["number"], v["stored"], v["status"], v["changed"]) for v in versions] == [
        (1, "2024-09-18T14:30:00+07:00", "published", ["created"]),
        (2, "2024-09-18T15:30:00+07:00", "published", ["title", "content_text", "updated"]),
        (3, "2024-09-18T16:30:00+07:00", "published", ["content_html", "content_text", "updated"]),
        (4, "2024-09-18T17:30:00+07:00", "deleted", ["status"]),
    ]
    assert [v["title"] for v in versions] == [v["article"]["title"] for v in versions]
    assert versions[0]["article"]["title"] == "Rakor Pilkada"
    assert "Abdi Praja" in versions[1]["article"]["content_text"]
    assert "Baturaja." in versions[3]["article"]["content_text"] and versions[3]["article"]["status"] == "deleted"
    assert versions[0]["article"]["author"] == "Rahmad Hidayat"


def test_history_command_names_an_unknown_key(capsys, cli_store):
    from feedpub.cli import main

    assert main(["history", "tidak-ada"]) == 1
    captured = capsys.readouterr()
    assert "no article has the id or slug 'tidak-ada'" in captured.err and captured.out == ""


def test_a_link_resolved_later_in_the_same_import_is_in_the_first_version(tmp_path, store, ingest):
    # An import of a folder: the festival story names the price story, read after it. Readers
    # see the link from the first publication on, so the first version holds it bound, and a
    # later delete changes only the status (not "related", as if the delete had bound it).
    folder = tmp_path / "naskah"
    write_article(folder, "festival.txt", "---\ntitle: Festival Perahu Hias Meriahkan HUT OKU\n---\n"
                  "BATURAJA - OKES.NEWS - Ribuan warga memadati tepian Sungai Ogan.\n"
                  "BACA JUGA:Harga Cabai di Pasar Baturaja Naik\nPanitia berharap festival jadi agenda wisata. (*)\n")
    write_article(folder, "harga-cabai.txt", "---\ntitle: Harga Cabai di Pasar Baturaja Naik\n---\n"
                  "BATURAJA - OKES.NEWS - Harga cabai merah naik hingga Rp80 ribu per kilogram. (*)\n")
    assert ingest(folder, now=T0).created == 2
    price = store.lookup(article_id=None, slug="harga-cabai")
    (first,) = store.history("festival")
    assert [(link.title, link.target_id) for link in first.article.related] == [
        ("Harga Cabai di Pasar Baturaja Naik", price.id)]
    assert first.article.updated == T0 and first.stored == T0
    store.delete("festival", T1)
    assert [r.changed for r in store.history("festival")] == [("created",), ("status",)]
