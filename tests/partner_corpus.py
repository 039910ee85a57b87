"""A corpus for the partner feeds: the sample article, the edge cases, and a newsroom's
worth of stories with lead images of every size and kind, one edited, one deleted, one
unpublished, one in English, one over a year old and one a partner sent us, titles and texts MSN refuses, reports
too large for Google News and SmartNews (87 articles).

Used by tests/test_partners.py, and by hand to run the W3C feed validator over every
partner document it produces:

    python -m tests.partner_corpus OUT_DIR
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from feedpub.settings import partner_segment, utc_now
from feeds.site import Partner, SiteSettings
from sources.ingest import ingest_paths
from sources.model import Article, Image, IngestSettings, SaveResult
from sources.store import SQLiteStore

from . import edge_corpus

JAKARTA = ZoneInfo("Asia/Jakarta")
CLOCK = datetime(2024, 9, 20, 12, 0, tzinfo=JAKARTA)
SAMPLE = Path(__file__).resolve().parent.parent / "sources" / "sample" / "okes-forkopimda-oku-pilkada-2024.txt"
SECRET = "rahasia-mitra-flipboard-2024"
SITE = SiteSettings(
    title="OKES.NEWS", description="Berita Ogan Komering Ulu dan sekitarnya, setiap hari",
    base_url="https://okes.example", language="id", author="Redaksi OKES.NEWS", items_per_feed=50,
    catalogue=("category", "tag", "author"), hubs=("https://hub.example/",),
    partners=(
        Partner("msn", "msn"), Partner("smartnews", "smartnews"), Partner("google", "google-news"),
        Partner("flipboard", "flipboard"), Partner("kurio", "kurio"), Partner("umum", "generic"),
        Partner("kurio-politik", "kurio", categories=("Politik",)),
        Partner("flip-rahasia", "flipboard", min_image=1000, private=partner_segment("flip-rahasia", SECRET)),
    ),
)
CATEGORIES = ("Politik", "Ekonomi", "Olahraga")
PARAGRAPHS = (
    "Pemerintah Kabupaten Ogan Komering Ulu menggelar rapat koordinasi bersama seluruh camat untuk membahas "
    "persiapan kegiatan di setiap kecamatan.",
    "Dalam rapat tersebut, pejabat daerah menekankan pentingnya pelayanan publik yang cepat, tepat dan terbuka "
    "bagi seluruh warga.",
    "Warga berharap hasil rapat segera ditindaklanjuti dengan langkah nyata di lapangan, terutama perbaikan jalan "
    "desa yang rusak.",
    "Kepala dinas terkait berjanji akan menyampaikan laporan perkembangan setiap pekan kepada masyarakat melalui "
    "laman resmi pemerintah daerah.",
    "Kegiatan serupa akan digelar kembali bulan depan dengan melibatkan tokoh masyarakat, pemuda dan pelaku usaha "
    "setempat.",
)
# (media type, width, height) by n % 5: large, square, small, GIF; none for 0
IMAGES = {1: ("image/jpeg", 1600, 900), 2: ("image/png", 1200, 1200), 3: ("image/jpeg", 640, 480),
          4: ("image/gif", 900, 900)}


def story(n: int, slug: str, title: str, published: datetime, *, paragraphs: int = 5, **fields) -> Article:
    kind = IMAGES.get(n % 5)
    image = Image(f"https://img.okes.example/{slug}.{kind[0].split('/')[1]}", kind[0], 150_000 + n, kind[1],
                  kind[2]) if kind else None
    html = "".join(f"<p>{PARAGRAPHS[i % 5]}</p>" for i in range(paragraphs))
    values = dict(
        id=f"tag:okes.example,2024-09-19:{slug}", slug=slug, url=None, title=title,
        summary=PARAGRAPHS[0], content_html=html, content_text=html, author="Siti Aminah" if n % 7 else None,
        city="BATURAJA", publication="OKES.NEWS", published=published, updated=published,
        categories=(CATEGORIES[n % 3],), tags=("Pemerintahan",) if n % 2 else ("Warga",), language="id",
        image=image, stored=published)
    values.update(fields)
    return Article(**values)


def put(store: SQLiteStore, article: Article, action: str = "created") -> None:
    store.save(lambda existing: SaveResult(action, article), article_id=article.id, slug=article.slug)


def fill(store: SQLiteStore, clock: datetime = CLOCK) -> None:
    """The corpus, its own stories dated before ``clock`` (the sample and the edge cases keep their 2024 dates)."""
    ingest_paths(store, [SAMPLE], settings=IngestSettings("okes.example"), now=lambda: edge_corpus.T0,
                 overrides={}, report=lambda message: None)
    edge_corpus.fill(store)
    for n in range(1, 51):
        short = n % 10 == 3   # a text MSN finds too short
        put(store, story(n, f"berita-{n:02d}", f"Rapat koordinasi kecamatan ke-{n} di Kabupaten OKU",
                         clock - timedelta(hours=n), paragraphs=2 if short else 5))
    put(store, story(1, "laporan-panjang", "Laporan panjang pembangunan jalan desa di OKU",
                     clock - timedelta(minutes=30), summary=" ".join(PARAGRAPHS)))
    put(store, story(2, "bahasa-inggris", "Flood relief reaches three villages in East OKU",
                     clock - timedelta(minutes=20), language="en"))
    put(store, story(1, "setahun-lalu", "Catatan setahun lalu: jalan desa mulai diperbaiki",
                     clock - timedelta(days=400)))
    put(store, story(1, "kiriman-mitra", "Berita kiriman mitra tentang panen raya di Martapura",
                     clock - timedelta(minutes=10), via_url="https://mitra.example/feed.xml", via_name="Mitra Sumsel",
                     upstream_id="https://mitra.example/panen"))
    # Titles MSN refuses (too short, too long, markup) over texts it would take.
    put(store, story(1, "judul-pendek", "Banjir lagi", clock - timedelta(minutes=50)))
    put(store, story(1, "judul-terlalu-panjang", "Rapat koordinasi " * 10, clock - timedelta(minutes=51)))
    put(store, story(1, "judul-bertanda", "Harga <b>cabai</b> naik lagi di Pasar Baturaja pekan ini",
                     clock - timedelta(minutes=52)))
    put(store, story(1, "tanpa-isi", "Pengumuman tanpa isi dari Pemerintah Kabupaten OKU",
                     clock - timedelta(minutes=53), paragraphs=0))
    put(store, story(2, "tag-asing", "Tabel jadwal pelayanan kependudukan di setiap kecamatan",
                     clock - timedelta(minutes=54), content_html="<h6>Jadwal</h6><figure><p>" + " ".join(PARAGRAPHS)
                     + "</p><figcaption>Tabel</figcaption></figure>"))
    put(store, story(1, "gambar-belum-diukur", "Gambar berita ini belum diukur oleh layanan",
                     clock - timedelta(minutes=55), image=Image("https://img.okes.example/belum.jpg")))
    # Too large for Google News (1 MB an article), and for SmartNews's feed on its own (1 MB).
    huge = "".join(f"<p>{PARAGRAPHS[i % 5]} Bagian {i}.</p>" for i in range(7500))
    put(store, story(2, "laporan-raksasa", "Laporan lengkap anggaran daerah tahun 2024 dan lampirannya",
                     clock - timedelta(minutes=40), content_html=huge))
    # Three long reports near the end of the feeds: SmartNews's feed sheds its oldest to fit 1 MB.
    long = "".join(f"<p>{PARAGRAPHS[i % 5]} Bagian {i}.</p>" for i in range(2900))
    for n in range(3):
        put(store, story(1, f"laporan-besar-{n}", f"Laporan besar musrenbang kecamatan bagian {n + 1}",
                         clock - timedelta(hours=47, minutes=n), content_html=long))
    edited = story(2, "disunting-panjang", "Jadwal pelayanan kependudukan diubah mulai pekan depan",
                   clock - timedelta(hours=5, minutes=30))
    put(store, edited)
    put(store, replace(edited, content_html=edited.content_html + "<p>Ralat: jadwal berlaku mulai Senin.</p>",
                       updated=clock - timedelta(hours=3), stored=clock - timedelta(hours=3)), "updated")
    put(store, story(1, "akan-ditarik", "Berita yang kemudian ditarik oleh redaksi OKES",
                     clock - timedelta(hours=70)))
    store.unpublish("akan-ditarik", clock - timedelta(hours=1))
    put(store, story(2, "akan-dihapus", "Berita yang kemudian dihapus oleh redaksi OKES",
                     clock - timedelta(hours=80)))
    store.delete("akan-dihapus", clock - timedelta(hours=2))


if __name__ == "__main__":
    from feeds.building.build import build

    out = Path(sys.argv[1])
    store = SQLiteStore(out.parent / "partner-corpus.sqlite3", clock=utc_now)
    fill(store)
    print(build(store, SITE, out, CLOCK).summary())
