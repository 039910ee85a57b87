"""Writing documents into public/: atomically, only when their bytes change.

A reader polling during a rebuild sees either the old file or the new one,
never a mix: each file is written to a temporary file in the same folder,
flushed, fsynced, then renamed over the old one (POSIX ``rename`` is atomic
within a file system). The manifest is written last, so the server's view of
"which version is current" never runs ahead of the files.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sources.errors import FeedpubError

from .document import Document

MANIFEST_NAME = ".manifest.json"   # hidden: the server never serves dot-files


class PublishError(FeedpubError):
    """A document could not be written; the previous version is still in place."""


@dataclass(frozen=True)
class PublishReport:
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> bool:
    """Replace ``path`` with ``data``; False (and no write at all) when it already holds them."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
    except OSError as exc:
        raise PublishError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    return True


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest(output_dir: Path) -> dict[str, dict]:
    """path -> {sha256, size, updated, content_type}; empty when missing or unreadable."""
    try:
        data = json.loads((output_dir / MANIFEST_NAME).read_bytes())
        documents = data.get("documents", {})
        return documents if isinstance(documents, dict) else {}
    except (OSError, ValueError):
        return {}


def publish(output_dir: Path, documents: Iterable[Document]) -> PublishReport:
    """Write every document that changed, drop documents no longer built, then the manifest."""
    previous = read_manifest(output_dir)
    manifest: dict[str, dict] = {}
    written, unchanged = [], []
    for doc in documents:
        if write_atomic(output_dir / doc.path, doc.body):
            written.append(doc.path)
        else:
            unchanged.append(doc.path)
        manifest[doc.path] = {
            "sha256": sha256(doc.body),
            "size": len(doc.body),
            "updated": doc.updated,
            "content_type": doc.content_type,
        }
    removed = []
    for stale in sorted(set(previous) - set(manifest)):
        # Only files a previous build listed are ours to remove.
        (output_dir / stale).unlink(missing_ok=True)
        removed.append(stale)
    body = json.dumps({"version": 1, "documents": manifest}, indent=1, sort_keys=True).encode() + b"\n"
    write_atomic(output_dir / MANIFEST_NAME, body)
    return PublishReport(tuple(written), tuple(unchanged), tuple(removed))
