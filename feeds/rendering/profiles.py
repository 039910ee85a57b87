"""What each syndication partner's published specification asks of a feed: one table.

A partner ingests RSS 2.0 in a form of its own (``[partners.NAME] profile``). Each
:class:`Profile` is a tuple of :class:`Rule` values: what the rule governs (``key``),
its figure, whether breaking it refuses an article (``hard``: the article is left out of
that partner's feed and ``feedpub partners check`` lists it) or only shows it badly, and
where the partner says so. The partner renderer (feeds/rendering/partners.py) applies
these values; tests/test_partners.py checks every built partner document against the
same table with checks of its own; docs/PARTNERS.md gives each rule with its source.

A source marked "issue 21" is a rule the newsroom's request states and none of the
partner's stored pages confirmed (docs/PARTNERS.md says which); "feedpub" marks a rule
of ours, not the partner's.
"""

from __future__ import annotations

from dataclasses import dataclass

MSN_NS = "http://schemas.ingestion.microsoft.com/common/"
DCTERMS_NS = "http://purl.org/dc/terms/"
MEDIA_NS = "http://search.yahoo.com/mrss/"
SNF_NS = "http://www.smartnews.be/snf"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
DC_NS = "http://purl.org/dc/elements/1.1/"

# Where each partner says it (docs/PARTNERS.md quotes them).
MSN_ITEMS = "https://support.microsoft.com/msn/partner-hub/msn-feed-item-metadata-requirements"
MSN_TAKEDOWN = "https://support.microsoft.com/msn/partner-hub/msn-content-expiration-and-takedown-rules"
MSN_SETUP = "https://support.microsoft.com/en-us/msn/partner-hub/msn-feed-setup-and-configuration"
MSN_HTML = "https://helpcenter.microsoftstart.com/kb/articles/54-html"
MSN_SPECS = "https://helpcenter.microsoftstart.com/kb/feed-specifications"
MSN_ITEM_REQUIREMENTS = "https://helpcenter.microsoftstart.com/kb/articles/51-feed-item-requirements"
MSN_FAQ = ("https://support.microsoft.com/en-au/topic/"
           "feed-management-faq-for-msn-partner-hub-4690c187-b7e3-4a1e-b738-c294959f009c")
SMARTFORMAT = "https://publishers.smartnews.com/hc/en-us/articles/360036526213"
SMARTFORMAT_JA = "https://publishers.smartnews.com/hc/ja/articles/360036526213"
SMARTNEWS_UPDATES = "https://publishers.smartnews.com/hc/ja/articles/4409349226393"
MEDIA_RSS = "https://www.rssboard.org/media-rss#media-status"
GOOGLE_TECHNICAL = "https://support.google.com/news/publisher-center/answer/9545420"
GOOGLE_INCLUSION = "https://support.google.com/news/producer/answer/4304250"
FLIPBOARD = "https://about.flipboard.com/rss-spec/"
FLIPBOARD_FAQ = "https://flipboard.helpshift.com/hc/en/1-flipboard/faq/1023-resubmit-an-rss-feed/"
KURIO = "Kurio Publisher Guide 1.0, 2016-10-13 (https://www.scribd.com/document/360620047/RSS-Publisher-Guide-EnG)"
ISSUE = "issue 21 (not in the partner's pages stored here)"
FEEDPUB = "feedpub"

# MSN's body tags ("Allowed HTML Tags"); anything else is removed, its text kept.
MSN_TAGS = frozenset({
    "b", "i", "em", "strong", "sub", "sup", "small", "h1", "h2", "h3", "h4", "h5", "a", "img", "table", "th",
    "tr", "td", "thead", "tbody", "tfoot", "col", "caption", "colgroup", "ol", "ul", "li", "span", "div", "p",
    "br", "blockquote",
})


@dataclass(frozen=True)
class Rule:
    """One thing a partner's specification asks, as feedpub applies it.

    ``key`` (what ``value`` is):

    - ``namespaces``: prefix -> URI pairs every document declares;
    - ``title_chars``: (fewest, most) characters of an item's plain-text title;
    - ``body_chars``: (fewest, most) characters of an article's text (its HTML's text content);
    - ``body_tags``: the HTML tags its body may hold (others are removed, their text kept);
    - ``full_content``: every item carries the whole article in ``content:encoded``;
    - ``image_types``: the media types a lead image may have (another is left out);
    - ``image_min``: (``"shortest"`` or ``"longest"`` side, pixels): a smaller image is left out,
      and so is one whose size is not known;
    - ``image_required``: an article without a lead image the partner takes is refused;
    - ``thumbnail``: an item with an image carries ``media:thumbnail``;
    - ``max_items`` / ``min_items``: the most / fewest items of a document;
    - ``max_feed_bytes``: the document's size (the oldest items leave until it fits);
    - ``max_item_bytes``: one item's size;
    - ``max_age_days``: an article published longer ago is refused;
    - ``one_language``: every item in the feed's language (another language is refused);
    - ``channel_description_max``: characters of the channel's description (cut to fit);
    - ``description_min_chars``: characters of an item's plain-text description (made from the
      body's text when the summary is shorter);
    - ``creator``: an item with an author names it in ``dc:creator``;
    - ``dates``: every date's zone: ``"utc"``, ``"+0700"`` or ``"site"``;
    - ``no_future_dates``: no date after the build's clock;
    - ``edits``: how an edit is announced: ``"modified"`` (a newer ``dcterms:modified``) or
      ``"pubdate"`` (a new ``pubDate``);
    - ``deletions``: how a deletion or a take-down (``feedpub unpublish``) is announced for
      ``feeds.tombstone_days``: ``"expiry"`` (the item stays, ``mi:expirationDate`` in the past and
      a newer ``dcterms:modified``), ``"media-status"`` (``media:status state="deleted"`` and a new
      ``pubDate``) or ``"drop"`` (the item leaves: the partner reads nothing else);
    - ``logo``: the channel's ``snf:logo``;
    - ``guid``: every item has a ``guid`` that never changes (the article's id);
    - ``own_articles``: only the newsroom's own articles, never those taken from a partner's feed.
    """

    key: str
    value: object
    hard: bool
    source: str


@dataclass(frozen=True)
class Profile:
    name: str
    title: str                   # the partner, as people call it
    rules: tuple[Rule, ...]

    def rule(self, key: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.key == key), None)

    def value(self, key: str, default: object = None) -> object:
        found = self.rule(key)
        return found.value if found is not None else default


_COMMON = (
    Rule("guid", True, True, "RSS 2.0 <guid>; every partner identifies an item by it"),
    Rule("own_articles", True, True, FEEDPUB + ": an article taken from a partner's feed is that partner's "
                                              "to syndicate, not the newsroom's"),
)

PROFILES: dict[str, Profile] = {profile.name: profile for profile in (
    Profile("msn", "Microsoft Start / MSN", _COMMON + (
        Rule("namespaces", (("mi", MSN_NS), ("dcterms", DCTERMS_NS), ("media", MEDIA_NS)), True,
             MSN_SETUP + " (Supported feed formats: Media RSS, Dublin Core, Microsoft Ingestion Services); "
             + MSN_TAKEDOWN),
        Rule("title_chars", (21, 150), True, MSN_ITEMS + " (Title: more than 20 characters, at most 150; no HTML)"),
        Rule("body_chars", (450, 500_000), True, ISSUE),
        Rule("body_tags", MSN_TAGS, False, MSN_HTML + " (Allowed HTML Tags)"),
        Rule("full_content", True, True, MSN_ITEMS + " (Body is required)"),
        Rule("image_types", frozenset({"image/jpeg", "image/png", "image/webp"}), False,
             MSN_SPECS + " (Supported Image Formats; GIF cannot be a promotional picture)"),
        Rule("image_min", ("longest", 720), False, MSN_SPECS + " (Image Size: at least 720px in height or width)"),
        Rule("max_age_days", 365, True, MSN_ITEMS + " (Published date: in the past and less than 365 days old)"),
        Rule("one_language", True, True, MSN_FAQ + " (each feed URL: content only in its language)"),
        Rule("max_feed_bytes", 10_000_000, True, MSN_SETUP + " (The maximum feed size is 10 MB)"),
        Rule("dates", "utc", True, MSN_ITEM_REQUIREMENTS + " (Date formats: time zones in UTC)"),
        Rule("edits", "modified", True, MSN_TAKEDOWN + "; " + MSN_ITEMS + " (Updated date)"),
        Rule("deletions", "expiry", True, MSN_TAKEDOWN + " (expiration date in the past, a newer updated date, "
                                                         "the same unique ID)"),
    )),
    Profile("smartnews", "SmartNews", _COMMON + (
        Rule("namespaces", (("content", CONTENT_NS), ("dc", DC_NS), ("media", MEDIA_NS), ("snf", SNF_NS)), True,
             SMARTFORMAT + " (Namespaces; the <rss> element)"),
        Rule("logo", True, False, SMARTFORMAT + " (<snf:logo> in <channel>, version 2.0)"),
        Rule("channel_description_max", 30, False, SMARTFORMAT + " (<channel><description>: 30 characters or less)"),
        Rule("full_content", True, True, ISSUE),
        Rule("thumbnail", True, False, ISSUE),
        Rule("max_feed_bytes", 1_000_000, True, SMARTFORMAT_JA + " (ファイル容量: 全体で1MB以内)"),
        Rule("no_future_dates", True, True, ISSUE),
        Rule("edits", "pubdate", True, SMARTNEWS_UPDATES + " (an update is read from the item's <pubDate>)"),
        Rule("deletions", "media-status", True, ISSUE + "; the element: " + MEDIA_RSS),
    )),
    Profile("google-news", "Google News", _COMMON + (
        Rule("full_content", True, True, GOOGLE_INCLUSION + " (Full content)"),
        Rule("max_item_bytes", 1_000_000, True, GOOGLE_TECHNICAL + " (Size limit: 1 MB per article)"),
        Rule("max_feed_bytes", 2_000_000, True, GOOGLE_TECHNICAL + " (Size limit: 2 MB per feed)"),
        Rule("max_items", 60, True, GOOGLE_TECHNICAL + " (Readability: up to 60 new articles per fetch)"),
        Rule("image_min", ("shortest", 800), False, GOOGLE_INCLUSION + " (Large images: the shortest side 800px)"),
        Rule("edits", "pubdate", True, GOOGLE_TECHNICAL + " (Article updates: <pubDate> tells a modification)"),
        Rule("deletions", "drop", True, GOOGLE_TECHNICAL + " (a feed says nothing else of a removal)"),
    )),
    Profile("flipboard", "Flipboard", _COMMON + (
        Rule("full_content", True, True, FLIPBOARD + " (the entire body copy; <content:encoded> required)"),
        Rule("min_items", 30, False, FLIPBOARD + " (At least 30 items)"),
        Rule("image_min", ("shortest", 500), False,
             FLIPBOARD_FAQ + " (<enclosure>: the smallest dimension not under 500px); " + FLIPBOARD
             + " (no less than 400px in the smallest dimension)"),
        Rule("image_required", True, True, FLIPBOARD + " (At least one image per article)"),
        Rule("creator", True, False, FLIPBOARD_FAQ + " (<dc:creator>: the author(s))"),
        Rule("description_min_chars", 300, False, FLIPBOARD_FAQ + " (<description>: 300 or more characters)"),
        Rule("deletions", "drop", True, FLIPBOARD + " (the specification has no other way)"),
    )),
    Profile("kurio", "Kurio", _COMMON + (
        Rule("full_content", True, True, KURIO + " (Full article body, not just summary)"),
        Rule("max_items", 50, True, KURIO + " (Minimum 15 articles and maximum 50 articles inside a feed)"),
        Rule("min_items", 15, False, KURIO + " (Minimum 15 articles)"),
        Rule("image_min", ("shortest", 300), False, KURIO + " (thumbnail, with minimum 300px dimension)"),
        Rule("image_required", True, True, KURIO + " (At least one image to be previewed as article thumbnail)"),
        Rule("thumbnail", True, True, KURIO + " (the example's <media:thumbnail>)"),
        Rule("dates", "+0700", True, KURIO + " (the example's dates: +0700)"),
        Rule("deletions", "drop", True, KURIO + " (the guide has no other way)"),
    )),
    Profile("generic", "any other partner", _COMMON + (
        Rule("full_content", True, True, FEEDPUB + ": the public feeds' RSS 2.0, for a partner without a profile"),
        Rule("deletions", "drop", True, FEEDPUB + ": RSS 2.0 has no way to say an item was deleted"),
    )),
)}
