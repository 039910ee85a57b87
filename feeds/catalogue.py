"""The feed catalogue: besides the main feed, one feed per category, tag and author.

URLs (every format each)::

    /category/<slug>/rss.xml   /category/<slug>/atom.xml   /category/<slug>/feed.json
    /tag/<slug>/...            /author/<slug>/...

Slugs are lowercase ASCII made from the name ("Pilkada 2024" -> "pilkada-2024");
a name with no Latin letters or digits gets "t-" and a short hash of the name;
names that make the same slug are told apart in sorted order with "-2", "-3"
(so a slug only changes if a name sorting before it with the same slug appears).
"""

from __future__ import annotations

import hashlib

from sources.text import slugify

from .entries import FeedDefinition
from .site import SiteSettings

KIND_TITLE = {"category": "Kategori", "tag": "Topik", "author": "Penulis"}


def term_slugs(names: list[str]) -> dict[str, str]:
    """name -> slug, unique within one kind, stable for a given set of names."""
    slugs: dict[str, str] = {}
    taken: set[str] = set()
    for name in sorted(names):
        base = slugify(name) or "t-" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
        slug, n = base, 1
        while slug in taken:
            n += 1
            slug = f"{base}-{n}"
        taken.add(slug)
        slugs[name] = slug
    return slugs


def term_feed(kind: str, name: str, slug: str, site: SiteSettings) -> FeedDefinition:
    base = f"{kind}/{slug}"
    return FeedDefinition(
        key=base,
        title=f"{site.title}: {name}",
        description=f"{KIND_TITLE.get(kind, kind)} {name} — {site.description}",
        html_url=site.url(""),
        rss_path=f"{base}/rss.xml",
        atom_path=f"{base}/atom.xml",
        json_path=f"{base}/feed.json",
    )
