"""The least a WSGI app can do under granian: bench/serve.py's ``--ceiling`` runner.

Answers every request with bytes and headers made at import (a 304 when the request
has If-None-Match, the gzip variant when Accept-Encoding is present, else the
document), with no lookup, no negotiation, no counting: what granian's workers
reach with feedpub's app taken out. The headers are those feedpub sends for the same
document (the same names, values of the same length): a response costs granian the
same to write whichever app made it, so the difference is the app's own work. The
folder comes from FEEDPUB_BENCH_PUBLIC; granian imports this module in each worker.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_public = Path(os.environ["FEEDPUB_BENCH_PUBLIC"])
_plain = (_public / "rss.xml").read_bytes()
_gzip = (_public / "rss.xml.gz").read_bytes()
_etag = '"' + hashlib.sha256(_plain).hexdigest()[:40]
_common = [("Last-Modified", "Tue, 10 Sep 2024 00:00:00 GMT"),
           ("Cache-Control", "public, max-age=900, stale-while-revalidate=900"), ("Vary", "Accept, Accept-Encoding")]
_not_modified = [("ETag", _etag + '"'), *_common]
_gzip_headers = [("Content-Type", "application/rss+xml; charset=utf-8"), ("Content-Length", str(len(_gzip))),
                 ("Content-Encoding", "gzip"), ("X-Content-Type-Options", "nosniff"), ("ETag", _etag + '-gz"'),
                 *_common]
_plain_headers = [("Content-Type", "application/rss+xml; charset=utf-8"), ("Content-Length", str(len(_plain))),
                  ("X-Content-Type-Options", "nosniff"), ("ETag", _etag + '"'), *_common]
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
