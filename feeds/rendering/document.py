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
    # An RFC 5005 archive page: fetched once by each aggregator catching up, never polled,
    # so it keeps no RFC 3229 deltas and its variants are made quickly (feeds/publishing/encoding.py).
    # Also the pages for people of archive pages and of articles: many, each fetched rarely.
    archive: bool = False
    page: str | None = None     # a feed document's page for people (served to browsers: feeds/serving/server.py)
    status: int = 200           # the HTTP status it is served with: 410 for a deleted article's page
    # A partner's secret feed: no hub is named for it, none is notified, nothing links to it.
    private: bool = False
