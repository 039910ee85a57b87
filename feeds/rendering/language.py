"""The strings people read, one catalogue per language: ``strings/<language>.toml``.

Every human-facing string of every document (pages, feed titles and descriptions,
the "Baca juga" label in entries) comes from the catalogue of ``site.language``;
``id`` and ``en`` are built in. A language tag with a region ("en-US") uses its
language's catalogue. Dates for people have one format per language (the
catalogue's ``date``); feeds keep the formats their specifications require.

    >>> text = strings("id")
    >>> text["latest"]
    'Artikel terbaru'
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> when(datetime(2024, 9, 18, 14, 30, tzinfo=ZoneInfo("Asia/Jakarta")), text)
    '18 September 2024, 14.30 WIB'
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from importlib import resources
from types import MappingProxyType

from sources.errors import FeedpubError

REFERENCE = "en"   # every catalogue has this one's keys


class CatalogueError(FeedpubError):
    """A language has no catalogue, or its catalogue is not complete."""


@cache
def languages() -> tuple[str, ...]:
    """The languages with a catalogue, sorted: ("en", "id")."""
    folder = resources.files("feeds.rendering") / "strings"
    return tuple(sorted(item.name.removesuffix(".toml") for item in folder.iterdir() if item.name.endswith(".toml")))


def catalogue_language(tag: str) -> str:
    """The catalogue a BCP 47 tag uses ("en-US" -> "en"); CatalogueError when there is none."""
    primary = tag.split("-")[0].lower()
    if primary not in languages():
        raise CatalogueError(f"no strings for language {tag!r}: built in are {', '.join(languages())}")
    return primary


def strings(tag: str) -> Mapping:
    """The catalogue of the language ``tag``: key -> string (``months``: a tuple, ``kinds`` and
    ``groups``: kind -> string). Read-only."""
    return _catalogue(catalogue_language(tag))


@cache
def _catalogue(language: str) -> Mapping:
    found = _read(language)
    if language != REFERENCE:
        reference = _read(REFERENCE)
        for key, value in reference.items():
            if key not in found:
                raise CatalogueError(f"strings/{language}.toml: {key!r} is missing (strings/{REFERENCE}.toml has it)")
            if isinstance(value, dict) and set(value) != set(found[key]):
                raise CatalogueError(f"strings/{language}.toml: [{key}] must have the keys {sorted(value)}")
    if len(found["months"]) != 12:
        raise CatalogueError(f"strings/{language}.toml: 'months' must name 12 months")
    frozen = {key: MappingProxyType(value) if isinstance(value, dict) else tuple(value) if isinstance(value, list)
              else value for key, value in found.items()}
    return MappingProxyType(frozen)


def _read(language: str) -> dict:
    path = resources.files("feeds.rendering") / "strings" / f"{language}.toml"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogueError(f"strings/{language}.toml: {exc}") from exc


def when(moment: datetime, text: Mapping) -> str:
    """A date and time for people, in the catalogue's one format, in ``moment``'s zone."""
    return text["date"].format(day=moment.day, month=text["months"][moment.month - 1], year=moment.year,
                               hour=moment.hour, minute=moment.minute, zone=moment.tzname() or "")


def month_name(month: str, text: Mapping) -> str:
    """"2024-09" -> "September 2024"."""
    year, number = month.split("-")
    return text["month"].format(month=text["months"][int(number) - 1], year=int(year))
