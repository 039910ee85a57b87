"""RFC 3229 + feed: delta documents for aggregators that already hold an older version.

A client that sends ``A-IM: feed`` with ``If-None-Match: <an older ETag>`` may be
answered ``226 IM Used`` with only the entries that are new or changed since
that version (Bob Wyman's "RFC3229+feed" convention over RFC 3229).

Nothing is parsed or compared on the request path: when an RSS or Atom document
changes, the build keeps (:func:`next_history`), in ``.delta/<path>.json`` (under a
dot-folder the server never serves), the byte span of each entry of the new version and, for it
and each of the ``HISTORY - 1`` versions before, the digest of every entry's bytes.
A document's first version needs no history (no client can hold an older one): its
history starts when it first changes, from the bytes it replaces
(:func:`history_before`), so a full build of a new site writes no history at all.
The server answers a delta by leaving out of the document it serves the spans whose
digests the client's version had (:func:`delta_from_history`): a changed entry has
other bytes, so it counts as new.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import orjson

from ..rendering.splice import entry_spans

log = logging.getLogger(__name__)

DELTA_DIR = ".delta"
HISTORY = 10            # older versions a delta is kept for


def is_delta_type(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in ("application/rss+xml", "application/atom+xml")


def version_tag(sha256_hex: str) -> str:
    """The part of the identity ETag that names a version (see feeds/serving/server.py)."""
    return sha256_hex[:40]


def _format(body: bytes) -> str:
    # Entries' text is escaped: the first raw "<rss" or "<feed" is the root element.
    rss, atom = body.find(b"<rss"), body.find(b"<feed")
    return "rss" if rss != -1 and (atom == -1 or rss < atom) else "atom"


def _key(entry: bytes) -> str:
    """An entry as it was serialised: changed bytes count as a new entry."""
    return hashlib.sha256(entry).hexdigest()


def delta_from_history(body: bytes, history: dict, old_version: str) -> bytes | None:
    """The delta of ``body`` (the version ``history`` records as current) for a client
    holding ``old_version``; None when that version is not one the history knows."""
    versions = [v for v in history.get("versions", ()) if isinstance(v, dict)]
    known = next((v.get("entries") for v in versions if v.get("tag") == old_version), None)
    spans = history.get("spans")
    if old_version == history.get("current") or not isinstance(known, list) or not versions \
            or not isinstance(spans, list) or len(spans) != len(versions[-1].get("entries", ())):
        return None
    try:
        spans = [(int(start), int(end)) for start, end in spans]
    except (TypeError, ValueError):
        return None
    # In the document and in order, each after the one before: anything else is not what
    # next_history() wrote for this body.
    if any(not 0 <= start < end <= len(body) for start, end in spans) or any(
            end > start for (_, end), (start, _) in zip(spans, spans[1:])):
        return None
    if not spans:
        return body
    known_keys = set(known)
    kept = (body[start:end] for (start, end), key in zip(spans, versions[-1]["entries"]) if key not in known_keys)
    return b"".join((body[:spans[0][0]], *kept, body[spans[-1][1]:]))


def history_path(output_dir: Path, path: str) -> Path:
    return output_dir / DELTA_DIR / f"{path}.json"


def read_history(output_dir: Path, path: str) -> dict:
    try:
        data = orjson.loads(history_path(output_dir, path).read_bytes())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def history_before(output_dir: Path, path: str, *, replacing: bool) -> dict:
    """What :func:`next_history` extends, read before a build replaces ``path`` (``replacing``:
    its bytes change): its history, or when it has none, one that starts with the version
    about to be replaced, read from the file itself; empty when there is no older version."""
    history = read_history(output_dir, path)
    if history or not replacing:
        return history
    try:
        body = (output_dir / path).read_bytes()
    except OSError:
        return {}   # a new document: nobody holds an older version of it
    found = _entries(path, body)
    if found is None:
        return {}
    tag = version_tag(hashlib.sha256(body).hexdigest())
    return {"current": tag, "versions": [{"tag": tag, "entries": found[1]}]}


def _entries(path: str, body: bytes) -> tuple[list[tuple[int, int]], list[str]] | None:
    """(span, digest) of each entry of ``body``; None when it is not laid out as ours."""
    try:
        spans = entry_spans(body, _format(body))
    except ValueError as exc:
        # Not laid out as feeds/rendering/formats.py lays documents out: no deltas, only whole answers
        # (the server offers a delta only while "current" names the version it serves).
        log.warning("%s: no RFC 3229 deltas: %s", path, exc)
        return None
    return spans, [_key(body[start:end]) for start, end in spans]


def next_history(path: str, body: bytes, sha256_hex: str, history: dict) -> bytes | None:
    """The history file of ``path`` once its new ``body`` is in place, from what
    :func:`history_before` read before it was; None when there is nothing to keep.
    feeds/publishing/publish.py writes it with the build's other files and swaps it in after the
    document (the server offers a delta only while "current" names the version it serves)."""
    current = version_tag(sha256_hex)
    found = _entries(path, body) if history and history.get("current") != current else None
    if found is None:
        return None
    spans, keys = found
    versions = [v for v in history.get("versions", []) if isinstance(v, dict) and v.get("tag") != current]
    versions.append({"tag": current, "entries": keys})
    document = {"current": current, "spans": spans, "versions": versions[-HISTORY:]}
    # orjson: read and written for every changed feed document.
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS) + b"\n"


def legacy_history(output_dir: Path, path: str) -> Path | None:
    """The folder of one file per older version, as builds before kept histories; None when
    there is none. Removed once the build that replaces it is in place."""
    legacy = output_dir / DELTA_DIR / path
    return legacy if legacy.is_dir() else None
