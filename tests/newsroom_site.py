"""A small newsroom site, written as the newsroom writes and ingested by the real importer:
three months of articles in three categories, tags, two authors, "BACA JUGA" links between
them, a lead image on the site's own origin, one article deleted and one unpublished.

Used by the tests of pages for people, article pages, links and the browser
(tests/test_for_people.py, tests/test_article_pages.py, tests/test_links.py,
tests/test_browser.py). Small feeds (5 entries) and archive pages (3) give every
feed archive pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from feeds.building.build import BuildReport, build
from feeds.site import SiteSettings
from sources.ingest import ingest_paths
from sources.model import IngestSettings
from feedpub.settings import utc_now
from sources.store import SQLiteStore

JAKARTA = ZoneInfo("Asia/Jakarta")
NOW = datetime(2024, 9, 20, 12, 0, tzinfo=JAKARTA)
DELETED = "bupati-resmikan-pasar"      # deleted after readers saw it
UNPUBLISHED = "jadwal-debat-kedua"     # turned back into a draft
# (slug, days before NOW, headline, category, tags, author, related headlines)
ARTICLES = (
    ("kpu-tetapkan-dpt", 70, "KPU OKU Tetapkan DPT Pilkada 2024", "Politik", ["Pilkada 2024"], "Rahmad Hidayat", []),
    ("harga-cabai-naik", 64, "Harga Cabai di Pasar Baturaja Naik", "Ekonomi", ["Harga Pangan"], "Siti Aminah", []),
    ("ps-oku-ke-final", 58, "PS OKU Melaju ke Final Liga 3", "Olahraga", ["Liga 3"], "Rahmad Hidayat", []),
    (DELETED, 50, "Bupati Resmikan Pasar Baru Baturaja", "Ekonomi", ["Harga Pangan"], "Siti Aminah", []),
    ("bawaslu-awasi-asn", 44, "Bawaslu Awasi Netralitas ASN", "Politik", ["Pilkada 2024"], "Rahmad Hidayat",
     ["KPU OKU Tetapkan DPT Pilkada 2024"]),
    ("harga-beras-stabil", 37, "Harga Beras Tetap Stabil", "Ekonomi", ["Harga Pangan"], "Siti Aminah",
     ["Harga Cabai di Pasar Baturaja Naik", "Bupati Resmikan Pasar Baru Baturaja"]),
    ("debat-calon-bupati", 30, "Debat Calon Bupati Digelar", "Politik", ["Pilkada 2024", "Debat"], "Rahmad Hidayat",
     ["Bawaslu Awasi Netralitas ASN"]),
    (UNPUBLISHED, 24, "Jadwal Debat Kedua Diumumkan", "Politik", ["Debat"], "Rahmad Hidayat", []),
    ("pelatih-puji-pemain", 16, "Pelatih PS OKU Puji Mental Pemain", "Olahraga", ["Liga 3"], "Siti Aminah",
     ["PS OKU Melaju ke Final Liga 3"]),
    ("banjir-oku-timur", 9, "Banjir Rendam Tiga Desa di OKU Timur", "Peristiwa", ["Banjir"], "Siti Aminah", []),
    ("logistik-pilkada", 4, "Logistik Pilkada Mulai Didistribusikan", "Politik", ["Pilkada 2024"], "Rahmad Hidayat",
     ["Debat Calon Bupati Digelar", "Jadwal Debat Kedua Diumumkan"]),
    ("posko-banjir", 1, "Posko Siaga Banjir Dibuka", "Peristiwa", ["Banjir"], "Siti Aminah",
     ["Banjir Rendam Tiga Desa di OKU Timur", "Bupati Resmikan Pasar Baru Baturaja"]),
)


@dataclass
class Newsroom:
    store: SQLiteStore
    site: SiteSettings
    public: Path
    report: BuildReport


def settings(base_url: str, **changes) -> SiteSettings:
    values = dict(title="OKES.NEWS", description="Berita Ogan Komering Ulu", base_url=base_url, language="id",
                  author="Redaksi OKES.NEWS", items_per_feed=5, archive_entries=3,
                  catalogue=("category", "tag", "author"))
    values.update(changes)
    return SiteSettings(**values)


def write(folder: Path, base_url: str) -> list[Path]:
    """The articles as newsroom text with front matter, one file each."""
    paths = []
    for n, (slug, days, title, category, tags, author, related) in enumerate(ARTICLES):
        published = NOW - timedelta(days=days, hours=n % 5)
        front = [f"title: {title}", f"published: {published.isoformat()}", f"author: {author}",
                 f"categories: [{category}]", f"tags: [{', '.join(tags)}]"]
        if slug == "banjir-oku-timur":
            front.append(f"image: {base_url}/logo.png")   # the site's own: nothing from another origin
        body = [f"BATURAJA - OKES.NEWS - {title} menurut keterangan pihak terkait pada hari ini.",
                f"Paragraf kedua berita {slug} menjelaskan latar belakang peristiwa.",
                f"Paragraf ketiga berita {slug} memuat keterangan saksi dan pejabat.",
                *[f"BACA JUGA:{headline}" for headline in related],
                f"Paragraf penutup berita {slug}. (*)"]
        path = folder / f"{slug}.txt"
        path.write_text("---\n" + "\n".join(front) + "\n---\n" + "\n".join(body) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def newsroom(folder: Path, base_url: str, **changes) -> Newsroom:
    """The store filled, the deletion and the unpublishing done, and public/ built at NOW."""
    folder.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(folder / "feedpub.sqlite3", clock=utc_now)
    site = settings(base_url, **changes)
    articles = folder / "articles"
    articles.mkdir(exist_ok=True)
    ingest_paths(store, write(articles, base_url), settings=IngestSettings("okes.example"),
                 now=lambda: NOW - timedelta(days=1), overrides={}, report=lambda message: None)
    store.delete(DELETED, NOW - timedelta(hours=2))
    store.unpublish(UNPUBLISHED, NOW - timedelta(hours=1))
    public = folder / "public"
    return Newsroom(store, site, public, build(store, site, public, NOW))
