"""Serving public/ over real HTTP on loopback: validators, 304s, and what is refused."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests

from feeds.building.build import build
from feeds.serving.server import PublicFiles

from .conftest import INGEST_TIME, RunningServer, seen_by_the_server, write_article


@pytest.mark.parametrize(("path", "content_type"), [
    ("/rss.xml", "application/rss+xml; charset=utf-8"),
    ("/atom.xml", "application/atom+xml; charset=utf-8"),
])
def test_feeds_have_their_content_types_and_validators(server, public, path, content_type):
    response = requests.get(server.url + path, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.content == (public / path.lstrip("/")).read_bytes()
    assert response.headers["ETag"].startswith('"') and response.headers["ETag"].endswith('"')
    # Last-Modified is the newest update in the feed, not the file's time.
    assert response.headers["Last-Modified"] == "Wed, 18 Sep 2024 07:30:00 GMT"
    assert response.headers["Cache-Control"] == "public, max-age=900, stale-while-revalidate=900"


def test_the_etag_it_gave_gets_a_304(server):
    first = requests.get(server.url + "/rss.xml", timeout=5)
    again = requests.get(server.url + "/rss.xml", headers={"If-None-Match": first.headers["ETag"]}, timeout=5)
    assert again.status_code == 304 and again.content == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    other = requests.get(server.url + "/rss.xml", headers={"If-None-Match": '"something-else"'}, timeout=5)
    assert other.status_code == 200


def test_if_modified_since(server):
    first = requests.get(server.url + "/atom.xml", timeout=5)
    same = requests.get(server.url + "/atom.xml", headers={"If-Modified-Since": first.headers["Last-Modified"]}, timeout=5)
    assert same.status_code == 304
    older = requests.get(server.url + "/atom.xml", headers={"If-Modified-Since": "Tue, 17 Sep 2024 00:00:00 GMT"}, timeout=5)
    assert older.status_code == 200
    junk = requests.get(server.url + "/atom.xml", headers={"If-Modified-Since": "yesterday"}, timeout=5)
    assert junk.status_code == 200


def test_an_if_modified_since_later_than_the_server_clock_is_ignored(server, public):
    # RFC 7232 section 3.3: a date later than the server's current time is invalid.
    future = requests.get(server.url + "/atom.xml", headers={"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
                          timeout=5)
    assert future.status_code == 200 and future.content == (public / "atom.xml").read_bytes()
    # The clock is the server's: against one that reads 20 Sep 2024 noon, a date between the
    # document's Last-Modified (18 Sep) and that clock validates; a later one does not.
    noon = datetime(2024, 9, 20, 12, tzinfo=timezone.utc).timestamp()
    running = RunningServer(PublicFiles(public, max_age=900, clock=lambda: noon))
    try:
        past = requests.get(running.url + "/atom.xml", headers={"If-Modified-Since": "Thu, 19 Sep 2024 00:00:00 GMT"},
                            timeout=5)
        ahead = requests.get(running.url + "/atom.xml",
                             headers={"If-Modified-Since": "Fri, 20 Sep 2024 12:00:01 GMT"}, timeout=5)
        now = requests.get(running.url + "/atom.xml", headers={"If-Modified-Since": "Fri, 20 Sep 2024 12:00:00 GMT"},
                           timeout=5)
    finally:
        running.stop()
    assert (past.status_code, ahead.status_code, now.status_code) == (304, 200, 304)


def test_if_none_match_takes_precedence_over_if_modified_since(server):
    first = requests.get(server.url + "/atom.xml", timeout=5)
    response = requests.get(server.url + "/atom.xml", timeout=5, headers={
        "If-None-Match": '"stale"', "If-Modified-Since": first.headers["Last-Modified"]})
    assert response.status_code == 200


def test_head_has_headers_and_no_body(server):
    response = requests.head(server.url + "/rss.xml", timeout=5)
    assert response.status_code == 200 and response.content == b""
    assert int(response.headers["Content-Length"]) > 1000


def test_a_rebuild_changes_the_etag_and_the_body(server, public, store, ingest, tmp_path, site):
    before = requests.get(server.url + "/atom.xml", timeout=5)
    ingest(write_article(tmp_path, "baru.txt", "Berita baru."), now=INGEST_TIME + timedelta(hours=1))
    build(store, site, public, INGEST_TIME + timedelta(hours=1))
    seen_by_the_server()
    after = requests.get(server.url + "/atom.xml", headers={"If-None-Match": before.headers["ETag"]}, timeout=5)
    assert after.status_code == 200 and b"Berita baru." in after.content
    assert after.headers["ETag"] != before.headers["ETag"]


def test_validators_are_the_same_for_every_instance(public):
    one, two = RunningServer(PublicFiles(public, max_age=900)), RunningServer(PublicFiles(public, max_age=900))
    try:
        a = requests.get(one.url + "/rss.xml", timeout=5).headers
        b = requests.get(two.url + "/rss.xml", timeout=5).headers
        assert (a["ETag"], a["Last-Modified"]) == (b["ETag"], b["Last-Modified"])
    finally:
        one.stop()
        two.stop()


@pytest.mark.parametrize("path", ["/nothing.xml", "/.manifest.json", "/../conftest.py", "/%2e%2e/conftest.py",
                                  "/public/../../etc/passwd", "/rss.xml%00.txt", "/data", "/index.html/"])
def test_unknown_hidden_and_escaping_paths_are_404(server, path):
    response = requests.get(server.url + path, timeout=5)
    assert response.status_code == 404


def test_a_symlink_out_of_public_is_not_followed(server, public, tmp_path):
    secret = write_article(tmp_path, "secret.txt", "rahasia")
    (public / "leak.txt").symlink_to(secret)
    assert requests.get(server.url + "/leak.txt", timeout=5).status_code == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(server, method):
    response = requests.request(method, server.url + "/rss.xml", timeout=5)
    assert response.status_code == 405 and response.headers["Allow"] == "GET, HEAD"


def test_the_root_is_the_index_page(server):
    response = requests.get(server.url + "/", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert b'rel="alternate" type="application/atom+xml"' in response.content


def test_a_file_read_between_its_swap_and_the_manifest_gets_the_manifest_time_after(server, public):
    """A build replaces documents first and the manifest last; the server must not keep
    the stop-gap Last-Modified it gave while the manifest still described the old file."""
    import json

    from feeds.publishing.atomic import write_atomic
    from feeds.publishing.publish import MANIFEST_NAME, sha256

    manifest = json.loads((public / MANIFEST_NAME).read_bytes())
    new_body = (public / "rss.xml").read_bytes().replace(b"OKES.NEWS", b"OKES NEWS", 1)
    write_atomic(public / "rss.xml", new_body)
    during = requests.get(server.url + "/rss.xml", timeout=5)
    assert during.content == new_body
    manifest["documents"]["rss.xml"].update(sha256=sha256(new_body), size=len(new_body),
                                            updated="2024-09-19T08:00:00+07:00")
    del manifest["documents"]["rss.xml"]["encodings"]   # written by hand: no variants of the new body
    write_atomic(public / MANIFEST_NAME, json.dumps(manifest).encode())
    seen_by_the_server()
    after = requests.get(server.url + "/rss.xml", timeout=5)
    assert after.headers["Last-Modified"] == "Thu, 19 Sep 2024 01:00:00 GMT"
    assert after.headers["ETag"] == during.headers["ETag"]


@pytest.mark.parametrize("raw_path", ["/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt",
                                      "/./../secret.txt", "//../secret.txt", "/..\\secret.txt"])
def test_raw_traversal_paths_never_leave_public(server, public, raw_path):
    """Sent byte for byte (requests would normalise them first)."""
    import http.client

    (public.parent / "secret.txt").write_text("rahasia", encoding="utf-8")
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.putrequest("GET", raw_path, skip_accept_encoding=True)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status in (400, 404) and b"rahasia" not in body


def test_a_304_keeps_the_connection_open(server):
    """waitress alone closes the connection after every 304 (feeds/serving/server.py _keep_alive_channel)."""
    import http.client

    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request("GET", "/rss.xml")
    first = connection.getresponse()
    first.read()
    sock = connection.sock
    for _ in range(3):
        connection.request("GET", "/rss.xml", headers={"If-None-Match": first.getheader("ETag")})
        again = connection.getresponse()
        assert again.status == 304 and again.read() == b""
        assert again.getheader("Connection") is None and not again.will_close
    connection.request("GET", "/rss.xml", headers={"If-None-Match": first.getheader("ETag"), "Connection": "close"})
    last = connection.getresponse()
    assert last.status == 304 and last.will_close
    assert connection.sock is None or connection.sock is sock   # the same connection all along
    connection.close()


def test_during_a_build_the_previous_consistent_version_is_served_until_its_manifest_lands(server, public):
    """A build swaps documents in before the manifest: a document the server already holds
    stays as the manifest describes it, bytes and validators together, until the manifest changes."""
    import json

    from feeds.publishing.atomic import write_atomic
    from feeds.publishing.publish import MANIFEST_NAME, sha256

    before = requests.get(server.url + "/rss.xml", headers={"Accept-Encoding": "identity"}, timeout=5)
    new_body = before.content.replace(b"OKES.NEWS", b"OKES NEWS", 1)
    write_atomic(public / "rss.xml", new_body)
    during = requests.get(server.url + "/rss.xml", headers={"Accept-Encoding": "identity"}, timeout=5)
    assert (during.content, during.headers["ETag"]) == (before.content, before.headers["ETag"])
    manifest = json.loads((public / MANIFEST_NAME).read_bytes())
    manifest["documents"]["rss.xml"].update(sha256=sha256(new_body), size=len(new_body))
    del manifest["documents"]["rss.xml"]["encodings"]
    write_atomic(public / MANIFEST_NAME, json.dumps(manifest).encode())
    seen_by_the_server()
    after = requests.get(server.url + "/rss.xml", headers={"Accept-Encoding": "identity"}, timeout=5)
    assert after.content == new_body and after.headers["ETag"] == f'"{sha256(new_body)[:40]}"'


def test_a_file_no_build_wrote_is_looked_at_on_every_request(server, public):
    (public / "robots.txt").write_text("User-agent: *\n", encoding="utf-8")
    assert requests.get(server.url + "/robots.txt", timeout=5).text == "User-agent: *\n"
    (public / "robots.txt").write_text("User-agent: *\nDisallow: /\n", encoding="utf-8")
    assert requests.get(server.url + "/robots.txt", timeout=5).text.endswith("Disallow: /\n")
    (public / "robots.txt").unlink()
    assert requests.get(server.url + "/robots.txt", timeout=5).status_code == 404


def test_only_the_plain_spelling_of_a_url_is_remembered(public):
    app = PublicFiles(public, max_age=900)
    statuses = []
    for path in ("/rss.xml", "//rss.xml", "///rss.xml", "/rss.xml/", "/", "//index.html", "/nothing.xml"):
        app({"REQUEST_METHOD": "GET", "PATH_INFO": path}, lambda status, headers: statuses.append(status[:3]))
    assert statuses == ["200", "200", "200", "404", "200", "200", "404"]
    assert set(app._by_url) == {"/rss.xml", "/"}
