"""The ingest API over real HTTP on loopback: auth, limits, every route, the served feeds,
and a schemathesis run driven by its own OpenAPI document."""

from __future__ import annotations

import io
import os
import socket
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import feedparser
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import sources.api
from feedpub.settings import load_config
from feeds.building.build import build
from feeds.serving.dispatch import PathDispatch
from feeds.serving.server import PublicFiles
from scheduler import feed_urls_for
from sources.api import IngestAPI
from sources.errors import ConfigError

from .conftest import SAMPLE, RunningServer
from .harness import Served, wait_for

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIMIT = 64 * 1024
LEAD = "BATURAJA - OKES.NEWS - Banjir merendam tiga desa di Kecamatan Baturaja Timur."
SAMPLE_SLUG = "okes-forkopimda-oku-pilkada-2024"


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def make_api(store, site, ingest_settings, token=TOKEN) -> IngestAPI:
    return IngestAPI(store, settings=ingest_settings, token=token, max_body_bytes=LIMIT, clock=utc_now,
                     feed_urls=feed_urls_for(site))


@pytest.fixture
def api(store, site, ingest_settings, ingest):
    ingest(SAMPLE)
    running = RunningServer(make_api(store, site, ingest_settings))
    running.get = lambda path, **kw: requests.get(running.url + path, headers=kw.pop("headers", AUTH), timeout=5, **kw)
    running.send = lambda method, path, body=None, headers=AUTH, **kw: requests.request(
        method, running.url + path, json=body, headers=headers, timeout=5, **kw)
    yield running
    running.stop()


def new_article(**fields) -> dict:
    return {"title": "Banjir Rendam Tiga Desa", "body": f"{LEAD}\nWarga mengungsi ke balai desa. (*)", **fields}


# --- authentication --------------------------------------------------------------------------


def test_without_a_token_the_api_is_off(tmp_path, store, site, ingest_settings, ingest):
    ingest(SAMPLE)
    public = tmp_path / "public"
    build(store, site, public, utc_now())
    app = PathDispatch(PublicFiles(public, max_age=60), make_api(store, site, ingest_settings, token=""))
    running = RunningServer(app)
    try:
        for path in ("/api/articles", "/api/openapi.json", f"/api/articles/{SAMPLE_SLUG}", "/api"):
            assert requests.get(running.url + path, headers=AUTH, timeout=5).status_code == 404, path
        assert requests.post(running.url + "/api/articles", json=new_article(), headers=AUTH, timeout=5).status_code == 404
        assert requests.get(running.url + "/rss.xml", timeout=5).status_code == 200   # the files are still served
    finally:
        running.stop()


def test_missing_wrong_and_right_tokens(api, monkeypatch):
    compared = []
    real = sources.api.hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(sources.api.hmac, "compare_digest", spy)
    missing = api.get("/api/articles", headers={})
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == 'Bearer realm="feedpub"'
    assert missing.json()["error"]
    basic = api.get("/api/articles", headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401
    wrong = api.get("/api/articles", headers={"Authorization": f"Bearer {TOKEN[:-1]}x"})
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    assert api.get("/api/articles").status_code == 200
    # Both the wrong and the right token went through the constant-time comparison.
    assert compared == [(f"{TOKEN[:-1]}x".encode(), TOKEN.encode()), (TOKEN.encode(), TOKEN.encode())]


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/articles"), ("POST", "/api/articles"), ("GET", f"/api/articles/{SAMPLE_SLUG}"),
    ("PUT", f"/api/articles/{SAMPLE_SLUG}"), ("PATCH", f"/api/articles/{SAMPLE_SLUG}"),
    ("DELETE", f"/api/articles/{SAMPLE_SLUG}"), ("GET", f"/api/articles/{SAMPLE_SLUG}/history"),
    ("GET", "/api/nothing"), ("OPTIONS", "/api/articles"),
])
def test_every_route_but_the_openapi_document_wants_the_token(api, method, path):
    response = api.send(method, path, new_article(), headers={})
    assert response.status_code == 401, response.text
    assert "Forkopimda" not in response.text and "pilkada" not in response.text
    assert api.send("DELETE", f"/api/articles/{SAMPLE_SLUG}", headers={}).status_code == 401
    assert api.get(f"/api/articles/{SAMPLE_SLUG}").status_code == 200   # nothing was changed


def test_the_openapi_document_is_open_and_describes_every_route(api):
    response = requests.get(api.url + "/api/openapi.json", timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {"/api/articles", "/api/articles/{key}", "/api/articles/{key}/history"}
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_token_from_config_and_environment(tmp_path, tmp_path_factory):
    (tmp_path / "feedpub.toml").write_text('[api]\ntoken = "from-the-config-file-0123"\nmax_body_bytes = 4096\n',
                                           encoding="utf-8")
    assert load_config(cwd=tmp_path, env={}).api_token == "from-the-config-file-0123"
    assert load_config(cwd=tmp_path, env={}).api_max_body_bytes == 4096
    assert load_config(cwd=tmp_path, env={"FEEDPUB_API_TOKEN": TOKEN}).api_token == TOKEN   # env wins
    # off by default (a folder of its own: one below tmp_path would find its feedpub.toml)
    assert load_config(cwd=tmp_path_factory.mktemp("none"), env={}).api_token == ""
    with pytest.raises(ConfigError, match="FEEDPUB_API_TOKEN: must be at least 16 characters"):
        load_config(cwd=tmp_path, env={"FEEDPUB_API_TOKEN": "short"})
    (tmp_path / "feedpub.toml").write_text('[api]\nmax_body_bytes = 10\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"api\.max_body_bytes: must be between"):
        load_config(cwd=tmp_path, env={})


# --- limits and malformed requests --------------------------------------------------------------


def test_a_body_over_the_limit_is_413(api, store):
    before = store.revision()
    big = new_article(body=LEAD + "\n" + "Paragraf panjang sekali. " * 4000)
    response = api.send("POST", "/api/articles", big)
    assert response.status_code == 413 and str(LIMIT) in response.json()["error"]
    assert store.revision() == before


class _Unreadable(io.RawIOBase):
    def read(self, size=-1):
        raise AssertionError("the body was read")


def _call(app, method, path, *, body=b"", length=None, content_type="application/json", stream=None):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
               "HTTP_AUTHORIZATION": f"Bearer {TOKEN}", "CONTENT_TYPE": content_type,
               "wsgi.input": stream or io.BytesIO(body)}
    if length is not None:
        environ["CONTENT_LENGTH"] = str(length)
    status = []
    body_out = b"".join(app(environ, lambda s, headers: status.append(s)))
    return int(status[0].split()[0]), body_out


def test_content_length_is_checked_before_reading_and_the_read_is_capped(store, site, ingest_settings):
    app = make_api(store, site, ingest_settings)
    assert _call(app, "POST", "/api/articles", length=10**9, stream=_Unreadable())[0] == 413
    reads = []

    class Endless(io.RawIOBase):
        def read(self, size=-1):
            reads.append(size)
            return b"x" * (size if size >= 0 else 10**7)

    assert _call(app, "POST", "/api/articles", stream=Endless())[0] == 413   # no Content-Length at all
    assert reads == [LIMIT + 1]


@pytest.mark.parametrize(("content_type", "data", "status"), [
    ("text/plain", b"{}", 415),
    ("application/x-www-form-urlencoded", b"title=x", 415),
    ("application/json", b"{\"title\": ", 400),
    ("application/json", b"", 400),
    ("application/json", b"\xff\xfe{}", 400),
    ("application/json", b'{"title": NaN, "body": "x"}', 400),
    ("application/json", b'{"title": "a", "title": "b", "body": "x"}', 400),
    ("application/json", b"[" * 5000 + b"]" * 5000, 400),
    ("application/json", b'["not", "an", "object"]', 422),
])
def test_unsupported_and_malformed_bodies(api, content_type, data, status):
    response = requests.post(api.url + "/api/articles", data=data, timeout=5,
                             headers={**AUTH, "Content-Type": content_type})
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json; charset=utf-8" and response.json()["error"]


def test_invalid_input_is_422_naming_every_bad_field(api, store):
    before = store.revision()
    response = api.send("POST", "/api/articles", {
        "title": 7, "url": "not a url", "published": "kemarin", "id": "okes-1", "slug": "!!!",
        "language": "Bahasa Indonesia", "tags": "satu", "image": "ftp://x/y.jpg", "status": "gone",
        "colour": "red",
    })
    assert response.status_code == 422
    fields = response.json()["fields"]
    assert set(fields) == {"title", "url", "published", "id", "slug", "language", "tags", "image", "status",
                           "colour", "body"}
    assert "ISO 8601" in fields["published"] and "tag: URI" in fields["id"] and "required" in fields["body"]
    both = api.send("POST", "/api/articles", new_article(content_html="<p>x</p>", updated="2020-01-01",
                                                         published="2021-01-01"))
    assert both.status_code == 422
    assert set(both.json()["fields"]) == {"body", "content_html", "updated"}
    marker = api.send("POST", "/api/articles", new_article(body=f"{LEAD}\nBACA JUGA:\nAkhir."))
    assert marker.status_code == 422 and marker.json()["fields"]["body"].startswith("line 2: related-link marker")
    assert store.revision() == before


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("DELETE", "/api/articles", "GET, HEAD, POST"),
    ("POST", f"/api/articles/{SAMPLE_SLUG}", "GET, HEAD, PUT, PATCH, DELETE"),
    ("PUT", f"/api/articles/{SAMPLE_SLUG}/history", "GET, HEAD"),
    ("POST", "/api/openapi.json", "GET, HEAD"),
])
def test_other_methods_are_405_with_allow(api, method, path, allow):
    response = api.send(method, path, {})
    assert response.status_code == 405 and response.headers["Allow"] == allow


# --- the routes -------------------------------------------------------------------------------


def test_create_get_list_replace_patch_history_delete(api, store):
    created = api.send("POST", "/api/articles", new_article(tags=["Banjir"], categories=["Daerah"]))
    assert created.status_code == 201, created.text
    article = created.json()
    article_id = article["id"]
    assert article_id.startswith("tag:okes.example,") and article_id.endswith(":banjir-rendam-tiga-desa")
    assert created.headers["Location"] == "/api/articles/" + quote(article_id, safe="")
    assert article["feeds"] == ["https://okes.example/rss.xml", "https://okes.example/atom.xml",
                                "https://okes.example/feed.json"]
    assert (article["city"], article["publication"], article["status"], article["visible"]) == (
        "BATURAJA", "OKES.NEWS", "published", True)
    assert article["content_html"].startswith("<p>Banjir merendam") and "(*)" not in article["content_html"]
    # The same id or slug again is a conflict, not an overwrite.
    assert api.send("POST", "/api/articles", new_article()).status_code == 409
    assert api.send("POST", "/api/articles", new_article(id=article_id, slug="lain")).status_code == 409

    # GET by slug, by id percent-encoded and by id as is.
    for key in ("banjir-rendam-tiga-desa", quote(article_id, safe=""), article_id):
        got = api.get(f"/api/articles/{key}")
        assert got.status_code == 200 and got.json()["id"] == article_id, key
    assert api.get("/api/articles/tidak-ada").status_code == 404

    listed = api.get("/api/articles", params={"limit": 1})
    assert listed.status_code == 200
    body = listed.json()
    assert [a["id"] for a in body["articles"]] == [article_id] and body["next_offset"] == 1   # newest first
    second = api.get("/api/articles", params={"limit": 1, "offset": 1}).json()
    assert [a["slug"] for a in second["articles"]] == [SAMPLE_SLUG] and second["next_offset"] is None
    bad_query = api.get("/api/articles", params={"limit": 0, "offset": -1})
    assert bad_query.status_code == 422 and set(bad_query.json()["fields"]) == {"limit", "offset"}

    # PUT replaces: the left-out fields take their defaults; id, slug and publish time stay.
    replaced = api.send("PUT", f"/api/articles/{quote(article_id, safe='')}",
                        {"content_html": "<p>Air mulai <b>surut</b>.</p><p>Baca juga: Banjir di Muara Enim</p>"})
    assert replaced.status_code == 200, replaced.text
    after = replaced.json()
    assert (after["id"], after["slug"], after["published"]) == (article_id, article["slug"], article["published"])
    assert after["title"] == "Air mulai surut" and after["tags"] == [] and after["updated"] > article["updated"]
    assert [link["title"] for link in after["related"]] == ["Banjir di Muara Enim"]
    wrong_id = api.send("PUT", "/api/articles/banjir-rendam-tiga-desa", new_article(id="tag:okes.example,2024:x"))
    assert wrong_id.status_code == 422 and "id" in wrong_id.json()["fields"]

    # PATCH changes only what it names; null clears; status draft takes it out of the feeds.
    patched = api.send("PATCH", "/api/articles/banjir-rendam-tiga-desa",
                       {"author": "Rahmad Hidayat", "tags": ["Banjir", "OKU"], "status": "draft"})
    assert patched.status_code == 200, patched.text
    draft = patched.json()
    assert (draft["author"], draft["tags"], draft["title"], draft["status"]) == (
        "Rahmad Hidayat", ["Banjir", "OKU"], "Air mulai surut", "draft")
    assert draft["feeds"] == [] and draft["visible"] is False
    unchanged = api.send("PATCH", "/api/articles/banjir-rendam-tiga-desa", {"author": "Rahmad Hidayat"},
                         headers={**AUTH, "Content-Type": "application/merge-patch+json"})
    assert unchanged.json()["updated"] == draft["updated"]   # nothing changed: no new version either
    cleared = api.send("PATCH", "/api/articles/banjir-rendam-tiga-desa", {"author": None, "status": "published"})
    assert cleared.json()["author"] is None and cleared.json()["status"] == "published"
    too_early = api.send("PATCH", "/api/articles/banjir-rendam-tiga-desa", {"updated": "2000-01-01"})
    assert too_early.status_code == 422 and "updated" in too_early.json()["fields"]

    history = api.get("/api/articles/banjir-rendam-tiga-desa/history")
    assert history.status_code == 200, history.text
    versions = history.json()["versions"]
    assert [v["number"] for v in versions] == [1, 2, 3, 4]
    assert [v["article"]["status"] for v in versions] == ["published", "published", "draft", "published"]
    assert "title" in versions[1]["changed"] and "author" in versions[3]["changed"]

    deleted = api.send("DELETE", f"/api/articles/{quote(article_id, safe='')}")
    assert deleted.status_code == 200
    assert deleted.json()["status"] == "deleted" and deleted.json()["id"].startswith("tag:")
    assert api.get(f"/api/articles/{quote(article_id, safe='')}").status_code == 404
    assert api.send("DELETE", "/api/articles/banjir-rendam-tiga-desa").status_code == 404
    assert api.send("PATCH", "/api/articles/banjir-rendam-tiga-desa", {"title": "x"}).status_code == 404
    assert [a["slug"] for a in api.get("/api/articles").json()["articles"]] == [SAMPLE_SLUG]
    assert api.get("/api/articles/banjir-rendam-tiga-desa/history").json()["versions"][-1]["article"]["status"] == "deleted"
    # Posting it again brings it back under the same id, as re-ingesting a file does.
    again = api.send("POST", "/api/articles", new_article())
    assert again.status_code == 201 and again.json()["id"] == article_id


def test_a_slug_taken_by_another_article_is_409(api):
    assert api.send("POST", "/api/articles", new_article(slug=SAMPLE_SLUG)).status_code == 409
    created = api.send("POST", "/api/articles", new_article()).json()
    clash = api.send("PATCH", f"/api/articles/{created['slug']}", {"slug": SAMPLE_SLUG})
    assert clash.status_code == 409 and clash.json()["fields"]["slug"].startswith("taken by tag:")


def test_an_embargoed_article_is_invisible_to_unauthenticated_callers(api):
    later = (utc_now() + timedelta(hours=2)).isoformat()
    created = api.send("POST", "/api/articles", new_article(title="Rahasia Redaksi", published=later))
    assert created.status_code == 201 and created.json()["visible"] is False
    key = quote(created.json()["id"], safe="")
    for path in (f"/api/articles/{key}", "/api/articles/banjir-rendam-tiga-desa", "/api/articles",
                 f"/api/articles/{key}/history"):
        response = requests.get(api.url + path, timeout=5)
        assert response.status_code == 401 and "Rahasia" not in response.text and "Banjir" not in response.text
    assert api.get(f"/api/articles/{key}").json()["title"] == "Rahasia Redaksi"   # the newsroom sees it


# --- the whole service ---------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path, monkeypatch):
    monkeypatch.setenv("FEEDPUB_API_TOKEN", TOKEN)
    (tmp_path / "feedpub.toml").write_text('[schedule]\nrebuild_minutes = 60\n[api]\nmax_body_bytes = 4096\n',
                                           encoding="utf-8")
    service = Served(tmp_path)
    yield service
    service.stop()


def titles(served, path="/atom.xml"):
    return [entry.title for entry in feedparser.parse(served.get(path).content).entries]


def test_a_write_through_the_api_is_in_the_served_feeds_within_seconds(served):
    later = (utc_now() + timedelta(hours=2)).isoformat()
    embargoed = requests.post(served.url + "/api/articles", headers=AUTH, timeout=5,
                              json=new_article(title="Berita Terembargo", slug="embargo", published=later))
    assert embargoed.status_code == 201
    created = requests.post(served.url + "/api/articles", json=new_article(), headers=AUTH, timeout=5)
    assert created.status_code == 201, created.text
    assert created.json()["feeds"] == [served.url + "/rss.xml", served.url + "/atom.xml", served.url + "/feed.json"]
    # About half a second here (the store watcher); DEADLINE is for a loaded CI machine.
    wait_for(lambda: "Banjir Rendam Tiga Desa" in titles(served))
    key = quote(created.json()["id"], safe="")
    assert requests.patch(served.url + f"/api/articles/{key}", json={"title": "Banjir Mulai Surut"},
                          headers=AUTH, timeout=5).status_code == 200
    wait_for(lambda: "Banjir Mulai Surut" in titles(served, "/rss.xml"))
    gone = requests.delete(served.url + f"/api/articles/{key}", headers=AUTH, timeout=5)
    assert gone.status_code == 200 and gone.json()["feeds"] == [served.url + "/rss.xml", served.url + "/atom.xml",
                                                                served.url + "/feed.json"]
    wait_for(lambda: "Banjir Mulai Surut" not in titles(served))
    # The embargoed one is in no document and the API gives strangers nothing.
    for path in ("/rss.xml", "/atom.xml", "/feed.json", "/", "/api/articles", "/api/articles/embargo"):
        assert "Terembargo" not in served.get(path).text, path
    assert served.get("/api/articles/embargo").status_code == 401
    # The public files are served as before beside the API.
    assert served.get("/rss.xml").status_code == 200 and served.get("/api").status_code == 401


def test_the_service_refuses_a_huge_declared_body_without_reading_it(served):
    host, port = served.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"POST /api/articles HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                     "Content-Type: application/json\r\nContent-Length: 2000000000\r\n\r\n".encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 413")
    over = requests.post(served.url + "/api/articles", json=new_article(body=LEAD + " x" * 3000),
                         headers=AUTH, timeout=5)
    assert over.status_code == 413 and over.json()["error"]   # the API's own answer under the server's cap


# --- schemathesis, from the served OpenAPI document ---------------------------------------------
# Driven through its Python API (operation.as_strategy + hypothesis): its pytest loader
# (schemathesis.pytest.from_fixture) reads pytest's private Function._nodeid, gone in pytest 9.

OPERATIONS = [("/api/articles", "GET"), ("/api/articles", "POST"), ("/api/articles/{key}", "GET"),
              ("/api/articles/{key}", "PUT"), ("/api/articles/{key}", "PATCH"), ("/api/articles/{key}", "DELETE"),
              ("/api/articles/{key}/history", "GET")]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]


def test_the_openapi_document_names_exactly_the_operations_fuzzed(api):
    loaded = schemathesis.openapi.from_url(api.url + "/api/openapi.json")
    found = {(op.ok().path, op.ok().method.upper()) for op in loaded.get_all_operations()}
    assert found == set(OPERATIONS)


# Each operation with generated data that is valid, then invalid; each on a stored article
# too (its key fixed to the sample's slug), so that writes reach the store, not only 404s.
FUZZ = [(path, method, mode, None) for path, method in OPERATIONS
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
FUZZ += [(path, method, GenerationMode.POSITIVE, SAMPLE_SLUG) for path, method in OPERATIONS if "{key}" in path]


@pytest.mark.parametrize(("path", "method", "mode", "key"), FUZZ,
                         ids=[f"{m} {p} {mode.value}{' stored' if k else ''}" for p, m, mode, k in FUZZ])
def test_the_api_against_its_openapi_document(api, path, method, mode, key):
    """No 5xx, and every answer as the document describes it (status, type, headers, body);
    invalid input (negative mode) is refused."""
    operation = schemathesis.openapi.from_url(api.url + "/api/openapi.json")[path][method]
    strategy = operation.as_strategy(generation_mode=mode, path_parameters={"key": key} if key else None)

    @given(case=strategy)
    @settings(max_examples=int(os.environ.get("FEEDPUB_FUZZ_EXAMPLES", "30")), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        # A query parameter with no values never reaches the wire, yet schemathesis would
        # count ``{"": []}`` as an unknown parameter the API accepted (ST201): not a request.
        assume(not any(value == [] for value in (case.query or {}).values()))
        case.call_and_validate(headers=AUTH, checks=CHECKS)

    run()
