"""A deterministic corpus of realistic newsroom articles, for build benchmarks.

    >>> from bench.corpus import generate
    >>> articles = list(generate(3, seed=0))
    >>> [a.language for a in articles], articles[0].published < articles[-1].published
    (['id', 'id', 'id'], True)

Each article is made the way ``feedpub ingest`` makes one from a newsroom text
file: the generator writes the file's text (YAML front matter, then a dateline
lead, one paragraph per line, ``BACA JUGA:`` markers and a closing ``(*)``) and
hands it to the real importer's steps (:func:`~sources.newsroom.parse_newsroom_text`,
:func:`~sources.ingest.assemble_draft`, :func:`~sources.ingest.merge`), so ids,
slugs, summaries, HTML and related links have exactly the shape stored ones do.
Only the YAML parse is skipped (it would dominate the run time); the front
matter is still written into ``content_text``, as the importer stores it.

The shape, per article (a ``random.Random(seed)`` draws everything, so the same
``(n, seed)`` gives the same articles, byte for byte, on every run):

- published about :data:`PER_DAY` a day, newsroom hours weighted, the newest
  day ending just before :data:`END`; 100k articles span about 3.4 years;
- one of :data:`CATEGORIES` (weighted; 8 % have a second one);
- 1 to 5 (2.75 on average) of :data:`TAG_COUNT` tags drawn with Zipf-like
  popularity (weight 1 / rank ** 0.8): the top tag is on about 23 % of the
  articles, the 10th on 4 %, the 100th on 0.6 %, the 300th on 0.3 %;
- one of :data:`AUTHOR_COUNT` authors (weight 1 / rank ** 0.6); 2 % have none;
- 6 to 20 paragraphs: 3 KB of HTML on average, 1.4 KB to 4.7 KB for 90 % of
  articles (the sample article, sources/sample/, has 2.1 KB);
- 0 to 3 "baca juga" links (1.1 on average) naming the exact headline of an
  earlier article of the same category (headlines are unique), so every link
  resolves in a store;
- 60 % have a measured lead image; 4 % were edited later (updated > published).

:func:`store_path` builds a SQLite store of the corpus once and caches it;
``python -m bench.corpus N [--seed S]`` does that and prints the path, the
count and the time taken.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import math
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from queue import Empty

from feedpub.settings import utc_now
from sources.drafts import assemble_draft
from sources.ingest import merge
from sources.model import Article, Image, IngestSettings, SaveResult
from sources.newsroom import parse_newsroom_text
from sources.store import SQLiteStore
from sources.text import normalise_title, slugify, xml_safe

WIB = timezone(timedelta(hours=7))        # how the newsroom writes its times: +07:00
END = datetime(2026, 11, 1, 0, 0, tzinfo=WIB)   # every article is published before this
PER_DAY = 80
SETTINGS = IngestSettings(tag_authority="news.example.com", timezone="Asia/Jakarta", language="id")
IMAGE_HOST = "https://img.news.example.com"
SOURCE_ROOT = "/srv/newsroom"             # where the "files" lived; ``Article.source`` names one
CACHE_ENV = "FEEDPUB_BENCH_CACHE"
DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"

EDITED_SHARE = 0.04
IMAGE_SHARE = 0.60
NO_AUTHOR_SHARE = 0.02
SECOND_CATEGORY_SHARE = 0.08

# --- the vocabulary ------------------------------------------------------------------------
# Fixed for every seed, so feed names (category, tag and author slugs) do not move
# between corpora; the seed changes the articles only.

CATEGORIES: dict[str, int] = {   # name -> weight
    "Politik": 16, "Daerah": 15, "Ekonomi": 12, "Olahraga": 11, "Hukum": 10, "Hiburan": 7,
    "Pendidikan": 6, "Kesehatan": 6, "Internasional": 6, "Teknologi": 5, "Gaya Hidup": 3, "Otomotif": 3,
}

# Who a headline is about and what it is about, per category.
_SUBJECTS: dict[str, tuple[str, ...]] = {
    "Politik": ("KPU", "Bawaslu", "DPRD", "Gubernur", "Partai Koalisi", "Calon Bupati", "Tim Pemenangan",
                "Fraksi Oposisi", "Menteri Dalam Negeri", "Pj Bupati"),
    "Daerah": ("Pemkab", "Pemkot", "Warga", "Camat", "Kepala Desa", "BPBD", "Dinas PUPR", "Forkopimda",
               "Satpol PP", "Lurah"),
    "Ekonomi": ("Bank Indonesia", "OJK", "Pedagang Pasar", "Petani Kopi", "Harga Cabai", "Pelaku UMKM",
                "Pertamina", "Menteri Keuangan", "Eksportir Sawit", "Dinas Perdagangan"),
    "Olahraga": ("Timnas U-23", "Pelatih Persib", "Sriwijaya FC", "Atlet Angkat Besi", "PSSI", "KONI",
                 "Pebulu Tangkis Muda", "Klub Liga 2", "Pelari Maraton", "Tim Voli Putri"),
    "Hukum": ("Polres", "Kejari", "KPK", "Hakim Tipikor", "Kuasa Hukum Terdakwa", "Satreskrim",
              "Polda", "Jaksa Penuntut", "Pengadilan Negeri", "Lapas"),
    "Hiburan": ("Penyanyi Dangdut", "Sutradara Muda", "Band Indie", "Aktris Senior", "Panitia Festival",
                "Komika", "Rumah Produksi", "Penari Tradisional", "Grup Musik", "Pemeran Utama"),
    "Pendidikan": ("Dinas Pendidikan", "Kepala Sekolah", "Rektor", "Guru Honorer", "Mahasiswa KKN",
                   "Siswa SMA", "Kemendikbud", "Dosen", "Yayasan Pesantren", "Komite Sekolah"),
    "Kesehatan": ("Dinas Kesehatan", "RSUD", "Puskesmas", "BPJS Kesehatan", "Dokter Spesialis", "Kader Posyandu",
                  "Kemenkes", "Perawat", "IDI", "Apoteker"),
    "Internasional": ("Pemerintah Malaysia", "Delegasi ASEAN", "PBB", "Presiden Filipina", "Uni Eropa",
                      "Kedubes Jepang", "Militer Myanmar", "Parlemen Australia", "WHO", "Pemerintah Tiongkok"),
    "Teknologi": ("Startup Lokal", "Operator Seluler", "Kominfo", "Pengembang Aplikasi", "Peneliti BRIN",
                  "Perusahaan E-Commerce", "Komunitas Programmer", "Penyedia Internet", "Bank Digital", "Mahasiswa Teknik"),
    "Gaya Hidup": ("Pengusaha Kuliner", "Desainer Batik", "Komunitas Pesepeda", "Pengelola Wisata",
                   "Penggemar Kopi", "Perajin Songket", "Pemandu Wisata", "Kafe Lokal", "Pegiat Literasi", "Fotografer"),
    "Otomotif": ("Dealer Motor", "Produsen Mobil", "Komunitas Jip", "Pabrikan Jepang", "Bengkel Resmi",
                 "Pengemudi Ojol", "Dishub", "Asosiasi Karoseri", "Pembalap Muda", "Importir Mobil Listrik"),
}
_OBJECTS: dict[str, tuple[str, ...]] = {
    "Politik": ("Netralitas ASN", "Logistik Pilkada", "Debat Kandidat", "Daftar Pemilih Tetap", "Politik Uang",
                "Rekapitulasi Suara", "Kampanye Damai", "Anggaran Pilkada", "Koalisi Baru", "Hak Angket"),
    "Daerah": ("Perbaikan Jalan", "Banjir Musiman", "Pasar Rakyat", "Jembatan Gantung", "Air Bersih",
               "Sampah Pasar", "Festival Budaya", "Lampu Jalan", "Drainase Kota", "Bantuan Sosial"),
    "Ekonomi": ("Suku Bunga", "Harga Beras", "Inflasi Daerah", "Kredit Usaha Rakyat", "Stok BBM",
                "Ekspor Karet", "Nilai Tukar Rupiah", "Pupuk Bersubsidi", "Upah Minimum", "Pajak Kendaraan"),
    "Olahraga": ("Laga Tandang", "Seleksi Pemain", "Target Medali", "Stadion Baru", "Jadwal Liga",
                 "Kontrak Pelatih", "Pemusatan Latihan", "Kejuaraan Nasional", "Tiket Penonton", "Cedera Kapten"),
    "Hukum": ("Kasus Korupsi Dana Desa", "Penyelundupan Narkoba", "Sengketa Lahan", "Tuntutan Jaksa",
              "Pencurian Sepeda Motor", "Vonis Bebas", "Praperadilan", "Penipuan Daring", "Judi Online", "Pungli"),
    "Hiburan": ("Album Baru", "Film Horor", "Konser Amal", "Tur Nasional", "Serial Televisi",
                "Penghargaan Musik", "Panggung Rakyat", "Lagu Daerah", "Pentas Teater", "Jumpa Penggemar"),
    "Pendidikan": ("Zonasi PPDB", "Beasiswa Prestasi", "Kurikulum Merdeka", "Sekolah Rusak", "Ujian Nasional",
                   "Tunjangan Guru", "Wisuda", "Literasi Digital", "Makan Siang Gratis", "Akreditasi Kampus"),
    "Kesehatan": ("Demam Berdarah", "Stunting", "Imunisasi Anak", "Antrean Pasien", "Obat Generik",
                  "Layanan Cuci Darah", "Tuberkulosis", "Gizi Buruk", "Ambulans Desa", "Klaim BPJS"),
    "Internasional": ("Laut China Selatan", "Krisis Pangan", "Perjanjian Dagang", "Pengungsi Rohingya",
                      "Gencatan Senjata", "Harga Minyak Dunia", "Pemilu Amerika", "Gempa Bumi", "Kerja Sama Energi", "Visa Kerja"),
    "Teknologi": ("Kecerdasan Buatan", "Kebocoran Data", "Jaringan 5G", "Pusat Data", "Aplikasi Pemerintah",
                  "Uang Digital", "Satelit Internet", "Keamanan Siber", "Gim Lokal", "Transformasi Digital"),
    "Gaya Hidup": ("Kopi Robusta", "Wisata Alam", "Batik Motif Baru", "Kuliner Pempek", "Olahraga Lari",
                   "Pameran Foto", "Desa Wisata", "Tren Busana", "Taman Kota", "Pasar Kreatif"),
    "Otomotif": ("Mobil Listrik", "Uji Emisi", "Harga Motor Bekas", "Mudik Lebaran", "Tilang Elektronik",
                 "Pameran Otomotif", "Balap Liar", "Stasiun Pengisian", "Pajak Progresif", "Jalan Tol"),
}
_VERBS = ("Gelar", "Tekankan", "Dorong", "Tinjau", "Resmikan", "Minta", "Targetkan", "Siapkan", "Bantah",
          "Apresiasi", "Soroti", "Evaluasi", "Percepat", "Usulkan", "Tolak", "Kawal", "Bahas", "Pantau",
          "Umumkan", "Perkuat", "Tunda", "Janjikan", "Kritik", "Dukung", "Selidiki")
_TAILS = ("Jelang Pilkada Serentak", "Tahun Depan", "Pekan Ini", "di Tengah Musim Hujan", "Usai Lebaran",
          "Akhir Bulan Ini", "Bersama Warga", "Secara Bertahap", "Mulai Senin", "Sebelum Tutup Tahun",
          "Hingga Tuntas", "demi Kelancaran Layanan", "di Hadapan Wartawan", "Tanpa Tambahan Anggaran",
          "untuk Pertama Kalinya")
CITIES = ("BATURAJA", "PALEMBANG", "JAKARTA", "MARTAPURA", "MUARA ENIM", "PRABUMULIH", "LAHAT", "LUBUKLINGGAU",
          "KAYUAGUNG", "SEKAYU", "PAGARALAM", "INDRALAYA", "MUARADUA", "BANDUNG", "SURABAYA", "MEDAN",
          "LAMPUNG", "JAMBI", "BENGKULU", "PANGKALPINANG", "PADANG", "PEKANBARU", "YOGYAKARTA", "SEMARANG",
          "DENPASAR", "MAKASSAR", "BALIKPAPAN", "PONTIANAK", "KUPANG", "JAYAPURA")
PUBLICATIONS = ("OKES.NEWS", "KABAR.ID", "SUMEKS.CO")
_PLACES = tuple(city.title() for city in CITIES)

_FIRST = ("Rahmad", "Siti", "Ahmad", "Dewi", "Budi", "Rina", "Joko", "Putri", "Agus", "Nurul", "Hendra", "Lestari",
          "Fajar", "Indah", "Eko", "Wulan", "Dedi", "Ayu", "Rizki", "Sri", "Yudi", "Maya", "Andi", "Fitri", "Bambang")
_LAST = ("Hidayat", "Rahayu", "Saputra", "Wijaya", "Nugroho", "Lestari", "Kurniawan", "Pratama", "Sari",
         "Setiawan", "Susanto", "Handayani", "Firmansyah", "Utami", "Gunawan", "Permana", "Siregar", "Nasution",
         "Harahap", "Simanjuntak", "Wibowo", "Ramadhan", "Syahputra", "Anggraini", "Maulana")
AUTHOR_COUNT = 150

# Tags: the newsroom's running stories first (the most popular), then place-bound ones.
_STORY_TAGS = (
    "Pilkada 2024", "Pemilu 2024", "Banjir", "Harga BBM", "Timnas Indonesia", "Korupsi", "Narkoba", "Inflasi",
    "Stunting", "Demam Berdarah", "IKN Nusantara", "Piala Dunia U-17", "SEA Games 2025", "Liga 1", "KPK",
    "Bank Indonesia", "Rupiah", "UMKM", "Kurikulum Merdeka", "PPDB", "Makan Siang Gratis", "Jalan Tol Trans-Sumatra",
    "Mudik Lebaran", "Ramadan", "Idulfitri", "Natal & Tahun Baru", "Karhutla", "Kabut Asap", "Gempa Bumi",
    "Mobil Listrik", "Judi Online", "Pinjol Ilegal", "Kecerdasan Buatan", "Kebocoran Data", "Wisata Alam",
    "Kuliner Nusantara", "Kopi Robusta", "Songket Palembang", "Pempek", "Sungai Musi", "Jembatan Ampera",
    "Danau Ranau", "Dana Desa", "Bansos", "Upah Minimum 2025", "Pupuk Subsidi", "Harga Beras", "Sawit",
    "Karet", "Batu Bara", "Pertamina", "PLN", "BPJS Kesehatan", "ASN", "PPPK", "Guru Honorer", "TNI", "Polri",
    "Bawaslu", "DPRD Sumsel", "Gubernur Sumsel", "Pj Bupati", "Debat Pilkada", "Quick Count", "Rekapitulasi Suara",
    "Sengketa Pilkada", "Mahkamah Konstitusi", "Hari Kemerdekaan", "HUT RI ke-80", "Tilang Elektronik",
)
_PLACE_TOPICS = ("Banjir", "Pilkada", "Jalan Rusak", "Pasar", "Wisata", "Kriminal", "Pendidikan", "Kesehatan",
                 "Ekonomi", "Olahraga")
TAG_COUNT = 300
TAG_EXPONENT = 0.8
AUTHOR_EXPONENT = 0.6

_ROLES = ("Kepala Dinas", "Ketua DPRD", "Kapolres", "Bupati", "Wali Kota", "Direktur Utama", "Pelatih Kepala",
          "Pengamat Ekonomi", "Ketua KPU", "Kepala Desa", "Camat", "Juru Bicara", "Ketua Panitia", "Kajari",
          "Sekretaris Daerah", "Rektor", "Kepala Sekolah", "Dokter", "Ketua Umum", "Kasat Reskrim")
_ACTORS = ("pemerintah daerah", "pihak kepolisian", "masyarakat setempat", "para pedagang", "panitia penyelenggara",
           "dinas terkait", "aparat keamanan", "penyelenggara pemilu", "warga sekitar", "jajaran direksi",
           "para petani", "tim gabungan", "pengurus klub", "pihak sekolah", "tenaga kesehatan", "pemerintah pusat",
           "para pelaku usaha", "kalangan mahasiswa", "tokoh masyarakat", "pihak pengembang")
_ACTIONS = ("terus berupaya meningkatkan", "berkomitmen menjaga", "akan segera menuntaskan", "diminta memperkuat",
            "telah menyiapkan", "mulai memantau", "berharap dapat mempercepat", "sedang mengevaluasi",
            "menargetkan penyelesaian", "perlu memperhatikan", "sepakat memperbaiki", "ikut mengawasi",
            "menolak rencana", "mendukung penuh", "masih menunggu kepastian soal")
_MATTERS = ("pelayanan publik", "kualitas infrastruktur jalan", "distribusi logistik", "stabilitas harga bahan pokok",
            "keamanan dan ketertiban", "program bantuan sosial", "netralitas aparatur sipil negara",
            "kesiapan personel", "penyaluran pupuk bersubsidi", "pembangunan fasilitas umum",
            "transparansi penggunaan anggaran", "kebersihan lingkungan", "akses air bersih", "kesejahteraan guru",
            "pengawasan tempat hiburan", "jadwal pertandingan", "penanganan perkara", "ketersediaan obat",
            "jaringan internet desa", "keselamatan pengguna jalan")
_MANNERS = ("di seluruh kecamatan", "menjelang akhir tahun", "dalam waktu dekat", "sesuai ketentuan yang berlaku",
            "secara bertahap", "bersama instansi terkait", "demi kepentingan masyarakat luas",
            "selama sepekan ke depan", "tanpa membebani warga", "mulai bulan depan", "di tingkat provinsi",
            "hingga ke pelosok desa")
_GOALS = ("kegiatan berjalan lancar", "masyarakat tidak dirugikan", "target tahun ini tercapai",
          "tidak ada lagi keluhan warga", "situasi tetap kondusif", "anggaran terserap dengan baik",
          "semua pihak mendapat informasi yang sama", "persoalan serupa tidak terulang")
_SAYS = ("ujar", "kata", "ungkap", "tegas", "jelas", "tambah", "imbuh")
_VENUES = ("ruang rapat bupati", "aula kantor camat", "gedung DPRD", "halaman mapolres", "kantor dinas",
           "balai desa", "stadion", "hotel", "rumah dinas", "pendopo")
_WEEKDAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
_MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
           "November", "Desember")
# Newsroom hours: little at night, most during the working day.
_HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 4, 6, 8, 8, 8, 8, 7, 8, 8, 8, 7, 6, 5, 5, 5, 4, 2, 1)


def _tags() -> tuple[str, ...]:
    rng = random.Random(1)
    placed = [f"{topic} {place}" for topic in _PLACE_TOPICS for place in _PLACES]
    rng.shuffle(placed)
    return (_STORY_TAGS + tuple(placed))[:TAG_COUNT]


def _authors() -> tuple[str, ...]:
    rng = random.Random(2)
    names = [f"{first} {last}" for first, last in itertools.product(_FIRST, _LAST) if first != last]
    return tuple(rng.sample(names, AUTHOR_COUNT))


TAGS = _tags()        # by popularity, most popular first
AUTHORS = _authors()  # by output, most prolific first


def _zipf(count: int, exponent: float) -> list[float]:
    """Cumulative weights 1 / rank ** exponent, to draw from with ``bisect``."""
    return list(itertools.accumulate(1 / rank ** exponent for rank in range(1, count + 1)))


_TAG_CUM = _zipf(len(TAGS), TAG_EXPONENT)
_AUTHOR_CUM = _zipf(len(AUTHORS), AUTHOR_EXPONENT)
_CATEGORY_NAMES = tuple(CATEGORIES)
_CATEGORY_CUM = list(itertools.accumulate(CATEGORIES.values()))
_HOUR_CUM = list(itertools.accumulate(_HOUR_WEIGHTS))


# --- the generator -------------------------------------------------------------------------


def publication_times(n: int, rng: random.Random) -> list[datetime]:
    """``n`` ascending times, :data:`PER_DAY` a day on the days before :data:`END`
    (the oldest day takes the remainder)."""
    days = math.ceil(n / PER_DAY)
    first_day = END.date() - timedelta(days=days)
    times: list[datetime] = []
    for day_index in range(days):
        count = PER_DAY if day_index else n - PER_DAY * (days - 1)
        day = datetime.combine(first_day + timedelta(days=day_index), datetime.min.time(), WIB)
        seconds = sorted(
            bisect.bisect_right(_HOUR_CUM, rng.random() * _HOUR_CUM[-1]) * 3600 + rng.randrange(3600)
            for _ in range(count)
        )
        times.extend(day + timedelta(seconds=s) for s in seconds)
    return times


class _Writer:
    """Draws one article's text; keeps what later articles depend on (headlines taken,
    recent headlines per category for "baca juga" links)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.titles: set[str] = set()     # normalised: a link names exactly one article
        self.slugs: set[str] = set()
        self.recent: dict[str, deque[str]] = {name: deque(maxlen=300) for name in CATEGORIES}

    def pick(self, items: Sequence[str]) -> str:
        # random.choice's unbiased draw costs three times this; the bias (1 in 2**53) is not seen.
        return items[int(self.rng.random() * len(items))]

    def headline(self, category: str) -> str:
        rng, pick = self.rng, self.pick
        for attempt in itertools.count():
            words = [pick(_SUBJECTS[category])]
            if words[0] in ("Pemkab", "Pemkot", "Polres", "Kejari", "DPRD", "KPU", "Bawaslu", "RSUD", "Dinas PUPR"):
                words.append(pick(_PLACES))
            words += [pick(_VERBS), pick(_OBJECTS[category])]
            if rng.random() < 0.6:
                words.append(pick(_TAILS))
            if rng.random() < 0.3 or attempt > 3:
                words.append(pick(_PLACES) if rng.random() < 0.7 else str(rng.randrange(2, 500)) + " Warga")
            if attempt > 10:   # the grammar ran dry for this category: a follow-up, numbered
                words.append(f"(Bagian {attempt})")
            title = " ".join(words)
            norm = normalise_title(title)
            if norm not in self.titles:
                self.titles.add(norm)
                return title
        raise AssertionError("unreachable")

    def slug(self, title: str) -> str:
        base = slugify(title)[:80].rstrip("-")
        slug, number = base, 1
        while slug in self.slugs:
            number += 1
            slug = f"{base}-{number}"
        self.slugs.add(slug)
        return slug

    def person(self) -> tuple[str, str]:
        """(full mention with role, the surname used afterwards)."""
        pick = self.pick
        first, last = pick(_FIRST), pick(_LAST)
        return f"{pick(_ROLES)} {pick(_PLACES)}, {first} {last}", last

    def clause(self) -> str:
        pick = self.pick
        return f"{pick(_ACTORS)} {pick(_ACTIONS)} {pick(_MATTERS)} {pick(_MANNERS)}"

    def sentence(self, published: datetime) -> str:
        rng, pick = self.rng, self.pick
        kind = rng.randrange(7)
        if kind == 0:
            who, _ = self.person()
            return f"{who}, menegaskan bahwa {self.clause()}."
        if kind == 1:
            _, surname = self.person()
            quote = f"Kami {pick(_ACTIONS)} {pick(_MATTERS)} agar {pick(_GOALS)}"
            return f"\"{quote},\" {pick(_SAYS)} {surname}."
        if kind == 2:
            who, _ = self.person()
            return f"Menurut {who}, {self.clause()}."
        if kind == 3:
            who, _ = self.person()
            day = published - timedelta(days=rng.randrange(3))
            return (f"Hal itu disampaikan {who}, di {pick(_VENUES)}, {pick(_PLACES)}, pada "
                    f"{_WEEKDAYS[day.weekday()]}, {day.day} {_MONTHS[day.month - 1]} {day.year}.")
        if kind == 4:
            return f"Selain itu, {self.clause()}."
        if kind == 5:
            return f"Pihaknya juga {pick(_ACTIONS)} {pick(_MATTERS)} agar {pick(_GOALS)}."
        clause = self.clause()
        return f"{clause[0].upper()}{clause[1:]}."

    def lead(self, category: str, published: datetime) -> str:
        """The opening sentence, dated the way Indonesian news does: "Rabu (18/9/2024)"."""
        rng, pick = self.rng, self.pick
        day = published - timedelta(days=rng.choices((0, 1), (3, 1))[0])
        return (f"{pick(_SUBJECTS[category])} {pick(_PLACES)} {pick(_ACTIONS)} "
                f"{pick(_MATTERS)} {pick(_MANNERS)}, {_WEEKDAYS[day.weekday()]} "
                f"({day.day}/{day.month}/{day.year}). {self.sentence(published)}")

    def paragraph(self, published: datetime) -> str:
        count = self.rng.choices((1, 2, 3), (1, 5, 2))[0]
        return " ".join(self.sentence(published) for _ in range(count))

    def related(self, category: str) -> list[str]:
        earlier = self.recent[category]
        wanted = min(len(earlier), self.rng.choices((0, 1, 2, 3), (35, 30, 25, 10))[0])
        picks = self.rng.sample(range(len(earlier)), wanted)
        return [earlier[i] for i in picks]


def _pick_tags(rng: random.Random) -> list[str]:
    wanted = rng.choices((1, 2, 3, 4, 5), (15, 30, 30, 15, 10))[0]
    tags: list[str] = []
    while len(tags) < wanted:
        tag = TAGS[bisect.bisect_right(_TAG_CUM, rng.random() * _TAG_CUM[-1])]
        if tag not in tags:
            tags.append(tag)
    return tags


def _yaml_list(values: list[str]) -> str:
    return "[" + ", ".join(_yaml_text(v) for v in values) + "]"


def _yaml_text(value: str) -> str:
    # Double-quoted YAML: our vocabulary has no backslash, control character or quote.
    return f'"{value}"'


def _article(writer: _Writer, published: datetime) -> Article:
    rng, pick = writer.rng, writer.pick
    category = _CATEGORY_NAMES[bisect.bisect_right(_CATEGORY_CUM, rng.random() * _CATEGORY_CUM[-1])]
    categories = [category]
    if rng.random() < SECOND_CATEGORY_SHARE:
        other = pick(_CATEGORY_NAMES)
        if other != category:
            categories.append(other)
    title = writer.headline(category)
    slug = writer.slug(title)
    author = None if rng.random() < NO_AUTHOR_SHARE else \
        AUTHORS[bisect.bisect_right(_AUTHOR_CUM, rng.random() * _AUTHOR_CUM[-1])]
    tags = _pick_tags(rng)
    updated = None
    if rng.random() < EDITED_SHARE:
        edited = published + timedelta(minutes=rng.randrange(15, 2 * 24 * 60))
        updated = edited if edited < END else None
    image = None
    if rng.random() < IMAGE_SHARE:
        image = Image(f"{IMAGE_HOST}/{published:%Y/%m}/{slug}.jpg", "image/jpeg", rng.randrange(40_000, 400_000))

    paragraphs = [writer.lead(category, published)]
    paragraphs += [writer.paragraph(published) for _ in range(rng.randint(5, 19))]
    body_lines = [f"{pick(CITIES)} - {pick(PUBLICATIONS)} - {paragraphs[0]}", *paragraphs[1:]]
    body_lines[-1] += " (*)"
    for title_linked in writer.related(category):
        body_lines.insert(rng.randint(2, len(body_lines) - 1), f"BACA JUGA:{title_linked}")
    front = ["---", f"title: {_yaml_text(title)}"]
    if author:
        front.append(f"author: {_yaml_text(author)}")
    front.append(f"published: {published.isoformat()}")
    if updated:
        front.append(f"updated: {updated.isoformat()}")
    front += [f"categories: {_yaml_list(categories)}", f"tags: {_yaml_list(tags)}"]
    if image:
        front.append(f"image: {image.url}")
    front.append("---")
    text = "\n".join(front + body_lines) + "\n"

    source = f"{SOURCE_ROOT}/{published:%Y/%m}/{slug}.txt"
    body = parse_newsroom_text("\n".join(body_lines), path=source, first_line=len(front) + 1)
    fields = {
        "id": None, "title": title, "slug": slug, "url": None, "summary": None, "author": author,
        "published": published, "updated": updated, "categories": tuple(categories), "tags": tuple(tags),
        "language": None, "image": image.url if image else None,
    }
    draft = assemble_draft(
        path=source, fields=fields, lead=body.lead, content_html=body.html(), content_text=xml_safe(text),
        default_slug=slug, city=body.city, publication=body.publication, related_titles=body.related_titles,
        dateline=body.dateline,
    )
    # The moment it was stored: when it was written, or last edited.
    article = merge(None, replace(draft, image=image), updated or published, SETTINGS).article
    writer.recent[category].append(title)
    return article


def generate(n: int, seed: int = 0) -> Iterator[Article]:
    """``n`` articles, oldest first; the same ``(n, seed)`` always gives equal articles.

    The first ``k`` articles of ``generate(n)`` are not those of ``generate(k)``:
    the corpus always ends at :data:`END`, so ``n`` sets where it begins.
    """
    if n < 0:
        raise ValueError(f"n must be 0 or more, got {n}")
    rng = random.Random(seed)
    writer = _Writer(rng)
    for published in publication_times(n, rng):
        yield _article(writer, published)


# --- the cached store ----------------------------------------------------------------------


def cache_dir() -> Path:
    """Where stores are cached: ``$FEEDPUB_BENCH_CACHE`` or ``bench/.cache``."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)


BYTES_PER_ARTICLE = 25_000   # a stored article with its revision and full-text index, measured: about 21 KB


def _build_dir(cache: Path, n: int) -> Path:
    # Every save is its own synchronous=FULL transaction (SQLiteStore's durability
    # promise, which its public API does not let a caller relax), so on a disk each
    # of them waits for an fsync. On tmpfs an fsync costs nothing: when /dev/shm has
    # room, the store is built there through the same save() path, then copied.
    shm = Path("/dev/shm")
    try:
        roomy = shutil.disk_usage(shm).free > 2 * n * BYTES_PER_ARTICLE
    except OSError:
        return cache
    return shm if roomy and os.access(shm, os.W_OK) else cache


_BATCH = 200


def _produce(n: int, seed: int, queue: multiprocessing.Queue) -> None:
    """Runs in a child process: the corpus in batches, then None (or the error)."""
    try:
        batch: list[Article] = []
        for article in generate(n, seed):
            batch.append(article)
            if len(batch) == _BATCH:
                queue.put(batch)
                batch = []
        queue.put(batch)
        queue.put(None)
    except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
        queue.put(RuntimeError(f"generating the corpus failed: {exc!r}"))


def generate_in_background(n: int, seed: int = 0) -> Iterator[Article]:
    """:func:`generate`'s articles, drawn in a child process so that generating
    (pure Python) and storing (mostly SQLite) use both cores."""
    context = multiprocessing.get_context("spawn")   # fork is unsafe in a threaded process (pytest, servers)
    queue = context.Queue(maxsize=16)
    child = context.Process(target=_produce, args=(n, seed, queue), daemon=True, name="corpus-generator")
    child.start()
    try:
        while True:
            try:
                item = queue.get(timeout=1)
            except Empty:
                if child.is_alive():
                    continue
                raise RuntimeError(f"the corpus generator died (exit code {child.exitcode})") from None
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            yield from item
        child.join()
    finally:
        if child.is_alive():
            child.terminate()
            child.join()


def load(store: SQLiteStore, articles: Iterable[Article], *, progress: bool = False, total: int = 0) -> int:
    """Save every article into ``store`` as new (each through :meth:`SQLiteStore.save`);
    the number saved."""
    saved = 0
    started = time.perf_counter()
    for article in articles:
        def decide(existing: Article | None, article: Article = article) -> SaveResult:
            if existing is not None:
                raise ValueError(f"the corpus has two articles for {article.slug!r}")
            return SaveResult("created", article)

        store.save(decide, article_id=article.id, slug=article.slug, source=article.source)
        saved += 1
        if progress and (saved % 1000 == 0 or saved == total):
            rate = saved / (time.perf_counter() - started)
            print(f"\r{saved}/{total} articles, {rate:.0f}/s", end="", file=sys.stderr, flush=True)
    if progress and saved:
        print(file=sys.stderr)
    return saved


def store_path(n: int, seed: int = 0, *, cache: Path | None = None) -> Path:
    """A SQLite store holding ``generate(n, seed)``, built on first use and cached
    (``<cache>/corpus-{n}-{seed}.sqlite3``, see :func:`cache_dir`). Copy it before changing it.

    The cache is keyed on ``(n, seed)`` only: delete it after changing the generator.
    """
    cache = cache or cache_dir()
    target = cache / f"corpus-{n}-{seed}.sqlite3"
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    ignore = cache / ".gitignore"
    if not ignore.exists():   # gigabytes of generated input must never be committed by accident
        ignore.write_text("*\n")
    with tempfile.TemporaryDirectory(prefix="feedpub-corpus-", dir=_build_dir(cache, n)) as work:
        built = Path(work) / target.name
        # Suggestions are a full-text search per article without named links: left out,
        # as the benchmarks measure feed builds, not ingest.
        store = SQLiteStore(built, clock=utc_now, suggest_related=False)
        try:
            load(store, generate_in_background(n, seed), progress=sys.stderr.isatty(), total=n)
        finally:
            store.close()   # the last connection checkpoints the WAL into the file
        # Copied next to the target and renamed: a build cut short never leaves a
        # half-filled store where the next run would take it for a finished one.
        partial = cache / f".{target.name}.partial-{os.getpid()}"
        try:
            shutil.copyfile(built, partial)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.corpus", description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="how many articles")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    path = store_path(args.n, args.seed)
    elapsed = time.perf_counter() - started
    store = SQLiteStore(path, clock=utc_now)
    try:
        count = store.count()
    finally:
        store.close()
    print(f"{path}\t{count} articles\t{elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
