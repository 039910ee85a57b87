"""Importers for Markdown, HTML and JSON Lines, directories of mixed formats, and --dry-run.

Every test writes real files under tmp_path, ingests them into a real store and,
where it matters, reads the rendered feeds back.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import feedparser
import pytest

from feeds.building.build import render_documents
from sources.ingest import ingest_paths

from .conftest import INGEST_TIME, JAKARTA, SAMPLE, latest_published, store_dump, write_article

RAKOR = "Forkopimda OKU Gelar Rakor Kesiapan Pilkada 2024"
BANJIR = "Banjir Rendam Tiga Desa di Baturaja"

MARKDOWN = f"""---
title: "{RAKOR}"
published: 2024-09-18T10:15:00+07:00
updated: 2024-09-18T04:00:00Z
author: Rahmad Hidayat
categories: [Politik, Daerah]
tags: [Pilkada 2024]
---
BATURAJA - OKES.NEWS - Menjelang **Pilkada Serentak 2024**, Forkopimda OKU menggelar rapat.
Rapat berlangsung di Gedung Kesenian <script>alert(1)</script>
**BACA JUGA:** {BANJIR}

## Pengamanan

- Polres menurunkan 500 personel.
- TNI membantu di titik rawan.

"Kami sangat menghargai kerja sama semua pihak," tambah Choirun. (*)
"""

HTML_PAGE = f"""<!doctype html>
<html lang="id">
<head>
<meta charset="utf-8">
<title>Banjir di Baturaja - OKES.NEWS</title>
<meta property="og:title" content="{BANJIR}">
<meta property="article:published_time" content="2024-09-18T09:00:00+07:00">
<meta property="article:modified_time" content="2024-09-18T03:30:00Z">
<meta name="author" content="Siti Aminah">
<meta name="description" content="Tiga desa terendam banjir setelah hujan deras.">
<meta property="og:image" content="/img/banjir.jpg">
<meta property="article:section" content="Daerah">
<meta property="article:tag" content="Banjir">
<meta property="article:tag" content="Cuaca">
<link rel="canonical" href="https://okes.example/2024/09/banjir-baturaja">
<script>var tracker = "head";</script>
<style>p {{ color: red }}</style>
</head>
<body>
<nav><a href="/">Beranda</a></nav>
<header><p>Kop situs OKES.NEWS</p></header>
<article>
<header><h1>{BANJIR}</h1><time datetime="2024-01-01">1 Januari</time></header>
<p>Hujan deras sejak Selasa malam membuat <strong>tiga desa</strong> terendam.</p>
<script>trackRead()</script>
<p><strong>Baca Juga:</strong> <a href="/rakor">{RAKOR}</a></p>
<p>Warga mengungsi ke balai desa.</p>
<footer>Editor: Budi</footer>
</article>
<footer>Hak cipta OKES.NEWS</footer>
</body>
</html>
"""


def jsonl(*objects) -> str:
    return "\n".join(obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False) for obj in objects) + "\n"


def documents(store, site, now=INGEST_TIME + timedelta(days=1)):
    return {doc.path: doc for doc in render_documents(store, site, now)}


def atom_entries(store, site):
    doc = documents(store, site)["atom.xml"]
    parsed = feedparser.parse(doc.body, response_headers={"content-type": doc.content_type})
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return {entry.id: entry for entry in parsed.entries}


def json_items(store, site):
    return {item["id"]: item for item in json.loads(documents(store, site)["feed.json"].body)["items"]}


def only(store):
    (article,) = latest_published(store, INGEST_TIME + timedelta(days=1), 10)
    return article


# --- Markdown --------------------------------------------------------------------------


def test_markdown_article_end_to_end(tmp_path, store, ingest, site):
    path = write_article(tmp_path, "rakor.md", MARKDOWN)
    summary = ingest(path)
    assert (summary.created, summary.failed) == (1, 0), ingest.messages
    article = only(store)
    assert article.id == "tag:okes.example,2024-09-18:rakor" and article.source == str(path.resolve())
    assert article.title == RAKOR
    assert article.published == datetime(2024, 9, 18, 10, 15, tzinfo=JAKARTA)
    assert article.updated == datetime(2024, 9, 18, 4, 0, tzinfo=timezone.utc)
    assert (article.author, article.categories, article.tags) == ("Rahmad Hidayat", ("Politik", "Daerah"), ("Pilkada 2024",))
    assert (article.city, article.publication) == ("BATURAJA", "OKES.NEWS")
    assert [link.title for link in article.related] == [BANJIR]
    assert article.content_text == MARKDOWN
    html = article.content_html
    assert html.startswith("<p>Menjelang <strong>Pilkada Serentak 2024</strong>, Forkopimda OKU menggelar rapat.")
    assert "<h2>Pengamanan</h2>" in html and "<li>Polres menurunkan 500 personel.</li>" in html
    assert "&lt;script&gt;" in html and "<script>" not in html          # raw HTML is text, never markup
    assert "BACA JUGA" not in html and "(*)" not in html and "BATURAJA" not in html
    assert html.endswith("tambah Choirun.</p>")
    assert article.summary.startswith("Menjelang Pilkada Serentak 2024, Forkopimda OKU")

    item = json_items(store, site)[article.id]
    assert item["title"] == RAKOR
    assert (item["date_published"], item["date_modified"]) == ("2024-09-18T10:15:00+07:00", "2024-09-18T11:00:00+07:00")
    entry = atom_entries(store, site)[article.id]
    assert entry.author == "Rahmad Hidayat"
    assert [tag.label for tag in entry.tags] == ["Politik", "Daerah", "Pilkada 2024"]
    content = entry.content[0].value
    assert "<h2>Pengamanan</h2>" in content and "Warga" not in content
    assert f"<li>{BANJIR}</li>" in content    # the related link, pending: its article is not stored


def test_markdown_leading_h1_is_the_headline(tmp_path, store, ingest):
    ingest(write_article(tmp_path, "banjir.md", f"# {BANJIR}\n\nHujan deras membuat tiga desa terendam.\n"))
    article = only(store)
    assert article.title == BANJIR
    assert article.content_html == "<p>Hujan deras membuat tiga desa terendam.</p>"
    assert not any("derived" in m for m in ingest.messages)


def test_markdown_without_headline_derives_it_from_the_first_paragraph(tmp_path, store, ingest):
    ingest(write_article(tmp_path, "tanpa-judul.md",
                         "Pemerintah *Kabupaten* Ogan Komering Ulu menggelar rapat koordinasi lintas sektor "
                         "untuk membahas kesiapan pengamanan pemilihan kepala daerah serentak.\n\nParagraf dua.\n"))
    article = only(store)
    assert article.title == "Pemerintah Kabupaten Ogan Komering Ulu menggelar rapat koordinasi lintas sektor…"
    assert article.content_html.startswith("<p>Pemerintah <em>Kabupaten</em> Ogan")
    assert any("tanpa-judul.md: no headline given; derived" in m for m in ingest.messages), ingest.messages


# --- HTML ------------------------------------------------------------------------------


def test_html_page_end_to_end(tmp_path, store, ingest, site):
    path = write_article(tmp_path, "banjir.html", HTML_PAGE)
    assert ingest(path).created == 1, ingest.messages
    article = only(store)
    assert article.title == BANJIR                                         # og:title over <title>
    assert article.published == datetime(2024, 9, 18, 9, 0, tzinfo=JAKARTA)  # meta over <time>
    assert article.updated == datetime(2024, 9, 18, 3, 30, tzinfo=timezone.utc)
    assert article.author == "Siti Aminah"
    assert article.summary == "Tiga desa terendam banjir setelah hujan deras."
    assert article.url == "https://okes.example/2024/09/banjir-baturaja"
    assert article.image.url == "https://okes.example/img/banjir.jpg"       # resolved against the page
    assert (article.categories, article.tags, article.language) == (("Daerah",), ("Banjir", "Cuaca"), "id")
    assert [link.title for link in article.related] == [RAKOR]
    assert article.content_text == HTML_PAGE
    assert article.content_html == (
        "<p>Hujan deras sejak Selasa malam membuat <strong>tiga desa</strong> terendam.</p>\n\n\n"
        "<p>Warga mengungsi ke balai desa.</p>"
    )

    # The related article arrives later (as Markdown): the link resolves in the feeds, and dates the entry.
    ingest(write_article(tmp_path, "rakor.md", MARKDOWN))
    entry = atom_entries(store, site)[article.id]
    assert entry.link == "https://okes.example/2024/09/banjir-baturaja"
    assert entry.author == "Siti Aminah"
    assert [tag.label for tag in entry.tags] == ["Daerah", "Banjir", "Cuaca"]
    assert [(link.href, link.title) for link in entry.links if link.rel == "related"] == [
        ("https://okes.example/articles/rakor", RAKOR)]
    content = entry.content[0].value
    assert "<strong>tiga desa</strong>" in content and "Warga mengungsi ke balai desa." in content
    for dropped in ("Beranda", "Kop situs", "trackRead", "tracker", "Editor: Budi", "Hak cipta", "1 Januari"):
        assert dropped not in content
    item = json_items(store, site)[article.id]
    # The link that resolved after it was published changed what readers see: it dates the entry,
    # at the second after the first import's (both ran at one clock reading: a version each).
    assert (item["date_published"], item["date_modified"]) == ("2024-09-18T09:00:00+07:00", "2024-09-18T14:30:01+07:00")


def test_html_fallbacks_title_time_keywords_main(tmp_path, store, ingest):
    page = """<html lang="en_US"><head><title>Jembatan Ampera Ditutup Sementara</title>
<meta name="keywords" content="Palembang, Lalu Lintas"></head>
<body><div class="menu">menu</div><main><h1>Jembatan Ampera</h1>
<p>Diterbitkan <time datetime="2024-09-18T08:00">pagi ini</time>.</p><p>Jembatan ditutup untuk perbaikan.</p>
</main></body></html>"""
    ingest(write_article(tmp_path, "ampera.htm", page))
    article = only(store)
    assert article.title == "Jembatan Ampera Ditutup Sementara"
    assert article.published == datetime(2024, 9, 18, 8, 0, tzinfo=JAKARTA)   # no zone: the site's
    assert article.tags == ("Palembang", "Lalu Lintas") and article.language == "en-US"
    assert article.content_html.startswith("<h1>Jembatan Ampera</h1>")      # not the headline: kept
    assert "menu" not in article.content_html
    assert article.summary == "Diterbitkan pagi ini."


def test_html_headline_repeated_in_the_body_is_dropped(tmp_path, store, ingest):
    page = f"<title>{BANJIR}</title><article><h1>{BANJIR.upper()}!</h1><h2>Sub</h2><p>Isi.</p></article>"
    ingest(write_article(tmp_path, "ulang.html", page))
    assert only(store).content_html == "<h2>Sub</h2><p>Isi.</p>"


# --- JSON Lines ------------------------------------------------------------------------


def test_jsonl_articles_end_to_end(tmp_path, store, ingest, site):
    lines = [
        {"slug": "rakor-oku", "published": "2024-09-18T10:15:00+07:00", "author": "Rahmad Hidayat",
         "categories": ["Politik"], "tags": "Pilkada 2024",
         "body": f"BATURAJA - OKES.NEWS - Menjelang Pilkada, Forkopimda OKU menggelar rapat.\n"
                 f"BACA JUGA: {BANJIR}\nRapat dipimpin Bupati. (*)"},
        {"id": "tag:okes.example,2024-09-17:banjir-baturaja", "title": BANJIR,
         "published": "2024-09-17T23:00:00Z", "content_html": "<p>Tiga desa <em>terendam</em>.</p>"},
    ]
    path = write_article(tmp_path, "ekspor.jsonl", jsonl(*lines))
    summary = ingest(path)
    assert (summary.created, summary.failed) == (2, 0), ingest.messages
    rakor = store.get("tag:okes.example,2024-09-18:rakor-oku")
    assert rakor.title == "Menjelang Pilkada, Forkopimda OKU menggelar rapat"      # derived from the lead
    assert (rakor.city, rakor.publication, rakor.author) == ("BATURAJA", "OKES.NEWS", "Rahmad Hidayat")
    assert rakor.content_html == "<p>Menjelang Pilkada, Forkopimda OKU menggelar rapat.</p>\n<p>Rapat dipimpin Bupati.</p>"
    assert rakor.content_text == json.dumps(lines[0], ensure_ascii=False)         # its line as received
    assert rakor.source is None                                                   # known by slug, not by file
    banjir = store.get("tag:okes.example,2024-09-17:banjir-baturaja")
    assert banjir.slug == "banjir-baturaja" and banjir.content_html == "<p>Tiga desa <em>terendam</em>.</p>"
    assert banjir.published == datetime(2024, 9, 17, 23, 0, tzinfo=timezone.utc)
    assert any(m.startswith("created: tag:okes.example,2024-09-17:banjir-baturaja") and m.endswith("ekspor.jsonl:2)")
               for m in ingest.messages), ingest.messages

    entries = atom_entries(store, site)
    links = [(link.href, link.title) for link in entries[rakor.id].links if link.rel == "related"]
    assert links == [("https://okes.example/articles/banjir-baturaja", BANJIR)]
    assert [tag.label for tag in entries[rakor.id].tags] == ["Politik", "Pilkada 2024"]
    items = json_items(store, site)
    assert items[banjir.id]["date_published"] == "2024-09-18T06:00:00+07:00"
    assert items[rakor.id]["date_published"] == "2024-09-18T10:15:00+07:00"


def test_jsonl_malformed_line_3_the_others_are_imported(tmp_path, store, ingest):
    path = write_article(tmp_path, "ekspor.jsonl", jsonl(
        {"slug": "satu", "body": "Satu."},
        {"slug": "dua", "body": "Dua."},
        '{"slug": "tiga", "body": "Tiga.",}',
        {"slug": "empat", "body": "Empat."},
    ))
    summary = ingest(path)
    assert (summary.created, summary.failed) == (3, 1)
    assert any(re.search(r"ekspor\.jsonl:3: not valid JSON: .*\(column \d+\)", m) for m in ingest.messages), ingest.messages
    slugs = sorted(a.slug for a in latest_published(store, INGEST_TIME, 10))
    assert slugs == ["dua", "empat", "satu"]


@pytest.mark.parametrize(("line", "message"), [
    ({"title": "Tanpa identitas", "body": "Isi."}, r"x\.jsonl:2: no 'slug' or 'id': each line must name its article"),
    ({"slug": "b", "published": "kemarin", "body": "Isi."}, r"x\.jsonl:2: key 'published': 'kemarin' is not an ISO 8601"),
    ({"slug": "b", "autor": "Budi", "body": "Isi."}, r"x\.jsonl:2: unknown key 'autor'"),
    ({"slug": "b", "title": "Tanpa isi"}, r"x\.jsonl:2: give the article's text as 'body' .* neither was given"),
    ({"slug": "b", "body": "Isi.", "content_html": "<p>Isi.</p>"}, r"x\.jsonl:2: .*not both"),
    ({"slug": "b", "body": ["Isi."]}, r"x\.jsonl:2: key 'body': expected text, got list"),
    ({"slug": "b", "body": "BACA JUGA:\nIsi."}, r"x\.jsonl:2: key 'body': related-link marker has no title"),
    ({"slug": "b", "content_html": "<p> </p>"}, r"x\.jsonl:2: key 'content_html': the article has no body text"),
    ('["slug", "b"]', r"x\.jsonl:2: expected a JSON object \{\.\.\.\}, got list"),
])
def test_jsonl_bad_line_is_named_and_skipped(tmp_path, store, ingest, line, message):
    path = write_article(tmp_path, "x.jsonl", jsonl({"slug": "a", "body": "Baik."}, line))
    summary = ingest(path)
    assert (summary.created, summary.failed) == (1, 1)
    assert any(re.search(message, m) for m in ingest.messages), ingest.messages
    assert [a.slug for a in latest_published(store, INGEST_TIME, 10)] == ["a"]


def test_jsonl_bad_utf8_on_one_line(tmp_path, store, ingest):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"slug": "a", "body": "Baik."}\n{"slug": "b", "body": "caf\xe9"}\n')
    summary = ingest(path)
    assert (summary.created, summary.failed) == (1, 1)
    assert any("x.jsonl:2: byte 0xe9 at column" in m for m in ingest.messages), ingest.messages
    assert store.count() == 1


def test_jsonl_articles_keep_their_identity_when_lines_move(tmp_path, store, ingest):
    first = {"slug": "satu", "title": "Satu", "body": "Isi satu."}
    second = {"id": "tag:okes.example,2024-09-18:dua", "title": "Dua", "body": "Isi dua."}
    path = write_article(tmp_path, "x.jsonl", jsonl(first, second))
    ingest(path)
    ids = {a.slug: a.id for a in latest_published(store, INGEST_TIME, 10)}
    path.write_text(jsonl({**second, "title": "Dua (diperbarui)"}, "", first), encoding="utf-8")
    summary = ingest(path, now=INGEST_TIME + timedelta(minutes=5))
    assert (summary.created, summary.updated, summary.unchanged) == (0, 1, 1)
    after = {a.slug: a for a in latest_published(store, INGEST_TIME + timedelta(minutes=5), 10)}
    assert {slug: a.id for slug, a in after.items()} == ids
    assert after["dua"].title == "Dua (diperbarui)"


def test_jsonl_slug_of_a_file_article_is_refused_naming_the_line(tmp_path, store, ingest):
    ingest(write_article(tmp_path, "berita.txt", "Berita dari berkas."))
    before = store_dump(store)
    path = write_article(tmp_path, "x.jsonl", jsonl({"slug": "berita", "body": "Berita lain."}))
    assert ingest(path).failed == 1
    assert any(re.search(r"x\.jsonl:1: slug 'berita' already belongs to article tag:okes\.example,2024-09-18:berita", m)
               for m in ingest.messages), ingest.messages
    assert store_dump(store) == before


def test_single_article_flags_refuse_a_jsonl_file_of_several(tmp_path, store, ingest):
    path = write_article(tmp_path, "x.jsonl", jsonl({"slug": "a", "body": "A."}, {"slug": "b", "body": "B."}))
    summary = ingest(path, title="Satu judul")
    assert (summary.created, summary.failed) == (0, 1)
    assert any("x.jsonl: --title names one article but this file holds 2" in m for m in ingest.messages)


# --- directories and bad input ---------------------------------------------------------


def test_a_directory_of_mixed_formats_is_ingested_recursively(tmp_path, store, ingest):
    root = tmp_path / "in"
    write_article(root, "teks.txt", "Berita teks.")
    write_article(root / "md", "markdown.md", "# Judul Markdown\n\nIsi.")
    write_article(root / "md" / "lama", "panjang.MARKDOWN", "Berita markdown panjang.")
    write_article(root / "web" / "2024", "halaman.html", "<title>Halaman</title><p>Isi halaman.</p>")
    write_article(root / "web", "pendek.htm", "<title>Pendek</title><p>Isi pendek.</p>")
    write_article(root / "ekspor", "cms.jsonl", jsonl({"slug": "cms-1", "body": "Satu."}, {"slug": "cms-2", "body": "Dua."}))
    write_article(root / ".arsip", "tersembunyi.md", "Tidak diimpor.")
    write_article(root, "data.csv", "bukan,artikel")
    summary = ingest(root)
    assert (summary.created, summary.failed) == (7, 0), ingest.messages
    slugs = sorted(a.slug for a in latest_published(store, INGEST_TIME, 20))
    assert slugs == ["cms-1", "cms-2", "halaman", "markdown", "panjang", "pendek", "teks"]


@pytest.mark.parametrize(("name", "content", "message"), [
    ("tanggal.md", "---\ntitle: X\npublished: 18/09/2024\n---\nIsi.",
     r"tanggal\.md:3: front matter 'published': '18/09/2024' is not an ISO 8601 date"),
    ("kunci.md", "---\ntitle: X\ndate: 2024-09-18\n---\nIsi.", r"kunci\.md:3: unknown front matter key 'date'"),
    ("kosong.md", "---\ntitle: X\n---\n\n", r"kosong\.md:4: the article has no body text"),
    ("penanda.md", "Isi.\n\nBaca juga:\n", r"penanda\.md:3: related-link marker has no title"),
    ("tanpa-judul.html", "<html><head>\n<meta name=author content=Budi>\n</head><body><p>Isi.</p></body></html>",
     r"tanpa-judul\.html:1: no headline: give the page"),
    ("tanggal.html", "<html><head><title>X</title>\n\n<meta property='article:published_time' content='kemarin'>"
     "</head><body><p>Isi.</p></body></html>", r"tanggal\.html:3: HTML 'published': 'kemarin' is not an ISO 8601"),
    ("tautan.html", "<title>X</title>\n<link rel=canonical href='/relatif'><p>Isi.</p>",
     r"tautan\.html:2: HTML 'url': '/relatif' is not an absolute"),
    ("kosong.html", "<title>X</title>\n<body>\n<nav>menu</nav></body>", r"kosong\.html:2: the article has no body text"),
    ("rusak.jsonl", "{\"slug\": \"x\"\n", r"rusak\.jsonl:1: not valid JSON"),
    ("latin1.md", "caf\u00e9".encode("cp1252"), r"latin1\.md:1: byte 0xe9"),
])
def test_bad_input_names_file_and_line_and_leaves_the_store_unchanged(tmp_path, store, ingest, name, content, message):
    ingest(SAMPLE)
    before = store_dump(store)
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    summary = ingest(path)
    assert summary.failed == 1 and summary.created == 0
    assert any(re.search(message, m) for m in ingest.messages), ingest.messages
    assert store_dump(store) == before


# --- --dry-run -------------------------------------------------------------------------


def run(store, settings, *paths, dry_run, now=INGEST_TIME):
    messages: list[str] = []
    summary = ingest_paths(store, list(paths), settings=settings, now=lambda: now, report=messages.append,
                           dry_run=dry_run)
    return summary, messages


def test_dry_run_changes_nothing_and_says_what_would_happen(tmp_path, store, ingest_settings):
    root = tmp_path / "in"
    write_article(root, "teks.txt", "Berita teks.")
    md = write_article(root, "rakor.md", MARKDOWN)
    cms = write_article(root, "cms.jsonl", jsonl({"slug": "cms-1", "body": "Satu."}, {"slug": "cms-2", "body": "Dua."}))
    run(store, ingest_settings, root, dry_run=False)
    md.write_text(MARKDOWN.replace(f'title: "{RAKOR}"', 'title: "Rakor Pilkada OKU"'), encoding="utf-8")
    cms.write_text(jsonl({"slug": "cms-1", "body": "Satu."}, {"slug": "cms-2", "body": "Dua, diperbarui."}), encoding="utf-8")
    write_article(root, "banjir.html", HTML_PAGE)
    later = INGEST_TIME + timedelta(hours=1)
    before, revision = store_dump(store), store.revision()

    summary, messages = run(store, ingest_settings, root, dry_run=True, now=later)

    assert store_dump(store) == before and store.revision() == revision
    assert (summary.created, summary.updated, summary.unchanged, summary.failed) == (1, 2, 2, 0)
    assert f"would create: tag:okes.example,2024-09-18:banjir ({root / 'banjir.html'})" in messages
    assert (f"would update: tag:okes.example,2024-09-18:rakor ({md}) (changed: title)") in messages
    assert (f"would update: tag:okes.example,2024-09-18:cms-2 ({cms}:2) "
            "(changed: title, summary, content_html)") in messages
    assert f"unchanged: tag:okes.example,2024-09-18:cms-1 ({cms}:1)" in messages
    assert f"unchanged: tag:okes.example,2024-09-18:teks ({root / 'teks.txt'})" in messages
    assert not any(m.startswith(("created", "updated")) for m in messages)

    # The real run decides exactly what the dry run said.
    real, real_messages = run(store, ingest_settings, root, dry_run=False, now=later)
    said = [re.sub(r"^would (create|update)", r"\1d", re.sub(r" \(changed: .*\)$", "", m))
            for m in messages if m.startswith(("would ", "unchanged: "))]
    assert [m for m in real_messages if m.startswith(("created: ", "updated: ", "unchanged: "))] == said
    assert store.get("tag:okes.example,2024-09-18:rakor").title == "Rakor Pilkada OKU"
    assert store_dump(store) != before


def test_dry_run_accounts_for_the_earlier_items_of_the_same_run(tmp_path, store, ingest_settings):
    twice = write_article(tmp_path / "a", "dua-kali.jsonl",
                          jsonl({"slug": "sama", "body": "Versi satu."}, {"slug": "sama", "body": "Versi dua."}))
    clash_1 = write_article(tmp_path / "b" / "x", "berita.txt", "Berita x.")
    clash_2 = write_article(tmp_path / "b" / "y", "berita.txt", "Berita y.")
    paths = (twice, clash_1, clash_2)
    dry, messages = run(store, ingest_settings, *paths, dry_run=True)
    assert store.count() == 0
    verbs = [m.split(":")[0] for m in messages if m.startswith(("would", "unchanged"))]
    assert verbs == ["would create", "would update", "would create"], messages
    assert any(f"error: {clash_2}: slug 'berita' already belongs to article" in m for m in messages), messages
    real, _ = run(store, ingest_settings, *paths, dry_run=False)
    assert (dry.created, dry.updated, dry.failed) == (real.created, real.updated, real.failed) == (2, 1, 1)


def test_cli_dry_run_prints_verbs_and_creates_no_store(tmp_path, monkeypatch, capsys):
    from feedpub.cli import main

    monkeypatch.chdir(tmp_path)
    # No og:image: the real run below would measure it over the network.
    text = HTML_PAGE.replace('<meta property="og:image" content="/img/banjir.jpg">\n', "")
    page = write_article(tmp_path, "banjir.html", text)
    store_file = tmp_path / "data" / "feedpub.sqlite3"
    assert main(["ingest", "--dry-run", str(page)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^would create: tag:[^,]+,2024-09-18:banjir \(\S*banjir\.html\)$", out, re.MULTILINE), out
    assert "dry run: 1 to create, 0 to update, 0 unchanged, 0 failed; the store was not changed" in out
    assert not store_file.exists()

    assert main(["ingest", str(page)]) == 0
    assert "1 created" in capsys.readouterr().out
    page.write_text(text.replace("Siti Aminah", "Budi Santoso"), encoding="utf-8")
    from feedpub.settings import utc_now
    from sources.store import SQLiteStore

    store = SQLiteStore(store_file, clock=utc_now)
    before = store_dump(store)
    assert main(["ingest", "--dry-run", str(page)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"would update: tag:\S+:banjir \(.*banjir\.html\) \(changed: author\)", out), out
    assert "dry run: 0 to create, 1 to update, 0 unchanged" in out
    assert store_dump(store) == before
    assert [a.author for a in latest_published(store, INGEST_TIME + timedelta(days=1), 5)] == ["Siti Aminah"]
    store.close()


def test_hostile_files_are_named_errors_and_the_others_still_imported(tmp_path, store, ingest):
    """Found by review: each of these used to abort the whole run."""
    folder = tmp_path / "masuk"
    write_article(folder, "dalam.jsonl", '{"slug": "baik", "body": "Baris baik."}\n' + "[" * 200_000 + "\n")
    (folder / "rot.html").write_bytes(b'<html><head><meta charset="rot13"><title>T</title></head><body>\xff</body></html>')
    write_article(folder, "biasa.txt", "Berita biasa.")
    summary = ingest(folder)
    assert (summary.created, summary.failed) == (2, 2)
    assert any("dalam.jsonl:2: JSON nested too deeply" in m for m in ingest.messages), ingest.messages
    assert any("rot.html:1: unknown charset 'rot13'" in m for m in ingest.messages), ingest.messages
