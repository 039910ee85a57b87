"""`feedpub ingest export.xml`: a WordPress export (WXR) brings its posts in, and nothing else."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from feedpub.cli import main
from sources.model import Status

from .conftest import DATA, INGEST_TIME, JAKARTA, latest_published, write_article

pytestmark = pytest.mark.both_stores

EXPORT = DATA / "wordpress" / "okes-export.xml"
AFTER_ALL = datetime(2024, 10, 2, tzinfo=JAKARTA)   # the scheduled post is out by then


def by_slug(store):
    return {article.slug: article for article in store.page(100)}


def test_the_posts_come_in_with_every_field_and_nothing_else_does(store, ingest):
    summary = ingest(EXPORT)
    assert (summary.created, summary.failed) == (4, 0), ingest.messages
    # A page, a revision, a private post, a menu item, an attachment.
    assert summary.skipped == 5
    articles = by_slug(store)
    assert set(articles) == {"kpu-oku-tetapkan-dpt", "forkopimda-oku-rakor-pilkada", "banjir-lengkiti",
                             "harga-cabai-di-pasar-baturaja-naik"}
    kpu = articles["kpu-oku-tetapkan-dpt"]
    assert kpu.title == "KPU OKU Tetapkan Daftar Pemilih Tetap Pilkada 2024"
    assert kpu.author == "Rahmad Hidayat"                  # the display name, not the login
    assert kpu.summary == "KPU OKU menetapkan 262.181 pemilih dalam DPT Pilkada 2024."   # the excerpt, as text
    assert kpu.categories == ("Politik",) and kpu.tags == ("Pilkada 2024",)
    assert kpu.url == "https://okes.example/2024/09/17/kpu-oku-tetapkan-dpt/"   # old addresses keep working
    # The featured image: the attachment _thumbnail_id names, though it comes later in the file.
    assert kpu.image.url == "https://okes.example/wp-content/uploads/2024/09/rapat-kpu-oku.jpg"
    # post_date_gmt, in the site's zone.
    assert kpu.published.isoformat() == "2024-09-17T09:30:00+07:00" and kpu.updated == kpu.published
    assert "<p>Penetapan dilakukan" in kpu.content_html and "Semoga pilkada" not in kpu.content_html   # no comments
    rakor = articles["forkopimda-oku-rakor-pilkada"]
    assert rakor.author == "Siti Rahayu" and rakor.categories == ("Politik", "Daerah")
    assert rakor.updated.isoformat() == "2024-09-18T14:40:00+07:00"
    assert "wp:paragraph" not in rakor.content_html and "Baca Juga" not in rakor.content_html
    assert articles["harga-cabai-di-pasar-baturaja-naik"].status is Status.DRAFT


def test_baca_juga_in_the_forms_wordpress_sites_write_it_becomes_related_links(store, ingest):
    ingest(EXPORT)
    articles = by_slug(store)
    # Bold with the title linked to another post's permalink: that post, by its exact title,
    # though the link's text is shorter.
    rakor = articles["forkopimda-oku-rakor-pilkada"]
    assert [link.title for link in rakor.related] == ["KPU OKU Tetapkan Daftar Pemilih Tetap Pilkada 2024",
                                                      "Bhabinkamtibmas Dituntut Mampu Menjaga Kamtibmas"]
    assert rakor.related[0].target_id == articles["kpu-oku-tetapkan-dpt"].id
    assert rakor.related[1].target_id is None    # another site's story: pending, by its title
    # The whole paragraph linked, the marker in bold inside the link.
    (link,) = articles["banjir-lengkiti"].related
    assert link.target_id == articles["kpu-oku-tetapkan-dpt"].id


def test_a_scheduled_post_is_embargoed_and_a_draft_is_in_no_feed(store, ingest):
    ingest(EXPORT)
    assert any("embargoed until 2024-10-01 07:00:00 WIB" in m
               for m in ingest.messages), ingest.messages
    seen_now = {a.slug for a in latest_published(store, INGEST_TIME + timedelta(days=1), 50)}
    seen_later = {a.slug for a in latest_published(store, AFTER_ALL, 50)}
    assert seen_now == {"kpu-oku-tetapkan-dpt", "forkopimda-oku-rakor-pilkada"}
    assert seen_later == seen_now | {"banjir-lengkiti"}


def test_the_same_export_again_changes_nothing_and_says_so(store, ingest):
    ingest(EXPORT)
    revision = store.revision()
    again = ingest(EXPORT)
    assert (again.created, again.updated, again.unchanged, again.skipped) == (0, 0, 4, 5)
    assert again.line() == ("0 created, 0 updated, 4 unchanged, 0 failed, 5 skipped (not articles); "
                            "nothing changed: the store already held all of it")
    assert store.revision() == revision


def test_a_bad_post_fails_alone_naming_the_file_its_line_and_the_field(tmp_path, store, ingest):
    text = EXPORT.read_text(encoding="utf-8").replace(
        "<link>https://okes.example/2024/09/17/kpu-oku-tetapkan-dpt/</link>", "<link>https://okes example/kpu</link>")
    export = write_article(tmp_path, "export.xml", text)
    line = text[:text.index("https://okes example")].count("\n") + 1
    summary = ingest(export)
    assert (summary.created, summary.failed) == (3, 1)
    (error,) = [m for m in ingest.messages if m.startswith("error")]
    assert f"export.xml:{line}: WordPress field 'url'" in error, error


def test_a_post_over_the_article_limit_fails_alone(tmp_path, store, ingest_settings):
    from sources.ingest import ingest_paths

    text = EXPORT.read_text(encoding="utf-8").replace(
        "Warga mengungsi ke balai desa. (*)", "Warga mengungsi ke balai desa. " + "Hujan turun lagi. " * 400)
    export = write_article(tmp_path, "export.xml", text)
    messages: list[str] = []
    summary = ingest_paths(store, [export], settings=replace(ingest_settings, max_article_bytes=4000),
                           now=lambda: INGEST_TIME, report=messages.append)
    assert (summary.created, summary.failed) == (3, 1), messages
    line = text[:text.index("<title><![CDATA[Banjir")].count("\n")   # the item's opening tag, a line above
    assert any(f"export.xml:{line}: the post holds" in m and "max_article_bytes" in m for m in messages), messages


def test_only_wordpress_exports_are_read_from_xml_files_and_no_dtd(tmp_path, store, ingest):
    sitemap = write_article(tmp_path, "sitemap.xml", '<?xml version="1.0"?><urlset></urlset>')
    bomb = write_article(tmp_path, "bomb.xml", EXPORT.read_text(encoding="utf-8").replace(
        '<rss version="2.0"', '<!DOCTYPE rss [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n<rss version="2.0"', 1))
    summary = ingest(sitemap, bomb)
    assert (summary.created, summary.failed) == (0, 2)
    assert any("sitemap.xml:1: not a WordPress export" in m for m in ingest.messages), ingest.messages
    assert any("bomb.xml:1: the export declares a DTD" in m for m in ingest.messages), ingest.messages


def test_feedpub_ingest_counts_what_an_export_holds_that_is_not_articles(cli_store, capsys):
    assert main(["ingest", str(EXPORT)]) == 0
    summary = capsys.readouterr().out.splitlines()[-1]
    assert summary == "4 created, 0 updated, 0 unchanged, 0 failed, 5 skipped (not articles)"
