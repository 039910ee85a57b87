"""Serving public/ over HTTP: a WSGI app, run by waitress.

The app never renders anything: it serves the bytes the last build wrote, with
validators derived from those bytes, so every instance serving the same files
answers with the same ETag and Last-Modified, across restarts too:

- ``ETag`` is a strong validator made from the SHA-256 of the body.
- ``Last-Modified`` is the newest content update in the document (from the
  build manifest), not the file's mtime.
- ``If-None-Match`` (RFC 9110 13.1.2, weak comparison) and, only without it,
  ``If-Modified-Since`` (13.1.3) answer 304.

Files are cached in memory and revalidated with one ``stat`` per request: a
build replaces files by rename, which always changes the inode.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

from .publish import MANIFEST_NAME, read_manifest

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

# Chromium shows application/rss+xml and application/atom+xml as plain text (Firefox offers
# them for download), so neither runs the feed's <?xml-stylesheet?> (feeds/stylesheet.py).
# A browser's page request (Accept names text/html but not the feed's own type) gets the
# same bytes as application/xml, with its own ETag; feed readers get the registered type.
BROWSER_VIEW_TYPE = "application/xml; charset=utf-8"
FEED_MEDIA_TYPES = frozenset({"application/rss+xml", "application/atom+xml"})


def _wants_page(accept: str, media_type: str) -> bool:
    accepted: dict[str, float] = {}
    for part in accept.lower().split(","):
        kind, _, params = part.partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        accepted[kind.strip()] = quality
    return accepted.get("text/html", 0.0) > 0 and media_type not in accepted


Identity = tuple[int, int, int]    # (inode, size, mtime_ns): changes whenever a file is replaced


@dataclass(frozen=True)
class _File:
    identity: Identity
    manifest: Identity | None        # the manifest version its Last-Modified was taken from
    body: bytes
    etag: str
    last_modified: str
    content_type: str


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(timezone.utc).replace(microsecond=0), usegmt=True)


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


class PublicFiles:
    """WSGI application serving the files of ``root`` (GET and HEAD only)."""

    def __init__(self, root: Path, *, max_age: int, hubs: tuple[str, ...] = (), base_url: str = ""):
        self.root = root.resolve()
        self.cache_control = f"public, max-age={max_age}"
        self.hubs = hubs
        self.base_url = base_url.rstrip("/")
        self._files: dict[str, _File] = {}
        self._manifest: tuple[Identity | None, dict[str, dict]] = (None, {})
        self._lock = threading.Lock()

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
        if not full.is_file() or not full.resolve().is_relative_to(self.root):
            return None
        return relative

    @staticmethod
    def _identity(stat: os.stat_result) -> Identity:
        return (stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def _current_manifest(self) -> tuple[Identity | None, dict[str, dict]]:
        try:
            identity = self._identity(os.stat(self.root / MANIFEST_NAME))
        except OSError:
            identity = None
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
        content_type = entry.get("content_type") or CONTENT_TYPES.get(
            Path(relative).suffix.lower(), mimetypes.guess_type(relative)[0] or "application/octet-stream"
        )
        loaded = _File(identity, manifest_identity, body, f'"{digest[:40]}"', http_date(modified), content_type)
        with self._lock:
            self._files[relative] = loaded
        return loaded

    # --- HTTP --------------------------------------------------------------------------

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            return self._plain(start_response, "405 Method Not Allowed", b"Method not allowed\n",
                               [("Allow", "GET, HEAD")])
        relative = self._resolve(environ.get("PATH_INFO", "/"))
        found = self._load(relative) if relative else None
        if found is None:
            return self._plain(start_response, "404 Not Found", b"Not found\n")
        media_type = found.content_type.split(";")[0].strip().lower()
        vary = [("Vary", "Accept")] if media_type in FEED_MEDIA_TYPES else []
        if vary and _wants_page(environ.get("HTTP_ACCEPT", ""), media_type):
            found = replace(found, content_type=BROWSER_VIEW_TYPE, etag=found.etag[:-1] + '-xml"')
        validators = [
            ("ETag", found.etag),
            ("Last-Modified", found.last_modified),
            ("Cache-Control", self.cache_control),
            *vary,
            *self._discovery(relative, media_type),
        ]
        if self._not_modified(environ, found):
            start_response("304 Not Modified", validators)
            return [b""]
        start_response("200 OK", [
            ("Content-Type", found.content_type),
            ("Content-Length", str(len(found.body))),
            ("X-Content-Type-Options", "nosniff"),
            *validators,
        ])
        return [b""] if method == "HEAD" else [found.body]

    def _discovery(self, relative: str, media_type: str) -> list[tuple[str, str]]:
        """WebSub discovery by HTTP header (WebSub section 4): the hubs and the topic."""
        if not self.hubs or media_type not in FEED_MEDIA_TYPES | {"application/feed+json"}:
            return []
        links = [f'<{hub}>; rel="hub"' for hub in self.hubs]
        links.append(f'<{self.base_url}/{relative}>; rel="self"')
        return [("Link", ", ".join(links))]

    @staticmethod
    def _not_modified(environ: dict, found: _File) -> bool:
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match is not None:
            return _etag_matches(if_none_match, found.etag)
        if_modified_since = environ.get("HTTP_IF_MODIFIED_SINCE")
        if if_modified_since:
            try:
                since = parsedate_to_datetime(if_modified_since)
            except (TypeError, ValueError):
                return False  # an unparseable date is ignored (RFC 9110 13.1.3)
            if since.tzinfo is None:
                since = since.replace(tzinfo=timezone.utc)
            return parsedate_to_datetime(found.last_modified) <= since
        return False

    @staticmethod
    def _plain(start_response: StartResponse, status: str, body: bytes,
               extra: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
        start_response(status, [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            *(extra or []),
        ])
        return [body]


def create_server(app: Callable, host: str, port: int, *, threads: int = 8,
                  max_request_body: int = 1 << 30):
    """A bound waitress server (``port=0`` picks a free port: see ``.effective_port``).

    waitress buffers a request's whole body before the app sees it; a declared
    length of ``max_request_body`` or more is refused (413) without reading it.
    """
    import waitress.server

    return waitress.server.create_server(app, host=host, port=port, threads=threads, ident="feedpub",
                                         max_request_body_size=max_request_body)
