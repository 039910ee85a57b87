"""Precompressed variants: written by the build before their document, chosen per request."""

from __future__ import annotations

import gzip
import http.client
import json
import os
from dataclasses import replace

import brotli
import pytest

import feeds.publishing.publish
from feeds.building.build import build
from feeds.rendering.document import Document
from feeds.publishing.encoding import ARCHIVE_LEVELS, LEVELS, compressible, negotiate
from feeds.publishing.atomic import retired
from feeds.publishing.publish import MANIFEST_NAME, publish, read_manifest, sha256

from .conftest import INGEST_TIME, SAMPLE

XML = "application/rss+xml; charset=utf-8"
BODY = b"<rss>" + b"<item>Berita Baturaja</item>" * 200 + b"</rss>"


def doc(path: str, body: bytes = BODY, content_type: str = XML) -> Document:
    return Document(path, body, content_type, "2024-09-18T14:30:00+07:00")


# --- publishing --------------------------------------------------------------------------


def test_variants_are_swapped_in_before_their_document_and_the_manifest_last(tmp_path, monkeypatch):
    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (replaced.append(os.path.basename(dst)), real_replace(src, dst))[1])
    publish(tmp_path, [doc("rss.xml"), doc("logo.png", b"\x89PNG", "image/png")])
    # (rss.xml.json: the RFC 3229 delta history, recorded once the document is in place)
    assert [name for name in replaced if name != "rss.xml.json"] == ["rss.xml.br", "rss.xml.gz", "rss.xml", "logo.png",
                                                                    MANIFEST_NAME]
    # and again for a changed document: variants first, each atomically
    replaced.clear()
    publish(tmp_path, [doc("rss.xml", BODY + b"<!-- 2 -->"), doc("logo.png", b"\x89PNG", "image/png")])
    deltas = ("rss.xml.json",)   # and the RFC 3229 delta for the version before, after the document
    assert [n for n in replaced if n not in deltas and not n.endswith(".xml") or n == "rss.xml"] == [
        "rss.xml.br", "rss.xml.gz", "rss.xml", MANIFEST_NAME]


def test_variants_decompress_to_the_document_and_are_byte_identical_every_time(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    publish(one, [doc("rss.xml")])
    publish(two, [doc("rss.xml")])
    for suffix in (".gz", ".br"):
        assert (one / f"rss.xml{suffix}").read_bytes() == (two / f"rss.xml{suffix}").read_bytes()
    gz = (one / "rss.xml.gz").read_bytes()
    assert gz[4:8] == b"\0\0\0\0" and not gz[3] & 0x08   # MTIME 0, no FNAME (RFC 1952 2.3.1)
    assert gzip.decompress(gz) == BODY
    assert brotli.decompress((one / "rss.xml.br").read_bytes()) == BODY
    assert len((one / "rss.xml.br").read_bytes()) < len(gz) < len(BODY)


def test_the_manifest_lists_each_variant_under_its_document(tmp_path):
    publish(tmp_path, [doc("rss.xml"), doc("logo.png", b"\x89PNG", "image/png")])
    manifest = read_manifest(tmp_path)
    encodings = manifest["rss.xml"]["encodings"]
    assert set(encodings) == {"br", "gzip"}
    for coding, suffix in (("br", ".br"), ("gzip", ".gz")):
        data = (tmp_path / f"rss.xml{suffix}").read_bytes()
        assert encodings[coding] == {"sha256": sha256(data), "size": len(data)}
    assert "encodings" not in manifest["logo.png"] and not (tmp_path / "logo.png.gz").exists()


def test_an_unchanged_document_is_not_compressed_or_written_again(tmp_path, monkeypatch):
    publish(tmp_path, [doc("rss.xml")])
    before = {suffix: os.stat(tmp_path / f"rss.xml{suffix}").st_ino for suffix in (".gz", ".br")}

    def no_compressing(body):
        raise AssertionError("compressed an unchanged document")

    monkeypatch.setattr(feeds.publishing.publish, "compress", no_compressing)
    report = publish(tmp_path, [doc("rss.xml")])
    assert report.unchanged == ("rss.xml",)
    assert before == {suffix: os.stat(tmp_path / f"rss.xml{suffix}").st_ino for suffix in (".gz", ".br")}


def test_a_damaged_or_missing_variant_is_made_again(tmp_path):
    publish(tmp_path, [doc("rss.xml")])
    good = (tmp_path / "rss.xml.br").read_bytes()
    (tmp_path / "rss.xml.br").write_bytes(b"junk")
    (tmp_path / "rss.xml.gz").unlink()
    publish(tmp_path, [doc("rss.xml")])
    assert (tmp_path / "rss.xml.br").read_bytes() == good
    assert gzip.decompress((tmp_path / "rss.xml.gz").read_bytes()) == BODY


def test_variants_of_a_removed_document_are_removed(tmp_path):
    publish(tmp_path, [doc("rss.xml"), doc("old.xml")])
    assert (tmp_path / "old.xml.br").exists()
    report = publish(tmp_path, [doc("rss.xml")])
    assert report.removed == ("old.xml",)
    retired()   # the previous versions are removed on a thread of their own once the build is in
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".delta") == [MANIFEST_NAME, "rss.xml", "rss.xml.br", "rss.xml.gz"]


def test_a_document_no_longer_text_loses_its_variants(tmp_path):
    publish(tmp_path, [doc("thing")])
    publish(tmp_path, [doc("thing", content_type="application/octet-stream")])
    assert not (tmp_path / "thing.gz").exists() and not (tmp_path / "thing.br").exists()


@pytest.mark.parametrize(("content_type", "expected"), [
    ("application/rss+xml; charset=utf-8", True), ("application/atom+xml; charset=utf-8", True),
    ("application/feed+json; charset=utf-8", True), ("text/html; charset=utf-8", True),
    ("text/css; charset=utf-8", True), ("text/x-opml; charset=utf-8", True), ("image/png", False),
])
def test_which_documents_are_compressed(content_type, expected):
    assert compressible(content_type) is expected


def test_every_text_document_of_a_build_has_its_variants(tmp_path, store, ingest, site):
    ingest(SAMPLE)
    build(store, site, tmp_path, INGEST_TIME)
    manifest = read_manifest(tmp_path)
    texts = {path for path, entry in manifest.items() if compressible(entry["content_type"])}
    assert texts == {"rss.xml", "atom.xml", "feed.json", "feed.html", "index.html", "404.html", "style.css",
                     "feeds.opml", "articles/okes-forkopimda-oku-pilkada-2024"}
    assert {path for path, entry in manifest.items() if "encodings" in entry} == texts


def test_archive_pages_are_compressed_quickly_and_polled_documents_thoroughly(tmp_path):
    """Archive pages are most of a site's bytes and fetched about once each: quick levels."""
    body = b"<feed>" + b"".join(b"<entry>Berita %d dari Baturaja, Sumatera Selatan</entry>" % n
                                for n in range(4000)) + b"</feed>"
    publish(tmp_path, [doc("atom.xml", body), replace(doc("archive/2024-09-1.xml", body), archive=True)])
    polled, archived = (tmp_path / "atom.xml.br").read_bytes(), (tmp_path / "archive/2024-09-1.xml.br").read_bytes()
    assert brotli.decompress(polled) == brotli.decompress(archived) == body
    assert polled == brotli.compress(body, quality=LEVELS["br"])
    assert archived == brotli.compress(body, quality=ARCHIVE_LEVELS["br"]) != polled
    assert gzip.decompress((tmp_path / "archive/2024-09-1.xml.gz").read_bytes()) == body
    assert ARCHIVE_LEVELS["gzip"] < LEVELS["gzip"] and ARCHIVE_LEVELS["br"] < LEVELS["br"]


# --- negotiation (RFC 9110 12.5.3) -----------------------------------------------------------

BOTH = ("br", "gzip")


@pytest.mark.parametrize(("header", "available", "chosen"), [
    (None, BOTH, "identity"),                       # no header: as it is
    ("", BOTH, "identity"),                         # empty: no coding wanted
    ("gzip", BOTH, "gzip"),
    ("x-gzip", BOTH, "gzip"),
    ("br", BOTH, "br"),
    ("gzip, deflate, br", BOTH, "br"),              # equal q: brotli first
    ("gzip, deflate", BOTH, "gzip"),
    ("br;q=0.5, gzip", BOTH, "gzip"),               # q-values win over the preference
    ("BR;Q=1, GZIP;q=0.9", BOTH, "br"),             # case-insensitive
    ("gzip;q=0, br;q=0", BOTH, "identity"),
    ("*", BOTH, "br"),
    ("*;q=0.5, gzip", BOTH, "gzip"),
    ("gzip;q=0, *", BOTH, "br"),
    ("identity;q=0, gzip;q=0.1", BOTH, "gzip"),
    ("identity;q=0", BOTH, "identity"),            # nothing acceptable: sent without a coding
    ("*;q=0", BOTH, "identity"),
    ("identity, gzip;q=0.5", BOTH, "identity"),
    ("gzip;q=abc, br;q=0.2, identity;q=0.1", BOTH, "br"),   # a malformed weight accepts nothing
    ("br;q=0.2", BOTH, "identity"),                 # identity unnamed: acceptable at q=1
    ("deflate, compress", BOTH, "identity"),
    ("br, gzip", ("gzip",), "gzip"),                # only the variants on disk count
    ("br", (), "identity"),
])
def test_negotiation(header, available, chosen):
    assert negotiate(header, available) == chosen


# --- serving -------------------------------------------------------------------------------


def fetch(server, path, method="GET", **headers):
    """Raw bytes over HTTP: no client decoding anything or adding an Accept-Encoding."""
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.putrequest(method, path, skip_accept_encoding=True)
    for name, value in headers.items():
        connection.putheader(name.replace("_", "-"), value)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


@pytest.mark.parametrize(("accept_encoding", "coding", "suffix", "etag_suffix"), [
    ("br, gzip", "br", ".br", '-br"'),
    ("gzip", "gzip", ".gz", '-gz"'),
    ("identity", None, "", ""),
])
@pytest.mark.parametrize("path", ["/rss.xml", "/atom.xml", "/feed.json", "/index.html", "/style.css", "/feeds.opml"])
def test_each_coding_is_served_from_its_file(server, public, path, accept_encoding, coding, suffix, etag_suffix):
    status, headers, body = fetch(server, path, Accept_Encoding=accept_encoding)
    assert status == 200
    assert body == (public / (path.lstrip("/") + suffix)).read_bytes()
    assert headers.get("content-encoding") == coding
    assert int(headers["content-length"]) == len(body)
    assert "Accept-Encoding" in headers["vary"]
    identity_etag = fetch(server, path)[1]["etag"]
    assert headers["etag"] == (identity_etag[:-1] + etag_suffix if etag_suffix else identity_etag)
    assert headers["cache-control"] == "public, max-age=900, stale-while-revalidate=900"


def test_a_feed_varies_on_both_accept_and_accept_encoding_in_one_header(server):
    status, headers, _ = fetch(server, "/atom.xml", Accept_Encoding="gzip")
    assert headers["vary"] == "Accept, Accept-Encoding"
    status, headers, _ = fetch(server, "/index.html", Accept_Encoding="gzip")
    assert headers["vary"] == "Accept-Encoding"


def test_a_binary_file_has_no_variants_and_no_vary(server):
    status, headers, body = fetch(server, "/logo.png", Accept_Encoding="br, gzip")
    assert status == 200 and "content-encoding" not in headers and "vary" not in headers


def test_the_browser_view_of_a_feed_is_compressed_too_with_its_own_etag(server, public):
    page = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    _, reader, _ = fetch(server, "/rss.xml", Accept_Encoding="br")
    _, browser, body = fetch(server, "/rss.xml", Accept_Encoding="br", Accept=page)
    assert browser["content-type"] == "text/html; charset=utf-8" and browser["content-encoding"] == "br"
    assert body == (public / "feed.html.br").read_bytes()
    assert browser["etag"] == fetch(server, "/feed.html", Accept_Encoding="br")[1]["etag"] != reader["etag"]
    assert fetch(server, "/rss.xml", Accept_Encoding="br", Accept=page, If_None_Match=browser["etag"])[0] == 304


def test_each_etag_validates_only_its_own_representation(server):
    etags = {coding: fetch(server, "/rss.xml", Accept_Encoding=coding)[1]["etag"] for coding in ("br", "gzip", "identity")}
    assert len(set(etags.values())) == 3
    for coding, etag in etags.items():
        for asked in ("br", "gzip", "identity"):
            status, headers, body = fetch(server, "/rss.xml", Accept_Encoding=asked, If_None_Match=etag)
            if asked == coding:
                assert (status, body) == (304, b"")
                assert headers["etag"] == etag and "Accept-Encoding" in headers["vary"]
                assert "content-encoding" not in headers
            else:   # a gzip ETag must not validate a brotli response
                assert status == 200 and headers["etag"] == etags[asked]
    # a cache holding several representations names them all; the one it would get matches
    status, headers, _ = fetch(server, "/rss.xml", Accept_Encoding="gzip",
                               If_None_Match=f'{etags["br"]}, W/{etags["gzip"]}')
    assert status == 304 and headers["etag"] == etags["gzip"]


def test_head_of_a_variant_has_its_length_and_no_body(server, public):
    status, headers, body = fetch(server, "/atom.xml", method="HEAD", Accept_Encoding="gzip")
    assert (status, body) == (200, b"")
    assert int(headers["content-length"]) == len((public / "atom.xml.gz").read_bytes())
    assert headers["content-encoding"] == "gzip"


@pytest.mark.parametrize("path", ["/rss.xml.gz", "/rss.xml.br", "/index.html.gz", "/feed.json.br", "/nothing.xml.gz"])
def test_variants_are_not_served_by_their_own_url(server, path):
    assert fetch(server, path, Accept_Encoding="gzip")[0] == 404


def test_an_archive_that_is_no_variant_is_still_a_file(server, public):
    (public / "dump.tar.gz").write_bytes(b"\x1f\x8b not really")
    assert fetch(server, "/dump.tar.gz")[0] == 200


def test_a_variant_the_manifest_does_not_vouch_for_is_not_served(server, public):
    """Between a build's variant swap and its document swap the variant is newer than
    the document: the document goes out as it is rather than with another version's bytes."""
    (public / "rss.xml.br").write_bytes(brotli.compress(b"<rss>a newer version</rss>"))
    status, headers, body = fetch(server, "/rss.xml", Accept_Encoding="br, gzip")
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == (public / "rss.xml").read_bytes()


def test_variants_follow_a_rebuild(server, public, store, ingest, site, tmp_path):
    from datetime import timedelta

    from .conftest import seen_by_the_server, write_article

    _, before, _ = fetch(server, "/atom.xml", Accept_Encoding="br")
    later = INGEST_TIME + timedelta(hours=1)
    ingest(write_article(tmp_path, "baru.txt", "Berita baru di Baturaja."), now=later)
    build(store, site, public, later)
    seen_by_the_server()
    status, after, body = fetch(server, "/atom.xml", Accept_Encoding="br", If_None_Match=before["etag"])
    assert status == 200 and after["etag"] != before["etag"]
    assert b"Berita baru di Baturaja." in brotli.decompress(body)
    manifest = json.loads((public / MANIFEST_NAME).read_bytes())["documents"]["atom.xml"]
    assert after["etag"] == f'"{manifest["sha256"][:40]}-br"'


def test_a_document_swapped_in_before_its_manifest_keeps_its_variants(server, public):
    """A build swaps each document in (its variants first) long before it writes the
    manifest: meanwhile the new document is served in the coding asked for, with the
    variants that decompress to exactly its bytes."""
    from feeds.publishing.encoding import compress

    from .conftest import seen_by_the_server

    newer = (public / "rss.xml").read_bytes().replace(b"</channel>", b"<!-- a newer build -->\n  </channel>")
    for coding, data in compress(newer).items():
        (public / ("rss.xml" + {"br": ".br", "gzip": ".gz"}[coding])).write_bytes(data)
    (public / "rss.xml").write_bytes(newer)
    seen_by_the_server()
    for accept, coding, decode in (("br", "br", brotli.decompress), ("gzip", "gzip", gzip.decompress)):
        status, headers, body = fetch(server, "/rss.xml", Accept_Encoding=accept)
        assert status == 200 and headers["content-encoding"] == coding and decode(body) == newer
        assert headers["etag"] == f'"{sha256(newer)[:40]}-{"br" if coding == "br" else "gz"}"'


def test_a_document_the_manifest_does_not_list_gets_no_variant_of_another_version(server, public):
    from .conftest import seen_by_the_server

    newer = (public / "rss.xml").read_bytes().replace(b"</channel>", b"<!-- a newer build -->\n  </channel>")
    (public / "rss.xml").write_bytes(newer)   # its variants are still the older version's
    seen_by_the_server()
    status, headers, body = fetch(server, "/rss.xml", Accept_Encoding="br, gzip")
    assert status == 200 and "content-encoding" not in headers and body == newer
