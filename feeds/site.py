"""Site settings as the feeds see them: read once at the edge, passed down as a value."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from zoneinfo import ZoneInfo

MINUTE = timedelta(minutes=1)
# A path the build may write an article's page at: segments of URL-safe characters, none
# starting with a dot (the server never serves dot-files).
_PAGE_PATH = re.compile(r"(?:[A-Za-z0-9_~-][A-Za-z0-9._~-]*/)*[A-Za-z0-9_~-][A-Za-z0-9._~-]*")


@dataclass(frozen=True)
class Partner:
    """A syndication partner's feed (``[partners.NAME]``): which articles, in its profile's form
    (feeds/rendering/profiles.py, feeds/rendering/partners.py)."""

    name: str                         # [partners.NAME]: lowercase letters, digits and dashes (a path segment)
    profile: str                      # a key of feeds.rendering.profiles.PROFILES
    categories: tuple[str, ...] = ()  # only articles in one of these categories; () = any
    tags: tuple[str, ...] = ()        # only articles with one of these tags; () = any
    min_image: int = 0                # px of a lead image's shortest side, beyond the profile's own minimum
    # A path segment derived from the partner's secret (an HMAC of its name: feedpub/settings.py),
    # never the secret itself; "" = a public feed. Its feed lives under it, announced nowhere.
    private: str = ""

    @property
    def path(self) -> str:
        """Where its feed is under public/: ``partners/NAME/rss.xml``, or with a secret
        ``partners/NAME/<segment>/rss.xml``."""
        return f"partners/{self.name}/{self.private + '/' if self.private else ''}rss.xml"


@dataclass(frozen=True)
class SiteSettings:
    title: str
    description: str
    base_url: str                 # absolute, no trailing slash: "https://news.example.com"
    language: str = "id"          # BCP 47 tag of the feeds
    timezone: str = "Asia/Jakarta"  # every date in every document is shown in this zone
    author: str = ""              # the publisher, feed-level author; "" = the site title
    items_per_feed: int = 50
    rebuild_minutes: float = 15   # the periodic rebuild; drives RSS <ttl> and Cache-Control
    # For articles that carry no URL of their own; {base_url}, {slug}, {yyyy} and {mm} (the
    # publication month in the site's zone). On base_url, the build writes the article's page there.
    article_url: str = "{base_url}/articles/{slug}"
    image: str = ""               # channel image / Atom logo URL; "" = the bundled logo.png
    tombstone_days: int = 30      # how long Atom feeds announce a deleted entry (RFC 6721)
    archive_entries: int = 50     # entries per RFC 5005 archive page (feeds/rendering/archive.py); <= items_per_feed
    hubs: tuple[str, ...] = ()    # WebSub hubs the feeds advertise and notify
    catalogue: tuple[str, ...] = ()   # kinds with a feed per term: "category", "tag", "author"
    partners: tuple[Partner, ...] = ()   # syndication partners, a feed each in its profile's form

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, moment: datetime) -> datetime:
        """``moment`` as every document shows it: in the site's zone, the same instant.

        Before standard time a zone's offset was its local mean time, seconds and all
        (Asia/Jakarta +07:07:12 until 1924, Africa/Monrovia -00:44:30 until 1972), which
        neither RFC 3339 (section 5.6: hours and minutes) nor RFC 822 (section 5.1, four
        digits) can write. Such an instant is shown in the zone's offset cut to whole
        minutes towards zero (+07:07, -00:44) under the zone's own abbreviation, its local
        time moved by the seconds cut: the instant stays exact, the time shown is within a
        minute of the local mean time.
        """
        shown = moment.astimezone(self.zone)
        offset = shown.utcoffset()
        if offset is None or not offset % MINUTE:
            return shown
        whole = timedelta(minutes=int(offset.total_seconds() / 60))   # int(): towards zero
        return moment.astimezone(timezone(whole, shown.tzname()))

    @property
    def publisher(self) -> str:
        return self.author or self.title

    def url(self, path: str) -> str:
        """Absolute URL of a file under public/ ("" is the site root)."""
        return f"{self.base_url}/{path.lstrip('/')}"

    @property
    def image_url(self) -> str:
        return self.image or self.url("logo.png")

    def article_link(self, url: str | None, slug: str, published: datetime | None) -> str:
        """An article's address: its own ``url``, else ``article_url`` filled in."""
        if url:
            return url
        month = published.astimezone(self.zone) if published is not None else None
        return self.article_url.format(base_url=self.base_url, slug=slug, yyyy=f"{month:%Y}" if month else "",
                                       mm=f"{month:%m}" if month else "")

    def article_path(self, url: str | None, slug: str, published: datetime | None) -> str | None:
        """Where under public/ the build writes the page of an article that has no ``url`` of its
        own; None when its address is elsewhere (``article_url`` on the newsroom's own site)."""
        if url:
            return None
        link = self.article_link(None, slug, published)
        if not link.startswith(self.base_url + "/"):
            return None
        path = link[len(self.base_url) + 1:]
        path = path + "index.html" if path.endswith("/") or not path else path
        return path if _PAGE_PATH.fullmatch(path) else None
