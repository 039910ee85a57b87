"""The least an RSGI app can do under granian: bench/serve.py's ``--ceiling`` runner for
granian's own interface, beside bench/ceiling_app.py (WSGI).

The same answers from the same bytes and headers made at import (a 304 when the request
has If-None-Match, the gzip variant when Accept-Encoding is present, else the
document), with no lookup, no negotiation, no counting. RSGI (granian's spec,
``async def app(scope, proto)``) hands the app a scope whose headers are read from
Rust on demand and takes the answer in one call, ``proto.response_bytes``: no environ
dict to build, no start_response. ``FEEDPUB_BENCH_FILE=1`` answers the 200s with
``proto.response_file`` instead (granian reads and sends the file itself).
"""

from __future__ import annotations

import os
from pathlib import Path

_public = Path(os.environ["FEEDPUB_BENCH_PUBLIC"])
_by_file = os.environ.get("FEEDPUB_BENCH_FILE") == "1"
_plain_path = str(_public / "rss.xml")
_gzip_path = str(_public / "rss.xml.gz")
_plain = (_public / "rss.xml").read_bytes()
_gzip = (_public / "rss.xml.gz").read_bytes()
_common = [("etag", '"ceiling"'), ("cache-control", "public, max-age=900, stale-while-revalidate=900"),
           ("vary", "Accept, Accept-Encoding")]
_not_modified = _common
_gzip_headers = [("content-type", "application/rss+xml; charset=utf-8"), ("content-length", str(len(_gzip))),
                 ("content-encoding", "gzip"), *_common]
_plain_headers = [("content-type", "application/rss+xml; charset=utf-8"), ("content-length", str(len(_plain))),
                  *_common]


async def app(scope, proto):
    headers = scope.headers
    if "if-none-match" in headers:
        proto.response_bytes(304, _not_modified, b"")
    elif "accept-encoding" in headers:
        if _by_file:
            proto.response_file(200, _gzip_headers, _gzip_path)
        else:
            proto.response_bytes(200, _gzip_headers, _gzip)
    elif _by_file:
        proto.response_file(200, _plain_headers, _plain_path)
    else:
        proto.response_bytes(200, _plain_headers, _plain)
