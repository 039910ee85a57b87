"""Where an article stands: the part of it that decides which documents show it.

An incremental build (feeds/building/build.py) compares an article's placement at the last
build, which the store's change log kept, with its placement now, and renders again
the documents either one puts it in.

A *place* in a feed's history is an article readers can see, or could see until it
was deleted: deleting an article leaves its place, so the archive pages after it
keep their entries (feeds/rendering/archive.py). :meth:`Placement.is_place` states that rule;
the store's queries state it once more in SQL (``PLACE`` in sources/store/schema.py),
and tests/test_placement.py checks that the two agree.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

from .model import Status


class Unknown(enum.Enum):
    """A field a placement logged by an older feedpub did not record."""

    UNKNOWN = "unknown"


UNKNOWN = Unknown.UNKNOWN


@dataclass(frozen=True)
class Placement:
    status: Status                    # published, draft or deleted
    published_ts: int                 # publication time, Unix seconds (in the future: embargoed)
    deleted_ts: int | None            # when it was deleted while readers could see it; None otherwise
    categories: tuple[str, ...]       # each has a feed (when the site lists categories)
    tags: tuple[str, ...]             # likewise
    author: str | None                # likewise
    title: str | Unknown              # what a related link to it shows ...
    slug: str | Unknown               # ... and where it leads: the article's page ...
    url: str | None | Unknown         # ... or its canonical URL (None: the page the build writes)

    def is_place(self, at_ts: int) -> bool:
        """Whether the article holds a place in its feeds' history at ``at_ts`` (Unix seconds)."""
        return self.published_ts <= at_ts and (
            self.status is Status.PUBLISHED or (self.status is Status.DELETED and self.deleted_ts is not None))

    def link_view(self, at_ts: int) -> tuple[str, str, str | None, int] | Unknown | None:
        """What a related link to the article shows at ``at_ts``: its title and address while
        readers can see it (``LinkTarget``: slug, URL, and the publication time, whose month a
        site's ``article_url`` may name), None when the link shows nothing of it, UNKNOWN
        when the log did not record what it shows."""
        if self.status is not Status.PUBLISHED or self.published_ts > at_ts:
            return None
        title, slug, url = self.title, self.slug, self.url
        if isinstance(title, Unknown) or isinstance(slug, Unknown) or isinstance(url, Unknown):
            return UNKNOWN
        return title, slug, url, self.published_ts

    @classmethod
    def from_json(cls, text: str) -> Placement:
        """The placement the store wrote as JSON (``PLACEMENT`` in sources/store/schema.py).

        A placement logged before titles were recorded lacks title, slug and url: UNKNOWN."""
        found = json.loads(text)
        return cls(
            status=Status(found["status"]), published_ts=found["published_ts"], deleted_ts=found["deleted_ts"],
            categories=tuple(found["categories"]), tags=tuple(found["tags"]), author=found["author"],
            title=found.get("title", UNKNOWN), slug=found.get("slug", UNKNOWN), url=found.get("url", UNKNOWN))
