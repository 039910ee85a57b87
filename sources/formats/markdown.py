"""Markdown articles (``.md``, ``.markdown``) with the newsroom's optional YAML front matter.

    ---
    title: Forkopimda OKU Gelar Rakor      <- the same keys as the text format
    ---
    # Forkopimda OKU Gelar Rakor           <- a leading H1 is the headline (dropped from the body)
    BATURAJA - OKES.NEWS - Menjelang ...   <- dateline in the first paragraph, as in the text format
    **BACA JUGA:** [Judul lain](https://…)  <- a line holding only a marker is a related link
    "Kami ..." tambah Choirun. (*)         <- end marks closing a paragraph are dropped

CommonMark (plus tables and strikethrough) by markdown-it-py with raw HTML
turned off: ``<script>`` in the source is shown as text, never passed on (and
feeds/rendering/content.py sanitises every body again when it renders). Pure: bytes in,
:class:`~sources.ingest.ArticleDraft` out, :class:`IngestError` naming file and
line for input it cannot accept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

from ..drafts import ArticleDraft, assemble_draft, read_front_matter
from ..errors import IngestError
from ..model import IngestSettings
from ..newsroom import END_MARK, RELATED_MARKER, split_dateline, written_dateline
from ..text import normalise_title, squash_space, xml_safe

# What may stand before a marker on its line: block quote marks and one list bullet.
_CONTAINER_PREFIX = re.compile(r"^\s*(?:>\s*)*(?:[-*+]\s+|\d{1,9}[.)]\s+)?")


def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def plain_text(inline: Token) -> str:
    """The text a reader sees in an inline token: markup, link targets and images left out."""
    parts: list[str] = []
    for child in inline.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return squash_space("".join(parts))


def _paragraph_lines(tokens: list[Token]) -> list[int]:
    """Source lines (0-based) inside paragraphs, wherever they are nested; never code."""
    lines: set[int] = set()
    for token in tokens:
        if token.type == "paragraph_open" and token.map:
            lines.update(range(*token.map))
    return sorted(lines)


def _take_related(md: MarkdownIt, lines: list[str], first_line: int, path: str) -> tuple[list[str], tuple[str, ...]]:
    """Lines holding only a related-link marker become related titles and leave the body.

    A marker on a paragraph line leaves a blank line (the paragraph splits there, as
    each line is a paragraph in the text format); a bulleted or quoted one is removed.
    """
    related: list[str] = []
    kept = list(lines)
    removed: set[int] = set()
    for index in _paragraph_lines(md.parse("\n".join(lines))):
        prefix = _CONTAINER_PREFIX.match(lines[index])
        inline = md.parseInline(lines[index][prefix.end():])[0]
        marker = RELATED_MARKER.match(plain_text(inline))
        if not marker:
            continue
        title = marker["title"].strip().rstrip(":").strip()
        if not title:
            raise IngestError("related-link marker has no title", path=path, line=first_line + index)
        related.append(title)
        if prefix.group().strip():
            removed.add(index)
        else:
            kept[index] = ""
    return [line for index, line in enumerate(kept) if index not in removed], tuple(related)


def parse_markdown_body(
    text: str, *, path: str, first_line: int, title: str | None,
) -> tuple[str, str, str | None, str | None, str | None, tuple[str, ...], str | None]:
    """(content HTML, lead text, headline from a leading H1, city, publication, related titles,
    the dateline as written).

    ``title`` is the headline given elsewhere: a leading H1 equal to it is dropped from
    the body; without one, a leading H1 becomes the headline.
    """
    md = _markdown()
    lines, related = _take_related(md, xml_safe(text).split("\n"), first_line, path)
    tokens = md.parse("\n".join(lines))
    blocks = [t for t in tokens  # the top-level blocks, in order
              if t.level == 0 and t.map and (t.type.endswith("_open") or t.type in ("fence", "code_block", "hr"))]
    heading = None
    if blocks and blocks[0].type == "heading_open" and blocks[0].tag == "h1":
        h1_text = plain_text(tokens[tokens.index(blocks[0]) + 1])
        if h1_text and (title is None or normalise_title(h1_text) == normalise_title(title)):
            heading = h1_text if title is None else None
            for index in range(*blocks.pop(0).map):
                lines[index] = ""
    city = publication = dateline = None
    if blocks and blocks[0].type == "paragraph_open":   # the lead may open with a dateline
        index = blocks[0].map[0]
        indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
        found_city, found_publication, lead = split_dateline(lines[index].strip())
        if found_city is not None and found_city.strip("*_ "):
            lines[index] = indent + lead
            city, publication = found_city.strip("*_ "), found_publication
            dateline = (written_dateline(lines[index].strip(), lead) or "").strip("*_ ") or None
    for token in tokens:
        if token.type == "paragraph_open" and token.map:
            last = token.map[1] - 1
            lines[last] = END_MARK.sub("", lines[last]).rstrip()
    tokens = md.parse("\n".join(lines))
    lead = next((plain_text(tokens[i + 1]) for i, t in enumerate(tokens)
                 if t.type == "paragraph_open" and plain_text(tokens[i + 1])), None)
    if lead is None:
        raise IngestError("the article has no body text", path=path, line=first_line)
    html = md.renderer.render(tokens, md.options, {}).strip()
    return html, lead, heading, city, publication, related, dateline


def read_markdown_draft(
    data: bytes,
    *,
    path: str,
    settings: IngestSettings,
    overrides: Mapping[str, object] | None = None,
) -> ArticleDraft:
    """Parse one Markdown file; ``overrides`` (command-line flags) win over front matter."""
    text, fields, body_text, body_line, warnings = read_front_matter(
        data, path=path, settings=settings, overrides=overrides)
    html, lead, heading, city, publication, related, dateline = parse_markdown_body(
        body_text, path=path, first_line=body_line, title=fields["title"],
    )
    if heading is not None:
        fields = {**fields, "title": heading}
    return assemble_draft(
        path=path, fields=fields, lead=lead, content_html=html, content_text=xml_safe(text),
        default_slug=Path(path).stem, city=city, publication=publication, related_titles=related,
        dateline=dateline, warnings=warnings,
    )
