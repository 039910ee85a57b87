"""The file formats an article arrives in, chosen by the file's suffix.

:func:`read_drafts` turns a file's bytes (plus command-line overrides) into drafts:
newsroom text (:mod:`.text`), Markdown (:mod:`.markdown`), HTML (:mod:`.html`),
JSON Lines (:mod:`.jsonl`, several drafts per file) and WordPress exports (:mod:`.wxr`,
``.xml`` files named directly: a stream of posts, and of items that are not articles). Each reader builds on the shared
field checks of :mod:`sources.drafts` and raises :class:`~sources.errors.IngestError`
naming file and line. Pure but for :func:`read_file_drafts`, which reads a file no
further than one article may hold.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from ..drafts import ArticleDraft, Skipped, flag_bytes, over_limit
from ..errors import IngestError
from ..model import IngestSettings
from .html import read_html_draft
from .jsonl import iter_jsonl_drafts, read_jsonl_drafts
from .markdown import read_markdown_draft
from .text import read_draft
from .wxr import iter_wxr_drafts

# The formats, by file suffix (any case). A file named directly with another suffix
# is read as newsroom text.
SOURCE_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".jsonl")
COUNT_CHUNK = 1 << 20   # bytes read at a time when counting a long file's items


def count_items(file: Path) -> int:
    """How many items ``file`` holds, for a progress bar: its lines for JSON Lines, its
    ``<item>`` elements for a WordPress export, else 1. Read in chunks; 1 if unreadable."""
    suffix = file.suffix.lower()
    if suffix not in (".jsonl", ".xml"):
        return 1
    mark = b"\n" if suffix == ".jsonl" else b"<item>"
    count, tail = 0, b""
    try:
        with file.open("rb") as stream:
            while chunk := stream.read(COUNT_CHUNK):
                data = tail + chunk
                count += data.count(mark)
                # A mark cut in two by the chunk's end is counted with the next chunk.
                tail = data[-(len(mark) - 1):] if len(mark) > 1 else b""
    except OSError:
        return 1
    return max(count, 1)


def read_drafts(
    data: bytes,
    *,
    path: str,
    settings: IngestSettings,
    overrides: Mapping[str, object] | None = None,
) -> list[ArticleDraft | IngestError]:
    """Every article a file holds, read as its suffix says.

    A file of one article raises :class:`IngestError` when it cannot be imported. A
    JSON Lines file holds many: a bad line's error stands in that line's place and
    the other lines are still read; it raises only for the file as a whole.
    """
    suffix = Path(path).suffix.lower()
    if suffix in (".md", ".markdown"):
        return [read_markdown_draft(data, path=path, settings=settings, overrides=overrides)]
    if suffix in (".html", ".htm"):
        return [read_html_draft(data, path=path, settings=settings, overrides=overrides)]
    if suffix == ".jsonl":
        return read_jsonl_drafts(data, path=path, settings=settings, overrides=overrides)
    return [read_draft(data, path=path, settings=settings, overrides=overrides)]


def read_file_drafts(
    file: Path,
    *,
    settings: IngestSettings,
    overrides: Mapping[str, object] | None = None,
) -> Iterator[ArticleDraft | IngestError | Skipped]:
    """:func:`read_drafts` of a file (a WordPress export's items: :mod:`.wxr`), never holding
    more of it than one article may hold
    (``max_article_bytes``, less what the flags add): a JSON Lines file is read line by line
    however large it is; any other file (one article) no further than the limit and a byte.
    Raises :class:`IngestError` or :class:`OSError` for the file as a whole."""
    path = str(file)
    if file.suffix.lower() == ".xml":
        yield from iter_wxr_drafts(file, settings=settings, overrides=overrides)
        return
    budget = max(settings.max_article_bytes - flag_bytes(overrides), 0)
    with file.open("rb") as stream:
        if file.suffix.lower() == ".jsonl":
            yield from iter_jsonl_drafts(stream, path=path, settings=settings, overrides=overrides)
            return
        data = stream.read(budget + 1)
    if len(data) > budget:
        raise IngestError(over_limit(settings, overrides, "it passes that size on this line"),
                          path=path, line=data.count(b"\n", 0, budget) + 1)
    yield from read_drafts(data, path=path, settings=settings, overrides=overrides)
