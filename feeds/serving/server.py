"""Serving public/ over HTTP: a WSGI app, run by granian's workers (feeds/serving/workers.py).

The app never renders anything: it serves the bytes the last build wrote, with
validators derived from those bytes, so every instance serving the same files
answers with the same ETag and Last-Modified, across restarts too:

- ``ETag`` is a strong validator made from the SHA-256 of the body.
- ``Last-Modified`` is the newest content update in the document (from the
  build manifest), not the file's mtime.
- ``If-None-Match`` (RFC 9110 13.1.2, weak comparison) and, only without it,
  ``If-Modified-Since`` (13.1.3) answer 304. An ``If-Modified-Since`` later than the
  server's clock is ignored (RFC 7232 section 3.3: such a date is invalid).

Content codings (RFC 9110 8.4, 12.5.3): a text document is served as the
brotli or gzip variant the build wrote beside it (``NAME.br``, ``NAME.gz``,
:mod:`feeds.publishing.encoding`) when the request's ``Accept-Encoding`` prefers it, with
``Content-Encoding``, ``Vary: Accept-Encoding`` and an ETag of its own (the
identity ETag with ``-br`` or ``-gz`` before the closing quote): each
representation validates only itself, so a cache holding the gzip bytes never
gets a 304 for the brotli ones. Nothing is compressed here. A variant is used
only when its bytes are the ones the manifest lists for the document served;
the variants are never served by their own URL (404).

Pages for people: a feed document whose manifest entry names a ``page`` (its HTML
rendition, feeds/rendering/pages.py) is served as that page when the request's
``Accept`` prefers ``text/html`` to the feed's own type (a browser), with the
page's own ETag and ``Vary: Accept``; feed readers, ``curl`` and ``Accept: */*``
get the feed. A document the manifest gives a ``status`` (410: a deleted
article's page) is served with it, without conditional requests. An address with
nothing at it answers 404 with the build's ``404.html`` (a page in the site's language).

Retired URLs: ``gone`` paths answer 410 and ``moved`` paths 301 to their new
place, before any file is looked at.

Files are cached in memory. A document whose bytes the manifest lists is
served without touching the file system but for one ``stat`` of the manifest
every ``RECHECK_SECONDS``: a build swaps its documents in before the manifest,
so an unchanged manifest means unchanged documents (and during a build the
previous, consistent version is served until its manifest lands). Any other file is revalidated with a ``stat`` of its own: a build
replaces files by rename, which always changes the inode. Each
representation's header list is made once, when its file is loaded.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from pathlib import Path
from time import monotonic, time

from ..publishing.delta import delta_from_history, is_delta_type, read_history
from ..publishing.encoding import ETAG_SUFFIX, IDENTITY, VARIANTS, compressible, decompress_exactly, negotiate
from ..publishing.publish import MANIFEST_NAME, read_manifest
from ..publishing.websub import FEED_TYPES
from .stats import USER_AGENT_KEPT, Poll

log = logging.getLogger(__name__)

StartResponse = Callable[..., object]

CONTENT_TYPES = {
    ".xml": "application/xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".xsl": "text/xsl; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
}

FEED_MEDIA_TYPES = frozenset({"application/rss+xml", "application/atom+xml"})
PAGE_MEDIA_TYPE = "text/html"


def _wants_page(accept: str, media_type: str) -> bool:
    # Cached for the few real Accept headers; a long one (waitress allows 256 KB) is
    # worked out each time instead of pinning its bytes in the cache.
    return _wants_page_cached(accept, media_type) if len(accept) <= 512 else _wants_page_uncached(accept, media_type)


def _wants_page_uncached(accept: str, media_type: str) -> bool:
    """Whether ``accept`` prefers a feed's page (text/html) to the feed (``media_type``): its
    quality for text/html above the feed type's, each from the most specific range that
    matches it (RFC 9110 12.5.1). Equal (``*/*``, no header) gives the feed: readers and curl."""
    accepted: dict[str, float] = {}
    for part in accept.lower().split(","):
        kind, _, params = part.partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
        accepted.setdefault(kind.strip(), quality)

    def quality_of(wanted: str) -> float:
        for media_range in (wanted, wanted.split("/")[0] + "/*", "*/*"):
            if media_range in accepted:
                return accepted[media_range]
        return 0.0

    return quality_of(PAGE_MEDIA_TYPE) > quality_of(media_type)


_wants_page_cached = lru_cache(maxsize=512)(_wants_page_uncached)


Identity = tuple[int, int, int]    # (inode, size, mtime_ns): changes whenever a file is replaced

# A build's new documents are served at most this long after its manifest lands (one look
# at the manifest per interval instead of one per request). Readers cannot tell: a poll is
# minutes apart and the freshness target (docs/BENCHMARKS.md) is a second.
RECHECK_SECONDS = 0.05
CHOICES_KEPT = 64   # negotiation header pairs remembered per file version

Answer = tuple[int, str, list[tuple[str, str]], bytes]   # (status code, status line, headers, body)
# Statuses a document may be served with besides 200 (the manifest's "status": feeds/publishing/publish.py).
STATUS_LINES = {200: "200 OK", 404: "404 Not Found", 410: "410 Gone"}
# The page the build writes for an address with nothing (feeds/rendering/pages.py NOT_FOUND_PATH).
NOT_FOUND_PAGE = "404.html"


@dataclass(frozen=True)
class _Representation:
    """One (view, coding) of a file, with its header lists and answers made once."""

    body: bytes
    etag: str
    headers: list[tuple[str, str]]         # of a 200
    validators: list[tuple[str, str]]      # of a 304 (RFC 9110 15.4.5)
    page: bool = False                     # the page for people of a feed, not the feed
    # The answers to a GET, a HEAD and a fresh conditional request for it, as PublicFiles.answer gives them.
    whole: Answer = field(init=False)
    head: Answer = field(init=False)
    not_modified: Answer = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "whole", (200, "200 OK", self.headers, self.body))
        object.__setattr__(self, "head", (200, "200 OK", self.headers, b""))
        object.__setattr__(self, "not_modified", (304, "304 Not Modified", self.validators, b""))


@dataclass(frozen=True)
class _File:
    identity: Identity
    manifest: Identity | None        # the manifest version its Last-Modified was taken from
    body: bytes
    etag: str
    last_modified: str
    content_type: str
    variants: tuple[tuple[str, bytes], ...] = ()    # (coding, bytes) the manifest vouches for
    compressible: bool = False
    modified: float = 0.0            # Last-Modified as a POSIX time, for If-Modified-Since
    vouched: bool = False            # the manifest lists these very bytes
    relative: str = ""               # its path under public/
    status: int = 200                # 410: a deleted article's page (the manifest says so)
    # (browser view?, coding) -> representation; filled by PublicFiles._represent
    representations: dict[tuple[bool, str], _Representation] | None = None
    media_type: str = ""             # content_type without parameters, lower case
    polled: bool = False             # a feed document: its polls go to the poll log
    negotiable: bool = False         # a feed with a page for people: Accept chooses
    # (Accept-Encoding, Accept) -> representation: the few headers real clients send,
    # each negotiated once per file version (bounded: see PublicFiles._choose)
    chosen: dict[tuple[str | None, str | None], _Representation] = field(default_factory=dict)

    @property
    def codings(self) -> tuple[str, ...]:
        return tuple(coding for coding, _ in self.variants)


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(timezone.utc).replace(microsecond=0), usegmt=True)


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


class PublicFiles:
    """WSGI application serving the files of ``root`` (GET and HEAD only)."""

    def __init__(self, root: Path, *, max_age: int, stale_while_revalidate: int | None = None,
                 hubs: tuple[str, ...] = (), base_url: str = "",
                 gone: Iterable[str] = (), moved: dict[str, str] | None = None,
                 recheck_seconds: float = RECHECK_SECONDS, clock: Callable[[], float] = time):
        """``stale_while_revalidate`` defaults to ``max_age`` (RFC 5861): a cache may serve a
        feed one more interval while it revalidates. ``gone``: URL paths answering 410;
        ``moved``: URL path -> new path or URL, answering 301. ``recheck_seconds``: how long
        a look at the manifest holds for the documents it vouches for (0: every request).
        ``clock``: the wall clock as POSIX seconds, read for an ``If-Modified-Since`` (a feed's
        poll is dated by the poll log: feeds/serving/stats.py)."""
        self.root = root.resolve()
        swr = max_age if stale_while_revalidate is None else stale_while_revalidate
        self.cache_control = f"public, max-age={max_age}, stale-while-revalidate={swr}"
        self.hubs = hubs
        # Set by the composition root: takes each poll of a feed (PollLog.append, feeds/serving/stats.py).
        self.poll_log: Callable[[Poll], None] | None = None
        self._files: dict[str, _File] = {}
        self._by_url: dict[str, _File] = {}   # PATH_INFO -> a document the manifest vouches for
        self._manifest_path = os.path.join(self.root, MANIFEST_NAME)
        self.base_url = base_url
        self.gone = frozenset(gone)
        self.moved = dict(moved or {})
        self._manifest: tuple[Identity | None, dict[str, dict]] = (None, {})
        self._lock = threading.Lock()
        self.recheck_seconds = recheck_seconds
        self.clock = clock
        self._seen: tuple[float, Identity | None] = (float("-inf"), None)   # (checked at, manifest identity)

    @property
    def base_url(self) -> str:
        return self._base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        # Known only once the server is bound (--port 0); the cached header lists name it.
        self._base_url = value.rstrip("/")
        self._files, self._by_url = {}, {}

    # --- files -------------------------------------------------------------------------

    def _resolve(self, path_info: str) -> str | None:
        """The relative path of the file a URL names, or None when it names none we serve."""
        try:
            path = path_info.encode("latin-1").decode("utf-8")  # PEP 3333 hands us latin-1
        except (UnicodeEncodeError, UnicodeDecodeError):
            return None
        if "\x00" in path or "\\" in path:
            return None
        parts = [part for part in path.split("/") if part]
        # No dot-files (the manifest, temp files of a build in progress) and no way up.
        if any(part.startswith(".") for part in parts):
            return None
        if not parts or path.endswith("/"):
            parts.append("index.html")
        relative = "/".join(parts)
        full = self.root / relative
        # A symbolic link must not lead out of public/.
        try:
            if not full.is_file() or not full.resolve().is_relative_to(self.root):
                return None
        except OSError:   # ENAMETOOLONG for a 64 KB path: no such file, not a 500
            return None
        # A precompressed variant is part of its document, not a resource of its own: served
        # as an opaque file it would reach caches without its Content-Encoding.
        stem, suffix = os.path.splitext(relative)
        if suffix in (".gz", ".br") and (compressible(self._guess_type(stem)) or (self.root / stem).is_file()):
            return None
        return relative

    @staticmethod
    def _guess_type(relative: str) -> str:
        return CONTENT_TYPES.get(Path(relative).suffix.lower(),
                                 mimetypes.guess_type(relative)[0] or "application/octet-stream")

    @staticmethod
    def _identity(stat: os.stat_result) -> Identity:
        return (stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def _manifest_identity(self) -> Identity | None:
        try:
            return self._identity(os.stat(self._manifest_path))
        except OSError:
            return None

    def _manifest_now(self) -> Identity | None:
        """The manifest's identity, looked at no more often than ``recheck_seconds``: the
        one file-system call of a request for a vouched document, and only one request
        in many pays it."""
        checked, identity = self._seen
        moment = monotonic()
        if moment - checked >= self.recheck_seconds:
            identity = self._manifest_identity()
            self._seen = (moment, identity)
        return identity

    def _current_manifest(self) -> tuple[Identity | None, dict[str, dict]]:
        identity = self._manifest_identity()
        self._seen = (monotonic(), identity)
        if identity != self._manifest[0]:
            self._manifest = (identity, read_manifest(self.root))
        return self._manifest

    def _load(self, relative: str) -> _File | None:
        full = self.root / relative
        manifest_identity, manifest = self._current_manifest()
        try:
            stat = os.stat(full)
            identity = self._identity(stat)
            cached = self._files.get(relative)
            # A build swaps documents in before its manifest: a file read in between
            # is looked at again once the manifest that describes it is in place.
            if cached and cached.identity == identity and cached.manifest == manifest_identity:
                return cached
            body = full.read_bytes()
        except OSError:
            return None
        digest = hashlib.sha256(body).hexdigest()
        entry = manifest.get(relative, {})
        if entry.get("sha256") == digest and entry.get("updated"):
            modified = datetime.fromisoformat(entry["updated"])
        else:  # an asset no build wrote: its file time is all we know
            modified = datetime.fromtimestamp(stat.st_mtime, timezone.utc)
        content_type = entry.get("content_type") or self._guess_type(relative)
        text = compressible(content_type)
        if not text:
            variants = ()
        elif entry.get("sha256") == digest:
            variants = self._variants(relative, entry)
        else:
            variants = self._matching_variants(relative, body)
        vouched = entry.get("sha256") == digest
        status = entry.get("status", 200) if vouched else 200
        loaded = self._represent(_File(identity, manifest_identity, body, f'"{digest[:40]}"', http_date(modified),
                                       content_type, variants, text, int(modified.timestamp()),
                                       vouched=vouched, relative=relative,
                                       status=status if status in STATUS_LINES else 200), relative,
                                 self._page(entry.get("page"), manifest) if vouched else None,
                                 announce=not entry.get("private"))
        with self._lock:
            self._files[relative] = loaded
        return loaded

    def _variants(self, relative: str, entry: dict) -> tuple[tuple[str, bytes], ...]:
        """The precompressed variants whose bytes are those the manifest lists for this document.

        The build writes variants before their document and the manifest last: a variant
        of a newer version than the document served (or a half-finished build's) does
        not match and is left out; the document is then served as it is.
        """
        listed = entry.get("encodings")
        found = []
        for coding, suffix in VARIANTS.items():
            wanted = listed.get(coding) if isinstance(listed, dict) else None
            if not isinstance(wanted, dict):
                continue
            try:
                data = (self.root / (relative + suffix)).read_bytes()
            except OSError:
                continue
            if hashlib.sha256(data).hexdigest() == wanted.get("sha256"):
                found.append((coding, data))
        return tuple(found)

    def _matching_variants(self, relative: str, body: bytes) -> tuple[tuple[str, bytes], ...]:
        """The variants that decompress to ``body``: for a document the manifest does not
        list yet (a build swaps documents in before its manifest). Once per file version,
        never per request; anything that does not give back exactly ``body`` is left out."""
        found = []
        for coding, suffix in VARIANTS.items():
            try:
                data = (self.root / (relative + suffix)).read_bytes()
            except OSError:
                continue
            if decompress_exactly(coding, data, len(body)) == body:
                found.append((coding, data))
        return tuple(found)

    def _page(self, relative: object, manifest: dict[str, dict]) -> _File | None:
        """A feed's page for people, as the manifest lists it (a feed document's ``page``): its
        bytes and variants only when they are the ones listed, else None (the feed for all)."""
        if not isinstance(relative, str) or self._resolve("/" + relative) != relative:
            return None
        entry = manifest.get(relative, {})
        try:
            body = (self.root / relative).read_bytes()
        except OSError:
            return None
        digest = hashlib.sha256(body).hexdigest()
        if entry.get("sha256") != digest or not entry.get("updated"):
            return None   # a build is between swapping in the page and its manifest
        modified = datetime.fromisoformat(entry["updated"])
        return _File((0, 0, 0), None, body, f'"{digest[:40]}"', http_date(modified),
                     entry.get("content_type") or self._guess_type(relative), self._variants(relative, entry),
                     compressible=True, modified=int(modified.timestamp()), vouched=True, relative=relative)

    def _represent(self, found: _File, relative: str, page: _File | None = None, *, announce: bool = True) -> _File:
        """Every (view, coding) of a file with its header lists, made once per load: with
        ``page``, the feed's page for people as the browser view (its own ETag, Vary: Accept).
        ``announce`` False: a partner's secret feed, for which no hub is named."""
        media_type = found.content_type.split(";")[0].strip().lower()
        negotiable = page is not None
        vary = ", ".join((["Accept"] if negotiable else []) + (["Accept-Encoding"] if found.compressible else []))
        discovery = self._discovery(relative, media_type) if announce else []
        representations = {}
        for view in (found, page) if page is not None else (found,):
            shared = [("Last-Modified", view.last_modified), ("Cache-Control", self.cache_control),
                      *([("Vary", vary)] if vary else []), *discovery]
            for coding, body in ((IDENTITY, view.body), *view.variants):
                tagged = view.etag[:-1] + ETAG_SUFFIX[coding] + '"'
                validators = [("ETag", tagged), *shared]
                headers = [("Content-Type", view.content_type), ("Content-Length", str(len(body))),
                           *([("Content-Encoding", coding)] if coding != IDENTITY else []),
                           ("X-Content-Type-Options", "nosniff"), *validators]
                representations[(view is page, coding)] = _Representation(body, tagged, headers, validators,
                                                                          page=view is page)
        return replace(found, representations=representations, media_type=media_type,
                       polled=media_type in FEED_TYPES, negotiable=negotiable)

    # --- HTTP --------------------------------------------------------------------------

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        _code, status, headers, body = self.answer(environ)
        start_response(status, headers)
        return [body]

    def answer(self, environ: dict) -> Answer:
        """The whole answer to one request, for any server to send (WSGI above, the granian
        workers' handler in feeds/serving/workers.py, which counts it on the way out).

        The common case (a document the manifest vouches for, by its plain URL) is a
        dict lookup of the URL, a look at the manifest at most every ``recheck_seconds``,
        a dict lookup of the representation by the request's two negotiation headers, a
        string comparison of the ETag and an answer made when the file was loaded: no
        parsing, no file system.
        """
        method = environ.get("REQUEST_METHOD", "GET")
        if method != "GET" and method != "HEAD":
            return self._plain(405, "405 Method Not Allowed", b"Method not allowed\n", [("Allow", "GET, HEAD")])
        path_info = environ.get("PATH_INFO", "/")
        # Never a gone or moved URL: those are answered below before a file is looked at,
        # and both sets are fixed when the app is made.
        found = self._by_url.get(path_info)
        if found is not None:
            checked, identity = self._seen   # _manifest_now, its common case written out
            if monotonic() - checked >= self.recheck_seconds:
                identity = self._manifest_now()
            if found.manifest != identity:
                found = None   # a build has landed since: look again
        if found is None:
            if self.gone or self.moved:
                retired = self._retired(path_info)
                if retired is not None:
                    return retired
            relative = self._resolve(path_info)
            found = self._load(relative) if relative else None
            if found is None:
                found = self._not_found_page()   # not remembered by this URL: any address may come
                if found is None:
                    return self._plain(404, "404 Not Found", b"Not found\n")
            # Only the URL's plain spelling: "//rss.xml" and friends must not grow the cache.
            elif found.vouched and path_info in ("/" + relative, "/" + relative.removesuffix("index.html")):
                self._by_url[path_info] = found
        accept_encoding = environ.get("HTTP_ACCEPT_ENCODING")
        accept = environ.get("HTTP_ACCEPT") if found.negotiable else None
        chosen = found.chosen.get((accept_encoding, accept))
        if chosen is None:
            chosen = self._choose(found, accept_encoding, accept)
        if found.status != 200:   # no validators to check: a 304 answers a 200 only (RFC 9110 15.4.5)
            sent = b"" if method == "HEAD" else chosen.body
            return found.status, STATUS_LINES[found.status], chosen.headers, sent
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match is not None:
            if "HTTP_A_IM" in environ and not chosen.page and "feed" in environ["HTTP_A_IM"].lower():
                delta = self._delta(if_none_match, found, chosen)
                if delta is not None:
                    answered = 226, "226 IM Used", delta[0], b"" if method == "HEAD" else delta[1]
                    self._count_poll(environ, found, answered)
                    return answered
            # The exact string a client was given is the common case: no parse for it.
            fresh = if_none_match == chosen.etag or _etag_matches(if_none_match, chosen.etag)
        else:   # most requests without If-None-Match have no If-Modified-Since either: no call for them
            if_modified_since = environ.get("HTTP_IF_MODIFIED_SINCE")
            fresh = if_modified_since is not None and self._not_modified_since(if_modified_since, found.modified)
        answered = chosen.not_modified if fresh else chosen.whole if method == "GET" else chosen.head
        if found.polled and self.poll_log is not None:   # _count_poll, written out: every feed poll passes here
            self.poll_log((found.relative, answered[0], answered[3],
                           environ.get("HTTP_USER_AGENT", "")[:USER_AGENT_KEPT], environ.get("REMOTE_ADDR", "")))
        return answered

    def _not_found_page(self) -> _File | None:
        """The build's page for an address with nothing at it, when the manifest lists it as one
        (served with 404 in the site's language); None before a build has written it."""
        page = self._load(NOT_FOUND_PAGE) if self._resolve("/" + NOT_FOUND_PAGE) else None
        return page if page is not None and page.status == 404 else None

    def _choose(self, found: _File, accept_encoding: str | None, accept: str | None) -> _Representation:
        """The representation for these negotiation headers, remembered for the next request
        that sends the same ones (a long or rare header is worked out and not kept)."""
        page = found.negotiable and _wants_page(accept or "", found.media_type)   # a browser asking for a feed
        codings = tuple(coding for view, coding in found.representations if view == page and coding != IDENTITY)
        coding = negotiate(accept_encoding, codings) if codings else IDENTITY
        chosen = found.representations[(page, coding)]
        if len(found.chosen) < CHOICES_KEPT and len(accept_encoding or "") + len(accept or "") <= 512:
            found.chosen[(accept_encoding, accept)] = chosen
        return chosen

    def _count_poll(self, environ: dict, found: _File, answered: Answer) -> None:
        """Polls of feed documents, for `feedpub stats` (an append: see feeds/serving/stats.py):
        the status and the body sent, the user agent cut (it is the client's to make long), the
        peer's address as the server gives it (dated and counted by the poll log's thread)."""
        if found.polled and self.poll_log is not None:
            self.poll_log((found.relative, answered[0], answered[3],
                           environ.get("HTTP_USER_AGENT", "")[:USER_AGENT_KEPT], environ.get("REMOTE_ADDR", "")))

    def _delta(self, if_none_match: str, found: _File, chosen: _Representation):
        """(headers, body) of a 226 delta for the version the client names, or None for
        the normal answer: a current ETag (304), an unknown version, a non-feed."""
        relative = found.relative
        if not relative or not is_delta_type(found.content_type) or _etag_matches(if_none_match, chosen.etag):
            return None
        history = read_history(self.root, relative)
        if history.get("current") != found.etag.strip('"')[:40]:
            return None   # a build is between swapping the document and recording it
        for tag in if_none_match.split(","):
            old = tag.strip().removeprefix("W/").strip('"').split("-")[0]
            body = delta_from_history(found.body, history, old)
            if body is not None:
                headers = [
                    ("Content-Type", found.content_type), ("Content-Length", str(len(body))),
                    ("IM", "feed"), ("ETag", found.etag), ("Last-Modified", found.last_modified),
                    # A delta answers one client's version: shared caches must not keep it.
                    ("Cache-Control", "no-store, im"), ("Vary", "A-IM, If-None-Match"),
                ]
                return headers, body
        return None

    def _retired(self, path_info: str) -> Answer | None:
        """410 for a ``gone`` path, 301 for a ``moved`` one; None for any other path."""
        try:
            path = path_info.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return None
        cache = [("Cache-Control", self.cache_control)]   # an operator's change is seen within an interval
        if path in self.gone:
            return self._plain(410, "410 Gone", b"Gone: this feed was retired\n", cache)
        target = self.moved.get(path)
        if target is None:
            return None
        location = self.base_url + target if target.startswith("/") else target
        return self._plain(301, "301 Moved Permanently", f"Moved to {location}\n".encode(),
                           [("Location", location), *cache])

    def _discovery(self, relative: str, media_type: str) -> list[tuple[str, str]]:
        """WebSub discovery by HTTP header (WebSub section 4): the hubs and the topic."""
        if not self.hubs or media_type not in FEED_MEDIA_TYPES | {"application/feed+json"}:
            return []
        links = [f'<{hub}>; rel="hub"' for hub in self.hubs]
        links.append(f'<{self.base_url}/{relative}>; rel="self"')
        return [("Link", ", ".join(links))]

    def _not_modified_since(self, if_modified_since: str | None, modified: float) -> bool:
        """RFC 9110 13.1.3, asked only without If-None-Match (13.1.2 is checked by the caller)."""
        if not if_modified_since:
            return False
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False  # an unparseable date is ignored (RFC 9110 13.1.3)
        if since.tzinfo is None:
            since = since.replace(tzinfo=timezone.utc)
        moment = since.timestamp()
        # A date later than the server's clock is invalid (RFC 7232 section 3.3) and so ignored:
        # taken at its word, it would answer 304 to every version a build makes until that date.
        if moment > self.clock():
            return False
        return modified <= moment

    @staticmethod
    def _plain(code: int, status: str, body: bytes, extra: list[tuple[str, str]] | None = None) -> Answer:
        return code, status, [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            *(extra or []),
        ], body


# Open connections a waitress server keeps (tests' servers; the serve process's private
# socket, where only the workers connect). Its default, 100, let 100 idle or slowloris
# connections (one header line a second, never finished) take every place: honest readers
# then waited in the listen backlog until waitress dropped the idle ones. Past 1024
# descriptors select() fails, so poll() is used instead. The public address is served by
# granian's workers: their limits are in feeds/serving/workers.py.
CONNECTION_LIMIT = 4096
# Seconds a connection may stay silent (waitress: 120): an idle one gives its place back sooner.
CHANNEL_TIMEOUT = 30


def enough_descriptors(wanted: int) -> None:
    """Raise the soft limit on open files (often 1024) towards ``wanted``, as far as the
    hard limit allows: each connection is a descriptor. Processes started afterwards
    (granian's workers) inherit the raised limit."""
    try:
        import resource
    except ImportError:   # not on this platform: the limit stays as it is
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def create_server(app: Callable, host: str = "127.0.0.1", port: int = 0, *, threads: int = 8,
                  max_request_body: int = 1 << 30, unix_socket: str | None = None):
    """A bound waitress server (``port=0`` picks a free port: see ``.effective_port``), or
    one on the Unix socket ``unix_socket`` (owner only) instead of host and port.

    waitress buffers a request's whole body before the app sees it; a declared
    length of ``max_request_body`` or more is refused (413) without reading it.

    A 304 keeps the connection open (see :func:`_keep_alive_channel`). Up to
    :data:`CONNECTION_LIMIT` connections are kept at once, silent ones for
    :data:`CHANNEL_TIMEOUT` seconds.
    """
    import waitress.server

    enough_descriptors(CONNECTION_LIMIT + 256)   # + the store, the logs, the listening sockets
    where = {"unix_socket": unix_socket, "unix_socket_perms": "600"} if unix_socket else {"host": host, "port": port}
    server = waitress.server.create_server(app, **where, threads=threads, ident="feedpub",
                                           max_request_body_size=max_request_body,
                                           connection_limit=CONNECTION_LIMIT, channel_timeout=CHANNEL_TIMEOUT,
                                           asyncore_use_poll=True)
    for each in (server, *getattr(server, "map", {}).values()):   # one server, or one per listening socket
        if isinstance(getattr(each, "channel_class", None), type):
            each.channel_class = _keep_alive_channel(each.channel_class)
    return server


def _keep_alive_channel(channel_class: type) -> type:
    """waitress 3 closes the connection after every 304 and 204 on HTTP/1.1 (it finds no
    Content-Length to delimit a body, since Pylons/waitress#197), so each revalidating poll
    pays for a new TCP connection. A response that cannot have a body ends with its header
    (RFC 9112 6.3, rule 1): the connection stays open unless the client asked to close it.
    About 1.7x the 304s per second in bench/serve.py."""
    task_class = channel_class.task_class

    class KeepAliveTask(task_class):
        def set_close_on_finish(self) -> None:
            if (self.version == "1.1" and not self.has_body and not self.wrote_header
                    and self.request.headers.get("CONNECTION", "").lower() != "close"):
                return
            super().set_close_on_finish()

    return type("KeepAliveChannel", (channel_class,), {"task_class": KeepAliveTask})
