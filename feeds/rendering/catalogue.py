"""The feed catalogue: besides the main feed, one feed per category, tag and author.

URLs (every format each)::

    /category/<slug>/rss.xml   /category/<slug>/atom.xml   /category/<slug>/feed.json
    /tag/<slug>/...            /author/<slug>/...

Slugs are lowercase ASCII made from the name ("Pilkada 2024" -> "pilkada-2024");
a name with no Latin letters or digits gets "t-" and a short hash of the name;
names that make the same slug are told apart in sorted order with "-2", "-3"
(so a slug only changes if a name sorting before it with the same slug appears).

A slug is a folder's name, so it must fit the file systems' limit on one name,
255 bytes (ext4, XFS, btrfs, ZFS, tmpfs; NTFS counts UTF-16 units, and a slug is
ASCII). A slug longer than that is cut at a word boundary and ends with a digest
of the whole name: two long names alike in their first 250 characters still get
two folders, and a name gets the same folder in every build and on every
instance. Every slug that fitted before keeps its path; a longer one made a build
fail with "File name too long" before (issue #15).
"""

from __future__ import annotations

import hashlib

from sources.text import slugify

from ..site import SiteSettings
from .entries import FeedDefinition, term_folder
from .language import strings

NAME_MAX = 255      # bytes in one file or folder name (Linux NAME_MAX)
DIGEST_CHARS = 12   # of a long name's SHA-256: 48 bits, and "-2" still settles a clash


def term_slugs(names: list[str]) -> dict[str, str]:
    """name -> slug, unique within one kind, stable for a given set of names."""
    slugs: dict[str, str] = {}
    taken: set[str] = set()
    for name in sorted(names):
        base = slugify(name) or "t-" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
        if len(base) > NAME_MAX:
            base = _shortened(base, name)
        slug, n = base, 1
        while slug in taken:
            n += 1
            slug = f"{_cut(base, NAME_MAX - len(str(n)) - 1)}-{n}"
        taken.add(slug)
        slugs[name] = slug
    return slugs


def _shortened(slug: str, name: str) -> str:
    """``slug`` cut at a word boundary to fit :data:`NAME_MAX` with a digest of ``name``."""
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:DIGEST_CHARS]
    return f"{_cut(slug, NAME_MAX - len(digest) - 1)}-{digest}"


def _cut(slug: str, limit: int) -> str:
    """``slug`` in at most ``limit`` characters, at the last word boundary when there is one
    in its second half (a name of one long word is cut where the limit falls)."""
    if len(slug) <= limit:
        return slug
    head = slug[:limit]
    if slug[limit] != "-" and head.rfind("-") > limit // 2:
        head = head[:head.rfind("-")]
    return head.rstrip("-")


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
