"""Every instant, in every site zone, is written as readers read it: a property.

Before standard time a zone's offset was its local mean time, seconds and all
(Asia/Jakarta +07:07:12 until 1924): written as such it is neither RFC 3339
nor RFC 822, and readers drop the date or misread it. For any instant of the
years 1800-2100 in a sample of the IANA zones, every date of the RSS, Atom,
JSON Feed and index page documents must match its format's grammar, and read
back (feedparser for RSS and Atom, the ISO parser for the others) to exactly
that instant.
"""

from __future__ import annotations

import calendar
import json
import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, available_timezones

import feedparser
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds.rendering.entries import FeedView, deleted_entries, main_feed, make_entry, newest
from feeds.rendering.formats import render_atom, render_json_feed, render_rss
from feeds.rendering.pages import render_index
from feeds.site import SiteSettings
from sources.model import Tombstone

from .edge_corpus import article

# Zones whose offsets once had seconds (local mean time), or have half and quarter hours.
NAMED = ("Asia/Jakarta", "Asia/Kolkata", "Africa/Monrovia", "Europe/Amsterdam", "America/St_Johns",
         "Asia/Kathmandu", "Pacific/Chatham", "UTC")
ZONES = sorted(available_timezones())
ATOM = "{http://www.w3.org/2005/Atom}"
AT = "{http://purl.org/atompub/tombstones/1.0}"

# RFC 3339 section 5.6 date-time; RFC 822 section 5.1 date-time with a four-digit year
# (RSS 2.0 asks for one) and a numeric zone.
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})\Z")
RFC822 = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                    r"\d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}\Z")

instants = st.datetimes(min_value=datetime(1800, 1, 1), max_value=datetime(2100, 12, 31),
                        timezones=st.just(timezone.utc)).map(lambda moment: moment.replace(microsecond=0))


def rfc3339(text: str, instant: datetime) -> None:
    assert RFC3339.match(text), text
    assert datetime.fromisoformat(text) == instant, (text, instant)


def read_back(parsed_time, instant: datetime, text: str) -> None:
    assert parsed_time is not None, f"feedparser could not read {text!r}"
    assert calendar.timegm(parsed_time) == int(instant.timestamp()), (text, instant)


@settings(max_examples=120, deadline=None)
@given(zone=st.one_of(st.sampled_from(NAMED), st.sampled_from(ZONES)), instant=instants)
@example(zone="Asia/Jakarta", instant=datetime(1900, 6, 1, 12, 0, 0, tzinfo=timezone.utc))
@example(zone="Asia/Kolkata", instant=datetime(1850, 1, 1, 0, 0, 0, tzinfo=timezone.utc))
@example(zone="Africa/Monrovia", instant=datetime(1950, 6, 1, 12, 0, 0, tzinfo=timezone.utc))
@example(zone="Europe/Amsterdam", instant=datetime(1920, 3, 1, 23, 59, 59, tzinfo=timezone.utc))
@example(zone="America/St_Johns", instant=datetime(1800, 1, 1, 0, 0, 0, tzinfo=timezone.utc))
def test_every_instant_in_every_zone_is_written_in_rfc_3339_and_rfc_822_and_reads_back(zone, instant):
    site = SiteSettings(title="OKES.NEWS", description="Berita", base_url="https://okes.example", timezone=zone)
    when = instant.astimezone(ZoneInfo(zone))   # as an importer stores it: in the site's zone
    entries = (make_entry(article(1, "lama", "Berita lama", "<p>Isi.</p>", published=when, updated=when,
                                  stored=when), site),)
    deleted = deleted_entries([Tombstone("tag:okes.example,1900:hapus", "hapus", None, when)], site)
    view = FeedView(main_feed(site), entries, newest(entries, deleted, site), deleted)

    rss = render_rss(view, site).body
    channel = etree.fromstring(rss).find("channel")
    for text in (channel.findtext("item/pubDate"), channel.findtext("lastBuildDate")):
        assert RFC822.match(text), text
    parsed = feedparser.parse(rss)
    assert not parsed.bozo, parsed.bozo_exception
    read_back(parsed.entries[0].published_parsed, instant, channel.findtext("item/pubDate"))

    atom = render_atom(view, site).body
    root = etree.fromstring(atom)
    for text in (root.findtext(f"{ATOM}updated"), root.findtext(f"{ATOM}entry/{ATOM}published"),
                 root.findtext(f"{ATOM}entry/{ATOM}updated"), root.find(f"{AT}deleted-entry").get("when")):
        rfc3339(text, instant)
    parsed = feedparser.parse(atom)
    assert not parsed.bozo, parsed.bozo_exception
    read_back(parsed.entries[0].published_parsed, instant, root.findtext(f"{ATOM}entry/{ATOM}published"))
    read_back(parsed.entries[0].updated_parsed, instant, root.findtext(f"{ATOM}entry/{ATOM}updated"))

    item = json.loads(render_json_feed(view, site).body)["items"][0]
    rfc3339(item["date_published"], instant)
    rfc3339(item["date_modified"], instant)

    page = render_index(view, site).body.decode("utf-8")
    (shown,) = re.findall(r'<time datetime="([^"]+)">', page)
    rfc3339(shown, instant)   # HTML's valid global date and time string is RFC 3339's subset used here
