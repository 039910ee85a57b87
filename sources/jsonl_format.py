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
place in the result, and the other lines are still imported.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from zoneinfo import ZoneInfo

from .errors import IngestError
from .frontmatter import FRONT_MATTER_KEYS
from .html_format import fragment_parts
from .ingest import SINGLE_ARTICLE_KEYS, ArticleDraft, _checked_fields, _Origin, assemble_draft, clean_overrides
from .model import IngestSettings
from .newsroom import parse_newsroom_text
from .text import slugify, xml_safe

BODY_KEYS = ("body", "content_html")
KEYS = (*FRONT_MATTER_KEYS, *BODY_KEYS)


def read_jsonl_drafts(
    data: bytes,
    *,
    path: str,
    settings: IngestSettings,
    overrides: Mapping[str, object] | None = None,
) -> list[ArticleDraft | IngestError]:
    """One draft per non-blank line, or the error that line has, in file order.

    Raises only for the file as a whole: nothing in it, or a flag that names one
    article given for a file of several.
    """
    overrides = clean_overrides(overrides, path=path)
    numbered = [(number, raw) for number, raw in enumerate(data.split(b"\n"), start=1) if raw.strip()]
    if not numbered:
        raise IngestError("the file is empty", path=path)
    single = [key for key in SINGLE_ARTICLE_KEYS if key in overrides]
    if single and len(numbered) > 1:
        raise IngestError(f"--{single[0]} names one article but this file holds {len(numbered)}", path=path)
    results: list[ArticleDraft | IngestError] = []
    for number, raw in numbered:
        try:
            results.append(read_line(raw, path=path, line=number, settings=settings, overrides=overrides))
        except IngestError as exc:
            results.append(exc)
    return results


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
        values = json.loads(text)
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
    origin = _Origin(path, {key: line for key in KEYS}, frozenset(overrides), label="key")
    fields = _checked_fields(
        {k: v for k, v in {**values, **overrides}.items() if k not in BODY_KEYS}, origin, ZoneInfo(settings.timezone),
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
    city = publication = None
    try:
        if key == "body":
            body = parse_newsroom_text(values["body"])
            content_html, lead, related = body.html(), body.lead, body.related_titles
            city, publication = body.city, body.publication
        else:
            content_html, lead, related = fragment_parts(xml_safe(values["content_html"]), path="")
    except IngestError as exc:
        raise origin.fail(key, str(exc).removeprefix(": ")) from exc
    default_slug = fields.get("slug") or slugify(fields["id"].split(":", 2)[2])
    if not default_slug:
        raise origin.fail("id", "has no letters or digits to make a slug from; give 'slug'")
    draft = assemble_draft(
        path=path, fields=fields, lead=lead, content_html=content_html, content_text=xml_safe(text),
        default_slug=default_slug, city=city, publication=publication, related_titles=related, line=line,
    )
    return replace(draft, source=None)   # known by id or slug: the file holds many (see above)
