"""JSON Lines (``.jsonl``): one article per line, as a CMS export writes them.

    {"slug": "rakor-oku", "title": "...", "published": "2024-09-18T10:15:00+07:00",
     "body": "BATURAJA - OKES.NEWS - Menjelang ...\\nBACA JUGA: ..."}
    {"id": "tag:okes.example,2024-09-18:banjir", "content_html": "<p>...</p>"}

Each object has the front matter's keys (see :mod:`sources.frontmatter`) plus the
body: ``body`` in the newsroom text format (dateline, one paragraph per line,
related-link markers) or ``content_html`` (markers in it are taken as in the HTML
importer). Several articles share one file, so the file cannot identify them and
the line number moves when the file is edited: every line names its article by
``slug`` or ``id``. Blank lines are skipped.

Each line is read on its own: a bad line (not JSON, a bad field, no body...)
becomes an :class:`IngestError` naming the file, the line and the key, in its
place in the result, and the other lines are still imported. The file is read as
a stream, a line at a time, and a line longer than an article may be
(``max_article_bytes``) is refused without being held in memory: an export of
hundreds of megabytes imports in the memory of its longest accepted line.

A control character in a string (a vertical tab pasted from Word, unescaped as
strict JSON would want it) is no reason to refuse the line: see
:func:`sources.text.normalise_controls`, with a warning naming the key.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import BinaryIO
from zoneinfo import ZoneInfo

from ..drafts import (
    SINGLE_ARTICLE_KEYS,
    ArticleDraft,
    Origin,
    assemble_draft,
    checked_fields,
    clean_overrides,
    flag_bytes,
    over_limit,
)
from ..errors import IngestError
from ..frontmatter import FRONT_MATTER_KEYS
from ..model import IngestSettings
from ..newsroom import parse_newsroom_text
from ..text import slugify, xml_safe
from .html import fragment_parts

BODY_KEYS = ("body", "content_html")
KEYS = (*FRONT_MATTER_KEYS, *BODY_KEYS)


SKIP_CHUNK = 64 * 1024   # bytes read at a time past the limit of a line too long to keep


def read_jsonl_drafts(
    data: bytes,
    *,
    path: str,
    settings: IngestSettings,
    overrides: Mapping[str, object] | None = None,
) -> list[ArticleDraft | IngestError]:
    """:func:`iter_jsonl_drafts` of bytes already in memory, as a list."""
    return list(iter_jsonl_drafts(io.BytesIO(data), path=path, settings=settings, overrides=overrides))


def _lines(stream: BinaryIO, limit: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, the line without its newline, or None when it is longer than ``limit``
    bytes): never more than ``limit`` and a byte of a line in memory."""
    number = 0
    while True:
        raw = stream.readline(limit + 1)
        if not raw:
            return
        number += 1
        if raw.endswith(b"\n"):
            yield number, raw[:-1]
        elif len(raw) <= limit:   # the last line, without a newline
            yield number, raw
        else:
            while raw and not raw.endswith(b"\n"):   # the rest of it, unread into memory
                raw = stream.readline(SKIP_CHUNK)
            yield number, None


def iter_jsonl_drafts(
    stream: BinaryIO,
    *,
    path: str,
    settings: IngestSettings,
    overrides: Mapping[str, object] | None = None,
) -> Iterator[ArticleDraft | IngestError]:
    """One draft per non-blank line, or the error that line has, in file order, as the
    stream is read.

    Raises only for the file as a whole, before yielding anything: nothing in it, or a
    flag that names one article given for a file of several (the stream is read through
    once to count them, then from its start again).
    """
    overrides = clean_overrides(overrides, path=path)
    limit = max(settings.max_article_bytes - flag_bytes(overrides), 0)
    single = [key for key in SINGLE_ARTICLE_KEYS if key in overrides]
    if single:
        count = sum(1 for _, raw in _lines(stream, limit) if raw is None or raw.strip())
        if count > 1:
            raise IngestError(f"--{single[0]} names one article but this file holds {count}", path=path)
        stream.seek(0)
    empty = True
    for number, raw in _lines(stream, limit):
        if raw is None:
            empty = False
            yield IngestError(over_limit(settings, overrides, "one line holds one article"), path=path, line=number)
            continue
        if not raw.strip():
            continue
        empty = False
        try:
            yield read_line(raw, path=path, line=number, settings=settings, overrides=overrides)
        except IngestError as exc:
            yield exc
    if empty:
        raise IngestError("the file is empty", path=path)


def read_line(
    raw: bytes, *, path: str, line: int, settings: IngestSettings, overrides: Mapping[str, object],
) -> ArticleDraft:
    """One line's article; ``overrides`` are already clean (see :func:`clean_overrides`)."""
    try:
        text = raw.decode("utf-8-sig" if line == 1 else "utf-8").rstrip("\r")
    except UnicodeDecodeError as exc:
        raise IngestError(f"byte 0x{raw[exc.start]:02x} at column {exc.start + 1} is not valid UTF-8 "
                          "(save the file as UTF-8)", path=path, line=line) from exc
    try:
        # strict=False: a control character inside a string is normalised with a warning
        # by the field checks (sources.ingest._text), not a reason to refuse the line.
        values = json.loads(text, strict=False)
    except json.JSONDecodeError as exc:
        raise IngestError(f"not valid JSON: {exc.msg} (column {exc.colno})", path=path, line=line) from exc
    except ValueError:   # an integer of more than 4300 digits (Python's own limit)
        raise IngestError("a number of more than 4300 digits", path=path, line=line) from None
    except RecursionError:   # "[[[[..." nested past the interpreter's limit
        raise IngestError("JSON nested too deeply", path=path, line=line) from None
    if not isinstance(values, dict):
        raise IngestError(f"expected a JSON object {{...}}, got {type(values).__name__}", path=path, line=line)
    unknown = [key for key in values if key not in KEYS]
    if unknown:
        raise IngestError(f"unknown key {unknown[0]!r} (known: {', '.join(KEYS)})", path=path, line=line)
    origin = Origin(path, {key: line for key in KEYS}, frozenset(overrides), label="key")
    fields = checked_fields(
        {k: v for k, v in {**values, **overrides}.items() if k not in BODY_KEYS}, origin, ZoneInfo(settings.timezone),
        max_terms=settings.max_terms,
    )
    if not fields.get("slug") and not fields["id"]:
        raise IngestError("no 'slug' or 'id': each line must name its article (several share this file)",
                          path=path, line=line)
    given = [key for key in BODY_KEYS if values.get(key) is not None]
    if len(given) != 1:
        raise IngestError("give the article's text as 'body' (newsroom text) or 'content_html', "
                          + ("not both" if given else "neither was given"), path=path, line=line)
    key = given[0]
    if not isinstance(values[key], str):
        raise origin.fail(key, f"expected text, got {type(values[key]).__name__}")
    city = publication = dateline = None
    try:
        if key == "body":
            body = parse_newsroom_text(values["body"])
            content_html, lead, related = body.html(), body.lead, body.related_titles
            city, publication, dateline = body.city, body.publication, body.dateline
        else:
            content_html, lead, related = fragment_parts(xml_safe(values["content_html"]), path="")
    except IngestError as exc:
        raise origin.fail(key, str(exc).removeprefix(": ")) from exc
    default_slug = fields.get("slug") or slugify(fields["id"].split(":", 2)[2])
    if not default_slug:
        raise origin.fail("id", "has no letters or digits to make a slug from; give 'slug'")
    draft = assemble_draft(
        path=path, fields=fields, lead=lead, content_html=content_html, content_text=xml_safe(text),
        default_slug=default_slug, city=city, publication=publication, related_titles=related, dateline=dateline,
        line=line,
        warnings=tuple(origin.warnings),
    )
    return replace(draft, source=None)   # known by id or slug: the file holds many (see above)
