"""Partner feeds: RSS 2.0 in the form each syndication partner ingests.

Pure: (a partner, its candidate articles newest first, its take-downs, the site's
settings, the build's clock) -> the document at ``partners/NAME/rss.xml`` and what the
partner would refuse or show badly (:class:`Finding`: ``feedpub partners check`` lists
them). The rules come from the profile table (feeds/rendering/profiles.py):

- an article that breaks a hard rule (a title MSN refuses, no image Kurio can show,
  a story another partner sent us ...) is left out and the next one takes its place;
- one that breaks a soft rule goes in, adjusted where feedpub can (an image below the
  partner's minimum is left out of the item, tags MSN does not allow are removed, a
  short description is made from the text) and the finding says how it shows;
- the document itself is held to its limits: the oldest items leave until it fits.

Edits, deletions and take-downs (``feedpub unpublish``) are said in each partner's
language (the ``edits`` and ``deletions`` rules): MSN's ``dcterms:modified`` and an
``mi:expirationDate`` in the past, SmartNews's ``media:status`` with a new ``pubDate``,
Google's ``pubDate``. The public feeds are not touched by any of it.

Every date a document shows is a stored one (publication, edit, deletion), never the
clock, so the same store gives the same bytes; the clock only decides what is in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

import lxml.html
import nh3
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.util import xml_elem

from sources.model import Article, Tombstone

from ..site import Partner, SiteSettings
from .document import Document
from .entries import EPOCH, Entry, FeedDefinition, FeedView, make_entry
from .formats import RSS_TYPE, _add_entry, _generator, hex_escape_plain_text, update_schedule
from .language import strings
from .profiles import DCTERMS_NS, MEDIA_NS, MSN_NS, PROFILES, SNF_NS, Profile
from .splice import split_entries

UTC = timezone.utc
WIB = timezone(timedelta(hours=7), "WIB")   # Kurio's dates: +0700
_MARKUP = re.compile(r"<[A-Za-z/!?]")


@dataclass(frozen=True)
class Finding:
    """Why a partner refuses an article, or shows it (or the feed) badly."""

    article_id: str | None   # None: the feed as a whole
    title: str               # the article's headline; "" for the feed
    refused: bool            # left out of the partner's feed (else it is in, shown badly)
    reason: str
    rule: str                # the key of the profile's rule (feeds/rendering/profiles.py) it breaks


@dataclass(frozen=True)
class PartnerFeed:
    partner: Partner
    document: Document
    items: tuple[str, ...]           # the articles in it, newest first
    withdrawn: tuple[str, ...]       # the deleted or unpublished articles it announces
    findings: tuple[Finding, ...]


def profile_of(partner: Partner) -> Profile:
    return PROFILES[partner.profile]


def item_count(profile: Profile, site: SiteSettings) -> int:
    """How many articles the partner's document holds: the site's ``feeds.items``, at least
    the profile's fewest and at most its most."""
    wanted = max(site.items_per_feed, int(profile.value("min_items", 0)))
    return min(wanted, int(profile.value("max_items", wanted)))


def text_of(html: str) -> str:
    """What a reader reads of ``html``: its text, white space collapsed."""
    if not html.strip():
        return ""
    return " ".join(lxml.html.fragment_fromstring(html, create_parent="div").text_content().split())


def _tags(html: str) -> set[str]:
    """The HTML elements ``html`` holds."""
    if not html.strip():
        return set()
    return {element.tag for element in lxml.html.fragment_fromstring(html, create_parent="div").iterdescendants()
            if isinstance(element.tag, str)}


def _cut(text: str, fewest: int, most: int) -> str:
    """``text`` cut after a word between ``fewest`` and ``most`` characters, with an ellipsis."""
    if len(text) <= most:
        return text
    space = text.rfind(" ", fewest, most)
    return text[:space if space != -1 else most].rstrip(" ,;:") + "…"


def _zone(profile: Profile, site: SiteSettings):
    return {"utc": lambda moment: moment.astimezone(UTC),
            "+0700": lambda moment: moment.astimezone(WIB)}.get(str(profile.value("dates", "site")), site.local)


class _Assessment:
    """One article against a profile: its entry as the partner gets it, and the findings."""

    def __init__(self, article: Article, entry: Entry, partner: Partner, site: SiteSettings, now: datetime):
        self.article, self.partner, self.site, self.now = article, partner, site, now
        self.profile = profile_of(partner)
        self.findings: list[Finding] = []
        self.refused = False
        self.entry = self._adjusted(entry)

    def note(self, rule: str, reason: str, *, refused: bool) -> None:
        self.refused = self.refused or refused
        self.findings.append(Finding(self.article.id, self.article.title, refused, reason, rule))

    def _adjusted(self, entry: Entry) -> Entry:
        profile, article, name = self.profile, self.article, self.partner.name
        if profile.value("own_articles") and article.via_url:
            self.note("own_articles", f"taken from the feed of {article.via_name or article.via_url}: that "
                      "partner's story, not the newsroom's to syndicate", refused=True)
        if profile.value("one_language") and article.language.split("-")[0] != self.site.language.split("-")[0]:
            self.note("one_language", f"written in {article.language!r}; {name}'s feed is in "
                      f"{self.site.language!r} (one language per feed)", refused=True)
        age = profile.value("max_age_days")
        if age is not None and self.now - article.published > timedelta(days=int(age)):
            self.note("max_age_days", f"published {(self.now - article.published).days} days ago; {name} takes "
                      f"nothing older than {age} days", refused=True)
        title_range = profile.value("title_chars")
        if title_range is not None:
            fewest, most = title_range
            if not fewest <= len(entry.title) <= most:
                self.note("title_chars", f"title has {len(entry.title)} characters; {name} wants {fewest} to {most}",
                          refused=True)
            if _MARKUP.search(entry.title):
                self.note("title_chars", f"title holds markup; {name} allows no HTML in a title", refused=True)
        body_text = text_of(entry.body_html)
        if profile.value("full_content") and not body_text:
            self.note("full_content", "no text: the partner wants the whole article", refused=True)
        body_range = profile.value("body_chars")
        if body_range is not None and body_text:
            fewest, most = body_range
            if not fewest <= len(body_text) <= most:
                self.note("body_chars", f"text has {len(body_text)} characters; {name} wants {fewest} to {most}",
                          refused=True)
        content = entry.content_html
        allowed = profile.value("body_tags")
        if allowed is not None:
            removed = sorted(_tags(content) - set(allowed))
            if removed:
                content = nh3.clean(content, tags=set(allowed), attributes={
                    "a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"}},
                    url_schemes={"http", "https", "mailto"}, link_rel=None, strip_comments=True)
                self.note("body_tags", f"{name} does not allow <{'>, <'.join(removed)}> in a body: removed, their "
                          "text kept", refused=False)
        summary = entry.summary
        fewest_description = profile.value("description_min_chars")
        if fewest_description is not None and len(summary) < int(fewest_description):
            made = _cut(body_text, int(fewest_description), int(fewest_description) + 200)
            summary = made if len(made) > len(summary) else summary
            if len(summary) < int(fewest_description):
                self.note("description_min_chars", f"description has {len(summary)} characters (the whole text); "
                          f"{name} wants {fewest_description} or more", refused=False)
        if profile.value("creator") and not entry.author:
            self.note("creator", f"no author for {name}'s dc:creator", refused=False)
        zone = _zone(profile, self.site)
        # When the version readers see was made: its ``updated`` as the store gives it at ``now``
        # (never ahead of the feed: sources/store/sql.py ``_load``).
        shown = article.updated if profile.value("edits") == "pubdate" else article.published
        return replace(entry, summary=summary, content_html=content, image=self._image(),
                       published=zone(shown), updated=zone(article.updated))

    def _image(self):
        profile, image, name = self.profile, self.article.image, self.partner.name
        required = bool(profile.value("image_required"))
        wants = next((key for key in ("image_required", "image_min", "thumbnail", "image_types") if profile.rule(key)),
                     None)
        if image is None:
            if wants:
                self.note(wants, "no lead image" + ("" if required else ": shown without one"), refused=required)
            return None
        why, rule = None, "image_min"
        types = profile.value("image_types")
        minimums = [profile.value("image_min")] if profile.rule("image_min") else []
        if self.partner.min_image:   # the partner's own filter, beside its profile's rule
            minimums.append(("shortest", self.partner.min_image))
        if types is not None and image.media_type not in types:
            rule = "image_types"
            why = f"{image.media_type or 'of unknown type'}; {name} takes {', '.join(sorted(types))}"
        elif minimums and not (image.width and image.height):
            why = "its size is not known yet (measured once the service looks it up)"
        for side, least in minimums if why is None else ():
            if (min if side == "shortest" else max)(image.width, image.height) < least:
                why = f"{image.width}x{image.height} px: its {side} side is under {least} px"
                break
        if why is None:
            return image
        self.note("image_required" if required else rule,
                  f"lead image {image.url} left out: {why}" + ("; no image left" if required else ""), refused=required)
        return None


class PartnerExtension(BaseExtension):
    """Channel elements a profile asks for: its namespaces and SmartNews's ``snf:logo``."""

    def __init__(self) -> None:
        self.namespaces: dict[str, str] = {}
        self.logo: str | None = None

    def extend_ns(self):
        return self.namespaces

    def extend_rss(self, rss_feed):
        if self.logo:
            # SmartFormat 2.0: <snf:logo><url>...</url></snf:logo> in <channel>.
            logo = xml_elem(f"{{{SNF_NS}}}logo", rss_feed[0])
            xml_elem("url", logo).text = self.logo
        return rss_feed

    def extend_atom(self, atom_feed):
        return atom_feed


class PartnerEntryExtension(BaseEntryExtension):
    """Item elements a profile asks for: MSN's modified and expiry dates, Media RSS's status."""

    def __init__(self) -> None:
        self.modified: str | None = None    # dcterms:modified (W3CDTF)
        self.expires: str | None = None     # mi:expirationDate
        self.status: str | None = None      # media:status state (Media RSS 1.5.1)

    def extend_rss(self, item):
        if self.modified:
            xml_elem(f"{{{DCTERMS_NS}}}modified", item).text = self.modified
        if self.expires:
            xml_elem(f"{{{MSN_NS}}}expirationDate", item).text = self.expires
        if self.status:
            xml_elem(f"{{{MEDIA_NS}}}status", item, state=self.status)
        return item

    def extend_atom(self, entry):
        return entry


def _withdrawn_entry(tombstone: Tombstone, profile: Profile, site: SiteSettings) -> Entry:
    """The item that tells a partner an article was deleted or taken down: its id, link and
    dates, none of its content (a take-down may be for legal reasons)."""
    text = strings(site.language)
    zone = _zone(profile, site)
    published = tombstone.published or tombstone.deleted
    shown = tombstone.deleted if profile.value("deletions") == "media-status" else published
    return Entry(id=tombstone.id, link=site.article_link(tombstone.url, tombstone.slug, tombstone.published),
                 title=text["withdrawn_title"], summary=text["withdrawn_text"],
                 content_html=f"<p>{text['withdrawn_text']}</p>", author=None, published=zone(shown),
                 updated=zone(tombstone.deleted), categories=(), tags=(), language=site.language, related=(),
                 changed=zone(tombstone.changed) if tombstone.changed else None)


def _document(partner: Partner, profile: Profile, site: SiteSettings, items: Sequence[Entry],
              withdrawn: Sequence[Entry]) -> tuple[bytes, str]:
    """The document's bytes and the time it shows (``lastBuildDate``): the newest date its items
    show, or the latest second the store gave a change of one of them (a version of the document
    never shares its second with the version before: sources/store/sql.py ``_change_second``)."""
    zone = _zone(profile, site)
    # A take-down's own date is when it was taken down: its article's publication time may since
    # have moved anywhere, even ahead of the store's clock (an unpublished draft edited).
    times = [entry.published for entry in items] + [entry.updated for entry in withdrawn]
    if profile.value("edits") == "modified":   # dcterms:modified shows it
        times += [entry.updated for entry in items]
    times += [entry.changed for entry in (*items, *withdrawn) if entry.changed is not None]
    updated = zone(max(times, default=EPOCH))
    description = site.description
    most = profile.value("channel_description_max")
    if most is not None:
        description = _cut(description, int(most) // 2, int(most) - 1)
    feed = FeedDefinition(f"partner/{partner.name}", site.title, description, site.url(""), partner.path,
                          partner.path, partner.path)
    # A secret feed names no hub: a hub would fetch it, and anyone subscribed there would learn its address.
    shown_site = replace(site, hubs=()) if partner.private else site
    fg = _generator(FeedView(feed, (), updated), shown_site, self_path=partner.path, self_type=RSS_TYPE, rss=True,
                    images=any(entry.image for entry in items))
    fg.pubDate(updated)    # SmartFormat wants the channel's <pubDate> too
    fg.ttl(max(1, math.ceil(site.rebuild_minutes)))
    fg.feedpub_sy.period, fg.feedpub_sy.frequency = update_schedule(site.rebuild_minutes)
    fg.register_extension("feedpub_partner", PartnerExtension, PartnerEntryExtension, atom=False, rss=True)
    fg.feedpub_partner.namespaces = dict(profile.value("namespaces", ()))
    if profile.value("deletions") == "media-status" and withdrawn:
        fg.feedpub_partner.namespaces["media"] = MEDIA_NS
    if profile.value("logo"):
        fg.feedpub_partner.logo = site.image_url
    deletions = profile.value("deletions")
    for entry, gone in [(entry, False) for entry in items] + [(entry, True) for entry in withdrawn]:
        _add_entry(fg, entry, shown_site, rss=True)
        extra = fg.entry()[-1].feedpub_partner
        if profile.value("edits") == "modified":
            extra.modified = entry.updated.isoformat()
        if gone and deletions == "expiry":
            extra.expires = entry.updated.isoformat()   # the deletion: in the past from then on
        if gone and deletions == "media-status":
            extra.status = "deleted"
    body = hex_escape_plain_text(fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True))
    return body, updated.isoformat()


def render_partner(partner: Partner, site: SiteSettings, articles: Iterable[Article], takedowns: Sequence[Tombstone],
                   slugs: Mapping[str, Mapping[str, str]], now: datetime,
                   entry_of: Callable[[Article], Entry] | None = None, left: datetime | None = None) -> PartnerFeed:
    """The partner's document from ``articles`` (visible at ``now``, newest first, already
    filtered by the partner's categories and tags; read only as far as needed) and the
    deletions and take-downs of the last ``feeds.tombstone_days`` (newest first).
    ``entry_of``: an article's entry as the public feeds have it (make_entry), when the caller
    keeps them for several partners. ``left``: when an article last left the document other than
    for a newer one (feeds/building/partners.py ``last_left``)."""
    entry_of = entry_of or (lambda article: make_entry(article, site, slugs))
    profile = profile_of(partner)
    wanted = item_count(profile, site)
    findings: list[Finding] = []
    kept: list[Entry] = []
    titles: dict[str, str] = {}
    source = iter(articles)
    # When each article weighed was stored, or aged out of the profile: one that leaves the
    # document (refused after an edit, too old now) moves its time on as one that enters does.
    weighed: list[datetime] = []
    age = profile.value("max_age_days")
    withdrawn = [] if profile.value("deletions", "drop") == "drop" else [
        _withdrawn_entry(tombstone, profile, site) for tombstone in takedowns]
    most_bytes, item_bytes = profile.value("max_feed_bytes"), profile.value("max_item_bytes")
    while True:
        for article in source:
            assessed = _Assessment(article, entry_of(article), partner, site, now)
            findings += assessed.findings
            weighed += [site.local(moment) for moment in (article.updated, article.stored) if moment]
            if age is not None and any(finding.rule == "max_age_days" for finding in assessed.findings):
                weighed.append(site.local(article.published + timedelta(days=int(age))))
            if not assessed.refused:
                kept.append(assessed.entry)
                titles[article.id] = article.title
                if len(kept) == wanted:
                    break
        body, updated = _document(partner, profile, site, kept, withdrawn)
        sizes = [len(fragment) for fragment in split_entries(body, "rss")[1][:len(kept)]]
        # An item over the limit of one article, or too large for the feed's limit on its own, is
        # left out and the next article takes its place.
        room = int(most_bytes) - (len(body) - sum(sizes)) if most_bytes is not None else None
        too_big = {}
        for entry, size in zip(kept, sizes):
            if item_bytes is not None and size > int(item_bytes):
                too_big[entry.id] = ("max_item_bytes", f"its item has {size} bytes; {partner.name} takes at most "
                                                       f"{item_bytes} per article")
            elif room is not None and size > room:
                too_big[entry.id] = ("max_feed_bytes", f"its item has {size} bytes: alone it would take the feed "
                                                       f"over {partner.name}'s limit of {most_bytes} bytes")
        if not too_big:
            break
        findings += [Finding(entry.id, titles[entry.id], True, too_big[entry.id][1], too_big[entry.id][0])
                     for entry in kept if entry.id in too_big]
        kept = [entry for entry in kept if entry.id not in too_big]
    while most_bytes is not None and len(body) > int(most_bytes) and kept:
        dropped = kept.pop()   # the oldest leaves first
        findings.append(Finding(dropped.id, titles[dropped.id], True,
                                f"the feed would be over {partner.name}'s limit of {most_bytes} bytes: left out "
                                "(the oldest first)", "max_feed_bytes"))
        body, updated = _document(partner, profile, site, kept, withdrawn)
    fewest = profile.value("min_items")
    if fewest is not None and len(kept) < int(fewest):
        findings.append(Finding(None, "", False, f"{len(kept)} items; {partner.name} wants at least {fewest}",
                                "min_items"))
    most = profile.value("channel_description_max")
    if most is not None and len(site.description) > int(most):
        findings.append(Finding(None, "", False, f"the site's description has {len(site.description)} characters; "
                                                 f"{partner.name} shows at most {most}: cut",
                                "channel_description_max"))
    # Last-Modified: also when an article was last stored, so a change the dates do not show (an
    # image measured, a link resolved) is not hidden from If-Modified-Since; and when one left.
    changed = [datetime.fromisoformat(updated), *weighed, *([site.local(left)] if left else [])]
    document = Document(partner.path, body, RSS_TYPE, max(changed).isoformat(), private=bool(partner.private))
    return PartnerFeed(partner, document, tuple(entry.id for entry in kept), tuple(entry.id for entry in withdrawn),
                       tuple(findings))
