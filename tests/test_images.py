"""Lead images: measured once over HTTP (loopback), then carried by every format."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import feedparser
import pytest
from lxml import etree

from feeds.build import render_documents
from sources.media import measure_image

from .conftest import INGEST_TIME, LOGO_BYTES, latest_published, write_article

ATOM = "http://www.w3.org/2005/Atom"
MEDIA = "http://search.yahoo.com/mrss/"


class ImageHandler(SimpleHTTPRequestHandler):
    requests_seen: list[str] = []

    def log_message(self, *args):  # keep test output clean
        pass

    def send_head(self):
        type(self).requests_seen.append(f"{self.command} {self.path}")
        return super().send_head()


@pytest.fixture
def image_server(tmp_path):
    folder = tmp_path / "img"
    folder.mkdir()
    (folder / "rapat.png").write_bytes(LOGO_BYTES)
    ImageHandler.requests_seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(ImageHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def ingest_with_image(store, ingest_settings, path, image, now=INGEST_TIME):
    from sources.ingest import ingest_paths

    messages = []
    ingest_paths(store, [path], settings=ingest_settings, now=lambda: now, overrides={"image": image},
                 report=messages.append, measure=measure_image)
    return messages


def test_an_image_is_measured_once_and_carried_by_every_format(tmp_path, store, ingest_settings, site, image_server):
    url = image_server + "/rapat.png"
    path = write_article(tmp_path, "rapat.txt", "Rapat koordinasi.")
    ingest_with_image(store, ingest_settings, path, url)
    ingest_with_image(store, ingest_settings, path, url, now=INGEST_TIME + timedelta(hours=1))
    assert ImageHandler.requests_seen == ["HEAD /rapat.png"]
    image = latest_published(store, INGEST_TIME, 1)[0].image
    assert (image.url, image.media_type, image.length) == (url, "image/png", len(LOGO_BYTES))

    docs = {d.path: d.body for d in render_documents(store, site, INGEST_TIME)}
    rss = etree.fromstring(docs["rss.xml"])
    enclosure = rss.find("channel/item/enclosure")
    assert enclosure.attrib == {"url": url, "length": str(len(LOGO_BYTES)), "type": "image/png"}
    assert rss.find(f"channel/item/{{{MEDIA}}}content").get("fileSize") == str(len(LOGO_BYTES))
    assert rss.find(f"channel/item/{{{MEDIA}}}thumbnail").get("url") == url
    atom = etree.fromstring(docs["atom.xml"])
    link = atom.find(f"{{{ATOM}}}entry/{{{ATOM}}}link[@rel='enclosure']")
    assert link.attrib == {"rel": "enclosure", "href": url, "type": "image/png", "length": str(len(LOGO_BYTES))}
    assert json.loads(docs["feed.json"])["items"][0]["image"] == url
    for name in ("rss.xml", "atom.xml"):
        parsed = feedparser.parse(docs[name])
        assert parsed.bozo == 0
        assert [(e.href, e.type, e.length) for e in parsed.entries[0].enclosures] == [(url, "image/png", str(len(LOGO_BYTES)))]


def test_an_image_that_cannot_be_measured_is_stored_and_measured_later(tmp_path, store, ingest_settings, site, image_server):
    url = image_server + "/belum-ada.png"
    path = write_article(tmp_path, "rapat.txt", "Rapat koordinasi.")
    messages = ingest_with_image(store, ingest_settings, path, url)
    assert any("warning:" in m and "belum-ada.png" in m and "404" in m for m in messages), messages
    article = latest_published(store, INGEST_TIME, 1)[0]
    assert article.image.url == url and article.image.length is None
    rss = etree.fromstring({d.path: d.body for d in render_documents(store, site, INGEST_TIME)}["rss.xml"])
    assert rss.find("channel/item/enclosure") is None            # RSS demands a real length
    assert rss.find(f"channel/item/{{{MEDIA}}}content").get("url") == url

    (tmp_path / "img" / "belum-ada.png").write_bytes(LOGO_BYTES)
    ingest_with_image(store, ingest_settings, path, url, now=INGEST_TIME + timedelta(hours=1))
    measured = latest_published(store, INGEST_TIME + timedelta(hours=1), 1)[0]
    assert measured.image.length == len(LOGO_BYTES)
    assert measured.updated == article.updated                      # a measurement is not an edit


def test_something_that_is_not_an_image_is_refused(tmp_path, store, ingest_settings, image_server):
    (tmp_path / "img" / "page.html").write_text("<html></html>")
    messages = ingest_with_image(store, ingest_settings, write_article(tmp_path, "a.txt", "Isi."),
                                 image_server + "/page.html")
    assert any("not an image (Content-Type text/html)" in m for m in messages)


def test_an_image_stored_unmeasured_is_measured_by_the_service(tmp_path, store, ingest, image_server):
    """The API stores images without a network detour; the service measures them off the request path."""
    from scheduler import Service
    from feedpub.settings import load_config

    from .harness import wait_for

    url = image_server + "/rapat.png"
    ingest(write_article(tmp_path, "rapat.txt", f"---\nimage: {url}\n---\nRapat koordinasi."))   # no measure
    assert latest_published(store, INGEST_TIME, 1)[0].image.length is None
    (tmp_path / "feedpub.toml").write_text(f'[output]\npath = "{tmp_path / "public"}"\n', encoding="utf-8")
    service = Service(load_config(tmp_path / "feedpub.toml"), store)
    service.start()
    try:
        service.build_now("start")
        wait_for(lambda: b"<enclosure" in (tmp_path / "public" / "rss.xml").read_bytes())
        image = latest_published(store, INGEST_TIME, 1)[0].image
        assert (image.media_type, image.length) == ("image/png", len(LOGO_BYTES))
        assert ImageHandler.requests_seen == ["HEAD /rapat.png"]
    finally:
        service.stop()
