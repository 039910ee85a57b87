"""Partner feeds held to their partners' published rules, the rules' table driving the checks.

A corpus of 77 articles (tests/partner_corpus.py: the sample, the edge cases, stories with
lead images of every size, one edited, one deleted, one unpublished, one in English, one
over a year old, one a partner sent us) is built once with a partner of every profile,
one of them filtered by category and one behind a secret. Every rule of every profile in
feeds/rendering/profiles.py is then checked on the document, by a check of this module's
own (:data:`CHECKS`): reading the XML as the partner would, not the renderer's code.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import feedparser
import lxml.html
import pytest
from lxml import etree

from feedpub.settings import utc_now
from feeds.building.build import build
from feeds.rendering.profiles import PROFILES
from sources.model import Status
from sources.store import SQLiteStore

from .partner_corpus import CLOCK, SITE, fill

ATOM = "http://www.w3.org/2005/Atom"
NS = {"content": "http://purl.org/rss/1.0/modules/content/", "dc": "http://purl.org/dc/elements/1.1/",
      "media": "http://search.yahoo.com/mrss/", "dcterms": "http://purl.org/dc/terms/",
      "mi": "http://schemas.ingestion.microsoft.com/common/", "snf": "http://www.smartnews.be/snf",
      "atom": ATOM}
WITHDRAWN = ("Artikel ini telah ditarik redaksi",)   # the title of a deletion's item (strings/id.toml)
PARAGRAPHS_TEXT = "Pemerintah Kabupaten Ogan Komering Ulu menggelar rapat koordinasi"   # every story's first words


class Built:
    """The corpus's store, built once: each partner's document parsed, with what the store says."""

    def __init__(self, folder):
        self.store = SQLiteStore(folder / "store.sqlite3", clock=utc_now)
        fill(self.store)
        self.public = folder / "public"
        self.report = build(self.store, SITE, self.public, CLOCK)
        self.bodies = {partner.name: (self.public / partner.path).read_bytes() for partner in SITE.partners}
        self.articles = {article.id: article for article in self.store.page(1000)}
        for tombstone in self.taken_down():
            self.articles[tombstone.id] = self.store.get(tombstone.id)

    def taken_down(self):
        since = CLOCK - timedelta(days=SITE.tombstone_days)
        return self.store.deleted_since(since, CLOCK) + self.store.unpublished_since(since, CLOCK)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    made = Built(tmp_path_factory.mktemp("partners"))
    yield made
    made.store.close()


def text_of(html: str | None) -> str:
    return " ".join(lxml.html.fragment_fromstring(html, create_parent="div").text_content().split()) if html else ""


def live(root) -> list:
    """The items of articles (not the items announcing a deletion)."""
    return [item for item in root.iter("item") if item.findtext("title") not in WITHDRAWN]


def rfc822(text: str) -> datetime:
    return parsedate_to_datetime(text)


def article_of(built: Built, item):
    return built.articles[item.findtext("guid")]


# --- one check per rule key: (root, value, built, partner) -> None ----------------------------

def check_namespaces(root, value, built, partner):
    assert {prefix: uri for prefix, uri in value} == {prefix: root.nsmap.get(prefix) for prefix, _ in value}


def check_title_chars(root, value, built, partner):
    fewest, most = value
    for item in live(root):
        assert fewest <= len(item.findtext("title")) <= most and not re.search(r"<[a-zA-Z/!]", item.findtext("title"))


def check_body_chars(root, value, built, partner):
    fewest, most = value
    for item in live(root):
        assert fewest <= len(text_of(article_of(built, item).content_html)) <= most, item.findtext("guid")


def check_body_tags(root, value, built, partner):
    for item in live(root):
        html = item.findtext("content:encoded", namespaces=NS)
        tags = {element.tag for element in lxml.html.fragment_fromstring(html, create_parent="div").iterdescendants()}
        assert tags <= set(value), (item.findtext("guid"), tags - set(value))


def check_full_content(root, value, built, partner):
    for item in live(root):
        whole = text_of(article_of(built, item).content_html)
        assert whole and whole in text_of(item.findtext("content:encoded", namespaces=NS)), item.findtext("guid")


def _images(root):
    return [(item, item.find("media:content", NS)) for item in live(root) if item.find("media:content", NS) is not None]


def check_image_types(root, value, built, partner):
    assert all(content.get("type") in value for _, content in _images(root))


def check_image_min(root, value, built, partner):
    side, least = value
    for item, content in _images(root):
        width, height = int(content.get("width")), int(content.get("height"))
        assert (min if side == "shortest" else max)(width, height) >= least, item.findtext("guid")
        assert min(width, height) >= partner.min_image
        image = article_of(built, item).image
        assert (width, height) == (image.width, image.height)


def check_image_required(root, value, built, partner):
    assert all(item.find("media:content", NS) is not None for item in live(root))


def check_thumbnail(root, value, built, partner):
    for item, content in _images(root):
        assert item.find("media:thumbnail", NS).get("url") == content.get("url")


def check_max_items(root, value, built, partner):
    assert len(live(root)) <= value


def check_min_items(root, value, built, partner):
    if not (partner.categories or partner.tags or partner.min_image):   # a filter may leave fewer
        assert len(live(root)) >= value


def check_max_feed_bytes(root, value, built, partner):
    assert len(built.bodies[partner.name]) <= value


def check_max_item_bytes(root, value, built, partner):
    assert all(len(etree.tostring(item)) <= value for item in root.iter("item"))


def check_max_age_days(root, value, built, partner):
    for item in live(root):
        assert CLOCK - article_of(built, item).published <= timedelta(days=value)


def check_one_language(root, value, built, partner):
    language = root.findtext("channel/language")
    assert all(article_of(built, item).language == language for item in live(root))


def check_channel_description_max(root, value, built, partner):
    assert 0 < len(root.findtext("channel/description")) <= value


def check_description_min_chars(root, value, built, partner):
    for item in live(root):
        description = item.findtext("description")
        assert "<" not in description
        assert len(description) >= value or description == text_of(article_of(built, item).content_html)


def check_creator(root, value, built, partner):
    for item in live(root):
        assert item.findtext("dc:creator", namespaces=NS) == article_of(built, item).author


def _dates(root) -> list[str]:
    return ([root.findtext("channel/lastBuildDate"), root.findtext("channel/pubDate")]
            + [item.findtext("pubDate") for item in root.iter("item")])


def check_dates(root, value, built, partner):
    suffix = {"utc": "+0000", "+0700": "+0700"}[value]
    assert all(date.endswith(suffix) for date in _dates(root)), _dates(root)


def check_no_future_dates(root, value, built, partner):
    assert all(rfc822(date) <= CLOCK for date in _dates(root))


def check_edits(root, value, built, partner):
    edited = next(item for item in live(root) if item.findtext("guid").endswith(":disunting-panjang"))
    article = article_of(built, edited)
    assert article.updated > article.published
    if value == "modified":
        modified = datetime.fromisoformat(edited.findtext("dcterms:modified", namespaces=NS))
        assert modified == article.updated and rfc822(edited.findtext("pubDate")) == article.published
    else:
        assert rfc822(edited.findtext("pubDate")) == article.updated


def check_deletions(root, value, built, partner):
    gone = built.taken_down()
    assert {t.id for t in gone} >= {"tag:okes.example,2024-09-19:akan-ditarik",
                                   "tag:okes.example,2024-09-19:akan-dihapus", "tag:okes.example,2024-09-18:dihapus"}
    items = {item.findtext("guid"): item for item in root.iter("item")}
    for tombstone in gone:
        if value == "drop":
            assert tombstone.id not in items
            continue
        item = items[tombstone.id]
        article = built.articles[tombstone.id]
        assert item.findtext("title") in WITHDRAWN
        assert text_of(article.content_html) not in text_of(item.findtext("content:encoded", namespaces=NS))
        if value == "expiry":
            expires = datetime.fromisoformat(item.findtext("mi:expirationDate", namespaces=NS))
            modified = datetime.fromisoformat(item.findtext("dcterms:modified", namespaces=NS))
            assert expires == tombstone.deleted <= CLOCK and modified == tombstone.deleted > article.updated
        else:
            assert item.find("media:status", NS).get("state") == "deleted"
            assert rfc822(item.findtext("pubDate")) == tombstone.deleted


def check_logo(root, value, built, partner):
    assert root.findtext("channel/snf:logo/url", namespaces=NS) == SITE.image_url


def check_guid(root, value, built, partner):
    guids = [item.find("guid") for item in root.iter("item")]
    assert all(guid.get("isPermaLink") == "false" and guid.text in built.articles for guid in guids)
    assert len({guid.text for guid in guids}) == len(guids)


def check_own_articles(root, value, built, partner):
    assert all(article_of(built, item).via_url is None for item in live(root))


CHECKS = {name.removeprefix("check_"): check for name, check in globals().items() if name.startswith("check_")}


def test_every_rule_of_the_table_has_a_check():
    assert {rule.key for profile in PROFILES.values() for rule in profile.rules} <= set(CHECKS)


@pytest.mark.parametrize("partner", SITE.partners, ids=[partner.name for partner in SITE.partners])
def test_every_partner_feed_meets_its_profiles_rules(built, partner):
    root = etree.fromstring(built.bodies[partner.name])
    profile = PROFILES[partner.profile]
    for rule in profile.rules:
        CHECKS[rule.key](root, rule.value, built, partner)
    # What is in it: the newest articles readers see that pass its filters, as many as it holds.
    items = live(root)
    assert items, partner.name
    for item in items:
        article = article_of(built, item)
        assert article.is_visible(CLOCK)
        assert not partner.categories or set(article.categories) & set(partner.categories)
    published = [article_of(built, item).published for item in items]
    assert published == sorted(published, reverse=True)


def test_the_corpus_has_what_the_rules_need(built):
    """Fifty articles and more, among them the sample, the edge cases, an edited, a deleted and an
    unpublished one; every hard rule refuses at least one of them somewhere."""
    articles = list(built.articles.values())
    assert len(articles) >= 50
    assert any(article.slug == "okes-forkopimda-oku-pilkada-2024" for article in articles)   # the sample
    statuses = {article.status for article in articles}
    assert {Status.PUBLISHED, Status.DELETED, Status.DRAFT} <= statuses
    ids = {item.findtext("guid") for body in built.bodies.values() for item in etree.fromstring(body).iter("item")}
    for refused in ("kiriman-mitra", "bahasa-inggris", "berita-03"):   # another's story; English; short
        assert not any(article_id.endswith(f":{refused}") for article_id in
                       {item.findtext("guid") for item in live(etree.fromstring(built.bodies["msn"]))})
    assert any(article_id.endswith(":bahasa-inggris") for article_id in ids)   # others take it


@pytest.mark.parametrize("partner", SITE.partners, ids=[partner.name for partner in SITE.partners])
def test_every_partner_document_is_well_formed_rss(built, partner):
    """What the W3C validator checks first: well-formed XML, RSS 2.0's required elements, dates
    in RFC 822, every prefix declared; and a real reader reads it whole."""
    body = built.bodies[partner.name]
    root = etree.fromstring(body, etree.XMLParser(resolve_entities=False))
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    for name in ("title", "link", "description", "language", "lastBuildDate"):
        assert channel.findtext(name), name
    self_link = channel.find(f"{{{ATOM}}}link[@rel='self']")
    assert self_link.get("href") == SITE.url(partner.path)
    for item in root.iter("item"):
        for name in ("title", "link", "guid", "pubDate", "description"):
            assert item.findtext(name), (name, item.findtext("guid"))
        rfc822(item.findtext("pubDate"))
        enclosure = item.find("enclosure")
        if enclosure is not None:
            assert enclosure.get("length").isdigit() and enclosure.get("type").startswith("image/")
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0 and len(parsed.entries) == len(root.findall("channel/item"))


def test_every_feeds_media_content_carries_the_images_size(built):
    """In the public feeds too: the size of every measured image (an unmeasured one has none yet)."""
    for path, entry, key in (("rss.xml", "channel/item", "guid"), ("atom.xml", f"{{{ATOM}}}entry", f"{{{ATOM}}}id"),
                             ("category/politik/rss.xml", "channel/item", "guid")):
        seen = 0
        for item in etree.parse(str(built.public / path)).getroot().iterfind(entry):
            content = item.find("media:content", NS)
            if content is None:
                continue
            image = built.articles[item.findtext(key)].image
            sized = (int(content.get("width", 0)), int(content.get("height", 0)))
            assert sized == ((image.width, image.height) if image.width else (0, 0))
            seen += bool(image.width)
        assert seen, path


def test_hubs_are_named_for_and_told_of_public_partner_feeds_only(built):
    secret = next(partner for partner in SITE.partners if partner.private)
    for partner in SITE.partners:
        hubs = etree.fromstring(built.bodies[partner.name]).findall(f"channel/{{{ATOM}}}link[@rel='hub']")
        assert [hub.get("href") for hub in hubs] == ([] if partner.private else list(SITE.hubs))
    assert SITE.url(secret.path) not in built.report.topics
    assert {SITE.url(partner.path) for partner in SITE.partners if not partner.private} <= set(built.report.topics)


# Rules under which an article can be refused (the others shape every item, and refuse nothing).
REFUSING = {"own_articles", "one_language", "max_age_days", "title_chars", "body_chars", "full_content",
            "image_required", "max_item_bytes", "max_feed_bytes"}


def test_every_hard_rule_refuses_an_article_of_the_corpus_and_the_check_says_why(built):
    from feeds.building.partners import check

    feeds = {feed.partner.name: feed for feed in check(built.store, SITE, CLOCK)}
    for partner in SITE.partners:
        if partner.categories or partner.tags or partner.min_image:
            continue
        feed = feeds[partner.name]
        assert feed.document.body == built.bodies[partner.name]   # the check sees what the build wrote
        hard = {rule.key for rule in PROFILES[partner.profile].rules if rule.hard} & REFUSING
        if partner.profile in ("msn", "google-news"):
            # Ten and two megabytes, and an article a year old past fifty newer ones: tests of their
            # own below (test_a_feed_over_its_limit_..., test_an_article_grows_too_old_for_msn_...).
            hard -= {"max_feed_bytes", "max_age_days"}
        refused = {finding.rule for finding in feed.findings if finding.refused}
        assert hard <= refused, (partner.name, hard - refused)
        listed = {finding.article_id for finding in feed.findings if finding.refused}
        assert not listed & set(feed.items)   # a refused article is not in the feed
        assert all(finding.reason for finding in feed.findings)


# --- the document's limits, the clock's moves, take-downs ------------------------------------

def _store(tmp_path, count: int = 12) -> tuple[SQLiteStore, list[str]]:
    from .partner_corpus import put, story

    store = SQLiteStore(tmp_path / "store.sqlite3", clock=utc_now)
    ids = []
    for n in range(1, count + 1):   # newest first; each with a large JPEG every profile takes
        article = story(1, f"b-{n:02d}", f"Rapat koordinasi kecamatan ke-{n} di Kabupaten OKU",
                        CLOCK - timedelta(hours=n))
        put(store, article)
        ids.append(article.id)
    return store, ids


def _guids(body: bytes) -> list[str]:
    return [item.findtext("guid") for item in etree.fromstring(body).iter("item")]


@pytest.mark.parametrize("name", [name for name, profile in PROFILES.items() if profile.rule("max_feed_bytes")])
def test_a_feed_over_its_limit_sheds_its_oldest_items_first(tmp_path, monkeypatch, name):
    """Each profile's own limit, made small enough for a dozen articles to pass it."""
    from dataclasses import replace

    from feeds.building.partners import partner_feeds
    from feeds.site import Partner

    store, ids = _store(tmp_path)
    profile = PROFILES[name]
    monkeypatch.setitem(PROFILES, name, replace(profile, rules=tuple(
        replace(rule, value=12_000) if rule.key == "max_feed_bytes" else rule for rule in profile.rules)))
    feed = partner_feeds(store, replace(SITE, partners=(Partner("uji", name),)), CLOCK, {})[0]
    assert len(feed.document.body) <= 12_000
    assert 0 < len(feed.items) < len(ids) and list(feed.items) == ids[:len(feed.items)]
    shed = [finding.article_id for finding in feed.findings if finding.rule == "max_feed_bytes" and finding.refused]
    assert shed == ids[len(feed.items):][::-1]   # the oldest first
    store.close()


def test_an_article_grows_too_old_for_msn_as_the_clock_moves(tmp_path):
    """MSN takes nothing published 365 days ago or more: a build with nothing changed in the store
    still takes the article out once its day comes, as a full build at that time does."""
    from dataclasses import replace

    from feeds.building.partners import check
    from feeds.site import Partner

    from .partner_corpus import put, story

    store, ids = _store(tmp_path, 3)
    old = story(1, "hampir-setahun", "Catatan hampir setahun lalu: jalan desa diperbaiki",
                CLOCK - timedelta(days=365) + timedelta(hours=1))
    put(store, old)
    site = replace(SITE, hubs=(), partners=(Partner("msn", "msn"),))
    build(store, site, tmp_path / "public", CLOCK)
    assert _guids((tmp_path / "public/partners/msn/rss.xml").read_bytes()) == ids + [old.id]
    later = CLOCK + timedelta(hours=2)
    report = build(store, site, tmp_path / "public", later)
    assert not report.full and report.written == ("partners/msn/rss.xml",)
    assert _guids((tmp_path / "public/partners/msn/rss.xml").read_bytes()) == ids
    build(store, site, tmp_path / "full", later, full=True)
    path = "partners/msn/rss.xml"
    assert (tmp_path / "public" / path).read_bytes() == (tmp_path / "full" / path).read_bytes()
    [finding] = check(store, site, later)[0].findings
    assert (finding.article_id, finding.rule, finding.refused) == (old.id, "max_age_days", True)
    assert "published 365 days ago; msn takes nothing older than 365 days" in finding.reason
    store.close()


def test_unpublish_is_a_take_down_for_partners_for_tombstone_days_only(tmp_path):
    """MSN and SmartNews are told in their own way; Kurio sees the item leave; the public feeds
    keep their behaviour (the article leaves them, no tombstone). After feeds.tombstone_days the
    announcement goes, in a build with nothing else to do, as in a full build."""
    from dataclasses import replace

    from feeds.site import Partner

    store, ids = _store(tmp_path, 4)
    site = replace(SITE, hubs=(), tombstone_days=2,
                   partners=(Partner("msn", "msn"), Partner("sn", "smartnews"), Partner("kurio", "kurio")))
    public = tmp_path / "public"
    build(store, site, public, CLOCK)
    store.unpublish(ids[1], CLOCK + timedelta(hours=1))
    build(store, site, public, CLOCK + timedelta(hours=2))

    def item(name: str):
        items = {i.findtext("guid"): i for i in etree.parse(str(public / f"partners/{name}/rss.xml")).iter("item")}
        return items.get(ids[1])

    msn = item("msn")
    expires = datetime.fromisoformat(msn.findtext("mi:expirationDate", namespaces=NS))
    assert expires == CLOCK + timedelta(hours=1) == datetime.fromisoformat(msn.findtext("dcterms:modified",
                                                                                        namespaces=NS))
    assert msn.findtext("title") in WITHDRAWN and PARAGRAPHS_TEXT not in etree.tostring(msn, encoding=str)
    smartnews = item("sn")
    assert smartnews.find("media:status", NS).get("state") == "deleted"
    assert rfc822(smartnews.findtext("pubDate")) == CLOCK + timedelta(hours=1)
    assert item("kurio") is None
    assert ids[1] not in _guids((public / "rss.xml").read_bytes())
    assert b"deleted-entry" not in (public / "atom.xml").read_bytes()

    later = CLOCK + timedelta(days=3)
    report = build(store, site, public, later)
    assert not report.full and set(report.written) == {"partners/msn/rss.xml", "partners/sn/rss.xml"}
    assert item("msn") is None and item("sn") is None
    build(store, site, tmp_path / "full", later, full=True)
    for name in ("msn", "sn", "kurio"):
        path = f"partners/{name}/rss.xml"
        assert (public / path).read_bytes() == (tmp_path / "full" / path).read_bytes()
    store.close()


# --- a secret partner feed --------------------------------------------------------------------

def test_a_secret_partner_feed_is_reachable_only_by_its_address_and_named_nowhere(tmp_path):
    """The newsroom site (tests/newsroom_site.py) with a public partner and a secret one, served over
    HTTP: a crawl from every public document (test_links.py's) never meets the secret feed's
    address or its segment; the paths around it answer 404; the feed itself answers without a
    hub; the public partner feed names the hub."""
    from collections import deque
    from urllib.parse import urldefrag, urlsplit

    import requests

    from feedpub.settings import partner_segment
    from feeds.publishing.publish import read_manifest
    from feeds.serving.server import PublicFiles
    from feeds.site import Partner

    from .conftest import RunningServer
    from .newsroom_site import newsroom
    from .test_links import links_of

    segment = partner_segment("mitra", "rahasia-mitra-0123456789")
    public = tmp_path / "room" / "public"
    app = PublicFiles(public, max_age=900, hubs=("https://hub.example/",))
    running = RunningServer(app)
    app.base_url = running.url
    try:
        room = newsroom(tmp_path / "room", running.url, hubs=("https://hub.example/",),
                        partners=(Partner("mitra", "generic", private=segment), Partner("umum", "generic")))
        secret = f"partners/mitra/{segment}/rss.xml"
        manifest = read_manifest(public)
        assert manifest[secret].get("private") is True and "private" not in manifest["partners/umum/rss.xml"]
        start = [running.url + "/"] + [f"{running.url}/{path}" for path in sorted(manifest)
                                       if not manifest[path].get("private")]
        queue, seen = deque(start), set(start)
        session = requests.Session()
        crawled = 0
        while queue:
            url = queue.popleft()
            response = session.get(url, headers={"Accept": "*/*"}, timeout=5)
            crawled += 1
            assert segment.encode() not in response.content and b"partners/mitra" not in response.content, url
            for link in links_of(response) if response.status_code == 200 else ():
                link = urldefrag(link).url
                if urlsplit(link).netloc == urlsplit(running.url).netloc and link not in seen:
                    seen.add(link)
                    queue.append(link)
        assert crawled > 100 and not any(segment in link for link in seen)
        for path in ("partners/mitra/rss.xml", "partners/mitra/", "partners/mitra", "partners/",
                     f"partners/{segment}/rss.xml"):
            assert session.get(f"{running.url}/{path}", timeout=5).status_code == 404, path
        answer = session.get(f"{running.url}/{secret}", headers={"Accept-Encoding": "br"}, timeout=5)
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/rss+xml")
        assert "Link" not in answer.headers and b'rel="hub"' not in answer.content
        # Built like every document: a precompressed variant, validators, 304.
        assert answer.headers["Content-Encoding"] == "br" and answer.headers["ETag"].endswith('-br"')
        again = session.get(f"{running.url}/{secret}", headers={"Accept-Encoding": "br",
                                                                  "If-None-Match": answer.headers["ETag"]}, timeout=5)
        assert again.status_code == 304
        assert 'rel="hub"' in session.get(f"{running.url}/partners/umum/rss.xml", timeout=5).headers["Link"]
        assert room.site.url(secret) not in room.report.topics
        assert room.site.url("partners/umum/rss.xml") in room.report.topics
        room.store.close()
    finally:
        running.stop()


# --- the configuration and the pre-flight check ----------------------------------------------

def _config(folder, partners: str) -> None:
    (folder / "feedpub.toml").write_text(
        '[site]\ntitle = "OKES.NEWS"\nbase_url = "https://okes.example"\n'
        'description = "Berita Ogan Komering Ulu dan sekitarnya, setiap hari"\n' + partners, encoding="utf-8")


@pytest.mark.parametrize(("toml", "message"), [
    ('[partners.msn]\nprofile = "bing"\n', r"partners\.msn\.profile: unknown profile 'bing': one of msn, smartnews"),
    ("[partners.msn]\ncategories = []\n", r"partners\.msn\.profile: is required"),
    ('[partners.MSN]\nprofile = "msn"\n', r"partners\.MSN: a partner's name is a path segment"),
    ('[partners.msn]\nprofile = "msn"\nsecret = "pendek"\n', r"partners\.msn\.secret: must be at least 16"),
    ('[partners.msn]\nprofile = "msn"\nmin_image = 500\n', r"partners\.msn\.min_image: unknown key \(did you mean "
                                                           r"partners\.msn\.min_image_px\?\)"),
    ('[partners.msn]\nprofile = "msn"\nmin_image_px = -1\n', r"partners\.msn\.min_image_px: must be between"),
    ('[partners]\nmsn = "msn"\n', r"partners: must hold one table per name"),
])
def test_a_bad_partner_table_is_refused_naming_the_key(tmp_path, toml, message):
    from feedpub.settings import load_config
    from sources.errors import ConfigError

    _config(tmp_path, toml)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / "feedpub.toml", env={})


def test_a_secret_gives_a_segment_derived_from_it_never_the_secret(tmp_path):
    from feedpub.settings import load_config

    _config(tmp_path, '[partners.msn]\nprofile = "msn"\nsecret = "rahasia-mitra-0123456789"\n'
                      '[partners.kurio]\nprofile = "kurio"\ncategories = ["Politik"]\nmin_image_px = 600\n')
    msn, kurio = sorted(load_config(tmp_path / "feedpub.toml", env={}).site.partners, key=lambda p: p.name != "msn")
    assert re.fullmatch(r"partners/msn/[0-9a-f]{32}/rss\.xml", msn.path) and "rahasia" not in repr(msn)
    assert (kurio.path, kurio.categories, kurio.min_image, kurio.private) == ("partners/kurio/rss.xml", ("Politik",),
                                                                              600, "")
    _config(tmp_path, '[partners.msn]\nprofile = "msn"\nsecret = "rahasia-lain-0123456789"\n')
    assert load_config(tmp_path / "feedpub.toml", env={}).site.partners[0].path != msn.path


def test_feedpub_partners_check_lists_what_each_partner_refuses_and_why(tmp_path, monkeypatch, capsys):
    from feedpub.cli import main

    monkeypatch.chdir(tmp_path)
    _config(tmp_path, '[partners.msn]\nprofile = "msn"\n[partners.smartnews]\nprofile = "smartnews"\n'
                      '[partners.kurio]\nprofile = "kurio"\n')
    assert main(["partners", "check"]) == 3   # no store yet: none is made
    assert not (tmp_path / "data").exists()
    store = SQLiteStore(tmp_path / "data" / "feedpub.sqlite3", clock=utc_now)
    fill(store, utc_now())   # the command reads the wall clock
    store.close()
    capsys.readouterr()
    assert main(["partners", "check"]) == 1
    out = capsys.readouterr().out
    for expected in (
        "msn (Microsoft Start / MSN), https://okes.example/partners/msn/rss.xml: ",
        "refused tag:okes.example,2024-09-19:judul-pendek 'Banjir lagi': title has 11 characters; msn wants 21 to 150",
        "refused tag:okes.example,2024-09-19:berita-03 ",                            # a short text
        ": text has 267 characters; msn wants 450 to 500000",
        "badly   tag:okes.example,2024-09-19:berita-04 ",                            # a GIF
        "lead image https://img.okes.example/berita-04.gif left out: image/gif; msn takes image/jpeg, image/png, "
        "image/webp",
        "badly   tag:okes.example,2024-09-19:berita-05 ",                            # no image
        "no lead image: shown without one",
        "refused tag:okes.example,2024-09-19:laporan-raksasa ",                      # alone over 1 MB
        "alone it would take the feed over smartnews's limit of 1000000 bytes",
        "badly   the feed: the site's description has 52 characters; smartnews shows at most 30: cut",
        "refused tag:okes.example,2024-09-19:berita-10 ",                            # no image: Kurio refuses
        "lead image https://img.okes.example/belum.jpg left out: its size is not known yet",
    ):
        assert expected in out, (expected, out)
    assert main(["partners", "check", "kurio", "nope"]) == 2
    assert "no partner named 'nope'" in capsys.readouterr().err
    _config(tmp_path, '[partners.umum]\nprofile = "generic"\n')
    assert main(["partners", "check"]) == 1   # the generic profile takes no partner's story either
    assert "taken from the feed of Mitra Sumsel" in capsys.readouterr().out
