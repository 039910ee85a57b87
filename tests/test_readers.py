"""Real feed readers over HTTP from the running service.

`feedpub serve` runs as a real process (``Served``); articles are ingested beside it with
`feedpub ingest`; then feedparser, the `reader` library and newsboat read /rss.xml,
/atom.xml and /feed.json from 127.0.0.1 and what they stored is checked field by field
against the front matter the articles were written with.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest
import requests

from sources.text import slugify

from .conftest import JAKARTA, write_article
from .harness import Served, wait_for

LOOPBACK = "127.0.0.1"
FEEDS = ("/rss.xml", "/atom.xml", "/feed.json")
SAMPLE_SLUG = "okes-forkopimda-oku-pilkada-2024"
AHY_FULL = "AHY Tekankan Keadilan dalam Pengadaan Tanah: Hak Warga Harus Dihormati"
# What the markers citing it say (cut short): the label readers see, whatever its headline.
AHY_MARKER = "AHY Tekankan Keadilan dalam Pengadaan Tanah"
PENDING = "Bhabinkamtibmas Dituntut Mampu Ciptakan Situasi Aman dan Kondusif Selama Pemilukada"


@dataclass(frozen=True)
class Article:
    """A newsroom text file as a reporter writes it, and what every reader must show of it."""

    slug: str
    title: str
    published: str                    # exactly as written in the front matter
    lines: tuple[str, ...]            # the newsroom body: dateline + lead first
    author: str | None = None
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def text(self) -> str:
        meta = [f"title: {json.dumps(self.title, ensure_ascii=False)}", f"published: {self.published}"]
        if self.author:
            meta.append(f"author: {json.dumps(self.author, ensure_ascii=False)}")
        if self.categories:
            meta.append(f"categories: {json.dumps(list(self.categories), ensure_ascii=False)}")
        if self.tags:
            meta.append(f"tags: {json.dumps(list(self.tags), ensure_ascii=False)}")
        return "---\n" + "\n".join(meta) + "\n---\n" + "\n".join(self.lines) + "\n"

    @property
    def when(self) -> datetime:
        moment = datetime.fromisoformat(self.published.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=JAKARTA)   # site.timezone

    @property
    def paragraphs(self) -> list[str]:
        """The body as readers must get it: dateline cut, markers and end marks dropped."""
        kept = [line for line in self.lines if not line.upper().startswith("BACA JUGA")]
        kept[0] = kept[0].split(" - ", 2)[-1]
        return [line.removesuffix(" (*)") for line in kept]

    @property
    def summary(self) -> str:
        return self.paragraphs[0]

    @property
    def shown(self) -> list[str]:
        """The content's paragraphs as HTML: the lead opens with the dateline, as written, in bold."""
        dateline = self.lines[0].removesuffix(self.paragraphs[0]).strip()
        first, *rest = [expected_html(paragraph) for paragraph in self.paragraphs]
        return [f"<p><strong>{html.escape(dateline, quote=False)}</strong> {first[3:]}", *rest]

    def id_pattern(self) -> re.Pattern[str]:
        # minted once from the publish date in the site's zone (Asia/Jakarta)
        day = self.when.astimezone(JAKARTA).date().isoformat()
        return re.compile(rf"^tag:[a-z0-9.-]+,{day}:{re.escape(self.slug)}$")


AHY = Article(
    "ahy", AHY_FULL, "2024-09-17T09:00:00+07:00",
    ("JAKARTA - OKES.NEWS - Menteri ATR/BPN menekankan keadilan & kepastian hukum dalam pengadaan tanah.",
     'Warga "terdampak" harus dihormati haknya, ujar AHY.'),
    author="Dewi Lestari", categories=("Nasional",), tags=("Pertanahan",),
)
# Published in UTC late on the 18th: the 19th at 06:45 in the site's zone.
BANJIR = Article(
    "banjir", "Banjir Rendam Baturaja & OKU Timur, Warga “Siaga”", "2024-09-18T23:45:00Z",
    ("BATURAJA - OKES.NEWS - Hujan deras sejak sore merendam ratusan rumah di tepian Sungai Ogan.",
     "Ketinggian air 1,5 meter; arus < 2 m/detik menurut BPBD.",
     "BACA JUGA:AHY Tekankan Keadilan dalam Pengadaan Tanah:",   # cut short: resolves to AHY
     "Warga mengungsi ke balai desa. (*)"),
    author="Rahmad Hidayat", categories=("Daerah", "Bencana"), tags=("Banjir",),
)
# No zone: read in site.timezone.
PASAR = Article(
    "pasar", "Pasar Murah Digelar di Martapura", "2024-09-16 08:00",
    ("MARTAPURA - OKES.NEWS - Pemkab OKU Timur menggelar pasar murah menjelang Maulid.",),
)
ARTICLES = (BANJIR, AHY, PASAR)           # newest first, after the sample (published at first start)
# The edit (same file, same slug) and a new article, for the readers' second update.
BANJIR_EDITED = Article(
    BANJIR.slug, "Banjir Rendam Baturaja, 300 Warga Mengungsi", BANJIR.published,
    BANJIR.lines + ("Pemkab menyiapkan dapur umum di balai desa.",),
    author=BANJIR.author, categories=BANJIR.categories, tags=BANJIR.tags,
)
JALAN = Article(
    "jalan", "Jalan Lintas Sumatra di Baturaja Kembali Dibuka", "2024-09-20T10:00:00+07:00",
    ("BATURAJA - OKES.NEWS - Jalan lintas yang tergenang kini bisa dilalui kendaraan.",),
    author="Dewi Lestari", categories=("Daerah",),
)


def expected_html(paragraph: str) -> str:
    return f"<p>{html.escape(paragraph, quote=False)}</p>"


_http = requests.Session()
_http.trust_env = False            # no proxy: straight to the loopback address


def fetch(url: str) -> requests.Response:
    assert urlsplit(url).hostname == LOOPBACK, url
    return _http.get(url, timeout=5, allow_redirects=False)


@dataclass
class Newsroom:
    served: Served
    folder: Path
    started: datetime                 # before the service ingested its sample
    ready: datetime                   # after it did

    def url(self, path: str) -> str:
        return self.served.url + path

    def link(self, slug: str) -> str:
        return self.served.url + "/articles/" + slug

    def ingest(self, *articles: Article) -> str:
        for article in articles:
            write_article(self.folder, f"{article.slug}.txt", article.text())
        result = self.served.ingest(*(self.folder / f"{a.slug}.txt" for a in articles))
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def wait_until_served(self, *needles: str) -> None:
        """Until every feed document carries every needle (the watcher rebuilds within ~1 s)."""
        def built():
            bodies = [fetch(self.url(path)).text for path in FEEDS]
            return all(needle in body for body in bodies for needle in needles)
        wait_for(built)


@pytest.fixture
def newsroom(tmp_path):
    # Only the newsroom's own related links here (suggestions are tested in test_suggestions.py).
    (tmp_path / "feedpub.toml").write_text("[schedule]\nrebuild_minutes = 60\n[store]\nsuggest_related = false\n",
                                           encoding="utf-8")
    started = datetime.now(timezone.utc).replace(microsecond=0)
    served = Served(tmp_path)
    try:
        assert urlsplit(served.url).hostname == LOOPBACK, served.url
        room = Newsroom(served, tmp_path / "incoming", started, datetime.now(timezone.utc))
        out = room.ingest(*ARTICLES)
        assert "3 created, 0 updated" in out, out
        room.wait_until_served(*(f"/articles/{a.slug}" for a in ARTICLES))
        yield room
    finally:
        served.stop()


def assert_sample_time(room: Newsroom, moment: datetime) -> None:
    assert room.started <= moment <= room.ready, (room.started, moment, room.ready)


# --- 1. feedparser ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/rss.xml", "/atom.xml"])
def test_feedparser_reads_every_field_over_http(newsroom, path):
    response = fetch(newsroom.url(path))
    assert response.status_code == 200
    parsed = feedparser.parse(response.content, response_headers={k.lower(): v for k, v in response.headers.items()})
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == ("rss20" if path == "/rss.xml" else "atom10")
    assert parsed.feed.title == "feedpub" and parsed.feed.language == "id"
    assert {"rel": "self", "href": newsroom.url(path)}.items() <= next(
        link for link in parsed.feed.links if link.rel == "self").items()
    rss = path == "/rss.xml"
    zone = "+0700" if rss else "+07:00"      # dates in the site's zone

    sample, *others = parsed.entries
    assert [e.link for e in parsed.entries] == [newsroom.link(s) for s in (SAMPLE_SLUG, "banjir", "ahy", "pasar")]

    for entry, article in zip(others, ARTICLES, strict=True):
        assert article.id_pattern().match(entry.id), entry.id
        assert entry.title == article.title
        assert entry.get("author") == article.author
        assert entry.published.endswith(zone), entry.published
        assert entry.published_parsed == article.when.utctimetuple()
        if "updated_parsed" in entry:        # RSS has no per-item update time
            assert entry.updated_parsed == entry.published_parsed
        # Each category and tag by its readable name, its section's feed (in this format) as the scheme.
        feed = "rss.xml" if rss else "atom.xml"
        labels = [(tag.term, tag.scheme) for tag in entry.get("tags", [])]
        assert labels == [(name, newsroom.url(f"/category/{slugify(name)}/{feed}")) for name in article.categories] + \
                         [(name, newsroom.url(f"/tag/{slugify(name)}/{feed}")) for name in article.tags]
        if not rss:
            assert [tag.label for tag in entry.get("tags", [])] == list(article.categories + article.tags)
        (content,) = entry.content
        assert content.type == "text/html"
        for paragraph in article.shown:
            assert paragraph in content.value, (paragraph, content.value)
        assert "BACA JUGA" not in content.value and "(*)" not in content.value
        # RSS <description> is HTML (feedparser hands it back as HTML); Atom's summary is text.
        summary = html.unescape(entry.summary) if path == "/rss.xml" else entry.summary
        assert summary == article.summary

    related = {e.link: [(link.href, link.title) for link in e.links if link.rel == "related"] for e in parsed.entries}
    assert related == {
        newsroom.link(SAMPLE_SLUG): [(newsroom.link("ahy"), AHY_MARKER)],
        newsroom.link("banjir"): [(newsroom.link("ahy"), AHY_MARKER)],
        newsroom.link("ahy"): [],
        newsroom.link("pasar"): [],
    }
    banjir_html = others[0].content[0].value
    assert banjir_html.endswith(f'<p><strong>Baca juga:</strong></p>\n<ul>\n<li><a href="{newsroom.link("ahy")}">'
                                f'{AHY_MARKER}</a></li>\n</ul>'), banjir_html

    # The bundled sample: published at the service's first start, one pending and one resolved link.
    assert re.match(rf"^tag:[a-z0-9.-]+,\d{{4}}-\d{{2}}-\d{{2}}:{SAMPLE_SLUG}$", sample.id)
    assert sample.title.startswith("Menjelang Pilkada Serentak 2024") and "author" not in sample
    assert_sample_time(newsroom, datetime(*sample.published_parsed[:6], tzinfo=timezone.utc))
    assert f"<li>{PENDING}</li>" in sample.content[0].value
    assert f'<li><a href="{newsroom.link("ahy")}">{AHY_MARKER}</a></li>' in sample.content[0].value


# --- 2. the `reader` library ---------------------------------------------------------------


@pytest.fixture
def feed_reader(tmp_path):
    reader_module = pytest.importorskip("reader", reason="pip install -e '.[test]' brings the reader library")
    rdr = reader_module.make_reader(str(tmp_path / "reader.sqlite"), plugins=())
    requested: list[str] = []

    def only_loopback(session, request, **_kwargs):
        assert urlsplit(request.url).hostname == LOOPBACK, request.url
        return request

    def record(response, *_args, **_kwargs):      # every response, redirects included
        requested.append(response.url)

    @rdr._parser.lazy_init                          # reader's documented hook point for retrievers
    def guard(parser):
        for scheme in ("http://", "https://"):
            retriever = parser.get_retriever(scheme)
            if only_loopback in retriever.request_hooks:
                continue                            # one retriever may serve both schemes
            retriever.session.trust_env = False     # no proxy
            retriever.session.hooks["response"].append(record)
            retriever.request_hooks.append(only_loopback)

    rdr.requested = requested
    yield rdr
    rdr.close()


def reader_entries(rdr, feed_url):
    entries = list(rdr.get_entries(feed=feed_url))
    by_id = {entry.id: entry for entry in entries}
    assert len(by_id) == len(entries), [e.id for e in entries]   # no duplicate entry
    return by_id


def check_reader_entry(entry, article: Article, room: Newsroom):
    assert article.id_pattern().match(entry.id), entry.id
    assert entry.title == article.title
    assert entry.link == room.link(article.slug)
    assert [author.name for author in entry.authors] == ([article.author] if article.author else [])
    assert entry.published == article.when.astimezone(timezone.utc)
    # RSS <description> is HTML, so the reader hands "&" back as "&amp;" there.
    assert html.unescape(entry.summary) == article.summary
    (content,) = [c for c in entry.content if c.type == "text/html"]
    for paragraph in article.shown:
        assert paragraph in content.value, (paragraph, content.value)


def test_the_reader_library_follows_the_feeds_and_their_edits(newsroom, feed_reader, caplog):
    caplog.set_level(logging.WARNING, logger="reader")
    urls = [newsroom.url(path) for path in FEEDS]
    for url in urls:
        feed_reader.add_feed(url)
    results = {r.url: r.value for r in feed_reader.update_feeds_iter(scheduled=False)}
    assert {url: (value.new, value.modified) for url, value in results.items()} == {url: (4, 0) for url in urls}, results
    feeds = {feed.url: feed for feed in feed_reader.get_feeds()}
    assert {url: (feed.version, feed.title, feed.last_exception) for url, feed in feeds.items()} == {
        urls[0]: ("rss20", "feedpub", None), urls[1]: ("atom10", "feedpub", None), urls[2]: ("json11", "feedpub", None)}

    first_ids = {}
    for url in urls:
        entries = reader_entries(feed_reader, url)
        assert len(entries) == 4
        by_slug = {e.link.rsplit("/", 1)[1]: e for e in entries.values()}
        for article in ARTICLES:
            check_reader_entry(by_slug[article.slug], article, newsroom)
        assert_sample_time(newsroom, by_slug[SAMPLE_SLUG].published)
        first_ids[url] = {slug: e.id for slug, e in by_slug.items()}
    assert first_ids[urls[0]] == first_ids[urls[1]] == first_ids[urls[2]]   # one id per article in every format

    # An edit of the same file and a new article, then the readers' next update.
    out = newsroom.ingest(BANJIR_EDITED, JALAN)
    assert "1 created, 1 updated" in out, out
    newsroom.wait_until_served(html.escape(BANJIR_EDITED.title, quote=False), "/articles/jalan")
    edited_at = datetime.now(timezone.utc)
    results = {r.url: r.value for r in feed_reader.update_feeds_iter(scheduled=False)}
    assert {url: (value.new, value.modified) for url, value in results.items()} == {url: (1, 1) for url in urls}, results

    for url in urls:
        entries = reader_entries(feed_reader, url)
        assert len(entries) == 5
        by_slug = {e.link.rsplit("/", 1)[1]: e for e in entries.values()}
        assert {slug: e.id for slug, e in by_slug.items() if slug != "jalan"} == first_ids[url]
        check_reader_entry(by_slug["banjir"], BANJIR_EDITED, newsroom)
        check_reader_entry(by_slug["jalan"], JALAN, newsroom)
        assert BANJIR.title not in {e.title for e in entries.values()}
        banjir = by_slug["banjir"]
        if url.endswith("/rss.xml"):
            assert banjir.updated is None             # RSS 2.0 items carry no update time
        else:
            assert BANJIR.when < newsroom.started <= banjir.updated <= edited_at, banjir.updated

    # reader copies the response headers into a plain dict before its vendored feedparser looks up
    # "content-type" in lower case, so it misses our "Content-Type" and warns; UTF-8 is still read
    # from the XML declaration. Any other complaint about the XML feeds fails here.
    complaints = {re.sub(r" feed=\S+", "", record.getMessage()) for record in caplog.records if "bozo" in record.getMessage()}
    assert complaints <= {'bozo feed  exception="NonXMLContentType: no Content-type specified"'}, complaints

    assert sorted(set(feed_reader.requested)) == sorted(urls), feed_reader.requested
    assert all(urlsplit(url).hostname == LOOPBACK for url in feed_reader.requested)


# --- 3. newsboat ----------------------------------------------------------------------------


@pytest.fixture
def newsboat_binary() -> str:
    found = shutil.which("newsboat")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("newsboat is not installed: .ci/run installs it with apt-get")
    pytest.skip("newsboat is not installed (apt-get install newsboat); under CI this test fails instead")


class Newsboat:
    """One newsboat profile (home, config, url list, cache) kept in a temp folder."""

    def __init__(self, binary: str, home: Path, url: str):
        self.binary, self.home, self.url = binary, home, url
        (home / ".config").mkdir(parents=True)
        (home / "urls").write_text(url + "\n", encoding="utf-8")
        (home / "config").write_text("download-timeout 10\ndownload-retries 1\nreload-threads 1\n", encoding="utf-8")
        self.cache = home / "cache.db"
        self.log = home / "newsboat.log"

    def reload(self) -> None:
        env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
        env.update(HOME=str(self.home), XDG_CONFIG_HOME=str(self.home / ".config"),
                   XDG_DATA_HOME=str(self.home / ".local/share"), XDG_CACHE_HOME=str(self.home / ".cache"),
                   LC_ALL="C.UTF-8", TERM="dumb")
        done = subprocess.run(
            [self.binary, "-u", str(self.home / "urls"), "-c", str(self.cache), "-C", str(self.home / "config"),
             "-l", "5", "-d", str(self.log), "-x", "reload"],
            env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Error" not in done.stdout + done.stderr, done.stdout + done.stderr
        fetched = re.findall(r"retrieved data for (\S+):", self.log.read_text(encoding="utf-8", errors="replace"))
        assert fetched and all(urlsplit(url).hostname == LOOPBACK for url in fetched), fetched

    def items(self) -> dict[str, dict]:
        with sqlite3.connect(self.cache) as db:
            db.row_factory = sqlite3.Row
            rows = [dict(row) for row in db.execute(
                "SELECT guid, title, author, url, feedurl, pubDate, content FROM rss_item WHERE deleted = 0")]
        by_guid = {row["guid"]: row for row in rows}
        assert len(by_guid) == len(rows), [row["guid"] for row in rows]
        return by_guid


def check_newsboat_item(row: dict, article: Article, room: Newsroom, feed_url: str) -> None:
    assert article.id_pattern().match(row["guid"]), row["guid"]
    assert (row["title"], row["author"], row["url"], row["feedurl"]) == (
        article.title, article.author or "", room.link(article.slug), feed_url)
    assert row["pubDate"] == int(article.when.timestamp()), (row["pubDate"], article.when)
    for paragraph in article.shown:                 # the full content, not the summary
        assert paragraph in row["content"], (paragraph, row["content"])


def test_newsboat_reads_every_item_with_its_own_date(newsboat_binary, newsroom, tmp_path):
    # One cache per format: newsboat keys its cache by guid across all feeds, and RSS and Atom
    # rightly share ids, so in one cache each article would be kept once, under one feed only.
    boats = {path: Newsboat(newsboat_binary, tmp_path / f"newsboat{path.replace('/', '-')}", newsroom.url(path))
             for path in ("/rss.xml", "/atom.xml")}
    sample_dates = set()
    for boat in boats.values():
        boat.reload()
        items = boat.items()
        assert len(items) == 4, sorted(items)
        by_slug = {row["url"].rsplit("/", 1)[1]: row for row in items.values()}
        for article in ARTICLES:
            check_newsboat_item(by_slug[article.slug], article, newsroom, boat.url)
        sample = by_slug[SAMPLE_SLUG]
        assert_sample_time(newsroom, datetime.fromtimestamp(sample["pubDate"], timezone.utc))
        assert f'<a href="{newsroom.link("ahy")}">{AHY_MARKER}</a>' in sample["content"]
        sample_dates.add(sample["pubDate"])
    assert len(sample_dates) == 1

    newsroom.ingest(BANJIR_EDITED, JALAN)
    newsroom.wait_until_served(html.escape(BANJIR_EDITED.title, quote=False), "/articles/jalan")
    for boat in boats.values():
        before = {row["url"]: guid for guid, row in boat.items().items()}
        boat.reload()
        items = boat.items()
        assert len(items) == 5, sorted(items)
        by_slug = {row["url"].rsplit("/", 1)[1]: row for row in items.values()}
        assert by_slug["banjir"]["guid"] == before[newsroom.link("banjir")]       # updated in place
        check_newsboat_item(by_slug["banjir"], BANJIR_EDITED, newsroom, boat.url)
        check_newsboat_item(by_slug["jalan"], JALAN, newsroom, boat.url)
