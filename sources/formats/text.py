"""The newsroom's own text format (``.txt``, and any file named with another suffix).

Optional YAML front matter, then the text as the newsroom writes it: a dateline, one
paragraph per line, "BACA JUGA:" markers, an end mark (``../shared/DESIGN.md``;
:mod:`sources.newsroom` parses the body).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..drafts import ArticleDraft, assemble_draft, read_front_matter
from ..model import IngestSettings
from ..newsroom import parse_newsroom_text
from ..text import xml_safe


def read_draft(
    data: bytes,
    *,
    path: str,
    settings: IngestSettings,
    overrides: Mapping[str, object] | None = None,
) -> ArticleDraft:
    """Parse one newsroom text file; ``overrides`` (command-line flags) win over front matter."""
    text, fields, body_text, body_line, warnings = read_front_matter(
        data, path=path, settings=settings, overrides=overrides)
    body = parse_newsroom_text(body_text, path=path, first_line=body_line)
    return assemble_draft(
        path=path, fields=fields, lead=body.lead, content_html=body.html(), content_text=xml_safe(text),
        default_slug=Path(path).stem, city=body.city, publication=body.publication,
        related_titles=body.related_titles, dateline=body.dateline, warnings=warnings,
    )
