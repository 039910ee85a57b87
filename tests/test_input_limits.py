"""What every way in shares: at most so many terms an article, at most so many bytes an
article, one URL check, no YAML anchors or aliases, control characters normalised and
never a reason to refuse an article.

Real files under tmp_path, a real SQLite store, the ingest API over real HTTP on
loopback and a partner's feed served by a loopback server.
"""

from __future__ import annotations

import json
import logging
import tracemalloc
from dataclasses import replace
from datetime import datetime, timezone

import pytest
import requests

from scheduler import feed_urls_for
from feedpub.settings import load_config
from sources.api import IngestAPI
from sources.errors import ConfigError
from sources.ingest import ingest_paths

from .conftest import INGEST_TIME, RunningServer, latest_published, store_dump, write_article
from .test_remote_sources import Upstream, poll, upstream  # noqa: F401 - the fixture

TOKEN = "limits-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LEAD = "BATURAJA - OKES.NEWS - Banjir merendam tiga desa di Kecamatan Baturaja Timur."
LIMIT = 1 << 20     # max_article_bytes by default (= api.max_body_bytes by default)
SMALL = 64 * 1024   # where a test sets its own
HOSTILE_URL = 'https://example.com/i.png" onerror="alert(1)'


def run(store, settings, *paths, **overrides) -> tuple[object, list[str]]:
    messages: list[str] = []
    summary = ingest_paths(store, list(paths), settings=settings, now=lambda: INGEST_TIME, overrides=overrides,
                           report=messages.append)
    return summary, messages


def peak_bytes(call) -> tuple[object, int]:
    """(what ``call()`` returned, the most memory Python held at once while it ran)."""
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture
def api(request, store, site, ingest_settings):
    """The ingest API on loopback, with room in a request for 30,000 tags; a test may give
    another ``max_article_bytes`` (``indirect``)."""
    settings = ingest_settings
    if hasattr(request, "param"):
        settings = replace(ingest_settings, max_article_bytes=request.param)
    app = IngestAPI(store, settings=settings, token=TOKEN, max_body_bytes=1 << 20,
                    clock=lambda: datetime.now(timezone.utc).replace(microsecond=0), feed_urls=feed_urls_for(site))
    running = RunningServer(app)
    running.post = lambda body: requests.post(running.url + "/api/articles", json=body, headers=AUTH, timeout=30)
    yield running
    running.stop()


# --- terms: at most ingest.max_terms categories, and tags, an article ---------------------------


def test_a_file_keeps_the_first_50_distinct_categories_and_tags_and_warns_naming_the_line(
        tmp_path, store, ingest_settings):
    categories = [f"Kategori {n}" for n in range(55)]
    tags = [f"Topik {n}" for n in range(60)] * 2   # every tag twice: the warning counts distinct ones
    path = write_article(tmp_path, "banjir.txt", "---\ntitle: Banjir\ncategories: " + json.dumps(categories)
                         + "\ntags: " + json.dumps(tags) + f"\n---\n{LEAD}\n")
    summary, messages = run(store, ingest_settings, path)
    assert (summary.created, summary.failed) == (1, 0), messages
    article = latest_published(store, INGEST_TIME, 1)[0]
    assert article.categories == tuple(categories[:50]) and article.tags == tuple(tags[:50])
    assert (f"warning: {path}:3: front matter 'categories': 55 given, at most 50 kept (ingest.max_terms): "
            "the 5 from 'Kategori 50' on were dropped") in messages, messages
    assert (f"warning: {path}:4: front matter 'tags': 60 given, at most 50 kept (ingest.max_terms): "
            "the 10 from 'Topik 50' on were dropped") in messages, messages


def test_flags_and_json_lines_are_capped_the_same_way(tmp_path, store, ingest_settings):
    tags = [f"t{n}" for n in range(52)]
    text = write_article(tmp_path, "teks.txt", f"{LEAD}\n")
    summary, messages = run(store, ingest_settings, text, tags=[*tags, "t0"])
    assert summary.created == 1 and latest_published(store, INGEST_TIME, 1)[0].tags == tuple(tags[:50])
    assert (f"warning: {text}: --tags: 52 given, at most 50 kept (ingest.max_terms): the 2 from 't50' on "
            "were dropped") in messages, messages

    lines = write_article(tmp_path, "ekspor.jsonl", json.dumps({"slug": "satu", "body": LEAD}) + "\n"
                          + json.dumps({"slug": "dua", "body": LEAD, "categories": tags[:51]}) + "\n")
    summary, messages = run(store, ingest_settings, lines)
    assert summary.created == 2 and store.lookup(article_id=None, slug="dua").categories == tuple(tags[:50])
    assert (f"warning: {lines}:2: key 'categories': 51 given, at most 50 kept (ingest.max_terms): the 1 from "
            "'t50' on were dropped") in messages, messages
    # The limit is the configured one.
    summary, messages = run(store, replace(ingest_settings, max_terms=3), write_article(tmp_path, "tiga.txt", LEAD),
                            categories=tags[:4])
    assert summary.created == 1 and store.lookup(article_id=None, slug="tiga").categories == tuple(tags[:3])


def test_an_api_draft_of_30000_tags_is_accepted_with_50_kept_and_a_warning(api, store, caplog):
    tags = [f"topik {n % 20_000}" for n in range(30_000)]   # 20,000 distinct, 10,000 given twice
    caplog.set_level(logging.WARNING, logger="sources.api")
    response = api.post({"title": "Banjir", "body": LEAD, "tags": tags})
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["tags"] == tags[:50]
    expected = ("field 'tags': 20000 given, at most 50 kept (ingest.max_terms): the 19950 from 'topik 50' on "
                "were dropped")
    assert answer["warnings"] == [expected]
    assert store.get(answer["id"]).tags == tuple(tags[:50])
    assert any(expected in record.getMessage() and answer["id"] in record.getMessage() for record in caplog.records)


RSS_ITEM = """<item><guid>https://mitra.example/{name}</guid><link>https://mitra.example/{name}</link>
<title>{title}</title><description>{text}</description>{extra}</item>"""


def partner_feed(*items: str) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Mitra</title>'
            '<link>https://mitra.example/</link><description>Berita mitra</description>'
            + "".join(items) + "</channel></rss>").encode()


def serve_feed(upstream: Upstream, body: bytes) -> str:
    upstream.routes["/feed.xml"] = Upstream.status(200, {"Content-Type": "application/rss+xml"}, body)
    return upstream.url("/feed.xml")


def test_a_partner_item_keeps_50_categories_with_a_warning(upstream, store, ingest_settings, caplog):
    from sources.remote import RemoteSource

    categories = "".join(f"<category>Kategori {n}</category>" for n in range(1000))
    body = partner_feed(
        RSS_ITEM.format(name="kategori", title="Seribu kategori", text="Banjir di hulu.", extra=categories))
    source = RemoteSource("Mitra", serve_feed(upstream, body), timeout_seconds=5)
    caplog.set_level(logging.WARNING, logger="feedpub.remote")
    result = poll(store, ingest_settings, source)
    assert result.created == 1, result
    (article,) = latest_published(store, INGEST_TIME, 10)
    assert article.categories == tuple(f"Kategori {n}" for n in range(50))
    assert any("remote source Mitra: item https://mitra.example/kategori: categories: 1000 given, at most 50 kept "
               "(ingest.max_terms): the 950 from 'Kategori 50' on were dropped" == record.getMessage()
               and record.levelno == logging.WARNING for record in caplog.records), caplog.records


def test_a_partner_item_over_the_article_limit_is_left_out_and_the_others_stored(upstream, store, ingest_settings):
    from sources.remote import RemoteSource

    body = partner_feed(
        RSS_ITEM.format(name="besar", title="Terlalu besar", text="Banjir. " * (LIMIT // 8 + 1), extra=""),
        RSS_ITEM.format(name="biasa", title="Biasa", text="Banjir di hilir.", extra=""),
    )
    source = RemoteSource("Mitra", serve_feed(upstream, body), max_bytes=4 * LIMIT, timeout_seconds=5)
    result = poll(store, ingest_settings, source)
    assert (result.created, result.skipped, result.failed) == (1, 1, 0), result
    assert [article.title for article in latest_published(store, INGEST_TIME, 10)] == ["Biasa"]
    assert any(note.startswith("item https://mitra.example/besar: its text and fields hold ")
               and note.endswith(f"over the {LIMIT} an article may hold (ingest.max_article_bytes); left out")
               for note in result.notes), result.notes


def test_the_limits_are_read_from_the_config_and_checked_by_key(tmp_path):
    config = tmp_path / "feedpub.toml"
    assert load_config(cwd=tmp_path, env={}).ingest.max_terms == 50
    config.write_text("[api]\nmax_body_bytes = 4096\n", encoding="utf-8")
    assert load_config(cwd=tmp_path, env={}).ingest.max_article_bytes == 4096   # 0 = api.max_body_bytes
    config.write_text("[ingest]\nmax_terms = 7\nmax_article_bytes = 2048\n", encoding="utf-8")
    limits = load_config(cwd=tmp_path, env={}).ingest
    assert (limits.max_terms, limits.max_article_bytes) == (7, 2048)
    for text, message in (("[ingest]\nmax_terms = 0\n", r"ingest\.max_terms: must be between 1 and 1000"),
                          ("[ingest]\nmax_article_bytes = 10\n", r"ingest\.max_article_bytes: must be 0")):
        config.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=rf"^{config}: {message}"):
            load_config(cwd=tmp_path, env={})


# --- front matter: no anchors or aliases -------------------------------------------------------


@pytest.mark.parametrize(("name", "front", "line", "what"), [
    # The attack: one 10 KB string aliased 20,000 times (90 KB of front matter).
    ("alias.txt", "title: Banjir\ntags: [&a " + "x" * 10_000 + ", " + ", ".join(["*a"] * 20_000) + "]\n",
     3, "anchor &a (column 8)"),
    ("merge.md", "title: &judul Banjir\nsummary: *judul\n", 2, "anchor &judul (column 8)"),
])
def test_yaml_anchors_and_aliases_in_front_matter_are_refused_naming_file_and_line(
        tmp_path, store, ingest_settings, name, front, line, what):
    path = write_article(tmp_path, name, f"---\n{front}---\n{LEAD}\n")
    before = store_dump(store)
    summary, messages = run(store, ingest_settings, path)
    assert summary.failed == 1 and store_dump(store) == before
    assert messages == [f"error: {path}:{line}: front matter uses the YAML {what}; anchors and aliases are not "
                        "accepted in front matter: write each value out"]


def test_front_matter_nested_past_the_limit_by_block_sequences_on_one_line_is_refused(tmp_path, store,
                                                                                     ingest_settings):
    """No bracket in sight: each "- " opens a sequence. The events are read (and the depth
    counted) whenever the text has more characters that can open a collection than the limit."""
    path = write_article(tmp_path, "dalam.txt", f"---\ntitle: Banjir\ntags:\n  {'- ' * 100}x\n---\n{LEAD}\n")
    summary, messages = run(store, ingest_settings, path)
    assert summary.failed == 1
    assert messages == [f"error: {path}:4: front matter is nested too deeply"]


# --- an article's size: at most ingest.max_article_bytes, however it comes in --------------------


@pytest.mark.parametrize("suffix", [".txt", ".md", ".html"])
def test_a_file_over_the_article_limit_is_refused_at_its_line_without_being_read_whole(
        tmp_path, store, ingest_settings, suffix):
    line = "Paragraf berita yang panjang tentang banjir di Baturaja, ditulis berulang kali. " * 2
    head = f"---\ntitle: Besar\n---\n{LEAD}\n"
    if suffix == ".html":
        head, line = f"<html><head><title>Besar</title></head><body>\n<p>{LEAD}</p>\n", f"<p>{line}</p>"
    path = tmp_path / f"besar{suffix}"
    path.write_text(head + (line + "\n") * (8 * LIMIT // len(line)), encoding="utf-8")
    before = store_dump(store)
    (summary, messages), peak = peak_bytes(lambda: run(store, ingest_settings, path))
    assert summary.failed == 1 and store_dump(store) == before
    passing_line = path.read_bytes()[:LIMIT].count(b"\n") + 1
    assert messages == [f"error: {path}:{passing_line}: the article is larger than {LIMIT} bytes, the most one "
                        "article may hold (ingest.max_article_bytes); it passes that size on this line"]
    assert peak < 3 * LIMIT, peak   # 8 MB on disk: read no further than the limit


def test_flags_count_towards_the_article_limit(tmp_path, store, ingest_settings):
    path = write_article(tmp_path, "kecil.txt", f"{LEAD}\n")
    summary, messages = run(store, ingest_settings, path, summary="r" * LIMIT)
    assert summary.failed == 1 and store.count() == 0
    assert messages == [f"error: {path}:1: the article is larger than {LIMIT} bytes with the {LIMIT} bytes of the "
                        "command-line flags, the most one article may hold (ingest.max_article_bytes); it passes "
                        "that size on this line"]


def test_a_json_lines_file_is_read_a_line_at_a_time_and_each_line_capped(tmp_path, store, ingest_settings):
    path = tmp_path / "ekspor.jsonl"
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"slug": "awal", "body": LEAD}) + "\n\n")
        out.write(json.dumps({"slug": "raksasa", "body": LEAD + "\nIsi. " * 1_000_000}) + "\n")   # 5 MB
        for n in range(20):
            out.write(json.dumps({"slug": f"berita-{n}", "body": LEAD}) + "\n")
    (summary, messages), peak = peak_bytes(lambda: run(store, ingest_settings, path))
    assert (summary.created, summary.failed) == (21, 1), messages
    assert f"error: {path}:3: the article is larger than {LIMIT} bytes, the most one article may hold " \
           "(ingest.max_article_bytes); one line holds one article" in messages
    assert store.lookup(article_id=None, slug="raksasa") is None
    assert peak < 3 * LIMIT, peak   # about twice the limit (a line is copied once as it is read), never 5 MB


@pytest.mark.parametrize("api", [SMALL], indirect=True)
def test_the_api_refuses_a_body_over_the_article_limit(api, store):
    response = api.post({"title": "Besar", "body": LEAD + "\nIsi berita. " * (SMALL // 10)})
    assert response.status_code == 413, response.text
    assert response.json()["error"].endswith(f"; the limit is {SMALL} (ingest.max_article_bytes)"), response.text
    assert store.count() == 0


# --- one URL check ---------------------------------------------------------------------------------


def test_a_url_breaking_out_of_its_attribute_is_refused_from_files_flags_and_the_api(
        tmp_path, store, ingest_settings, api):
    shown = repr(HOSTILE_URL)
    front = write_article(tmp_path, "a.txt", f"---\ntitle: Banjir\nimage: '{HOSTILE_URL}'\n---\n{LEAD}\n")
    plain = write_article(tmp_path, "b.txt", f"{LEAD}\n")
    lines = write_article(tmp_path, "c.jsonl", json.dumps({"slug": "c", "url": HOSTILE_URL, "body": LEAD}) + "\n")
    _, messages = run(store, ingest_settings, front)
    assert messages == [f"error: {front}:3: front matter 'image': {shown} is not a URL: it contains '\"'"]
    _, messages = run(store, ingest_settings, plain, image=HOSTILE_URL)
    assert messages == [f"error: {plain}: --image: {shown} is not a URL: it contains '\"'"]
    _, messages = run(store, ingest_settings, lines)
    assert messages == [f"error: {lines}:1: key 'url': {shown} is not a URL: it contains '\"'"]
    response = api.post({"title": "Banjir", "body": LEAD, "image": HOSTILE_URL, "url": "https://a.example/x y"})
    assert response.status_code == 422, response.text
    assert response.json()["fields"] == {"image": f"{shown} is not a URL: it contains '\"'",
                                         "url": "'https://a.example/x y' is not a URL: it contains ' '"}
    assert store.count() == 0


def test_a_partner_url_with_a_quote_is_dropped_as_the_other_ways_in_refuse_it(upstream, store, ingest_settings):
    from sources.remote import RemoteSource

    quoted = 'https://mitra.example/i.png"onerror="alert(1)'   # no white space: the old check let it through
    enclosure = f'<enclosure url="{quoted.replace(chr(34), "&quot;")}" type="image/png" length="10"/>'
    body = partner_feed(RSS_ITEM.format(name="gambar", title="Bergambar", text="Banjir.", extra=enclosure))
    result = poll(store, ingest_settings, RemoteSource("Mitra", serve_feed(upstream, body), timeout_seconds=5))
    assert result.created == 1, result
    (article,) = latest_published(store, INGEST_TIME, 1)
    assert article.title == "Bergambar" and article.image is None


# --- control characters: normalised with a warning, never a refusal --------------------------------


def test_control_characters_in_front_matter_are_normalised_with_a_warning_naming_line_and_column(
        tmp_path, store, ingest_settings):
    path = write_article(tmp_path, "word.md", "---\ntitle: Banjir\x0bBaturaja\ntags: [Cuaca\x0c, Ban\x01jir]\n"
                                              f"---\n{LEAD}\n")
    summary, messages = run(store, ingest_settings, path)
    assert (summary.created, summary.failed) == (1, 0), messages
    article = latest_published(store, INGEST_TIME, 1)[0]
    assert (article.title, article.tags) == ("Banjir Baturaja", ("Cuaca", "Banjir"))
    warnings = [m for m in messages if m.startswith("warning: ")]
    assert warnings == [
        f"warning: {path}:2: front matter 'title', column 14: control character U+000B (vertical tab) "
        "replaced by a space",
        f"warning: {path}:3: front matter 'tags', column 13: control character U+000C (form feed) replaced by a space",
        f"warning: {path}:3: front matter 'tags', column 19: control character U+0001 dropped",
    ]


def test_control_characters_in_json_lines_and_api_fields_are_normalised_not_refused(
        tmp_path, store, ingest_settings, api):
    # Unescaped, as a CMS that copies Word's text into its export writes it (strict JSON refuses it).
    path = write_article(tmp_path, "ekspor.jsonl", '{"slug": "word", "title": "Banjir\x0bBaturaja", '
                                                   f'"body": "{LEAD}"}}\n')
    summary, messages = run(store, ingest_settings, path)
    assert (summary.created, summary.failed) == (1, 0), messages
    assert store.lookup(article_id=None, slug="word").title == "Banjir Baturaja"
    assert (f"warning: {path}:1: key 'title': control character U+000B (vertical tab) replaced by a space"
            in messages), messages
    response = api.post({"title": "Banjir\x0bHilir", "body": LEAD})
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "Banjir Hilir"
    assert response.json()["warnings"] == ["field 'title': control character U+000B (vertical tab) replaced by "
                                           "a space"]
