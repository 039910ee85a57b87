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
import io
import json
from pathlib import Path

from lxml import etree

DELTA_DIR = ".delta"
HISTORY = 10            # older versions a delta is kept for
ATOM = "{http://www.w3.org/2005/Atom}"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)


def is_delta_type(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in ("application/rss+xml", "application/atom+xml")


def version_tag(sha256_hex: str) -> str:
    """The part of the identity ETag that names a version (see feeds/server.py)."""
    return sha256_hex[:40]


def _entries(root) -> list:
    if root.tag == f"{ATOM}feed":
        return root.findall(f"{ATOM}entry")
    channel = root.find("channel")
    return channel.findall("item") if channel is not None else []


def _key(element) -> str:
    """An entry as it was serialised: changed bytes count as a new entry."""
    return hashlib.sha256(etree.tostring(element, encoding="UTF-8")).hexdigest()


def entry_keys(body: bytes) -> list[str]:
    return [_key(element) for element in _entries(etree.fromstring(body, _PARSER))]


def delta_body(current: bytes, known: set[str]) -> bytes:
    """``current`` without the entries whose bytes are in ``known``."""
    from .render import hex_escape_plain_text   # render imports nothing of publishing

    tree = etree.parse(io.BytesIO(current), _PARSER)
    for element in _entries(tree.getroot()):
        if _key(element) in known:
            element.getparent().remove(element)
    body = etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
    # lxml writes "&#x26;" back as "&amp;": RSS plain text gets its hex references again.
    return hex_escape_plain_text(body) if tree.getroot().tag == "rss" else body


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
    keys = entry_keys(body)
    for version in versions:
        write_atomic(delta_path(output_dir, path, version["tag"]), delta_body(body, set(version["entries"])),
                     durable=False)   # made durable with the build (feeds/publish.py)
    versions.append({"tag": current, "entries": keys})
    kept, dropped = versions[-HISTORY:], versions[:-HISTORY]
    for version in dropped:
        delta_path(output_dir, path, version["tag"]).unlink(missing_ok=True)
    # Written last: the server offers a delta only for versions listed here, whose
    # files are therefore complete, and only when "current" is what it serves.
    document = {"current": current, "versions": kept}
    write_atomic(history_path(output_dir, path), json.dumps(document, sort_keys=True).encode() + b"\n",
                 durable=False)
