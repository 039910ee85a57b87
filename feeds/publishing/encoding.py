"""Content codings: precompressed variants made at build time, chosen per request.

Each text document (XML, JSON, HTML, XSL, OPML) is written with two variants
beside it, ``NAME.br`` (brotli) and ``NAME.gz`` (gzip) at the levels of ``LEVELS``
(archive pages: ``ARCHIVE_LEVELS``),
by :func:`feeds.publishing.publish.publish`; the server picks one with :func:`negotiate`
and never compresses on the request path. Both are deterministic: the same
document gives the same variant bytes (gzip's header carries no time and no
file name), so every instance agrees on each variant's ETag.

Negotiation follows RFC 9110 section 12.5.3 (Accept-Encoding): q-values,
``*`` for any coding not named, ``identity`` acceptable unless refused by
``identity;q=0`` or ``*;q=0``; when nothing offered is acceptable the
response goes without a coding, as the RFC says it should. Among equal
q-values brotli wins over gzip over identity (the smaller body first).
"""

from __future__ import annotations

import zlib
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import brotli
from zlib_ng import gzip_ng

IDENTITY = "identity"
# coding -> suffix of its variant file; the order is the preference among equal q-values.
VARIANTS: dict[str, str] = {"br": ".br", "gzip": ".gz"}
PREFERENCE = (*VARIANTS, IDENTITY)
# RFC 9110 8.4.1.3: "x-gzip" is to be taken as "gzip".
_ALIASES = {"x-gzip": "gzip"}
# The ETag of a variant is the identity ETag with this before its closing quote.
ETAG_SUFFIX = {"br": "-br", "gzip": "-gz", IDENTITY: ""}

_TEXT_TYPES = frozenset({"text/html", "text/xsl", "text/x-opml", "text/css", "text/plain", "application/javascript"})


def compressible(content_type: str) -> bool:
    """Whether a document of this type gets precompressed variants (text-like types only)."""
    media_type = content_type.split(";")[0].strip().lower()
    return media_type in _TEXT_TYPES or media_type.endswith(("xml", "json"))


# Both codecs release the GIL while they work: a document's two variants are made on
# two threads, while the build goes on rendering the next document (feeds/publishing/publish.py).
_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="feedpub-compress")


def _brotli(body: bytes, quality: int) -> bytes:
    return brotli.compress(body, quality=quality)


def _gzip(body: bytes, level: int) -> bytes:
    # zlib-ng: the same sizes as the standard library's zlib in less than half its time
    # (docs/BENCHMARKS.md); any gzip decoder reads it. mtime=0 and no file name: nothing in
    # the header but the bytes' own (RFC 1952 2.3.1).
    return gzip_ng.compress(body, compresslevel=level, mtime=0)


_CODECS = {"br": _brotli, "gzip": _gzip}
# coding -> level. Polled documents: brotli 6 and gzip 6, where higher levels cost several
# times the time for a few per cent of bytes, and a build after an ingest pays it before the
# change is served (docs/BENCHMARKS.md).
LEVELS = {"br": 6, "gzip": 6}
# Archive pages are nearly all of a site's bytes and each is fetched about once per
# aggregator catching up: low levels, about a third of the time for a little more than a
# quarter more bytes (each still a sixth of the page): a full build's largest cost
# (docs/BENCHMARKS.md, "Builds").
ARCHIVE_LEVELS = {"br": 1, "gzip": 2}


def compress(body: bytes, *, archive: bool = False) -> dict[str, bytes]:
    """coding -> variant bytes, deterministic: the same body always gives the same bytes."""
    levels = ARCHIVE_LEVELS if archive else LEVELS
    return {coding: codec(body, levels[coding]) for coding, codec in _CODECS.items()}


def decompress_exactly(coding: str, data: bytes, size: int) -> bytes | None:
    """``data`` decoded, or None when it is not a whole stream of at most ``size`` bytes
    (a variant of another version, cut short, or larger than the document it stands for)."""
    try:
        if coding == "gzip":
            stream = zlib.decompressobj(wbits=31)   # gzip header and trailer, one member
            out = stream.decompress(data, size + 1)
            return out if stream.eof and len(out) <= size and not stream.unused_data else None
        stream = brotli.Decompressor()
        out = stream.process(data, output_buffer_limit=size + 1)
        return out if stream.is_finished() and len(out) <= size else None
    except (zlib.error, brotli.error):
        return None


class Compressing:
    """The variants of ``body``, being made on the compression threads."""

    def __init__(self, body: bytes, *, archive: bool = False):
        levels = ARCHIVE_LEVELS if archive else LEVELS
        self._futures = {coding: _THREADS.submit(codec, body, levels[coding]) for coding, codec in _CODECS.items()}

    def result(self) -> dict[str, bytes]:
        return {coding: future.result() for coding, future in self._futures.items()}


def _parse(header: str) -> dict[str, float]:
    wanted: dict[str, float] = {}
    for part in header.split(","):
        coding, _, params = part.partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = min(1.0, max(0.0, float(value.strip())))
                except ValueError:
                    quality = 0.0   # a malformed weight accepts nothing rather than everything
        coding = _ALIASES.get(coding, coding)
        wanted[coding] = max(quality, wanted.get(coding, 0.0))
    return wanted


def negotiate(header: str | None, available: tuple[str, ...]) -> str:
    """Cached for the few real Accept-Encoding headers; a long one is worked out each time
    rather than pinned in the cache (waitress allows headers up to 256 KB)."""
    if header is not None and len(header) > 512:
        return _negotiate(header, available)
    return _negotiate_cached(header, available)


def _negotiate(header: str | None, available: tuple[str, ...]) -> str:
    """The coding to send: one of ``available`` (variant codings present) or ``identity``.

    Cached: clients send a handful of distinct headers, so the parse runs once each.
    """
    if header is None:
        # RFC 9110 allows any coding here, but a client that sent no Accept-Encoding
        # (curl, old readers) is best served the document as it is, as nginx does.
        return IDENTITY
    wanted = _parse(header)
    star = wanted.get("*")
    best, best_quality = IDENTITY, 0.0
    for coding in PREFERENCE:
        if coding != IDENTITY and coding not in available:
            continue
        if coding in wanted:
            quality = wanted[coding]
        elif star is not None:
            quality = star
        else:
            quality = 1.0 if coding == IDENTITY else 0.0   # identity is acceptable unless refused
        if quality > best_quality:
            best, best_quality = coding, quality
    return best   # nothing acceptable: no coding at all (RFC 9110 12.5.3)


_negotiate_cached = lru_cache(maxsize=512)(_negotiate)
