"""An article's stored versions: snapshot <-> Article, and what changed between two.

Pure functions; the store calls them inside its write transactions (see
``SQLiteStore.history``). A snapshot is a JSON object with one key per field of
:class:`~sources.model.Article`: datetimes as ISO 8601 with their offset, the
image as an object, related links as the editor's words (a link bound to its target
as ``{"title", "target"}``, a pending one as its title alone) and the store's
suggestions as ``{"title", "target", "suggested": true}``: a version is what readers
saw, so a link that resolved or a suggestion that came makes a version of its own.
Snapshots from before links were bound hold titles only. ``stored`` is
left out: the revision row keeps that time.

Fields are read from the dataclass, so a field added to ``Article`` later is
kept without touching this module, and an old snapshot that lacks it loads with
the field's default.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, fields
from datetime import datetime
from enum import Enum
from typing import Any

from .model import Article, Image, RelatedLink, Revision, Status

CREATED = "created"   # what ``changed`` says of the first version
_SKIPPED = frozenset({"stored"})


def _article_fields():
    return [f for f in fields(Article) if f.name not in _SKIPPED]


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Image):
        return {"url": value.url, "media_type": value.media_type, "length": value.length}
    if isinstance(value, RelatedLink):
        if value.target_id is None and not value.suggested:
            return value.title
        return {"title": value.title, "target": value.target_id, **({"suggested": True} if value.suggested else {})}
    if isinstance(value, tuple):
        return [_encode(item) for item in value]
    return value


def _decode(annotation: str, value: Any) -> Any:
    # Annotations are strings here (postponed evaluation), e.g. "datetime", "Image | None".
    if value is None:
        return None
    if "RelatedLink" in annotation:
        return tuple(RelatedLink(link) if isinstance(link, str)
                     else RelatedLink(link["title"], link.get("target"), suggested=bool(link.get("suggested")))
                     for link in value)
    if "datetime" in annotation:
        return datetime.fromisoformat(value)
    if "Image" in annotation:
        return Image(value["url"], value.get("media_type"), value.get("length"))
    if "Status" in annotation:
        return Status(value)
    if annotation.startswith("tuple"):
        return tuple(value)
    return value


def snapshot(article: Article) -> dict[str, Any]:
    """The version as a JSON-ready dict (field order kept)."""
    return {f.name: _encode(getattr(article, f.name)) for f in _article_fields()}


def dumps(article: Article) -> str:
    return json.dumps(snapshot(article), ensure_ascii=False)


def from_snapshot(data: Mapping[str, Any] | str, stored: datetime | None) -> Article:
    """The Article a snapshot describes, ``stored`` at the given time."""
    if isinstance(data, str):
        data = json.loads(data)
    values: dict[str, Any] = {}
    for f in _article_fields():
        if f.name in data:
            values[f.name] = _decode(str(f.type), data[f.name])
        elif f.default is MISSING and f.default_factory is MISSING:
            values[f.name] = None   # a required field newer than the snapshot
    return Article(**values, stored=stored)


def _comparable(article: Article, name: str) -> Any:
    value = getattr(article, name)
    if name == "related":   # what each link is and where it leads; not whether its target is visible
        return tuple((link.title, link.target_id, link.suggested) for link in value)
    return value


def changes(previous: Article, current: Article) -> list[str]:
    """Names of the fields that differ, in the order Article declares them.

    Times compare as instants (the same moment written with another offset is
    no change); ``stored`` is bookkeeping and never counts.
    """
    return [f.name for f in _article_fields()
            if _comparable(previous, f.name) != _comparable(current, f.name)]


def build_history(rows: Iterable[tuple[int, str, str]]) -> list[Revision]:
    """Revisions from stored ``(number, stored ISO 8601, snapshot JSON)`` rows, oldest first."""
    history: list[Revision] = []
    for number, stored, data in sorted(rows, key=lambda row: row[0]):
        article = from_snapshot(data, datetime.fromisoformat(stored))
        changed = tuple(changes(history[-1].article, article)) if history else (CREATED,)
        history.append(Revision(number, article.stored, article, changed))
    return history
