"""The syndication partners' documents of a build, and the pre-flight check.

Each ``[partners.NAME]`` gets ``partners/NAME/rss.xml`` (under a secret segment when it
has a secret: feeds/site.py ``Partner.path``) in its profile's form, rendered by
feeds/rendering/partners.py from the newest articles readers see that pass the
partner's filters, read from the store only as far as the partner's feed needs (an
article the profile refuses lets the next one in), and the deletions and take-downs
(``feedpub unpublish`` of an article readers saw) of the last ``feeds.tombstone_days``.

A partner document is small (at most its profile's items) and reflects the whole
store, so every build that renders anything renders it again; what a build with
nothing changed must still notice is the clock: a take-down's announcement ending,
and an article growing older than a profile takes (:func:`partners_moved`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta

from sources.model import Article, Tombstone
from sources.store.roles import FeedQueries

from ..rendering.document import Document
from ..rendering.entries import Entry, make_entry
from ..rendering.partners import PartnerFeed, profile_of, render_partner
from ..site import Partner, SiteSettings

# The store's record of when an announced removal last changed (sources/store/sql.py ``_takedowns_changed``).
TAKEDOWNS = ("takedowns", None)
FIRST_READ = 64   # articles read at first for a partner's feed; four times more each time it needs more


def _matches(partner: Partner, categories: Iterable[str], tags: Iterable[str]) -> bool:
    return ((not partner.categories or bool(set(partner.categories) & set(categories)))
            and (not partner.tags or bool(set(partner.tags) & set(tags))))


def candidates(store: FeedQueries, partner: Partner, now: datetime) -> Iterator[Article]:
    """The articles readers see at ``now`` that pass the partner's filters, newest first (the
    main feed's order), read a batch at a time: through the filter's categories (else its
    tags) when it has some, the newest of each merged."""
    terms = ([("category", name) for name in partner.categories] or [("tag", name) for name in partner.tags]
             or [(None, None)])
    limit, given = FIRST_READ, 0
    while True:
        lists = [store.latest_ids(kind, name, now, limit) for kind, name in terms]
        articles = store.articles(list(dict.fromkeys(article_id for ids in lists for article_id in ids)), now)
        articles.sort(reverse=True, key=lambda article: (int(article.published.timestamp()), article.id))
        exhausted = all(len(ids) < limit for ids in lists)
        # The newest ``limit`` of the merged lists are exactly the newest ``limit`` of the filter:
        # each is among the newest ``limit`` of every term it has.
        upto = len(articles) if exhausted else limit
        for article in articles[given:upto]:
            if _matches(partner, article.categories, article.tags):
                yield article
        given = upto
        if exhausted:
            return
        limit *= 4


def takedowns(store: FeedQueries, partner: Partner, site: SiteSettings, now: datetime) -> list[Tombstone]:
    """The partner's articles deleted or unpublished after readers saw them, in the last
    ``feeds.tombstone_days``, newest first."""
    since = now - timedelta(days=site.tombstone_days)
    found = store.deleted_since(since, now) + store.unpublished_since(since, now)
    found.sort(key=lambda tombstone: (-tombstone.deleted.timestamp(), tombstone.id))
    if partner.categories or partner.tags:
        placed = store.placements([tombstone.id for tombstone in found])
        found = [tombstone for tombstone in found if tombstone.id in placed
                 and _matches(partner, placed[tombstone.id].categories, placed[tombstone.id].tags)]
    return found


def partner_feeds(store: FeedQueries, site: SiteSettings, now: datetime, slugs: Mapping[str, Mapping[str, str]],
                  names: Iterable[str] | None = None) -> list[PartnerFeed]:
    """Each partner's feed (only those ``names``, when given) with what it would refuse."""
    wanted = set(names) if names is not None else None
    entries: dict[str, Entry] = {}   # partners mostly share their articles: each sanitised once

    def entry_of(article: Article) -> Entry:
        if article.id not in entries:
            entries[article.id] = make_entry(article, site, slugs)
        return entries[article.id]

    left = dict(store.feeds_changed()) if site.partners else {}
    if site.partners:
        # The newest take-down whose announcement ended since: it left every partner's feed then.
        window = timedelta(days=site.tombstone_days)
        aged = store.taken_down_before(now - window)
        if aged is not None:
            left[TAKEDOWNS] = max(left.get(TAKEDOWNS, aged), aged + window + timedelta(seconds=1))
    return [render_partner(partner, site, candidates(store, partner, now), takedowns(store, partner, site, now),
                           slugs, now, entry_of, left=last_left(partner, left))
            for partner in site.partners if wanted is None or partner.name in wanted]


def last_left(partner: Partner, left: Mapping[tuple[str | None, str | None], datetime]) -> datetime | None:
    """When an article last left the partner's feed other than for a newer one: left the feeds its
    filters draw from (its categories and tags, else the main feed) by an edit out of them, an
    unpublish or a deletion; or an announced removal changed or ended (shown again, edited out of
    its filters, or older than ``feeds.tombstone_days``)."""
    feeds = ([("category", name) for name in partner.categories] + [("tag", name) for name in partner.tags]
             or [(None, None)])
    return max((left[feed] for feed in [*feeds, TAKEDOWNS] if feed in left), default=None)


def partner_documents(store: FeedQueries, site: SiteSettings, now: datetime,
                      slugs: Mapping[str, Mapping[str, str]]) -> list[Document]:
    return [feed.document for feed in partner_feeds(store, site, now, slugs)]


def check(store: FeedQueries, site: SiteSettings, now: datetime, names: Iterable[str] | None = None
          ) -> list[PartnerFeed]:
    """What ``feedpub partners check`` reports: each partner's feed as a build would make it now."""
    slugs = {kind: store.section_slugs(kind, now) for kind in site.catalogue}
    return partner_feeds(store, site, now, slugs, names)


def partners_moved(store: FeedQueries, site: SiteSettings, since: datetime, now: datetime) -> bool:
    """Whether the clock alone changed a partner's document since the last build (at ``since``):
    a take-down's announcement ended, or an article grew older than a profile takes.
    (Deletions' announcements ending are the build's own tombstones' business.)"""
    if not site.partners:
        return False
    days = timedelta(days=site.tombstone_days)
    if store.unpublished_since(since - days, now - days):
        return True
    ages = {int(profile_of(partner).value("max_age_days")) for partner in site.partners
            if profile_of(partner).rule("max_age_days")}
    # A second wider: publication times are whole seconds, the clock need not be.
    return any(store.released_between(since - timedelta(days=age, seconds=1), now - timedelta(days=age))
               for age in ages)


def private_paths(site: SiteSettings) -> frozenset[str]:
    """The documents under a partner's secret: never announced to a hub."""
    return frozenset(partner.path for partner in site.partners if partner.private)
