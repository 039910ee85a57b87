"""The unit every renderer produces and the publisher writes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    path: str            # under public/
    body: bytes
    content_type: str    # with charset for text
    updated: str         # ISO 8601 time of the newest content in it (Last-Modified)
    basis: dict | None = None   # what it was rendered from, kept in the manifest (incremental builds)
    deltas: bool = True  # keep RFC 3229 deltas (polled feeds; archives are fetched once)
