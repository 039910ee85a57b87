"""The least a WSGI app can do under granian: bench/serve.py's ``--ceiling`` runner.

Answers every request with bytes and headers made at import (a 304 when the request
has If-None-Match, the gzip variant when Accept-Encoding is present, else the
document), with no lookup, no negotiation, no counting: what granian's workers
reach with feedpub's app taken out. The folder comes from FEEDPUB_BENCH_PUBLIC;
granian imports this module in each worker.
"""

from __future__ import annotations

import os
from pathlib import Path

_public = Path(os.environ["FEEDPUB_BENCH_PUBLIC"])
_plain = (_public / "rss.xml").read_bytes()
_gzip = (_public / "rss.xml.gz").read_bytes()
_common = [("ETag", '"ceiling"'), ("Cache-Control", "public, max-age=900, stale-while-revalidate=900"),
           ("Vary", "Accept, Accept-Encoding")]
_not_modified = _common
_gzip_headers = [("Content-Type", "application/rss+xml; charset=utf-8"), ("Content-Length", str(len(_gzip))),
                 ("Content-Encoding", "gzip"), *_common]
_plain_headers = [("Content-Type", "application/rss+xml; charset=utf-8"), ("Content-Length", str(len(_plain))),
                  *_common]
os.environ.clear()   # as feeds/serving/workers.py does: granian copies it into every request's environ


def app(environ, start_response):
    if "HTTP_IF_NONE_MATCH" in environ:
        start_response("304 Not Modified", _not_modified)
        return [b""]
    if "HTTP_ACCEPT_ENCODING" in environ:
        start_response("200 OK", _gzip_headers)
        return [_gzip]
    start_response("200 OK", _plain_headers)
    return [_plain]
