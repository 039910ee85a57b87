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

from .entries import FeedDefinition, term_folder
from .rendering.language import strings
from .site import SiteSettings


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
    """Titled in the site's language: "OKES.NEWS — Kategori: Politik", described
    "Kategori: Politik — <the site's description>"; its page is the folder's index.html."""
    text = strings(site.language)
    folder = term_folder(kind, slug)
    section = text["section"].format(kind=text["kinds"][kind], name=name)
    return FeedDefinition(
        key=folder.rstrip("/"),
        title=text["feed_title"].format(site=site.title, section=section),
        description=text["feed_description"].format(section=section, description=site.description),
        html_url=site.url(folder),
        rss_path=f"{folder}rss.xml",
        atom_path=f"{folder}atom.xml",
        json_path=f"{folder}feed.json",
        page_path=f"{folder}index.html",
        label=section,
    )
