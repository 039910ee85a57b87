"""Importing newsroom files into the store: identity, edits, and bad input."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import pytest

from sources.errors import IngestError
from sources.model import IngestSettings

from .conftest import INGEST_TIME, JAKARTA, SAMPLE, latest_published, store_dump, write_article

FRONT = """---
title: "Forkopimda OKU Gelar Rakor Kesiapan Pilkada 2024"
published: 2024-09-18T10:15:00+07:00
author: Rahmad Hidayat
categories: [Politik, Daerah]
tags: Pilkada 2024
summary: Forkopimda OKU memastikan kesiapan Pilkada serentak.
---
"""


def test_sample_is_stored_whole(store, ingest):
    summary = ingest(SAMPLE)
    assert (summary.created, summary.failed) == (1, 0)
    article = latest_published(store, INGEST_TIME, 10)[0]
    assert article.id == "tag:okes.example,2024-09-18:okes-forkopimda-oku-pilkada-2024"
    assert article.slug == "okes-forkopimda-oku-pilkada-2024"
    assert (article.city, article.publication) == ("BATURAJA", "OKES.NEWS")
    assert article.content_text == SAMPLE.read_text(encoding="utf-8")
    assert article.content_html.count("<p>") == 13
    assert [link.title for link in article.related] == [
        "Bhabinkamtibmas Dituntut Mampu Ciptakan Situasi Aman dan Kondusif Selama Pemilukada",
        "AHY Tekankan Keadilan dalam Pengadaan Tanah",
    ]
    assert all(link.target_id is None for link in article.related)   # nothing to resolve to yet
    assert article.language == "id"


def test_headline_derived_from_the_lead_is_announced(store, ingest):
    ingest(SAMPLE)
    article = latest_published(store, INGEST_TIME, 1)[0]
    assert article.title == "Menjelang Pilkada Serentak 2024 yang akan digelar pada 27 November…"
    assert len(article.title) <= 90
    assert any("derived" in m and article.title in m for m in ingest.messages)


def test_no_published_time_means_the_time_of_ingest(store, ingest):
    ingest(SAMPLE)
    article = latest_published(store, INGEST_TIME, 1)[0]
    assert article.published == INGEST_TIME == article.updated
    assert article.published.utcoffset() == timedelta(hours=7)


def test_front_matter_fills_the_fields(tmp_path, store, ingest):
    path = write_article(tmp_path, "rakor.txt", FRONT + SAMPLE.read_text(encoding="utf-8"))
    ingest(path)
    article = store.get("tag:okes.example,2024-09-18:rakor")
    assert article.title == "Forkopimda OKU Gelar Rakor Kesiapan Pilkada 2024"
    assert article.published == datetime(2024, 9, 18, 10, 15, tzinfo=JAKARTA)
    assert article.author == "Rahmad Hidayat"
    assert article.categories == ("Politik", "Daerah") and article.tags == ("Pilkada 2024",)
    assert article.summary == "Forkopimda OKU memastikan kesiapan Pilkada serentak."
    assert not any("derived" in m for m in ingest.messages)


def test_flags_win_over_front_matter(tmp_path, store, ingest):
    path = write_article(tmp_path, "rakor.txt", FRONT + "Isi berita.")
    ingest(path, title="Judul dari baris perintah", author="Editor", categories=["Hukum"])
    article = store.get("tag:okes.example,2024-09-18:rakor")
    assert (article.title, article.author, article.categories) == ("Judul dari baris perintah", "Editor", ("Hukum",))


def test_naive_times_are_in_the_site_zone(tmp_path, store, ingest):
    path = write_article(tmp_path, "a.txt", "---\npublished: 2024-09-18 08:00\n---\nIsi.")
    ingest(path)
    assert latest_published(store, INGEST_TIME, 1)[0].published == datetime(2024, 9, 18, 8, 0, tzinfo=JAKARTA)


def test_ingesting_the_same_file_again_changes_nothing(store, ingest):
    ingest(SAMPLE)
    before, revision = store_dump(store), store.revision()
    summary = ingest(SAMPLE, now=INGEST_TIME + timedelta(hours=5))
    assert (summary.unchanged, summary.created, summary.updated) == (1, 0, 0)
    assert store_dump(store) == before and store.revision() == revision


def test_an_edited_file_updates_the_same_article(tmp_path, store, ingest):
    path = write_article(tmp_path, "berita.txt", SAMPLE.read_text(encoding="utf-8"))
    ingest(path)
    original = latest_published(store, INGEST_TIME, 1)[0]
    path.write_text(SAMPLE.read_text(encoding="utf-8").replace("Rabu, 18 September", "Rabu pagi, 18 September"),
                    encoding="utf-8")
    later = INGEST_TIME + timedelta(hours=2)
    summary = ingest(path, now=later)
    assert summary.updated == 1
    articles = latest_published(store, later, 10)
    assert len(articles) == 1
    edited = articles[0]
    assert edited.id == original.id and edited.published == original.published
    assert edited.updated == later > original.updated
    assert "Rabu pagi" in edited.content_html


def test_an_edit_in_the_same_second_still_moves_updated_forward(tmp_path, store, ingest):
    path = write_article(tmp_path, "a.txt", "Isi pertama.")
    ingest(path)
    path.write_text("Isi kedua.", encoding="utf-8")
    ingest(path)
    assert latest_published(store, INGEST_TIME + timedelta(seconds=5), 1)[0].updated == INGEST_TIME + timedelta(seconds=1)


def test_an_explicit_id_survives_a_slug_change(tmp_path, store, ingest):
    tag = "tag:okes.example,2024-09-18:rakor-forkopimda"
    path = write_article(tmp_path, "a.txt", f"---\nid: {tag}\nslug: rakor\n---\nIsi.")
    ingest(path)
    path.write_text(f"---\nid: {tag}\nslug: rakor-baru\n---\nIsi.", encoding="utf-8")
    ingest(path)
    assert store.count() == 1 and store.get(tag).slug == "rakor-baru"


def test_a_directory_is_ingested_recursively(tmp_path, store, ingest):
    write_article(tmp_path / "in", "satu.txt", "Satu.")
    write_article(tmp_path / "in" / "sub", "dua.txt", "Dua.")
    write_article(tmp_path / "in", "catatan.doc", "not an article")   # no known format
    write_article(tmp_path / "in" / ".draft", "tiga.txt", "hidden folder")
    assert ingest(tmp_path / "in").created == 2


def test_a_folder_that_cannot_be_read_is_an_error_naming_it_and_the_rest_is_ingested(tmp_path, store, ingest,
                                                                                     monkeypatch):
    write_article(tmp_path / "in", "satu.txt", "Satu.")
    write_article(tmp_path / "in" / "terkunci", "dua.txt", "Dua.")
    write_article(tmp_path / "in" / "zz", "tiga.txt", "Tiga.")
    locked = str(tmp_path / "in" / "terkunci")
    scandir = os.scandir

    def refusing(path):   # as the file system answers a folder without read permission (root reads all)
        if str(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr("sources.ingest.os.scandir", refusing)
    summary = ingest(tmp_path / "in")
    assert (summary.created, summary.failed) == (2, 1)
    assert f"error: {locked}: cannot read the folder: Permission denied" in ingest.messages, ingest.messages


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"", r"empty\.txt: the file is empty"),
        ("blank.txt", b"\n  \n", r"blank\.txt: the file is empty"),
        ("latin1.txt", "Baris satu.\nKabupaten Ogan Komering Ulu \u2013 caf\u00e9".encode("cp1252"),
         r"latin1\.txt:2: byte 0x96 at offset \d+ is not valid UTF-8"),
        ("date.txt", b"---\ntitle: X\npublished: 18/09/2024\n---\nIsi.",
         r"date\.txt:3: front matter 'published': '18/09/2024' is not an ISO 8601 date"),
        ("key.txt", b"---\ntitle: X\nauthr: Y\n---\nIsi.", r"key\.txt:3: unknown front matter key 'authr'"),
        ("yaml.txt", b"---\ntitle: [X\n---\nIsi.", r"yaml\.txt:\d+: front matter is not valid YAML"),
        ("open.txt", b"---\ntitle: X\nIsi.", r"open\.txt:1: front matter opened with '---' is never closed"),
        ("id.txt", b"---\nid: 42\n---\nIsi.", r"id\.txt:2: front matter 'id': '42' is not a tag: URI"),
        ("url.txt", b"---\nurl: /relative\n---\nIsi.", r"url\.txt:2: front matter 'url': '/relative' is not an absolute"),
        ("order.txt", b"---\npublished: 2024-09-18\nupdated: 2024-09-01\n---\nIsi.", r"order\.txt:3: front matter 'updated': is earlier"),
        ("nobody.txt", b"---\ntitle: X\n---\n", r"nobody\.txt:4: the article has no body text"),
        ("year.txt", b"---\npublished: 0001-01-01T00:00:00+07:00\n---\nIsi.", r"year\.txt:2: front matter 'published': .* outside the years"),
    ],
)
def test_bad_input_is_named_and_leaves_the_store_unchanged(tmp_path, store, ingest, name, content, message):
    ingest(SAMPLE)
    before = store_dump(store)
    path = tmp_path / name
    path.write_bytes(content)
    summary = ingest(path)
    assert summary.failed == 1
    assert any(__import__("re").search(message, m) for m in ingest.messages), ingest.messages
    assert store_dump(store) == before


def test_bad_flag_is_named(tmp_path, store, ingest):
    path = write_article(tmp_path, "a.txt", "Isi.")
    ingest(path, published="kemarin")
    assert any("--published: 'kemarin' is not an ISO 8601" in m for m in ingest.messages)
    assert store.count() == 0


def test_one_bad_file_does_not_stop_the_others(tmp_path, store, ingest):
    write_article(tmp_path / "in", "a.txt", "Satu.")
    (tmp_path / "in" / "b.txt").write_bytes(b"\xff\xfe")
    write_article(tmp_path / "in", "c.txt", "Tiga.")
    summary = ingest(tmp_path / "in")
    assert (summary.created, summary.failed) == (2, 1)


def test_a_slug_taken_by_another_article_is_refused(tmp_path, store, ingest):
    write_article(tmp_path, "a.txt", "---\nid: tag:okes.example,2024-01-01:satu\nslug: sama\n---\nSatu.")
    write_article(tmp_path, "b.txt", "---\nid: tag:okes.example,2024-01-01:dua\nslug: sama\n---\nDua.")
    ingest(tmp_path / "a.txt")
    before = store_dump(store)
    assert ingest(tmp_path / "b.txt").failed == 1
    assert any("b.txt: slug 'sama' already belongs to article tag:okes.example,2024-01-01:satu" in m
               for m in ingest.messages)
    assert store_dump(store) == before


def test_single_article_flags_refuse_several_files(tmp_path, store, ingest):
    write_article(tmp_path / "in", "a.txt", "Satu.")
    write_article(tmp_path / "in", "b.txt", "Dua.")
    with pytest.raises(IngestError, match="--title names one article but 2 files"):
        ingest(tmp_path / "in", title="Satu judul")


def test_xml_invalid_characters_never_reach_the_store(tmp_path, store, ingest):
    path = write_article(tmp_path, "ctl.txt", "---\ntitle: \"Judul\\x0b aneh\"\n---\nIsi\x1f berita.")
    ingest(path)
    article = latest_published(store, INGEST_TIME, 1)[0]
    assert "\x0b" not in article.title and "\x1f" not in article.content_html + article.content_text


def test_minted_ids_use_the_configured_authority(tmp_path, store):
    from sources.ingest import ingest_paths

    path = write_article(tmp_path, "a.txt", "Isi.")
    ingest_paths(store, [path], settings=IngestSettings("news.example.org"), now=lambda: INGEST_TIME,
                 report=lambda _: None)
    assert latest_published(store, INGEST_TIME, 1)[0].id == "tag:news.example.org,2024-09-18:a"


def test_two_files_with_the_same_name_are_two_stories_not_an_edit(tmp_path, store, ingest):
    first = write_article(tmp_path / "in" / "2024-09-18", "berita.txt", "Berita pertama.")
    second = write_article(tmp_path / "in" / "2024-09-19", "berita.txt", "Berita kedua.")
    ingest(first)
    before = store_dump(store)
    summary = ingest(second, now=INGEST_TIME + timedelta(days=1))
    assert summary.failed == 1 and store_dump(store) == before
    assert any("2024-09-19/berita.txt: slug 'berita' already belongs to article" in m and str(first.resolve()) in m
               for m in ingest.messages), ingest.messages
    ingest(second, slug="berita-kedua", now=INGEST_TIME + timedelta(days=1))
    assert store.count() == 2


def test_changing_the_slug_of_a_file_keeps_its_article(tmp_path, store, ingest):
    path = write_article(tmp_path, "rakor.txt", "---\nslug: rakor\n---\nIsi.")
    ingest(path)
    original = latest_published(store, INGEST_TIME, 1)[0]
    path.write_text("---\nslug: rakor-oku\n---\nIsi.", encoding="utf-8")
    assert ingest(path, now=INGEST_TIME + timedelta(minutes=1)).updated == 1
    (moved,) = latest_published(store, INGEST_TIME + timedelta(minutes=1), 10)
    assert moved.id == original.id and moved.slug == "rakor-oku"


def test_a_missing_path_is_reported_and_the_others_imported(tmp_path, store, ingest):
    good = write_article(tmp_path, "ada.txt", "Ada.")
    summary = ingest(good, tmp_path / "hilang.txt")
    assert (summary.created, summary.failed) == (1, 1)
    assert any("hilang.txt: no such file or directory" in m for m in ingest.messages)


def test_an_identical_copy_elsewhere_is_the_same_story_unchanged(tmp_path, store, ingest):
    ingest(SAMPLE)
    before = store_dump(store)
    copy = write_article(tmp_path / "kotak-masuk", SAMPLE.name, SAMPLE.read_text(encoding="utf-8"))
    summary = ingest(copy, now=INGEST_TIME + timedelta(hours=1))
    assert (summary.unchanged, summary.failed) == (1, 0)
    assert store_dump(store) == before
