"""The README's screenshots: the test site (tests/newsroom_site.py) in headless Chromium.

    .venv/bin/python docs/screenshots/make.py

The site is built for http://okes.example and served on a free loopback port that
Chromium reaches under that name (--host-resolver-rules), so the pictures show the
addresses a newsroom's readers would see. Each is one screen (375 x 812 or 1440 x 900),
its PNG data compressed again at zlib's level 9 to keep the repository small.
"""

from __future__ import annotations

import struct
import sys
import tempfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from feeds.serving.server import PublicFiles  # noqa: E402
from tests.conftest import RunningServer, free_port  # noqa: E402
from tests.newsroom_site import newsroom  # noqa: E402
from tests.webdriver import Browser  # noqa: E402

HERE = Path(__file__).resolve().parent
# (file, address, width, height, dark)
SHOTS = (
    ("feed-phone.png", "/rss.xml", 375, 812, False),
    ("section-phone-dark.png", "/category/politik/atom.xml", 375, 812, True),
    ("archive-desktop.png", "/archive/2024-08-1.xml", 1440, 900, False),
    ("article-desktop.png", "/articles/logistik-pilkada", 1440, 900, False),
    ("home-desktop.png", "/", 1440, 900, False),
)


def recompress(png: bytes) -> bytes:
    """The same image with its IDAT data deflated at level 9 (Chromium writes it quickly)."""
    chunks, position = [], 8
    while position < len(png):
        length, kind = struct.unpack(">I4s", png[position:position + 8])
        chunks.append((kind, png[position + 8:position + 8 + length]))
        position += 12 + length
    data = zlib.compress(zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT")), 9)
    out = [png[:8]]
    for kind, body in chunks:
        if kind == b"IDAT":
            if data is None:
                continue
            body, data = data, None
        out.append(struct.pack(">I4s", len(body), kind) + body
                   + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    return b"".join(out)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        served = RunningServer(PublicFiles(folder / "room" / "public", max_age=900))
        room = newsroom(folder / "room", "http://okes.example")
        port = served.url.rpartition(":")[2]
        browser = Browser(free_port(), folder / "profile", folder / "chromedriver.log",
                          (f"--host-resolver-rules=MAP okes.example 127.0.0.1:{port}",))
        try:
            for name, path, width, height, dark in SHOTS:
                browser.viewport(width, height, dark=dark)
                browser.open("http://okes.example" + path)
                browser.screenshot(folder / name, whole=False)
                (HERE / name).write_bytes(recompress((folder / name).read_bytes()))
                print(f"{HERE / name}: {(HERE / name).stat().st_size:,} bytes")
        finally:
            browser.close()
            served.stop()
            room.store.close()


if __name__ == "__main__":
    main()
