"""The feed catalogue: besides the main feed, one feed per category, tag and author.

URLs (every format each)::

    /category/<slug>/rss.xml   /category/<slug>/atom.xml   /category/<slug>/feed.json
    /tag/<slug>/...            /author/<slug>/...

Slugs are lowercase ASCII made from the name ("Pilkada 2024" -> "pilkada-2024");
a name with no Latin letters or digits gets "t-" and a short hash of the name;
names that make the same slug are told apart with "-2", "-3" in the order the names
came: the store assigns each name its address once and keeps it (``sections``), so a
later name never moves an earlier one's.

A slug is a folder's name, so it must fit the file systems' limit on one name,
255 bytes (ext4, XFS, btrfs, ZFS, tmpfs; NTFS counts UTF-16 units, and a slug is
ASCII). A slug longer than that is cut at a word boundary and ends with a digest
of the whole name: two long names alike in their first 250 characters still get
two folders, and a name gets the same folder in every build and on every
instance. Every slug that fitted before keeps its path; a longer one made a build
fail with "File name too long" before (issue #15).
"""

from __future__ import annotations

from sources.text import section_slug

from ..site import SiteSettings
from .entries import FeedDefinition, term_folder
from .language import strings


def term_slugs(names: list[str]) -> dict[str, str]:
    """name -> slug, unique within one kind, for names given all at once (in sorted order). A
    store assigns each name its slug once, in the order the names come (``sources.text.section_slug``);
    this is the same for a fixed set of names."""
    slugs: dict[str, str] = {}
    taken: set[str] = set()
    for name in sorted(names):
        slugs[name] = section_slug(name, taken)
        taken.add(slugs[name])
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
