"""RFC 3229 + feed: delta documents for aggregators that already hold an older version.

A client that sends ``A-IM: feed`` with ``If-None-Match: <an older ETag>`` may be
answered ``226 IM Used`` with only the entries that are new or changed since
that version (Bob Wyman's "RFC3229+feed" convention over RFC 3229).

Deltas are made at build time, never on the request path: when an RSS or Atom
document changes, :func:`record` writes, for each of its last ``HISTORY``
versions, the current document with the entries that version already had
(byte for byte) left out, to ``.delta/<path>/<old etag>.xml``, and keeps the
versions in ``.delta/<path>.json``. Both live under a dot-folder the server
never serves directly.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from .splice import split_entries

log = logging.getLogger(__name__)

DELTA_DIR = ".delta"
HISTORY = 10            # older versions a delta is kept for


def is_delta_type(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in ("application/rss+xml", "application/atom+xml")


def version_tag(sha256_hex: str) -> str:
    """The part of the identity ETag that names a version (see feeds/server.py)."""
    return sha256_hex[:40]


def _format(body: bytes) -> str:
    # Entries' text is escaped: the first raw "<rss" or "<feed" is the root element.
    rss, atom = body.find(b"<rss"), body.find(b"<feed")
    return "rss" if rss != -1 and (atom == -1 or rss < atom) else "atom"


def _key(entry: bytes) -> str:
    """An entry as it was serialised: changed bytes count as a new entry."""
    return hashlib.sha256(entry).hexdigest()


def entry_keys(body: bytes) -> list[str]:
    return [_key(entry) for entry in split_entries(body, _format(body))[1]]


def delta_body(current: bytes, known: set[str]) -> bytes:
    """``current`` without the entries whose bytes are in ``known``."""
    before, entries, after = split_entries(current, _format(current))
    return b"".join((before, *(entry for entry in entries if _key(entry) not in known), after))


def history_path(output_dir: Path, path: str) -> Path:
    return output_dir / DELTA_DIR / f"{path}.json"


def delta_path(output_dir: Path, path: str, old_version: str) -> Path:
    return output_dir / DELTA_DIR / path / f"{old_version}.xml"


def read_history(output_dir: Path, path: str) -> dict:
    try:
        data = json.loads(history_path(output_dir, path).read_bytes())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def record(output_dir: Path, path: str, body: bytes, sha256_hex: str) -> None:
    """Called once the new ``body`` of ``path`` is in place (feeds/publish.py)."""
    from .publish import write_atomic   # publish imports this module

    current = version_tag(sha256_hex)
    history = read_history(output_dir, path)
    versions = [v for v in history.get("versions", []) if isinstance(v, dict) and v.get("tag") != current]
    if history.get("current") == current:
        return
    try:
        before, entries, after = split_entries(body, _format(body))
    except ValueError as exc:
        # Not laid out as feeds/render.py lays documents out: no deltas, only whole answers
        # (the server offers a delta only while "current" names the version it serves).
        log.warning("%s: no RFC 3229 deltas: %s", path, exc)
        return
    keys = [_key(entry) for entry in entries]
    versions.append({"tag": current, "entries": keys})
    kept, dropped = versions[-HISTORY:], versions[:-HISTORY]
    for version in kept[:-1]:
        known = set(version["entries"])
        delta = b"".join((before, *(entry for entry, key in zip(entries, keys) if key not in known), after))
        write_atomic(delta_path(output_dir, path, version["tag"]), delta,
                     durable=False)   # made durable with the build (feeds/publish.py)
    for version in dropped:
        delta_path(output_dir, path, version["tag"]).unlink(missing_ok=True)
    # Written last: the server offers a delta only for versions listed here, whose
    # files are therefore complete, and only when "current" is what it serves.
    document = {"current": current, "versions": kept}
    write_atomic(history_path(output_dir, path), json.dumps(document, sort_keys=True).encode() + b"\n",
                 durable=False)
