"""Configuration: one TOML file read once at the edge, checked key by key.

Every command finds the site's file the same way wherever it runs (:func:`find_config`):
the file given with ``--config``, else the one ``FEEDPUB_CONFIG`` names, else
``feedpub.toml`` in the working directory or the nearest folder above it; with none,
the embedded defaults. Paths in a file are relative to the file's folder (the
defaults' to the working directory), so one site has one store wherever a command
runs. Every key has a default; an unknown key or a bad value is a
:class:`ConfigError` that names the file and the key. The result is a frozen
:class:`Config` of plain values that the composition root hands down.

Documented, with every default, in README.md ("Configuration").
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import hmac
import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from feeds.rendering.language import CatalogueError, catalogue_language, strings
from feeds.site import Partner, SiteSettings
from sources.errors import ConfigError, FeedpubError
from sources.addresses import AddressPolicy
from sources.model import ImageLookups, IngestSettings
from sources.store.sql import display_url
from sources.text import LANGUAGE_TAG, slugify

if TYPE_CHECKING:   # imported where used: both bring heavy libraries a command may not need
    from sources.remote import RemoteSource
    from sources.store.roles import PollRecords
    from sources.store.sql import SQLStore

DEFAULT_FILE = "feedpub.toml"
CONFIG_ENV = "FEEDPUB_CONFIG"  # names the configuration file when --config does not
STATUS_FILE = "status.json"    # what the running service last did, for `feedpub status`
STATS_FILE = "stats.sqlite3"   # feed polls, kept apart from the source store

# section -> key -> default. The type of the default is the type the key takes.
DEFAULTS: dict[str, dict[str, Any]] = {
    "site": {
        "title": "feedpub",
        "description": "",         # "" = "Latest articles" in the site's language
        "base_url": "",            # "" = the address `feedpub serve` listens on
        "language": "id",
        "timezone": "Asia/Jakarta",
        "author": "",              # "" = the site title
        "article_url": "{base_url}/articles/{slug}",
        "tag_authority": "",       # "" = the host of base_url ("localhost" for an IP address)
        "image": "",               # channel image URL; "" = the bundled logo.png
    },
    "feeds": {"items": 50, "archive_entries": 0, "tombstone_days": 30, "categories": True, "tags": True, "authors": True},
    "schedule": {"rebuild_minutes": 15.0},
    # url "" = SQLite at path. With a PostgreSQL url, path's folder still holds this instance's status.json.
    # sample: `feedpub serve` puts the newsroom's sample article in a new store (`feedpub init` writes false)
    "store": {"path": "data/feedpub.sqlite3", "url": "", "suggest_related": True, "sample": True},
    "output": {"path": "public"},
    # gone: retired URL paths answering 410; moved: old path -> new path or URL, answering 301
    "server": {"host": "127.0.0.1", "port": 8080, "workers": 2, "gone": [""], "moved": {"": ""}},
    "websub": {"hubs": [""], "timeout_seconds": 10.0, "retries": 6},
    # [[sources]]: an array of tables, one per partner feed, none by default (ARRAY_SECTIONS);
    # these are each table's keys and defaults. name and url are required.
    "sources": {"name": "", "url": "", "interval_minutes": 15.0, "enabled": True,
                "max_bytes": 5 * 1024 * 1024, "timeout_seconds": 15.0},
    "api": {"token": "", "max_body_bytes": 1_048_576, "body_timeout_seconds": 30.0},   # token "" = the ingest API is off
    # lead image look-ups: public addresses only, but for the hosts / networks listed
    "images": {"allow_hosts": [""], "timeout_seconds": 10.0},
    # Limits of every way in (files, flags, the API, partner feeds). max_article_bytes 0 = api.max_body_bytes.
    "ingest": {"max_terms": 50, "max_article_bytes": 0},
    # [partners.NAME]: a table per syndication partner, none by default (NAMED_SECTIONS); these are
    # each table's keys and defaults. profile is required.
    "partners": {"profile": "", "categories": [""], "tags": [""], "min_image_px": 0, "secret": ""},
    # access_log: nginx's access log in the format `feedpub nginx-config` sets up; "" = feedpub serves
    # the feeds itself and records their polls as it answers
    "stats": {"access_log": ""},
}

ARRAY_SECTIONS = frozenset({"sources"})   # written [[name]]: a list of tables, each checked like a section
NAMED_SECTIONS = frozenset({"partners"})  # written [name.KEY]: a table per KEY, each checked like a section
_PARTNER_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?\Z")

_DNS_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_EMAIL = re.compile(r"^[^@\s]+@[A-Za-z0-9.-]+$")
_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]{16,}=*\Z")   # \Z: "$" would let a final newline through
API_TOKEN_ENV = "FEEDPUB_API_TOKEN"   # wins over api.token, so the secret can stay out of the file
STORE_URL_ENV = "FEEDPUB_STORE_URL"   # wins over store.url (and store.path): a database password stays out too


@dataclass(frozen=True)
class Config:
    source: str                # the file read, or "defaults"
    site: SiteSettings
    ingest: IngestSettings
    store_path: Path           # absolute (relative in the file: to the file's folder); the SQLite store,
                               # or with store_url only its folder (this instance's status.json)
    output_dir: Path           # absolute, likewise
    host: str
    port: int
    base_url_given: bool       # False: base_url follows the address the server binds
    suggest_related: bool = True  # store suggests related articles when the newsroom named none
    hub_timeout: float = 10.0  # seconds for one WebSub publish request
    hub_retries: int = 6       # further attempts, 2 s, 4 s, 8 s ... apart
    sources: tuple[RemoteSource, ...] = ()   # partner feeds polled by the scheduler ([[sources]])
    api_token: str = ""        # bearer token of the ingest API; "" = the API is off
    api_max_body_bytes: int = 1_048_576   # larger request bodies get 413
    api_body_timeout_seconds: float = 30.0   # a request body not arrived whole within this gets 408
    gone: tuple[str, ...] = ()     # retired URL paths: 410 Gone
    moved: tuple[tuple[str, str], ...] = ()   # (old URL path, new path or absolute URL): 301
    workers: int = 2               # granian worker processes serving public/
    images: ImageLookups = ImageLookups()   # lead image look-ups: deadline, hosts beyond the public ones
    sample: bool = True            # `feedpub serve` puts the sample article in a new store
    store_url: str = ""            # a PostgreSQL store shared by several instances; "" = SQLite at store_path
    access_log: Path | None = None   # nginx's access log, followed for feed polls (stats.access_log); None: none

    @property
    def shared_store(self) -> bool:
        return bool(self.store_url)

    @property
    def store_label(self) -> str:
        """The store as messages name it (a URL without its password)."""
        return display_url(self.store_url) if self.store_url else str(self.store_path)

    @property
    def status_path(self) -> Path:
        return self.store_path.parent / STATUS_FILE

    @property
    def stats_path(self) -> Path:
        return self.store_path.parent / STATS_FILE

    @property
    def rebuild_seconds(self) -> float:
        """The periodic rebuild's interval, which is also every document's Cache-Control max-age."""
        return max(1.0, self.site.rebuild_minutes * 60)


def _store_location(source: str, key: str, value: str) -> tuple[Path | None, str]:
    """(SQLite file, "") or (None, PostgreSQL URL) of a ``store.url`` value: a path,
    ``sqlite:///relative/path``, ``sqlite:////absolute/path`` or ``postgresql://...``."""
    if value.startswith(("postgresql://", "postgres://")):
        from psycopg.conninfo import conninfo_to_dict   # here: only a shared store loads psycopg
        from psycopg import ProgrammingError

        try:
            conninfo_to_dict(value)
            urlsplit(value).port   # libpq's parser leaves a bad port to the connection attempt
        except (ProgrammingError, ValueError) as exc:
            raise _fail(source, key, f"{display_url(value)!r} is not a PostgreSQL URL: {exc}") from None
        return None, value
    if value.startswith("sqlite:"):
        if not value.startswith("sqlite:///") or len(value) == len("sqlite:///"):
            raise _fail(source, key, f"{value!r}: write sqlite:///relative/path or sqlite:////absolute/path")
        return Path(value[len("sqlite:///"):]), ""
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value):
        raise _fail(source, key, f"{display_url(value)!r} is neither a path, a sqlite:/// URL "
                                 "nor a postgresql:// URL")
    return Path(value), ""


def utc_now() -> datetime:
    """The wall clock, read only at the edge (the CLI, the service) and passed down as a value."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def _fail(source: str, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{source}: {key}: {problem}")


# Characters XML 1.0 forbids (section 2.2): a site title holding one would make every build fail.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(source: str, key: str, value: Any) -> None:
    for text in (value if isinstance(value, list) else [*value.keys(), *value.values()]
                 if isinstance(value, dict) else [value]):
        found = _NOT_XML.search(text) if isinstance(text, str) else None
        if found:
            raise _fail(source, key, f"contains the control character U+{ord(found.group()):04X}, "
                                     "which no feed can carry")


def _typed(source: str, key: str, value: Any, default: Any) -> Any:
    value = _of_type(source, key, value, default)
    _xml_text(source, key, value)
    return value


def _of_type(source: str, key: str, value: Any, default: Any) -> Any:
    if isinstance(default, dict):
        if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
            raise _fail(source, key, f'expected a table of strings such as {{ "/old.xml" = "/rss.xml" }}, got {value!r}')
        return value
    if isinstance(default, list):
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise _fail(source, key, f"expected a list of strings, got {value!r}")
        return value
    if isinstance(default, bool) and isinstance(value, bool):
        return value
    if isinstance(default, bool) or isinstance(value, bool):
        raise _fail(source, key, f"expected {type(default).__name__}, got {value!r}")
    if isinstance(default, float) and isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, type(default)):
        raise _fail(source, key, f"expected {type(default).__name__}, got {type(value).__name__} {value!r}")
    return value


def _merge(raw: dict, source: str) -> dict[str, dict[str, Any]]:
    merged = {section: dict(keys) for section, keys in DEFAULTS.items()}
    merged["websub"]["hubs"] = []  # the default above only gives the element type
    merged["server"]["gone"], merged["server"]["moved"] = [], {}   # likewise
    merged["images"]["allow_hosts"] = []
    for section in ARRAY_SECTIONS:
        merged[section] = []        # type: ignore[assignment]  # a list of tables, none by default
    for section in NAMED_SECTIONS:
        merged[section] = {}        # a table of tables, none by default
    for section, body in raw.items():
        if section not in DEFAULTS:
            hint = difflib.get_close_matches(section, DEFAULTS, n=1)
            raise _fail(source, section, "unknown section" + (f" (did you mean [{hint[0]}]?)" if hint else ""))
        if section in ARRAY_SECTIONS:
            merged[section] = _tables(section, body, source)   # type: ignore[assignment]
            continue
        if section in NAMED_SECTIONS:
            merged[section] = _named_tables(section, body, source)
            continue
        if not isinstance(body, dict):
            raise _fail(source, section, "must be a table: [" + section + "]")
        for key, value in body.items():
            name = f"{section}.{key}"
            if key not in DEFAULTS[section]:
                hint = difflib.get_close_matches(key, DEFAULTS[section], n=1)
                raise _fail(source, name, "unknown key" + (f" (did you mean {section}.{hint[0]}?)" if hint else ""))
            merged[section][key] = _typed(source, name, value, DEFAULTS[section][key])
    return merged


def _check_token(source: str, key: str, token: str) -> None:
    """A bearer token (RFC 6750 b64token) long enough not to be guessed; "" = none."""
    if token and not _TOKEN.match(token):
        raise _fail(source, key, "must be at least 16 characters of A-Z a-z 0-9 - . _ ~ + / (then = padding), "
                                 "e.g. the output of: python3 -c 'import secrets; print(secrets.token_urlsafe())'")


def _split(source: str, key: str, value: str) -> SplitResult:
    """urlsplit, with its ValueError ("http://[x": an unclosed IPv6 literal) named by key.
    White space is refused: urlsplit would drop a tab or newline silently (bpo-43882)."""
    if any(char.isspace() for char in value):
        raise _fail(source, key, f"{value!r} is not a URL: it contains white space")
    try:
        return urlsplit(value)
    except ValueError as exc:
        raise _fail(source, key, f"{value!r} is not a URL: {exc}") from None


def _base_url(source: str, value: str) -> str:
    parts = _split(source, "site.base_url", value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise _fail(source, "site.base_url", f"{value!r} is not an absolute http(s) URL such as https://news.example.com")
    try:
        parts.port   # every article link is made from it: nh3 refuses a base with a bad port at build time
    except ValueError as exc:
        raise _fail(source, "site.base_url", f"{value!r}: {exc}") from None
    return value.rstrip("/")


def authority_for(base_url: str) -> str:
    """The RFC 4151 authority new ids are minted under when none is configured."""
    host = urlsplit(base_url).hostname or "localhost"
    return host if _DNS_NAME.match(host) and not host.replace(".", "").isdigit() else "localhost"


def server_base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _tables(section: str, body: Any, source: str) -> list[dict[str, Any]]:
    """An array of tables ([[section]]): each table's keys typed like a section's.
    Errors name the table by its place in the file, from 1: ``sources[2].url``."""
    if not isinstance(body, list) or not all(isinstance(table, dict) for table in body):
        raise _fail(source, section, f"must be an array of tables: [[{section}]]")
    tables = []
    for number, table in enumerate(body, start=1):
        merged = dict(DEFAULTS[section])
        for key, value in table.items():
            name = f"{section}[{number}].{key}"
            if key not in DEFAULTS[section]:
                hint = difflib.get_close_matches(key, DEFAULTS[section], n=1)
                raise _fail(source, name, "unknown key"
                            + (f" (did you mean {section}[{number}].{hint[0]}?)" if hint else ""))
            merged[key] = _typed(source, name, value, DEFAULTS[section][key])
        tables.append(merged)
    return tables


def _named_tables(section: str, body: Any, source: str) -> dict[str, dict[str, Any]]:
    """A table of tables ([section.NAME]): each table's keys typed like a section's.
    Errors name the table by its name: ``partners.msn.profile``."""
    if not isinstance(body, dict) or not all(isinstance(table, dict) for table in body.values()):
        raise _fail(source, section, f"must hold one table per name: [{section}.NAME]")
    tables = {}
    for name, table in body.items():
        merged = {key: [] if isinstance(default, list) else default for key, default in DEFAULTS[section].items()}
        for key, value in table.items():
            where = f"{section}.{name}.{key}"
            if key not in DEFAULTS[section]:
                hint = difflib.get_close_matches(key, DEFAULTS[section], n=1)
                raise _fail(source, where,
                            "unknown key" + (f" (did you mean {section}.{name}.{hint[0]}?)" if hint else ""))
            merged[key] = _typed(source, where, value, DEFAULTS[section][key])
        tables[name] = merged
    return tables


def partner_segment(name: str, secret: str) -> str:
    """The path segment a partner's secret feed lives under: an HMAC of its name keyed with the
    secret (128 bits), so the address proves nothing about the secret and never holds it."""
    return hmac.new(secret.encode("utf-8"), b"feedpub partner feed:" + name.encode("utf-8"),
                    hashlib.sha256).hexdigest()[:32]


def _check_partners(tables: dict[str, dict[str, Any]], source: str) -> tuple[Partner, ...]:
    from feeds.rendering.profiles import PROFILES

    found = []
    for name, table in sorted(tables.items()):
        where = f"partners.{name}"
        if not _PARTNER_NAME.match(name):
            raise _fail(source, where, "a partner's name is a path segment: lowercase letters, digits and dashes "
                                       "(at most 64, not starting or ending with a dash), e.g. [partners.msn]")
        if table["profile"] not in PROFILES:
            raise _fail(source, f"{where}.profile", (f"unknown profile {table['profile']!r}" if table["profile"]
                                                     else "is required") + ": one of " + ", ".join(PROFILES))
        if not 0 <= table["min_image_px"] <= 20_000:
            raise _fail(source, f"{where}.min_image_px", "must be between 0 (the profile's own minimum) and 20000")
        _check_token(source, f"{where}.secret", table["secret"])
        for key in ("categories", "tags"):
            if any(not value.strip() for value in table[key]):
                raise _fail(source, f"{where}.{key}", "holds an empty name")
        found.append(Partner(name=name, profile=table["profile"], categories=tuple(table["categories"]),
                             tags=tuple(table["tags"]), min_image=table["min_image_px"],
                             private=partner_segment(name, table["secret"]) if table["secret"] else ""))
    return tuple(found)


def _check_sources(tables: list[dict[str, Any]], source: str) -> tuple[RemoteSource, ...]:
    if not tables:
        return ()
    from sources.remote import RemoteSource   # requests and feedparser: only for a site that polls partners

    found: list[RemoteSource] = []
    names: dict[str, int] = {}
    urls: dict[str, int] = {}
    for number, table in enumerate(tables, start=1):
        where = f"sources[{number}]"
        name, url = table["name"].strip(), table["url"].strip()
        if not slugify(name):
            raise _fail(source, f"{where}.name", "is required: the partner's name, with a letter or digit "
                                                 "(shown as the articles' source)")
        if slugify(name) in names:   # names make job ids and article slugs
            raise _fail(source, f"{where}.name", f"{name!r} is already the name of sources[{names[slugify(name)]}]")
        parts = _split(source, f"{where}.url", url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _fail(source, f"{where}.url", f"{url!r} is not an absolute http(s) URL of an RSS, Atom or JSON feed"
                        if url else "is required: the partner feed's http(s) URL")
        if url in urls:
            raise _fail(source, f"{where}.url", f"{url!r} is already polled as sources[{urls[url]}]")
        if not 0.01 <= table["interval_minutes"] <= 10_080:
            raise _fail(source, f"{where}.interval_minutes", "must be between 0.01 and 10080 (a week)")
        if not 1024 <= table["max_bytes"] <= 1024 ** 3:
            raise _fail(source, f"{where}.max_bytes", "must be between 1024 and 1073741824 (1 GiB)")
        if not 0.1 <= table["timeout_seconds"] <= 300:
            raise _fail(source, f"{where}.timeout_seconds", "must be between 0.1 and 300")
        names[slugify(name)], urls[url] = number, number
        found.append(RemoteSource(name=name, url=url, interval_minutes=table["interval_minutes"],
                                  enabled=table["enabled"], max_bytes=table["max_bytes"],
                                  timeout_seconds=table["timeout_seconds"]))
    return tuple(found)


def _check_images(images: dict[str, Any], source: str) -> ImageLookups:
    """[images]: allow_hosts entries are host names (allowed whatever they resolve to) or
    IP addresses and networks (allowed whatever name led to them)."""
    hosts: set[str] = set()
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for number, entry in enumerate(images["allow_hosts"], start=1):
        text = entry.strip().lower().rstrip(".")
        try:
            networks.append(ipaddress.ip_network(text.strip("[]")))
            continue
        except ValueError as exc:
            if "/" in text or ":" in text or text.replace(".", "").isdigit():
                raise _fail(source, f"images.allow_hosts[{number}]",
                            f"{entry!r} is not an IP address or network: {exc}") from None
        if not _DNS_NAME.match(text):
            raise _fail(source, f"images.allow_hosts[{number}]",
                        f"{entry!r} is neither a host name nor an IP address or network "
                        "(such as \"images.intranet.example\", \"10.1.2.3\" or \"10.0.0.0/8\")")
        hosts.add(text)
    if not 0.1 <= images["timeout_seconds"] <= 300:
        raise _fail(source, "images.timeout_seconds", "must be between 0.1 and 300")
    return ImageLookups(timeout_seconds=images["timeout_seconds"],
                        policy=AddressPolicy(hosts=frozenset(hosts), networks=tuple(networks)))


def _url_path_problem(path: str) -> str | None:
    """Why ``path`` is not a URL path the server can be asked for (as decoded), or None."""
    if not path.startswith("/") or path.startswith("//"):
        return "must be a URL path beginning with a single / (such as /old/rss.xml)"
    if any(char in path for char in "?#\\") or any(char.isspace() or ord(char) < 32 for char in path):
        return "must be a path only: no query, fragment, backslash or white space"
    if any(part in (".", "..") for part in path.split("/")):
        return "must not contain . or .. segments"
    return None


def _check_retired(gone: list[str], moved: dict[str, str],
                   source: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """server.gone (410) and server.moved (301): URL paths, each retired one way only."""
    for number, path in enumerate(gone, start=1):
        problem = _url_path_problem(path)
        if problem:
            raise _fail(source, f"server.gone[{number}]", f"{path!r} {problem}")
    for old, new in moved.items():
        key = f'server.moved."{old}"'
        problem = _url_path_problem(old)
        if problem:
            raise _fail(source, key, f"{old!r} {problem}")
        if old in gone:
            raise _fail(source, key, f"{old!r} is also in server.gone: a retired path either moved or is gone")
        target = _split(source, key, new)
        if new.startswith("/"):
            problem = _url_path_problem(target.path) if not new.startswith("//") else "must not begin with //"
            if problem:
                raise _fail(source, key, f"{new!r} {problem}")
        elif target.scheme not in ("http", "https") or not target.netloc:
            raise _fail(source, key, f"{new!r} is neither a path beginning with / nor an absolute http(s) URL")
        if new == old:
            raise _fail(source, key, "must not redirect to itself")
        if new in moved or new in gone:
            raise _fail(source, key, f"{new!r} is itself retired: name the final place (no chains, no loops)")
    return tuple(dict.fromkeys(gone)), tuple(sorted(moved.items()))


def _check(values: dict[str, dict[str, Any]], source: str, base: Path) -> Config:
    site, server = values["site"], values["server"]
    if not site["title"].strip():
        raise _fail(source, "site.title", "must not be empty")
    if not LANGUAGE_TAG.match(site["language"]):
        raise _fail(source, "site.language", f"{site['language']!r} is not a language tag such as 'id' or 'en-US'")
    try:
        catalogue_language(site["language"])
    except CatalogueError as exc:
        raise _fail(source, "site.language", str(exc)) from None
    try:
        ZoneInfo(site["timezone"])
    except (ZoneInfoNotFoundError, ValueError, OSError):   # OSError: "America" names a folder of zones
        raise _fail(source, "site.timezone", f"unknown time zone {site['timezone']!r} (e.g. 'Asia/Jakarta')") from None
    if "{slug}" not in site["article_url"]:
        raise _fail(source, "site.article_url", "must contain {slug}")
    try:
        example = site["article_url"].format(base_url="https://news.example", slug="s", yyyy="2024", mm="09")
    except (KeyError, IndexError, ValueError, AttributeError) as exc:   # AttributeError: "{slug.x}"
        raise _fail(source, "site.article_url",
                    f"only {{base_url}}, {{slug}}, {{yyyy}} and {{mm}} may be used ({exc})") from None
    parts = _split(source, "site.article_url", example)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _fail(source, "site.article_url", "must begin with {base_url} or be an absolute http(s) URL")
    authority = site["tag_authority"]
    if authority and not (_DNS_NAME.match(authority) or _EMAIL.match(authority)):
        raise _fail(source, "site.tag_authority", f"{authority!r} is not a domain name or e-mail address (RFC 4151)")
    if not 1 <= values["feeds"]["items"] <= 10_000:
        raise _fail(source, "feeds.items", "must be between 1 and 10000")
    if not values["feeds"]["archive_entries"]:
        values["feeds"]["archive_entries"] = values["feeds"]["items"]
    if not 1 <= values["feeds"]["archive_entries"] <= values["feeds"]["items"]:
        # The open archive page must fit in the subscription document (feeds/rendering/archive.py).
        raise _fail(source, "feeds.archive_entries", f"must be between 1 and feeds.items ({values['feeds']['items']})")
    if not 0 <= values["feeds"]["tombstone_days"] <= 3650:
        raise _fail(source, "feeds.tombstone_days", "must be between 0 and 3650")
    if site["image"]:
        image = _split(source, "site.image", site["image"])
        if image.scheme not in ("http", "https") or not image.netloc:
            raise _fail(source, "site.image", f"{site['image']!r} is not an absolute http(s) URL")
    if not 0.01 <= values["schedule"]["rebuild_minutes"] <= 10_080:
        raise _fail(source, "schedule.rebuild_minutes", "must be between 0.01 (under a second) and 10080 (a week)")
    if not 0 <= server["port"] <= 65535:
        raise _fail(source, "server.port", "must be between 0 and 65535")
    if not server["host"]:
        raise _fail(source, "server.host", "must not be empty")
    if not 1 <= server["workers"] <= 64:
        raise _fail(source, "server.workers", "must be between 1 and 64")
    try:   # the default base URL is made from it
        urlsplit(server_base_url(server["host"], server["port"])).port
    except ValueError:
        raise _fail(source, "server.host", f"{server['host']!r} is not a host name or IP address") from None
    if any(char.isspace() or char in "/?#@" for char in server["host"]):
        raise _fail(source, "server.host", f"{server['host']!r} is not a host name or IP address")
    gone, moved = _check_retired(server["gone"], server["moved"], source)
    for key in ("store", "output"):
        if not values[key]["path"]:
            raise _fail(source, f"{key}.path", "must not be empty")

    websub = values["websub"]
    for hub in websub["hubs"]:
        parts = _split(source, "websub.hubs", hub)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _fail(source, "websub.hubs", f"{hub!r} is not an absolute http(s) URL")
    if not 0.5 <= websub["timeout_seconds"] <= 120:
        raise _fail(source, "websub.timeout_seconds", "must be between 0.5 and 120")
    if not 0 <= websub["retries"] <= 20:
        raise _fail(source, "websub.retries", "must be between 0 and 20")
    api = values["api"]
    _check_token(source, "api.token", api["token"])
    if not 1024 <= api["max_body_bytes"] <= 1 << 30:
        raise _fail(source, "api.max_body_bytes", "must be between 1024 and 1073741824 (1 GiB)")
    if not 1 <= api["body_timeout_seconds"] <= 3600:
        raise _fail(source, "api.body_timeout_seconds", "must be between 1 and 3600")
    limits = values["ingest"]
    if not 1 <= limits["max_terms"] <= 1000:
        # Each term is a feed of its own (three documents): a build grows with their number.
        raise _fail(source, "ingest.max_terms", "must be between 1 and 1000")
    if not limits["max_article_bytes"]:
        limits["max_article_bytes"] = api["max_body_bytes"]
    if not 1024 <= limits["max_article_bytes"] <= 1 << 30:
        raise _fail(source, "ingest.max_article_bytes",
                    "must be 0 (= api.max_body_bytes) or between 1024 and 1073741824 (1 GiB)")

    store_path, store_url = _beside(base, values["store"]["path"]), ""
    if values["store"]["url"]:
        found, store_url = _store_location(source, "store.url", values["store"]["url"])
        store_path = _beside(base, str(found)) if found else store_path

    given = bool(site["base_url"])
    base_url = _base_url(source, site["base_url"]) if given else server_base_url(server["host"], server["port"])
    return Config(
        source=source,
        site=SiteSettings(
            title=site["title"].strip(), description=site["description"].strip() or strings(site["language"])["latest"],
            base_url=base_url, language=site["language"], timezone=site["timezone"], author=site["author"],
            items_per_feed=values["feeds"]["items"], rebuild_minutes=values["schedule"]["rebuild_minutes"],
            article_url=site["article_url"], image=site["image"],
            tombstone_days=values["feeds"]["tombstone_days"], archive_entries=values["feeds"]["archive_entries"],
            hubs=tuple(websub["hubs"]),
            catalogue=tuple(kind for kind, key in (("category", "categories"), ("tag", "tags"), ("author", "authors"))
                            if values["feeds"][key]),
            partners=_check_partners(values["partners"], source),   # type: ignore[arg-type]
        ),
        ingest=IngestSettings(
            tag_authority=authority or authority_for(base_url),
            timezone=site["timezone"], language=site["language"],
            max_terms=limits["max_terms"], max_article_bytes=limits["max_article_bytes"],
        ),
        store_path=store_path,
        store_url=store_url,
        output_dir=_beside(base, values["output"]["path"]),
        host=server["host"],
        port=server["port"],
        base_url_given=given,
        suggest_related=values["store"]["suggest_related"],
        hub_timeout=websub["timeout_seconds"],
        hub_retries=websub["retries"],
        sources=_check_sources(values["sources"], source),   # type: ignore[arg-type]
        api_token=api["token"],
        api_max_body_bytes=api["max_body_bytes"],
        api_body_timeout_seconds=api["body_timeout_seconds"],
        gone=gone,
        moved=moved,
        workers=server["workers"],
        images=_check_images(values["images"], source),
        sample=values["store"]["sample"],
        access_log=_beside(base, values["stats"]["access_log"]) if values["stats"]["access_log"] else None,
    )


def _beside(base: Path, path: str) -> Path:
    """``path`` from the configuration, relative to ``base`` (the file's folder) unless absolute."""
    return Path(os.path.normpath(base / Path(path).expanduser()))


def find_config(path: str | Path | None = None, *, cwd: Path | None = None,
                env: Mapping[str, str] | None = None) -> Path | None:
    """The configuration file a command uses: ``path`` (``--config``), else the file
    ``FEEDPUB_CONFIG`` names, else ``feedpub.toml`` in ``cwd`` or the nearest folder above
    it; None when there is none (the embedded defaults)."""
    cwd = (cwd or Path.cwd()).absolute()
    env = os.environ if env is None else env
    if path is not None:
        return cwd / path
    named = env.get(CONFIG_ENV, "").strip()
    if named:
        found = cwd / Path(named).expanduser()
        if not found.is_file():
            raise ConfigError(f"{CONFIG_ENV}: {named}: no such file (it names the configuration to use)")
        return found
    for folder in (cwd, *cwd.parents):
        if (folder / DEFAULT_FILE).is_file():
            return folder / DEFAULT_FILE
    return None


def load_config(path: str | Path | None = None, *, cwd: Path | None = None,
                env: Mapping[str, str] | None = None) -> Config:
    """Read the configuration :func:`find_config` finds, or the embedded defaults (paths
    relative to ``cwd``). ``env`` (default ``os.environ``) is read here only:
    FEEDPUB_CONFIG names the file, FEEDPUB_API_TOKEN wins over api.token."""
    cwd = (cwd or Path.cwd()).absolute()
    env = os.environ if env is None else env
    found = find_config(path, cwd=cwd, env=env)
    if found is None:
        return _with_env(_check(_merge({}, "defaults"), "defaults", cwd), env)
    source = str(path) if path is not None else str(found)
    try:
        text = found.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text: {exc}") from exc
    return _with_env(config_from_text(text, source, found.parent), env)


def config_from_text(text: str, source: str, base: Path) -> Config:
    """The configuration ``text`` holds, named ``source`` in errors, its paths relative to ``base``."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    except RecursionError:   # "a = [[[[..." nested past the interpreter's limit
        raise ConfigError(f"{source}: not valid TOML: arrays or tables nested too deeply") from None
    return _check(_merge(raw, source), source, base)


def _with_env(config: Config, env: Mapping[str, str]) -> Config:
    token = env.get(API_TOKEN_ENV, "").strip()
    if token:
        _check_token("environment", API_TOKEN_ENV, token)
        config = replace(config, api_token=token)
    location = env.get(STORE_URL_ENV, "").strip()
    if location:
        path, url = _store_location("environment", STORE_URL_ENV, location)
        config = replace(config, store_path=path.absolute() if path else config.store_path, store_url=url)
    if config.shared_store and not config.base_url_given:
        # Each instance would otherwise write its own listening address into every link and
        # id-bearing document: behind one load balancer, readers would get different bytes.
        raise _fail(config.source, "site.base_url", "is required when the store is shared (store.url or "
                    f"{STORE_URL_ENV} is a PostgreSQL database): every instance must publish the same "
                    "addresses, e.g. https://news.example.com")
    return config


class NoStoreError(FeedpubError):
    """A command that only reads (or changes existing articles) found no store to open."""


def open_store(config: Config, *, create: bool = True) -> SQLStore:
    """The store as configured (the one place its options are applied). With ``create``
    False a missing store is a :class:`NoStoreError` that says how to make one, and nothing
    is made: a command that only reads never leaves an empty store behind."""
    if not create and not store_exists(config):
        raise NoStoreError(no_store_message(config))
    return _open(config.store_path, config.store_url, suggest_related=config.suggest_related)


def open_store_at(location: str, argument: str) -> SQLStore:
    """The store at a path, sqlite:/// or postgresql:// URL given on the command line as
    ``argument`` (``feedpub store copy``); a bad one is a ConfigError naming it."""
    path, url = _store_location("arguments", argument, location)
    return _open(path or Path(), url, suggest_related=True)


def _open(path: Path, url: str, *, suggest_related: bool) -> SQLStore:
    if url:
        from sources.store.postgres import PostgresStore   # here: psycopg only for a shared store

        return PostgresStore(url, clock=utc_now, suggest_related=suggest_related)
    from sources.store import SQLiteStore   # here: a command that never opens the store does not load it

    return SQLiteStore(path, clock=utc_now, suggest_related=suggest_related)


def store_exists(config: Config) -> bool:
    """Whether the configured store was ever created (opening one creates it)."""
    return _exists(config.store_path, config.store_url)


def store_exists_at(location: str, argument: str) -> bool:
    """Whether there is a store at a location given on the command line as ``argument``."""
    path, url = _store_location("arguments", argument, location)
    return _exists(path or Path(), url)


def _exists(path: Path, url: str) -> bool:
    if url:
        from sources.store.postgres import store_exists as exists

        return exists(url)
    return path.exists()


def poll_records(config: Config, *, create: bool = True) -> Callable[[], PollRecords]:
    """How each process opens where feed polls are kept (picklable, for the server workers):
    stats.sqlite3 beside an embedded store (``create`` False: read it only if it exists),
    the shared database's table for a shared one."""
    if config.store_url:
        from sources.store.postgres import PostgresPolls

        return functools.partial(PostgresPolls, config.store_url)
    from feeds.serving.stats import SQLitePolls

    return functools.partial(SQLitePolls, config.stats_path.resolve(), create=create)


def no_store_message(config: Config) -> str:
    where = (f"the configuration {config.source}" if config.source != "defaults" else
             f"the embedded defaults: no {DEFAULT_FILE} here or in a folder above, and no --config or {CONFIG_ENV}")
    return (f"no store at {config.store_label} (from {where}); `feedpub init` makes a site with its store here, "
            "`feedpub ingest FILE` or `feedpub serve` makes one with the configuration in use")


def with_address(config: Config, host: str, port: int) -> Config:
    """The config for a server bound to host:port; a default base_url follows the address."""
    if config.base_url_given:
        return replace(config, host=host, port=port)
    base_url = server_base_url(host, port)
    return replace(config, host=host, port=port, site=replace(config.site, base_url=base_url))
