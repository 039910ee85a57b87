"""``feedpub init``: a new site in a folder, a commented ``feedpub.toml`` and its store.

The file sets the site's title, language and time zone (and its base URL when given)
and ``store.sample = false``: a real site never gets the sample article. Every other
key is written commented out with its default, so the file shows what can be set
(README.md, "Configuration", describes each). An existing ``feedpub.toml`` is never
overwritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from feedpub.settings import DEFAULT_FILE, Config, config_from_text, open_store
from sources.errors import ConfigError

# Every section with its keys commented out at their defaults, as README.md's
# "Configuration" shows them; {site} is where the keys set by init go.
_TEMPLATE = """\
# feedpub configuration, written by `feedpub init`.
#
# Every key is optional: one left commented out keeps the default shown. Paths are
# relative to this file's folder. Each key is described in feedpub's README.md,
# "Configuration". Commands run in this folder or any folder below it use this
# file (or give --config FILE, or set FEEDPUB_CONFIG).

[site]
{site}
# description = ""                # "" = "Artikel terbaru" / "Latest articles", in the site's language
# author = ""                     # the publisher named as the feeds' author; "" = title
# article_url = "{{base_url}}/articles/{{slug}}"   # link and page of an article that has no `url`; also {{yyyy}} {{mm}}
# tag_authority = ""              # RFC 4151 authority of new ids; "" = host of base_url
# image = ""                      # RSS channel image / Atom logo URL; "" = the bundled logo.png

[feeds]
# items = 50                      # articles per feed
# archive_entries = 0             # entries per archive page (RFC 5005); 0 = `items`, never more
# tombstone_days = 30             # Atom feeds announce a deleted entry this long (RFC 6721)
# categories = true               # a feed per category: /category/<slug>/rss.xml, atom.xml, feed.json
# tags = true                     # a feed per tag: /tag/<slug>/...
# authors = true                  # a feed per author: /author/<slug>/...

[schedule]
# rebuild_minutes = 15.0          # periodic rebuild; also RSS <ttl> and Cache-Control max-age

[store]
# path = "data/feedpub.sqlite3"
# url = ""                        # a PostgreSQL store several instances share: "postgresql://user@host/db"
# suggest_related = true          # suggest up to 3 related articles when none are named
sample = false                    # a site made by `feedpub init` never gets the sample article

[output]
# path = "public"

[server]
# host = "127.0.0.1"
# port = 8080
# workers = 2                     # processes serving public/; the service itself is always one process
# gone = []                       # retired URL paths answering 410 Gone, e.g. ["/old/rss.xml"]
# moved = {{}}                      # retired URL path -> new path or URL, answering 301

[websub]
# hubs = []                       # WebSub hub URLs: advertised in every feed, notified on change
# timeout_seconds = 10.0          # one publish request
# retries = 6                     # further attempts, 2 s, 4 s, 8 s ... apart

[api]
# token = ""                      # bearer token of the ingest API; "" = the API is off (404);
#                                 # FEEDPUB_API_TOKEN in the environment wins over it
# max_body_bytes = 1048576        # larger request bodies get 413
# body_timeout_seconds = 30.0     # a request body not arrived whole within this gets 408

[stats]
# access_log = ""                 # nginx's access log (`feedpub nginx-config`): feed polls are read from it

[images]
# allow_hosts = []                # beyond public addresses: host names and IP addresses or networks
# timeout_seconds = 10.0          # one look-up, whole

[ingest]
# max_terms = 50                  # categories, and tags, one article carries
# max_article_bytes = 0           # the most one article holds; 0 = api.max_body_bytes

# Partner feeds to syndicate, one [[sources]] table each (README.md, "Remote sources"):
#
#     [[sources]]
#     name = "Mitra Sumsel"
#     url = "https://mitra.example/feed.xml"
#     interval_minutes = 15.0

# Syndication partners, a feed each in the form it ingests (README.md, "Syndication partners"):
#
#     [partners.msn]
#     profile = "msn"             # msn, smartnews, google-news, flipboard, kurio or generic
#     categories = []             # only these categories; [] = any
#     tags = []                   # only these tags; [] = any
#     min_image_px = 0            # a smaller lead image (shorter side) is left out
#     secret = ""                 # "" = public; else the feed lives under a segment only the partner knows
"""

FLAGS = "--title, --base-url, --language, --timezone"


@dataclass(frozen=True)
class NewSite:
    """What ``feedpub init`` made."""

    config_path: Path
    config: Config
    store_existed: bool    # a store was already at the configured path (kept as it was)


def render(*, title: str, language: str, timezone: str, base_url: str = "") -> str:
    """The commented ``feedpub.toml`` of a new site."""
    lines = [
        f"title = {_toml(title)}",
        f"base_url = {_toml(base_url)}" if base_url else
        _commented('# base_url = ""', '"" = the address `feedpub serve` listens on'),
        _commented(f"language = {_toml(language)}", 'of every string people read: "id" or "en" (a region allowed)'),
        f"timezone = {_toml(timezone)}",
    ]
    return _TEMPLATE.format(site="\n".join(lines))


def _commented(setting: str, comment: str) -> str:
    return f"{setting:<33} # {comment}"


def _toml(text: str) -> str:
    # A JSON string is a TOML basic string: the same quotes and escapes (TOML 1.0, "String").
    return json.dumps(text, ensure_ascii=False)


def init_site(folder: Path, *, title: str, language: str, timezone: str, base_url: str = "") -> NewSite:
    """Write ``folder/feedpub.toml`` and create its store; ConfigError when the file exists
    or a value is refused (nothing is written then)."""
    folder = folder.absolute()
    target = folder / DEFAULT_FILE
    if target.exists():
        raise ConfigError(f"{target}: already exists; feedpub init never overwrites a configuration "
                          "(edit it, or run feedpub init in another folder)")
    text = render(title=title, language=language, timezone=timezone, base_url=base_url)
    config = config_from_text(text, f"feedpub init ({FLAGS})", folder)   # every value checked before anything is written
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with target.open("x", encoding="utf-8") as file:   # "x": another init racing this one loses
            file.write(text)
    except FileExistsError:
        raise ConfigError(f"{target}: already exists; feedpub init never overwrites a configuration") from None
    except OSError as exc:
        raise ConfigError(f"{target}: cannot write: {exc.strerror or exc}") from exc
    existed = config.store_path.exists()
    open_store(config).close()
    return NewSite(target, config_from_text(text, str(target), folder), existed)
