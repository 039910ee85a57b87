"""Fuzzing the ways content and configuration come in.

Every target gets hostile input from hypothesis and must answer in one of two
ways: it accepts the input, or it refuses it with the project's own error (an
IngestError naming the file, a ConfigError naming the file, a 4xx JSON answer
from the ingest API naming the field). Never another exception, never a 500,
and whenever an error is reported the store holds exactly what it held before
(every table dumped and compared).

The runs are reproducible (``derandomize=True``, no example database) and sized
so that together they make over 10,000 cases in well under a minute; each test
prints its figures (``pytest -s``), collected in docs/RELIABILITY.md.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.site import SiteSettings
from scheduler import feed_urls_for
from feedpub.settings import DEFAULTS, load_config, utc_now
from sources.api import WRITABLE_KEYS, IngestAPI
from sources.errors import ConfigError, IngestError
from sources.frontmatter import FRONT_MATTER_KEYS, split_front_matter
from sources.ingest import ingest_paths
from sources.model import IngestSettings
from sources.store import SQLiteStore

from .conftest import INGEST_TIME, SAMPLE, store_dump

pytestmark = pytest.mark.heavy

SETTINGS = IngestSettings(tag_authority="okes.example", timezone="Asia/Jakarta", language="id")
TOKEN = "fuzz-token-0123456789abcdef"
# Cases per target: 10,100 in all. A file or an API request costs a store transaction and
# two dumps; front matter and configuration are cheap, so they take more.
CASES = {"text": 700, "markdown": 700, "html": 700, "jsonl": 700, "front-matter": 4000, "config": 2500,
         "api": 800}
# A store is dumped twice a case: it is started afresh once it holds this many revisions.
FRESH_AFTER = 60


def fuzz(target: str):
    return settings(max_examples=CASES[target], deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


# --- building blocks -----------------------------------------------------------------------

# Any code point but surrogates (a file cannot hold them in UTF-8): control characters,
# NUL, BOMs, right-to-left marks, non-characters and astral ones included.
ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=16)
# Pieces the parsers look for, so that the fuzzed text reaches their deeper branches.
PIECES = st.sampled_from([
    "---", "...", "BACA JUGA:", "Baca Juga : ", "Lihat juga:", "Read also:", "(*)", "(**)", "(*/rhd)",
    "BATURAJA - OKES.NEWS - ", "JAKARTA – ", "# ", "## ", "**", "[", "](http://a.example/x)", "<", ">", "&",
    "&amp;", "&#0;", "&#xD800;", "<script>", "</p>", "<!--", "]]>", "\r\n", "\r", "\n", "\t", "\x00", "\ufeff",
    "\u202e", "\ufffe", "😀", " ", ":", "- ", "|", "`", "    ", "title:", "{", "}", '"', "'", "\\",
])
LINE = st.lists(st.one_of(PIECES, ANY_TEXT), max_size=4).map("".join)
BODY = st.lists(LINE, max_size=5).map("\n".join)

DATES = st.sampled_from([
    "2024-09-18", "2024-09-18T10:15:00+07:00", "2024-09-18T10:15:00Z", "2024-09-18 10:15", "2024-13-45",
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-23:59", "1899-12-31", "2024-09-18T10:15:00.123456+07:00",
    "2024-W38-3", "yesterday", "", "2100-01-01T00:00:00+07:00",
])
URLS = st.sampled_from([
    "https://okes.example/a", "http://[x", "http://[::1]:99999/", "javascript:alert(1)", "//okes.example/a",
    "https://okes.example/a b", "ftp://okes.example/", "https://", "https://ökes.example/ä", "http://a:b@c/",
])
IDS = st.sampled_from(["tag:okes.example,2024-09-18:fuzz", "tag:okes.example,2024:a b", "tag:bad", "urn:x",
                       "tag:okes.example,2024-09-18:okes-forkopimda-oku-pilkada-2024"])
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), ANY_TEXT, DATES, URLS, IDS)
# Numbers of more than 4300 digits, which Python refuses to convert (CVE-2020-10735), as
# text: hypothesis itself cannot print such an int when it reports an example.
LONG_NUMBERS = st.sampled_from(["1" * 4301, "0x" + "f" * 5000, "1_" * 4400 + "1"])
VALUE = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=2),
                     max_leaves=6)
FIELD_NAMES = st.sampled_from([*FRONT_MATTER_KEYS, "titel", "", "body", "content_html", "status"])


def _yaml(fields: dict) -> str:
    return yaml.safe_dump(fields, allow_unicode=True, sort_keys=False, width=10**6)


# Front matter: YAML written from fuzzed fields (the keys the importer knows, mostly), or
# fuzzed YAML-looking text.
FRONT_MATTER = st.one_of(st.dictionaries(FIELD_NAMES, VALUE, max_size=5).map(_yaml),
                         st.lists(st.one_of(st.sampled_from(["title: ", "tags: [", "- ", "? ", "&a ", "*a", "!!binary ",
                                                             "!!python/object:os.system ", "<<: ", "%YAML 1.1"]),
                                            LONG_NUMBERS, LINE), max_size=6).map("".join).map(lambda text: text + "\n"))


def _with_front_matter(parts: tuple[str | None, str]) -> str:
    front, body = parts
    return body if front is None else f"---\n{front}---\n{body}"


TEXT_DOCUMENT = st.tuples(st.none() | FRONT_MATTER, BODY).map(_with_front_matter)
ENCODINGS = st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"])


def _encoded(parts: tuple[str, str]) -> bytes:
    text, encoding = parts
    return text.encode(encoding, errors="replace")


def file_bytes(document: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """The document in some encoding (UTF-8 mostly), or arbitrary bytes now and then."""
    return st.one_of(st.tuples(document, ENCODINGS).map(_encoded), st.binary(max_size=200))


META_NAMES = st.sampled_from([
    ("property", "og:title"), ("property", "article:published_time"), ("property", "article:modified_time"),
    ("name", "date"), ("name", "author"), ("property", "article:author"), ("name", "description"),
    ("property", "og:description"), ("property", "og:image"), ("property", "article:section"),
    ("property", "article:tag"), ("name", "keywords"), ("property", "og:url"), ("charset", ""),
])
HTML_PIECES = st.sampled_from([
    "<article>", "</article>", "<main>", "<p>", "</p>", "<h1>", "</h1>", "<time datetime='2024-09-18'>", "</time>",
    "<script>alert(1)</script>", "<nav>x</nav>", "<div>", "</div>", "<p>Baca juga: ", "<a href='/x'>", "</a>",
    "<img src=x onerror=alert(1)>", "<![CDATA[", "<!DOCTYPE html>", "<?xml version='1.0'?>", "<svg><use href='#a'/>",
    "<link rel='canonical' href='", "<html lang='", "'>", "<meta charset='", "<title>", "</title>", "&nbsp;",
])


def _html(parts: tuple[str, list[tuple[tuple[str, str], str]], str, list[str]]) -> str:
    lang, metas, title, body = parts
    head = []
    for (attribute, name), value in metas:
        head.append(f'<meta charset="{value}">' if attribute == "charset"
                    else f'<meta {attribute}="{name}" content="{value}">')
    return (f'<html lang="{lang}"><head>{"".join(head)}<title>{title}</title></head>'
            f'<body>{"".join(body)}</body></html>')


HTML_DOCUMENT = st.one_of(
    st.tuples(st.sampled_from(["id", "en-US", "", "x" * 20, "\x00"]),
              st.lists(st.tuples(META_NAMES, st.one_of(ANY_TEXT, DATES, URLS, st.sampled_from(["utf-8", "x-bogus",
                                                                                                "utf-7", "latin-1"]))),
                       max_size=6),
              st.one_of(ANY_TEXT, LINE),
              st.lists(st.one_of(HTML_PIECES, LINE), max_size=10)).map(_html),
    st.lists(st.one_of(HTML_PIECES, LINE), max_size=12).map("".join),
)


def _json_line(fields: dict) -> str:
    return json.dumps(fields, ensure_ascii=False)


JSON_FIELDS = st.dictionaries(st.sampled_from([*FRONT_MATTER_KEYS, "body", "content_html", "titel"]),
                              st.one_of(VALUE, BODY, st.lists(HTML_PIECES, max_size=6).map("".join)), max_size=6)
# Lines naming their article (so that they get past the first check), others that may not,
# and lines that are not JSON at all.
SLUGS = st.sampled_from(["fuzz-a", "fuzz-b", "okes-forkopimda-oku-pilkada-2024", "!!!"])
JSONL_LINE = st.one_of(
    st.tuples(SLUGS, LINE).map(lambda parts: _json_line({"slug": parts[0], "body": "BATURAJA - OKES - " + parts[1]})),
    st.tuples(SLUGS, BODY, JSON_FIELDS).map(lambda parts: _json_line({"slug": parts[0], "body": parts[1],
                                                                      **parts[2]})),
    JSON_FIELDS.map(_json_line),
    LONG_NUMBERS.map(lambda number: '{"slug": "fuzz-a", "body": "Banjir.", "title": %s}' % number),
    LINE,
)
JSONL_DOCUMENT = st.lists(JSONL_LINE, max_size=4).map("\n".join)


# --- the store and the property for files ----------------------------------------------------


class FuzzStore:
    """A store holding the sample article, which the fuzzed files update, clash with or
    leave alone; started afresh (:data:`FRESH_AFTER`) so that its dumps stay small."""

    def __init__(self, folder: Path):
        self.folder, self.generation, self.store = folder, 0, None
        # The dump taken after the last case, when it changed nothing: nothing else writes
        # to the store, so it is the dump the next case starts from (one dump a case, not two).
        self.last_dump: list[str] | None = None

    def dump_before(self) -> list[str]:
        return self.last_dump if self.last_dump is not None else store_dump(self.current())

    def current(self) -> SQLiteStore:
        if self.store is None or self.store.revision() > FRESH_AFTER:
            self.close()
            self.last_dump = None
            self.generation += 1
            self.store = SQLiteStore(self.folder / f"store-{self.generation}.sqlite3", clock=utc_now)
            ingest_paths(self.store, [SAMPLE], settings=SETTINGS, now=lambda: INGEST_TIME,
                         report=lambda message: None)
        return self.store

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


@pytest.fixture
def fuzz_store(tmp_path) -> Iterator[FuzzStore]:
    stores = FuzzStore(tmp_path)
    yield stores
    stores.close()


def ingest_fuzzed(stores: FuzzStore, path: Path, data: bytes, tally: Counter) -> None:
    """Ingest ``data`` as the file ``path``: only named errors, nothing changed by a refusal."""
    path.write_bytes(data)
    store = stores.current()
    before = stores.dump_before()
    messages: list[str] = []
    summary = ingest_paths(store, [path], settings=SETTINGS, now=lambda: INGEST_TIME, report=messages.append)
    errors = [message for message in messages if message.startswith("error: ")]
    assert len(errors) == summary.failed
    for error in errors:
        assert str(path) in error, error                       # names the file
        if path.suffix == ".jsonl" and not error.endswith(": the file is empty"):
            assert re.search(rf"{re.escape(str(path))}:\d+: ", error), error   # and the line
    stores.last_dump = None
    if summary.failed and not summary.changed:
        after = store_dump(store)
        assert after == before
        stores.last_dump = after
    tally["cases"] += 1
    tally["refused" if summary.failed else "accepted"] += 1
    tally["changed the store"] += summary.changed


def report(target: str, tally: Counter) -> None:
    print(f"\nfuzz {target}: {dict(tally)}")
    assert tally["cases"] >= CASES[target]


@pytest.mark.parametrize(("target", "name", "document"), [
    ("text", "berita.txt", TEXT_DOCUMENT),
    ("markdown", "berita.md", TEXT_DOCUMENT),
    ("html", "berita.html", HTML_DOCUMENT),
    ("jsonl", "berita.jsonl", JSONL_DOCUMENT),
])
def test_a_fuzzed_file_is_imported_or_refused_by_name_and_a_refusal_changes_nothing(
        fuzz_store, target, name, document):
    path = fuzz_store.folder / name
    tally: Counter = Counter()

    @fuzz(target)
    @given(data=file_bytes(document))
    def run(data):
        ingest_fuzzed(fuzz_store, path, data, tally)

    run()
    report(target, tally)


def test_fuzzed_front_matter_is_read_or_refused_naming_file_and_line():
    tally: Counter = Counter()

    @fuzz("front-matter")
    @given(text=st.tuples(FRONT_MATTER, BODY).map(_with_front_matter))
    def run(text):
        tally["cases"] += 1
        try:
            front, body, first_line = split_front_matter(text, path="berita.txt")
        except IngestError as exc:
            assert str(exc).startswith("berita.txt:") and exc.path == "berita.txt"
            assert exc.line is not None and 1 <= exc.line <= text.count("\n") + 2, str(exc)
            tally["refused"] += 1
            return
        assert set(front.values) <= set(FRONT_MATTER_KEYS)
        assert body == "\n".join(text.split("\n")[first_line - 1:]) or not front.values
        tally["accepted"] += 1

    run()
    report("front-matter", tally)


# --- configuration ---------------------------------------------------------------------------


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value).replace("inf", "inf").replace("nan", "nan")
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)} = {_toml_value(v)}"
                               for k, v in value.items()) + "}"
    return json.dumps(str(value), ensure_ascii=False)   # a TOML basic string, mostly


CONFIG_VALUE = st.one_of(
    st.booleans(), st.integers(min_value=-2**63, max_value=2**63 - 1), st.floats(), ANY_TEXT, URLS, DATES,
    st.sampled_from(["Asia/Jakarta", "America", "../../etc/passwd", "UTC", "{slug}", "{base_url}/{slug.x}",
                     "{base_url}/{0}", "{slug}{slug!z}", "/old.xml", "//x", "/a/../b", "x" * 16, "tok en" * 4]),
    st.lists(st.one_of(ANY_TEXT, URLS, st.sampled_from(["/old.xml", "/rss.xml"])), max_size=3),
    st.dictionaries(st.sampled_from(["/old.xml", "/rss.xml", "x", ""]), st.one_of(ANY_TEXT, URLS), max_size=2),
)
SECTION = st.sampled_from([name for name in DEFAULTS if name != "sources"] + ["sorces"])


def _key_strategy(section: str) -> st.SearchStrategy[str]:
    return st.sampled_from([*DEFAULTS.get(section, {"title": None}), "unknown"])


PATHS = st.sampled_from(["/old.xml", "/rss2.xml", "/a/b.xml", "/rss.xml"])
# Values of the type a key takes, in a plausible range, so that the checks past the type
# check are reached too; any value otherwise.
TYPED = {
    bool: st.booleans(),
    int: st.integers(-1, 70_000),
    float: st.floats(-1, 20_000),
    str: st.one_of(ANY_TEXT, URLS, st.sampled_from(["Asia/Jakarta", "okes.example", "id", "en-US", "Mitra",
                                                     "{base_url}/berita/{slug}", "data/x.sqlite3", "0123456789abcdefXYZ"])),
    list: st.lists(st.one_of(URLS, PATHS), max_size=2),
    dict: st.dictionaries(PATHS, st.one_of(PATHS, URLS), max_size=2),
}


def _value_strategy(section: str, key: str) -> st.SearchStrategy[object]:
    default = DEFAULTS.get(section, {}).get(key)
    return st.one_of(TYPED[type(default)], CONFIG_VALUE) if type(default) in TYPED else CONFIG_VALUE


@st.composite
def config_text(draw) -> str:
    if draw(st.integers(0, 5)) == 0:   # TOML-looking text
        return draw(st.lists(st.one_of(st.sampled_from(["[site]\n", "[[sources]]\n", "title = ", '"', "[", "]", "{",
                                                        "= ", "\n"]), LINE), max_size=10).map("".join))
    lines = []
    for section in draw(st.lists(SECTION, max_size=3, unique=True)):
        lines.append(f"[{section}]")
        for key in draw(st.lists(_key_strategy(section), max_size=3, unique=True)):
            lines.append(f"{json.dumps(key)} = {_toml_value(draw(_value_strategy(section, key)))}")
    for _ in range(draw(st.integers(0, 2))):
        lines.append("[[sources]]")
        for key in draw(st.lists(_key_strategy("sources"), max_size=4, unique=True)):
            lines.append(f"{key} = {_toml_value(draw(_value_strategy('sources', key)))}")
    return "\n".join(lines) + "\n"


def test_a_fuzzed_config_is_read_or_refused_naming_the_file(tmp_path):
    path = tmp_path / "feedpub.toml"
    tally: Counter = Counter()

    @fuzz("config")
    @given(text=config_text())
    def run(text):
        tally["cases"] += 1
        path.write_text(text, encoding="utf-8")
        try:
            config = load_config(path, env={})
        except ConfigError as exc:
            assert str(exc).startswith(f"{path}: "), str(exc)
            tally["refused"] += 1
            return
        tally["accepted"] += 1
        # What the config says is used as it is: URLs the feeds are made of must make links.
        assert config.site.article_url.format(base_url=config.site.base_url, slug="x")

    run()
    report("config", tally)


# --- the ingest API ----------------------------------------------------------------------------


def call(app: IngestAPI, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict, bytes]:
    """One request through the WSGI interface, as waitress would make it."""
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "REQUEST_URI": path, "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": io.StringIO(),
        **headers,
    }
    answer: dict = {}

    def start_response(status: str, response_headers: list) -> None:
        answer["status"], answer["headers"] = int(status.split()[0]), dict(response_headers)

    payload = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], payload


API_FIELDS = st.dictionaries(st.sampled_from([*WRITABLE_KEYS, "titel", "feeds", "visible"]),
                             st.one_of(VALUE, BODY, st.sampled_from(["published", "draft", "deleted"])), max_size=6)
# A body close to valid (so that writes happen), any JSON object, any JSON, or not JSON.
API_BODY = st.one_of(
    st.tuples(LINE, LINE, st.lists(ANY_TEXT, max_size=2), st.sampled_from([None, "draft", "published"])).map(
        lambda parts: json.dumps({"title": parts[0], "body": "BATURAJA - OKES - " + parts[1], "tags": parts[2],
                                  "status": parts[3]}).encode()),
    st.tuples(BODY.filter(str.strip), API_FIELDS).map(lambda parts: json.dumps({"body": parts[0], **parts[1]})
                                                      .encode()),
    API_FIELDS.map(lambda fields: json.dumps(fields, ensure_ascii=False).encode("utf-8")),
    VALUE.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=100),
    st.sampled_from([b'{"a": 1, "a": 2}', b'{"title": NaN}', b"[" * 100_000, b'{"title": 1' + b"0" * 5000 + b"}",
                     b"\xef\xbb\xbf{}", b'{"body": "\\ud800"}']),
)
LATIN1 = st.text(alphabet=st.characters(max_codepoint=255), max_size=30)


@st.composite
def api_request(draw) -> tuple[str, str, bytes, dict[str, str]]:
    method = draw(st.sampled_from(["POST", "POST", "PUT", "PATCH"]))
    path = "/api/articles" if method == "POST" else draw(st.sampled_from([
        "/api/articles/okes-forkopimda-oku-pilkada-2024", "/api/articles/fuzz-created", "/api/articles/%00",
        "/api/articles/tag%3Aokes.example%2C2024-09-18%3Aokes-forkopimda-oku-pilkada-2024", "/api/articles/%ff",
    ]))
    body = draw(API_BODY)
    headers = {
        "CONTENT_TYPE": draw(st.one_of(st.sampled_from(["application/json", "application/json; charset=utf-8",
                                                        "application/merge-patch+json", "APPLICATION/JSON ;x=y",
                                                        "text/plain", ""]), LATIN1)),
        "CONTENT_LENGTH": draw(st.one_of(st.just(str(len(body))), st.just(str(len(body))),
                                         st.sampled_from(["", "-1", "1e3", "99999999999999999999", " 12", "²"]),
                                         LATIN1)),
        "HTTP_AUTHORIZATION": draw(st.one_of(st.just(f"Bearer {TOKEN}"), st.just(f"Bearer {TOKEN}"),
                                             st.just(f"Bearer {TOKEN}"), st.just(f"bearer  {TOKEN} "), LATIN1)),
    }
    return method, path, body, headers


def test_fuzzed_api_requests_get_an_answer_or_a_4xx_naming_the_problem(fuzz_store):
    site = SiteSettings(title="OKES.NEWS", description="Berita", base_url="https://okes.example", language="id",
                        timezone="Asia/Jakarta", author="Redaksi", items_per_feed=50, rebuild_minutes=15)
    def app(store: SQLiteStore) -> IngestAPI:
        return IngestAPI(store, settings=SETTINGS, token=TOKEN, max_body_bytes=64 * 1024,
                         clock=lambda: datetime(2024, 9, 18, 8, tzinfo=timezone.utc), feed_urls=feed_urls_for(site))
    tally: Counter = Counter()

    @fuzz("api")
    @given(request=api_request())
    def run(request):
        method, path, body, headers = request
        store = fuzz_store.current()
        before = fuzz_store.dump_before()
        fuzz_store.last_dump = None
        status, response_headers, payload = call(app(store), method, path, body, headers)
        tally["cases"] += 1
        tally[status] += 1
        assert status < 500, payload
        answer = json.loads(payload)
        if status >= 400:
            assert response_headers["Content-Type"].startswith("application/json")
            assert isinstance(answer["error"], str) and answer["error"]
            if status == 422 and "fields" in answer:
                assert answer["fields"] and all(isinstance(v, str) and v for v in answer["fields"].values())
            after = store_dump(store)
            assert after == before, f"{status}: {answer}"
            fuzz_store.last_dump = after
        else:
            assert store.get(answer["id"]) is not None

    run()
    report("api", tally)


# --- found by fuzzing: each a regression test ------------------------------------------------


@pytest.mark.parametrize(("name", "data", "message"), [
    # Python refuses int() of more than 4300 digits (CVE-2020-10735) with a ValueError that
    # escaped the YAML and JSON readers, and str() of such an int escaped the field check.
    ("long-int.txt", b"---\ntitle: Banjir\ntags: " + b"1" * 5000 + b"\n---\nBATURAJA - Banjir.",
     r"long-int\.txt:3: front matter holds a number of more than 4300 digits"),
    ("long-hex.txt", b"---\ntitle: 0x" + b"f" * 5000 + b"\n---\nBATURAJA - Banjir.",
     r"long-hex\.txt:2: front matter 'title': a number too long to be text"),
    ("long-int.jsonl", b'{"slug": "banjir", "title": ' + b"1" * 5000 + b', "body": "Banjir."}',
     r"long-int\.jsonl:1: a number of more than 4300 digits"),
    # urljoin's ValueError escaped when the page's canonical URL was not a URL.
    ("ipv6.html", b'<html><head><title>Banjir</title><link rel="canonical" href="http://[x">'
                  b'<meta property="og:image" content="/a.jpg"></head><body><p>Banjir.</p></body></html>',
     r"ipv6\.html:1: HTML 'url': 'http://\[x' is not a URL"),
    # The error for an unknown key that is a long number failed to print it (ValueError).
    ("long-key.txt", b"---\ntitle: Banjir\n? 0x" + b"f" * 5000 + b"\n: 1\n---\nBATURAJA - Banjir.",
     r"long-key\.txt:3: unknown front matter key '0xfffff+\.\.\.'"),
    # A RecursionError escaped the YAML reader.
    ("deep.md", b"---\ntitle: " + b"[" * 5000 + b"\n---\nBanjir.", r"deep\.md:2: front matter is nested too deeply"),
])
def test_found_by_fuzzing_files_refused_by_name(tmp_path, store, ingest, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    before = store_dump(store)
    summary = ingest(path)
    assert summary.failed == 1 and re.search(message, ingest.messages[-1]), ingest.messages
    assert store_dump(store) == before


@pytest.mark.parametrize(("text", "message"), [
    # urlsplit's ValueError escaped load_config.
    ('[site]\nbase_url = "http://[x"\n', r"site\.base_url: 'http://\[x' is not a URL: Invalid IPv6 URL"),
    ('[site]\nimage = "http://[x"\n', r"site\.image: 'http://\[x' is not a URL"),
    ('[websub]\nhubs = ["http://[x"]\n', r"websub\.hubs: 'http://\[x' is not a URL"),
    ('[[sources]]\nname = "A"\nurl = "http://[x"\n', r"sources\[1\]\.url: 'http://\[x' is not a URL"),
    ('[server]\nmoved = { "/a.xml" = "http://[x" }\n', r'server\.moved\."/a\.xml": \'http://\[x\' is not a URL'),
    # Accepted, then every build failed: nh3 refuses a base URL with a bad port.
    ('[site]\nbase_url = "http://okes.example:99999"\n', r"site\.base_url: 'http://okes\.example:99999': Port out"),
    # Accepted, then every build failed: lxml refuses control characters in a feed's title.
    ('[site]\ntitle = "OKES\\u0000NEWS"\n', r"site\.title: contains the control character U\+0000"),
    ('[[sources]]\nname = "Mitra\\u0008"\nurl = "https://a.example/f"\n', r"sources\[1\]\.name: contains the control"),
    # urlsplit drops a tab or newline silently; the URL would go out with it elsewhere.
    ('[websub]\nhubs = ["https://hub.example/\\n"]\n', r"websub\.hubs: .* is not a URL: it contains white space"),
    # urlsplit's ValueError escaped from the default base URL made of the host.
    ('[server]\nhost = "["\n', r"server\.host: '\[' is not a host name or IP address"),
    # IsADirectoryError (a folder of zones) escaped the time zone check.
    ('[site]\ntimezone = "America"\n', r"site\.timezone: unknown time zone 'America'"),
    # AttributeError escaped the article_url check.
    ("[site]\narticle_url = '{base_url}/{slug}{slug.x}'\n", r"site\.article_url: only \{base_url\}, \{slug\}, \{yyyy\} and \{mm\} may be used"),
    # A RecursionError escaped tomllib.
    ("a = " + "[" * 5000 + "]" * 5000 + "\n", r"not valid TOML: arrays or tables nested too deeply"),
])
def test_found_by_fuzzing_config_refused_by_key(tmp_path, text, message):
    path = tmp_path / "feedpub.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: {message}"):
        load_config(path, env={})
