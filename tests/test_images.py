"""Lead images: measured once over HTTP (loopback), then carried by every format.

The image servers here listen on 127.0.0.1, which a look-up refuses unless the host is
allowed (``images.allow_hosts``): the tests that measure allow it, as an intranet would;
the ones that check the refusal do not."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from datetime import timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address, ip_network
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from feeds.building.build import render_documents
from sources.addresses import AddressPolicy, address_kind
from sources.media import MediaError, measure_image
from sources.model import ImageLookups

from .conftest import INGEST_TIME, LOGO_BYTES, latest_published, write_article

ATOM = "http://www.w3.org/2005/Atom"
MEDIA = "http://search.yahoo.com/mrss/"


class ImageHandler(SimpleHTTPRequestHandler):
    """Serves tmp_path/img; a few paths misbehave on purpose (see send_head)."""

    requests_seen: list[str] = []
    hosts_seen: list[str] = []
    directory_root: Path
    trickled = 0                      # bytes of /trickle.png written
    release = threading.Event()       # /held.png answers once it is set

    def log_message(self, *args):  # keep test output clean
        pass

    def send_head(self):
        handler = type(self)
        handler.requests_seen.append(f"{self.command} {self.path}")
        handler.hosts_seen.append(self.headers.get("Host", ""))
        if self.path == "/noheadlength.png" and self.command == "HEAD":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")   # and no Content-Length: the GET counts
            self.end_headers()
            return None
        if self.path == "/trickle.png":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            if self.command == "GET":
                for _ in range(400):   # one byte every 20 ms, 8 s in all, no length: counted
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    handler.trickled += 1
                    time.sleep(0.02)
            return None
        if self.path == "/held.png":
            handler.release.wait(30)
        return super().send_head()

    def copyfile(self, source, outputfile):
        try:
            super().copyfile(source, outputfile)
        except (BrokenPipeError, ConnectionResetError):
            pass


class RedirectingHandler(BaseHTTPRequestHandler):
    target = ""
    seen: list[str] = []

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        type(self).seen.append(f"HEAD {self.path}")
        self.send_response(302)
        self.send_header("Location", type(self).target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD


@pytest.fixture
def image_server(tmp_path):
    folder = tmp_path / "img"
    folder.mkdir()
    (folder / "rapat.png").write_bytes(LOGO_BYTES)
    ImageHandler.requests_seen, ImageHandler.hosts_seen, ImageHandler.trickled = [], [], 0
    ImageHandler.directory_root = folder
    ImageHandler.release.set()
    RedirectingHandler.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(ImageHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


LOOPBACK_ALLOWED = ImageLookups(timeout_seconds=5.0, policy=AddressPolicy(networks=(ip_network("127.0.0.1"),)))


def ingest_with_image(store, ingest_settings, path, image, now=INGEST_TIME):
    from sources.ingest import ingest_paths

    messages = []
    ingest_paths(store, [path], settings=ingest_settings, now=lambda: now, overrides={"image": image},
                 report=messages.append, measure=lambda url: measure_image(url, LOOPBACK_ALLOWED))
    return messages


def test_an_image_is_measured_once_and_carried_by_every_format(tmp_path, store, ingest_settings, site, image_server):
    url = image_server + "/rapat.png"
    path = write_article(tmp_path, "rapat.txt", "Rapat koordinasi.")
    ingest_with_image(store, ingest_settings, path, url)
    ingest_with_image(store, ingest_settings, path, url, now=INGEST_TIME + timedelta(hours=1))
    assert ImageHandler.requests_seen == ["HEAD /rapat.png", "GET /rapat.png"]   # the GET for its size
    image = latest_published(store, INGEST_TIME, 1)[0].image
    assert (image.url, image.media_type, image.length, image.width, image.height) == (
        url, "image/png", len(LOGO_BYTES), 144, 144)

    docs = {d.path: d.body for d in render_documents(store, site, INGEST_TIME)}
    rss = etree.fromstring(docs["rss.xml"])
    enclosure = rss.find("channel/item/enclosure")
    assert enclosure.attrib == {"url": url, "length": str(len(LOGO_BYTES)), "type": "image/png"}
    content = rss.find(f"channel/item/{{{MEDIA}}}content")
    assert (content.get("fileSize"), content.get("width"), content.get("height")) == (str(len(LOGO_BYTES)), "144", "144")
    assert rss.find(f"channel/item/{{{MEDIA}}}thumbnail").get("url") == url
    atom = etree.fromstring(docs["atom.xml"])
    assert atom.find(f"{{{ATOM}}}entry/{{{MEDIA}}}content").attrib == {
        "url": url, "medium": "image", "type": "image/png", "fileSize": str(len(LOGO_BYTES)), "width": "144",
        "height": "144"}
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
    (tmp_path / "feedpub.toml").write_text(f'[output]\npath = "{tmp_path / "public"}"\n'
                                          '[images]\nallow_hosts = ["127.0.0.1"]\n', encoding="utf-8")
    service = Service(load_config(tmp_path / "feedpub.toml"), store)
    service.start()
    try:
        service.build_now("start")
        wait_for(lambda: b"<enclosure" in (tmp_path / "public" / "rss.xml").read_bytes())
        image = latest_published(store, INGEST_TIME, 1)[0].image
        assert (image.media_type, image.length, image.width, image.height) == ("image/png", len(LOGO_BYTES), 144, 144)
        assert ImageHandler.requests_seen == ["HEAD /rapat.png", "GET /rapat.png"]
    finally:
        service.stop()


# --- look-ups a partner can aim: where they may go, and for how long ----------------------------


def refusing(**policy) -> ImageLookups:
    return ImageLookups(timeout_seconds=5.0, policy=AddressPolicy(**policy))


@pytest.mark.parametrize(("host", "kind"), [
    ("127.0.0.1", "loopback"),
    ("localhost", "loopback"),                       # a name: checked after it is resolved
    ("127.1", "loopback"),                           # the resolver's shorthand for 127.0.0.1
    ("2130706433", "loopback"),                      # and its decimal form
    ("0.0.0.0", "unspecified"),                      # Linux connects it to this machine
    ("[::ffff:127.0.0.1]", "loopback"),              # IPv4-mapped IPv6
    ("[::1]", "loopback"),
])
def test_an_image_on_this_machine_is_refused_before_any_connection(image_server, host, kind):
    port = image_server.rsplit(":", 1)[1]
    with pytest.raises(MediaError, match=rf"refused to connect to .*a {re.escape(kind)} address$"):
        measure_image(f"http://{host}:{port}/rapat.png", refusing())
    assert ImageHandler.requests_seen == []


def test_every_redirect_hop_is_checked(image_server):
    """The first host is allowed (by name); the hop it redirects to is loopback, and refused."""
    port = image_server.rsplit(":", 1)[1]
    RedirectingHandler.target = f"http://127.0.0.1:{port}/rapat.png"
    server = ThreadingHTTPServer(("127.0.0.1", 0), RedirectingHandler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        with pytest.raises(MediaError, match=r"refused to connect to 127\.0\.0\.1: a loopback address$"):
            measure_image(f"http://localhost:{server.server_address[1]}/go.png", refusing(hosts=frozenset({"localhost"})))
    finally:
        server.shutdown()
        server.server_close()
    assert RedirectingHandler.seen == ["HEAD /go.png"] and ImageHandler.requests_seen == []


def test_each_connection_goes_to_the_address_that_was_checked(image_server):
    """A name the system cannot resolve reaches the server through the one answer checked;
    when the name is answered again for the GET (the HEAD gave no length) with a loopback
    address the policy does not allow, as a rebinding DNS would, the GET is refused."""
    port = int(image_server.rsplit(":", 1)[1])
    (ImageHandler.directory_root / "noheadlength.png").write_bytes(LOGO_BYTES)
    answers = iter(["127.0.0.1", "127.0.0.9"])
    asked = []

    def rebinding(host, port, **_):
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (next(answers), port))]

    url = f"http://images.partner.invalid:{port}/noheadlength.png"
    with pytest.raises(MediaError, match=r"refused to connect to images\.partner\.invalid \(127\.0\.0\.9\): "
                                         r"a loopback address$"):
        measure_image(url, refusing(networks=(ip_network("127.0.0.1"),)), resolver=rebinding)
    assert asked == ["images.partner.invalid"] * 2
    assert ImageHandler.requests_seen == ["HEAD /noheadlength.png"]
    assert ImageHandler.hosts_seen == [f"images.partner.invalid:{port}"]


def test_a_trickling_image_server_is_cut_off_at_the_look_ups_deadline(image_server):
    """One deadline for the whole look-up, not per read: a body sent one byte every 20 ms
    (8 s in all) ends in a timeout while the server is still sending."""
    port = image_server.rsplit(":", 1)[1]
    with pytest.raises(MediaError, match=r"/trickle\.png: timed out after 0\.5 s$"):
        measure_image(f"http://127.0.0.1:{port}/trickle.png",
                      ImageLookups(timeout_seconds=0.5, policy=AddressPolicy(networks=(ip_network("127.0.0.1"),))))
    assert ImageHandler.requests_seen == ["HEAD /trickle.png", "GET /trickle.png"]
    assert ImageHandler.trickled < 400, f"the look-up waited for {ImageHandler.trickled} bytes"


def _partner_feed(image_url: str) -> bytes:
    return (f'<rss version="2.0"><channel><title>Mitra</title><link>https://mitra.example/</link>'
            f'<item><title>Rapat koordinasi</title><guid>https://mitra.example/rapat</guid><link>https://mitra.example/rapat</link>'
            f'<description>Isi berita.</description><enclosure url="{image_url}" type="image/png" length="0"/>'
            f'</item></channel></rss>').encode()


def _service_config(tmp_path, feed_url: str, images: str = "") -> Path:
    path = tmp_path / "feedpub.toml"
    path.write_text(f'[site]\nbase_url = "https://okes.example"\n[output]\npath = "{tmp_path / "public"}"\n'
                    f'[store]\npath = "{tmp_path / "data" / "feedpub.sqlite3"}"\n{images}'
                    f'[[sources]]\nname = "Mitra"\nurl = "{feed_url}"\ninterval_minutes = 0.01\n', encoding="utf-8")
    return path


def test_a_partner_image_on_loopback_is_never_fetched_by_the_service(tmp_path, store, image_server, caplog):
    from scheduler import Service
    from feedpub.settings import load_config

    from .test_service import wait_for

    image = image_server + "/internal-image"
    (tmp_path / "img" / "internal-image").write_bytes(LOGO_BYTES)
    (tmp_path / "img" / "feed.xml").write_bytes(_partner_feed(image))
    service = Service(load_config(_service_config(tmp_path, image_server + "/feed.xml")), store)
    with caplog.at_level(logging.WARNING, logger="feedpub"):
        service.start()
        try:
            wait_for(lambda: any("refused to connect to 127.0.0.1" in r.getMessage() for r in caplog.records))
        finally:
            service.stop()
    assert "HEAD /internal-image" not in ImageHandler.requests_seen and "GET /feed.xml" in ImageHandler.requests_seen
    article = store.find_upstream(image_server + "/feed.xml", "https://mitra.example/rapat")
    assert article.image.url == image and article.image.length is None
    assert b"<enclosure" not in (tmp_path / "public" / "rss.xml").read_bytes()


def test_a_held_image_look_up_never_delays_the_partners_polls(tmp_path, store, image_server):
    """The image server holds its answer until the end of the test; the partner is polled
    again and again meanwhile (every second)."""
    from scheduler import Service
    from feedpub.settings import load_config

    from .test_service import wait_for

    (tmp_path / "img" / "feed.xml").write_bytes(_partner_feed(image_server + "/held.png"))
    (tmp_path / "img" / "held.png").write_bytes(LOGO_BYTES)
    ImageHandler.release.clear()
    service = Service(load_config(_service_config(
        tmp_path, image_server + "/feed.xml", '[images]\nallow_hosts = ["127.0.0.1"]\ntimeout_seconds = 60\n')), store)
    service.start()
    try:
        wait_for(lambda: "HEAD /held.png" in ImageHandler.requests_seen)
        polls = ImageHandler.requests_seen.count("GET /feed.xml")
        wait_for(lambda: ImageHandler.requests_seen.count("GET /feed.xml") >= polls + 2)
        assert not ImageHandler.release.is_set() and ImageHandler.requests_seen.count("HEAD /held.png") == 1
    finally:
        ImageHandler.release.set()
        service.stop()
    assert store.find_upstream(image_server + "/feed.xml", "https://mitra.example/rapat").image.length == len(LOGO_BYTES)


@pytest.mark.parametrize(("address", "kind"), [
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),               # the cloud metadata service
    ("224.0.0.1", "multicast"), ("0.0.0.0", "unspecified"), ("240.0.0.1", "reserved"),
    ("100.64.0.1", "not globally routable"),         # carrier-grade NAT (RFC 6598)
    ("::1", "loopback"), ("::", "unspecified"), ("fe80::1", "link-local"), ("fc00::1", "private"),
    ("ff02::1", "multicast"),
    ("::ffff:10.0.0.1", "private"),                  # IPv4-mapped
    ("2002:7f00:1::", "loopback"),                   # 6to4 of 127.0.0.1
    ("64:ff9b::a9fe:a9fe", "link-local"),            # NAT64 of 169.254.169.254
    ("93.184.216.34", None), ("2606:4700::1111", None),
])
def test_which_addresses_a_look_up_may_reach(address, kind):
    assert address_kind(ip_address(address)) == kind
    if kind is not None:   # what the operator lists is let through
        allowed = AddressPolicy(networks=(ip_network(address),))
        assert allowed.refusal("images.intranet", ip_address(address)) is None
        assert AddressPolicy(hosts=frozenset({"images.intranet"})).refusal("Images.Intranet.", ip_address(address)) is None
        refusal = AddressPolicy().refusal("images.intranet", ip_address(address))
        assert refusal.startswith(f"refused to connect to images.intranet ({ip_address(address)}): ")
        assert refusal.endswith(f"a {kind} address")


# --- sizes, from the header alone -------------------------------------------------------------


def png(width: int, height: int, padding: int = 0) -> bytes:
    """A valid PNG of ``width`` x ``height`` black pixels, with ``padding`` bytes of text after its pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress((b"\0" + b"\0" * 3 * width) * height, 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", rows) + (chunk(b"tEXt", b"Comment\0" + b"x" * padding) if padding else b"")
            + chunk(b"IEND", b""))


def jpeg(width: int, height: int, exif: int = 0) -> bytes:
    """The markers of a baseline JPEG: ``exif`` bytes of APP1 segments before its frame header."""
    import struct

    segments = b""
    while exif > 0:
        size = min(exif, 65533)
        segments += b"\xff\xe1" + struct.pack(">H", size + 2) + b"E" * size
        exif -= size
    frame = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + bytes([1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1])
    return b"\xff\xd8" + segments + frame + b"\xff\xd9"


def gif(width: int, height: int) -> bytes:
    import struct

    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00" + b"\x3b"


def webp(width: int, height: int) -> bytes:
    import struct

    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") \
        + (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x


class RangeHandler(SimpleHTTPRequestHandler):
    """Answers ``Range: bytes=0-N`` with 206 and those bytes only, as most image servers do."""

    seen: list[tuple[str, str, int]] = []   # (method and path, Range asked, body bytes sent)

    def log_message(self, *args):
        pass

    def send_head(self):
        asked = self.headers.get("Range", "")
        path = Path(self.translate_path(self.path))
        if self.command != "GET" or not asked.startswith("bytes=0-") or not path.is_file():
            type(self).seen.append((f"{self.command} {self.path}", asked, 0 if self.command == "HEAD" else -1))
            return super().send_head()
        body = path.read_bytes()
        part = body[:int(asked.removeprefix("bytes=0-")) + 1]
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes 0-{len(part) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(part)))
        self.end_headers()
        type(self).seen.append((f"GET {self.path}", asked, len(part)))
        import io

        return io.BytesIO(part)


@pytest.fixture
def range_server(tmp_path):
    folder = tmp_path / "ranged"
    folder.mkdir()
    RangeHandler.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()
    server.server_close()


def test_an_images_size_is_read_from_its_first_bytes_only(range_server):
    """A 3 MB image: the HEAD says its length, a GET of its first 256 KiB its size."""
    from sources.media import HEADER_BYTES

    url, folder = range_server
    body = png(2400, 1350, padding=3_000_000)
    (folder / "besar.png").write_bytes(body)
    image = measure_image(url + "/besar.png", LOOPBACK_ALLOWED)
    assert (image.media_type, image.length, image.width, image.height) == ("image/png", len(body), 2400, 1350)
    assert RangeHandler.seen == [("HEAD /besar.png", "", 0), ("GET /besar.png", f"bytes=0-{HEADER_BYTES - 1}",
                                                               HEADER_BYTES)]


def test_a_server_that_says_no_length_but_the_range_s_total_is_believed(range_server, monkeypatch):
    url, folder = range_server
    body = png(1200, 800, padding=500_000)
    (folder / "tanpa.png").write_bytes(body)
    monkeypatch.setattr(RangeHandler, "do_HEAD", lambda self: (self.send_response(405), self.end_headers()))
    image = measure_image(url + "/tanpa.png", LOOPBACK_ALLOWED)
    assert (image.length, image.width, image.height) == (len(body), 1200, 800)


@pytest.mark.parametrize(("name", "body", "kind", "size"), ids=("jpeg", "png", "gif", "webp"), argvalues=[
    ("foto.jpg", jpeg(1600, 900, exif=150_000), "image/jpeg", (1600, 900)),   # its frame header past 128 KiB
    ("foto.png", png(800, 1000), "image/png", (800, 1000)),
    ("foto.gif", gif(640, 480), "image/gif", (640, 480)),
    ("foto.webp", webp(1280, 720), "image/webp", (1280, 720)),
])
def test_each_kind_of_image_gives_its_size(image_server, tmp_path, name, body, kind, size):
    """Served whole (this server ignores ranges): read only until the header gives the size."""
    (tmp_path / "img" / name).write_bytes(body)
    image = measure_image(f"{image_server}/{name}", LOOPBACK_ALLOWED)
    assert (image.media_type, image.length, (image.width, image.height)) == (kind, len(body), size)


def test_an_image_whose_header_gives_no_size_is_measured_without_one_and_not_asked_again(
        tmp_path, store, ingest_settings, site, image_server):
    url = image_server + "/aneh.png"
    (tmp_path / "img" / "aneh.png").write_bytes(b"\x89PNG but not really" * 10)
    ingest_with_image(store, ingest_settings, write_article(tmp_path, "a.txt", "Isi."), url)
    image = latest_published(store, INGEST_TIME, 1)[0].image
    assert (image.length, image.width, image.height) == (190, 0, 0)
    assert store.unmeasured_images(10) == []
    content = etree.fromstring({d.path: d.body for d in render_documents(store, site, INGEST_TIME)}["rss.xml"]).find(
        f"channel/item/{{{MEDIA}}}content")
    assert content.get("fileSize") == "190" and "width" not in content.attrib and "height" not in content.attrib


def test_an_image_measured_before_sizes_were_read_is_measured_again(tmp_path, store, ingest_settings, image_server):
    """A store whose images have a length and type but no size (measured by an older feedpub, or
    given by a partner's feed) lists them to measure; the measurement adds the size."""
    from scheduler import Service
    from feedpub.settings import load_config

    url = image_server + "/rapat.png"
    ingest_with_image(store, ingest_settings, write_article(tmp_path, "a.txt", "Isi."), url)
    with store._lock:   # as an older feedpub left it
        store._db.execute("UPDATE articles SET image_width = NULL, image_height = NULL")
    assert store.find_image(url) is None and store.unmeasured_images(10) == [url]
    (tmp_path / "feedpub.toml").write_text(f'[output]\npath = "{tmp_path / "public"}"\n'
                                          '[images]\nallow_hosts = ["127.0.0.1"]\n', encoding="utf-8")
    service = Service(load_config(tmp_path / "feedpub.toml"), store)
    service.measure_images([url])
    image = latest_published(store, INGEST_TIME, 1)[0].image
    assert (image.length, image.width, image.height) == (len(LOGO_BYTES), 144, 144)
    assert store.unmeasured_images(10) == []
