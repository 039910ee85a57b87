"""A corpus of awkward articles, stored the way any importer would store them.

Used by tests/test_edge_cases.py, and by hand to run the W3C feed validator over
every document it produces:

    python -m tests.edge_corpus OUT_DIR BASE_URL
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from feedpub.settings import utc_now
from sources.model import Article, RelatedLink, SaveResult
from sources.store import SQLiteStore

T0 = datetime(2024, 9, 18, 8, 0, tzinfo=ZoneInfo("Asia/Jakarta"))
LONG_TITLE = ("Pemerintah Kabupaten Ogan Komering Ulu Menggelar Rapat Koordinasi Lintas Sektor " * 4)[:300].strip()


def article(n: int, slug: str, title: str, html: str, **fields) -> Article:
    # A distinct minute per article: entries sharing an instant draw a validator warning.
    when = T0 + timedelta(minutes=n)
    values = dict(
        id=f"tag:okes.example,2024-09-18:{slug}", slug=slug, url=f"https://okes.example/2024/09/{slug}",
        title=title, summary=f"Ringkasan {slug}.", content_html=html, content_text=html, author="Redaksi",
        city="BATURAJA", publication="OKES.NEWS", published=when, updated=when, categories=("Daerah",),
        tags=("Uji",), language="id", stored=when,
    )
    values.update(fields)
    return Article(**values)


def corpus() -> list[Article]:
    related = tuple(RelatedLink(f"Berita terkait nomor {i}") for i in range(10))
    return [
        article(1, "relatif", "Tautan dan gambar relatif",
                '<p>Lihat <a href="/foto/rapat">foto rapat</a> dan <a href="arsip.html">arsip</a>.</p>'
                '<p><img src="img/rapat.jpg" alt="Rapat"> <img src="//cdn.okes.example/x.png" alt="x"></p>'),
        article(2, "berbahaya", "Skrip, iframe dan onclick",
                '<p onclick="steal()">Teks <script>alert("x")</script>aman.</p>'
                '<iframe src="https://evil.example/"></iframe><a href="javascript:alert(1)">klik</a>'
                '<style>body{display:none}</style><p style="color:red">merah</p>'),
        article(3, "kendali", "Karakter\x0b kendali\x1f dalam judul",
                "<p>Isi\x0b dengan\x1f karakter kendali\x00.</p>", summary="Ringkasan\x0b aneh."),
        article(4, "cdata", "Judul dengan ]]> di dalamnya", "<p>Teks ]]&gt; dan ]]> mentah.</p>"),
        article(5, "escape", "Harga Cabai & Bawang <Naik> \"Tajam\"", "<p>A &amp; B &lt; C</p>"),
        article(6, "emoji-rtl", "🎉 Perayaan HUT OKU — مرحبا بالعالم",
                '<p dir="rtl">مرحبا بالعالم 🎉</p><p>שלום ✓</p>'),
        article(7, "judul-panjang", LONG_TITLE, "<p>Judul sangat panjang.</p>"),
        article(8, "tanpa-tautan", "Tanpa tautan terkait", "<p>Tidak ada BACA JUGA.</p>"),
        article(9, "sepuluh-tautan", "Sepuluh tautan terkait", "<p>Banyak tautan.</p>", related=related),
        *[article(10 + i, f"terkait-{i}", f"Berita terkait nomor {i}", f"<p>Isi {i}.</p>") for i in range(10)],
        article(30, "disunting", "Berita yang disunting", "<p>Versi pertama.</p>"),
        article(31, "dihapus", "Berita yang dihapus", "<p>Akan dihapus.</p>"),
    ]


def fill(store: SQLiteStore) -> None:
    for item in corpus():
        store.save(lambda existing, item=item: SaveResult("created", item), article_id=item.id, slug=item.slug)
    edited = store.get("tag:okes.example,2024-09-18:disunting")
    for version, minutes in (("kedua", 40), ("ketiga", 50)):
        edited = replace(edited, content_html=f"<p>Versi {version}.</p>", updated=T0 + timedelta(minutes=minutes),
                         stored=T0 + timedelta(minutes=minutes))
        store.save(lambda existing, e=edited: SaveResult("updated", e), article_id=edited.id, slug=edited.slug)
    store.delete("dihapus", T0 + timedelta(minutes=60))


NOW = T0 + timedelta(hours=2)

if __name__ == "__main__":
    from feeds.building.build import build
    from feeds.site import SiteSettings

    out, base = Path(sys.argv[1]), sys.argv[2].rstrip("/")
    store = SQLiteStore(out.parent / "edge-corpus.sqlite3", clock=utc_now)
    fill(store)
    site = SiteSettings(title="OKES & Co <Uji>", description="Korpus uji", base_url=base, author="Redaksi")
    print(build(store, site, out, NOW).summary())
