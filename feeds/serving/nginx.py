"""nginx in front of feedpub: its configuration, made from the site's settings (``feedpub nginx-config``).

nginx serves the output folder as it is and answers every request ``feedpub serve``
answers from files, as :class:`feeds.serving.server.PublicFiles` does:

- the same content types, ``Cache-Control``, ``X-Content-Type-Options`` and WebSub
  ``Link`` headers; 404 for dot-files (the manifest, a build's temporary files) and for
  the precompressed variants' own names; the variants served by ``Accept-Encoding``
  (``gzip_static``, ``brotli_static``) with ``Vary: Accept-Encoding``;
- a feed's page for people to a browser (its ``Accept`` prefers ``text/html``), with
  ``Vary: Accept``: the page's path follows from the feed's (:func:`page_of`);
- 404 with the build's ``404.html`` for an address with nothing at it (outside the feeds' own
  locations, where a feed reader reads only the status);
- 410 for a document the build marked gone (a deleted article's page, its body that
  page: ``feeds.publishing.publish.GONE_MARKERS``) and for ``server.gone``, 301 for ``server.moved``;
- 404 for anything outside the output folder (no path leads above ``root``);
- ``If-Modified-Since`` answered as feedpub does (304 when the document is not newer).

Validators are nginx's own: ``ETag`` from the file's time and size, ``Last-Modified``
from its time. The build gives every document's files the document's own time
(feeds/publishing/atomic.py ``set_mtime``), so they are the same on every instance and
after rebuilds of unchanged content, and ``Last-Modified`` is the one feedpub sends.

Passed to the feedpub process: ``/api/``, ``/healthz``, ``/metrics``, and requests
carrying ``A-IM: feed`` (RFC 3229 deltas, whose ETags are feedpub's own). Feed polls nginx
answers go to an access log in :data:`LOG_FORMAT`, which the serve process follows
(feeds/serving/access_log.py) when ``stats.access_log`` names it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..publishing.publish import GONE_MARKERS
from .server import NOT_FOUND_PAGE

# One line per request nginx answered from the output folder, fields apart by tabs;
# escape=json writes a tab, quote or control character inside a field as \t, \", \u00XX.
LOG_FORMAT_NAME = "feedpub"
LOG_FIELDS = ("msec", "status", "body_bytes_sent", "remote_addr", "request_method", "uri", "http_user_agent")
LOG_FORMAT = "\\t".join(f"${field}" for field in LOG_FIELDS)
# The same for a feed's page given to a browser: the poll is the feed's, as feedpub counts it
# ($uri is the page's by then).
PAGE_LOG_FORMAT = LOG_FORMAT.replace("$uri", "$feedpub_feed")

HTML = "text/html; charset=utf-8"
# Feed documents by name, in any folder (partners' feeds are all RSS, under partners/).
RSS, ATOM, JSON_FEED = ("application/rss+xml; charset=utf-8", "application/atom+xml; charset=utf-8",
                        "application/feed+json; charset=utf-8")
FEED_NAMES = {"rss.xml": RSS, "atom.xml": ATOM, "feed.json": JSON_FEED}
ARCHIVE_PAGE = re.compile(r"(?:.+/)?archive/[^/]+\.xml")   # an archive page (RFC 5005): Atom
# Every other file by its suffix; a file without one is an article's page (HTML).
TYPES = {
    "html": HTML, "xml": "application/xml; charset=utf-8", "json": "application/json; charset=utf-8",
    "xsl": "text/xsl; charset=utf-8", "css": "text/css; charset=utf-8", "txt": "text/plain; charset=utf-8",
    "opml": "text/x-opml; charset=utf-8", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
    "gif": "image/gif", "webp": "image/webp", "svg": "image/svg+xml", "ico": "image/x-icon",
}
# A browser's Accept: text/html at full quality (no q, or q=1) and no feed type named, nor
# application/*, nor */* at full quality. PublicFiles compares qualities exactly: for the
# headers browsers and feed readers send, both choose alike (tests/test_nginx.py checks them).
BROWSER_ACCEPT = (r"~*^(?!.*(?:rss\+xml|atom\+xml|feed\+json|application/\*|\*/\*\s*(?:,|$)))"
                  r"(?:.*,)?\s*text/html\s*(?:;\s*q=1(?:\.0*)?\s*)?(?:,|$)")


@dataclass(frozen=True)
class NginxSite:
    """What the configuration says, as plain values (read from feedpub.toml by the CLI)."""

    root: Path                       # the output folder
    server_name: str                 # the host of site.base_url
    listen: str                      # nginx's ``listen`` value: "80", "127.0.0.1:8081"
    upstream: str                    # host:port of `feedpub serve`
    base_url: str
    max_age: int                     # Cache-Control max-age and stale-while-revalidate, seconds
    hubs: tuple[str, ...] = ()
    gone: tuple[str, ...] = ()
    moved: tuple[tuple[str, str], ...] = ()
    max_body_bytes: int = 1_048_576
    access_log: Path | None = None   # stats.access_log; None: no log of polls
    brotli: bool = True              # brotli_static (Debian: libnginx-mod-http-brotli-static)


def page_of(path: str) -> str | None:
    """The page for people of a feed document (a path under the output folder), as the build
    names it: rss.xml, atom.xml, feed.json -> feed.html; a folder's feeds -> its index.html;
    an archive page's .xml -> its .html. None: none (a partner's feed, anything else)."""
    if path.startswith("partners/"):
        return None
    folder, _, name = path.rpartition("/")
    if name in FEED_NAMES:
        return f"{folder}/index.html" if folder else "feed.html"
    if ARCHIVE_PAGE.fullmatch(path):
        return path.removesuffix(".xml") + ".html"
    return None


def content_type_of(path: str) -> str:
    """The Content-Type nginx sends for a file of the output folder with this configuration
    (as :func:`render`'s locations decide it)."""
    if path.startswith("partners/"):
        return RSS
    name = path.rpartition("/")[2]
    if name in FEED_NAMES:
        return FEED_NAMES[name]
    if ARCHIVE_PAGE.fullmatch(path):
        return ATOM
    if "." not in name:
        return HTML
    return TYPES.get(name.rpartition(".")[2].lower(), "application/octet-stream")


def check_manifest(manifest: Mapping[str, Mapping]) -> list[str]:
    """What nginx would serve differently from feedpub for the documents a build listed: one
    line per document (its path, what the build says, what nginx would do); [] when none."""
    problems = []
    for path, entry in sorted(manifest.items()):
        wanted = str(entry.get("content_type", "")).replace(" ", "").lower()
        given = content_type_of(path).replace(" ", "").lower()
        if wanted and wanted != given:
            problems.append(f"{path}: the build says {entry['content_type']!r}, "
                            f"nginx would send {content_type_of(path)!r}")
        page = entry.get("page")
        if page and page != page_of(path):
            problems.append(f"{path}: its page for people is {page}, nginx would look for {page_of(path)}")
    return problems


def _quote(value: str) -> str:
    # nginx reads \" \' \\ \t \n \r in a quoted string as escapes; any other backslash as itself.
    if re.search(r'["\n\r]|\\["\'\\tnr]', value):
        raise ValueError(f"{value!r} cannot be written into an nginx configuration")
    return f'"{value}"'


def _lines(*parts: str, indent: int = 4) -> list[str]:
    return [" " * indent + part if part else "" for part in parts]


def render(site: NginxSite) -> str:
    """The configuration: the http-level ``map``/``upstream``/``log_format`` it needs and one
    ``server`` block (a file for /etc/nginx/sites-enabled/, which nginx.conf includes in ``http``).

    What runs per feed poll is kept to what feedpub decides per request (bench/serve.py
    measures it against plain nginx): the site's own feeds are exact-match locations, so no
    location pattern runs for them; the two request headers that change the answer are
    looked up in maps whose common values (none, ``*/*``) are exact keys, so no pattern
    runs for them either; the headers are constants."""
    cache = _quote(f"public, max-age={site.max_age}, stale-while-revalidate={site.max_age}")
    common = (f"add_header Cache-Control {cache};", "add_header X-Content-Type-Options nosniff;")
    log = ((f"access_log {_quote(str(site.access_log))} {LOG_FORMAT_NAME} buffer=64k flush=1s;",)
           if site.access_log else ())
    hub_links = ", ".join(f"<{hub}>; rel=\"hub\"" for hub in site.hubs)
    link = ((f"add_header Link '{hub_links}, <{site.base_url.rstrip('/')}$uri>; rel=\"self\"';",)
            if site.hubs else ())

    def feed(match: str, content_type: str, page: str | None, *, announce: bool = True) -> list[str]:
        """A location of feed documents: ``page`` names the named location of their pages."""
        return _lines(
            f"location {match} {{",
            f"    types {{ }} default_type {_quote(content_type)};",
            *("    " + line for line in (*common, *(("add_header Vary Accept;",) if page else ()),
                                        *(link if announce else ()), *log)),
            "    # RFC 3229 deltas are feedpub's: it answers them, and records the poll itself.",
            "    error_page 418 = @feedpub;",
            "    if ($feedpub_delta) { return 418; }",
            *((f"    error_page 419 = {page};", "    if ($feedpub_browser) { return 419; }") if page else ()),
            "}",
        )

    def page(name: str, path: str) -> list[str]:
        """A named location of feeds' pages for people (its Link names the feed asked for:
        try_files changes $uri to the page's)."""
        page_link = tuple(line.replace("$uri", "$feedpub_feed") for line in link)
        page_log = tuple(line.replace(f" {LOG_FORMAT_NAME} ", f" {LOG_FORMAT_NAME}_page ") for line in log)
        return _lines(
            f"location {name} {{",
            f"    types {{ }} default_type {_quote(HTML)};",
            *("    " + line for line in (*common, "add_header Vary Accept;", *page_link, *page_log)),
            f"    try_files {path} =404;",
            "}",
        )

    out = [
        "# Generated by `feedpub nginx-config` from feedpub.toml: generate it again after changing",
        "# site.base_url, output.path, server.*, websub.hubs, api.max_body_bytes, stats.access_log or",
        "# schedule.rebuild_minutes. Debian: apt-get install nginx libnginx-mod-http-brotli-static;",
        "# save as /etc/nginx/sites-enabled/feedpub, then `nginx -t` and `systemctl reload nginx`.",
        "# What it does and why: README.md, \"Serving with nginx in front\".",
        "",
        f"upstream feedpub {{ server {site.upstream}; keepalive 8; }}",
        "",
        f"log_format {LOG_FORMAT_NAME} escape=json '{LOG_FORMAT}';",
        f"log_format {LOG_FORMAT_NAME}_page escape=json '{PAGE_LOG_FORMAT}';",
        "",
        "# A browser asks for a feed: its page for people instead (feedpub: text/html preferred).",
        "map $http_accept $feedpub_browser {",
        "    default 0;",
        "    \"\" 0;",
        "    \"*/*\" 0;",
        f"    {_quote(BROWSER_ACCEPT)} 1;",
        "}",
        "# The feed a browser asked for, when it is given the feed's page (its WebSub Link).",
        "map $request_uri $feedpub_feed {",
        "    default \"\";",
        "    \"~^(?<feed>[^?]*)\" $feed;",
        "}",
        "# RFC 3229: a client that takes feed deltas (A-IM: feed).",
        "map $http_a_im $feedpub_delta {",
        "    default 0;",
        "    \"\" 0;",
        "    \"~*\\bfeed\\b\" 1;",
        "}",
        "",
        "server {",
        *_lines(
            f"listen {site.listen};",
            f"server_name {site.server_name};",
            f"root {_quote(str(site.root))};",
            "index index.html;",
            "autoindex off;",
            "server_tokens off;",
            "# Nothing outside the output folder: nginx resolves the path under root (no way up). It",
            "# follows a symbolic link the build never makes; disable_symlinks would stop Debian's",
            "# brotli_static (1.0.0~rc-3) from serving any .br.",
            "# As feedpub: 304 when the document is not newer than the date the client gives.",
            "if_modified_since before;",
            "etag on;",
            "charset off;",
            "types {",
            *[f"    {_quote(content_type)} {suffix};" for suffix, content_type in TYPES.items()],
            "}",
            "default_type application/octet-stream;",
            "# Compressed only as the build wrote it (NAME.gz, NAME.br beside each text document).",
            "gzip off;",
            "gzip_static on;",
            "gzip_vary on;",
            *(["brotli_static on;"] if site.brotli else []),
            "access_log off;",
            "",
            "# Dot-files (the manifest, a build's temporary files) and the variants' own names.",
            "location ~ /\\. { return 404; }",
            "location ~ \\.(?:gz|br)$ { return 404; }",
            "# An address with nothing at it: the build's page saying so, with 404 (as feedpub).",
            f"error_page 404 /{NOT_FOUND_PAGE};",
            f"location = /{NOT_FOUND_PAGE} {{",
            "    internal;",
            f"    add_header Cache-Control {cache} always;",
            "    add_header X-Content-Type-Options nosniff always;",
            "}",
            "",
        ),
    ]
    for path in site.gone:
        out += _lines(f"location = {path} {{ add_header Cache-Control {cache} always; return 410; }}")
    for path, target in site.moved:
        where = site.base_url.rstrip("/") + target if target.startswith("/") else target
        out += _lines(f"location = {path} {{ add_header Cache-Control {cache} always; return 301 {_quote(where)}; }}")
    if site.gone or site.moved:
        out.append("")
    out += _lines("# The site's feeds; their page for people is feed.html.")
    for name, content_type in FEED_NAMES.items():
        out += feed(f"= /{name}", content_type, "@feedpub_site_page")
    out += page("@feedpub_site_page", "/feed.html")
    out += _lines(
        "",
        "# Partners' feeds: no page; one under a secret segment is announced nowhere (no Link).",
        "location ^~ /partners/ {",
        f"    types {{ }} default_type {_quote(RSS)};",
        *("    " + line for line in (*common, *log)),
        "    error_page 418 = @feedpub;",
        "    if ($feedpub_delta) { return 418; }",
        "    location ~ /\\. { return 404; }   # ^~ keeps the server's patterns out: here again",
        "    location ~ \\.(?:gz|br)$ { return 404; }",
        *(("    location ~ ^/partners/[^/]+/rss\\.xml$ {",
           f"        types {{ }} default_type {_quote(RSS)};",
           *("        " + line for line in (*common, *link, *log)),
           "        if ($feedpub_delta) { return 418; }",
           "    }") if link else ()),
        "}",
        "",
        "# A folder's feeds (category, tag, author): its page is the folder's index.html.",
    )
    for name, content_type in FEED_NAMES.items():
        out += feed(f"~ ^(?<feedpub_folder>/.+/){re.escape(name)}$", content_type, "@feedpub_folder_page")
    out += page("@feedpub_folder_page", "${feedpub_folder}index.html")
    out += _lines("", "# Archive pages (RFC 5005, Atom): each has an .html page beside it.")
    out += feed("~ ^(?<feedpub_archive>/(?:.+/)?archive/[^/]+)\\.xml$", ATOM, "@feedpub_archive_page")
    out += page("@feedpub_archive_page", "${feedpub_archive}.html")
    out += _lines(
        "",
        "# Everything else: pages, style, images; a file without a suffix is an article's page.",
        "location / {",
        *("    " + line for line in common),
        f"    default_type {_quote(HTML)};",
        "    # A document the build marked gone (a deleted article's page): 410, with that page.",
        "    error_page 410 @feedpub_gone;",
        f"    error_page 404 /{NOT_FOUND_PAGE};   # a location's error_page hides the server's",
        f"    if (-f $document_root/{GONE_MARKERS}$uri) {{ return 410; }}",
        "}",
        "location @feedpub_gone {",
        *("    " + line for line in (f"add_header Cache-Control {cache} always;",
                                     "add_header X-Content-Type-Options nosniff always;")),
        f"    default_type {_quote(HTML)};",
        "    try_files $uri =410;",
        "}",
        "",
        "location @feedpub {",
        *("    " + line for line in _proxy()),
        "}",
        "location /api/ {",
        *("    " + line for line in _proxy()),
        f"    client_max_body_size {site.max_body_bytes};",
        "}",
        "location = /api {",
        *("    " + line for line in _proxy()),
        "}",
        "location = /healthz {",
        *("    " + line for line in _proxy()),
        "}",
        "location = /metrics {",
        "    allow 127.0.0.1;   # and the Prometheus server's address",
        "    allow ::1;",
        "    deny all;",
        *("    " + line for line in _proxy()),
        "}",
    )
    out.append("}")
    return "\n".join(out) + "\n"


def _proxy() -> Iterable[str]:
    return ("proxy_pass http://feedpub;", "proxy_http_version 1.1;", "proxy_set_header Connection \"\";",
            "proxy_set_header Host $host;", "proxy_set_header X-Forwarded-For $remote_addr;",
            "proxy_buffering off;")


BROTLI_MODULE = Path("/usr/lib/nginx/modules/ngx_http_brotli_static_module.so")   # Debian's


def standalone(server_block: str, prefix: Path, *, workers: int = 1, as_root: bool = False,
               brotli_module: Path | None = BROTLI_MODULE) -> str:
    """A whole nginx.conf around :func:`render`'s text, everything under ``prefix``: for an
    nginx started by a user without root (``nginx -p PREFIX -c PREFIX/nginx.conf``, in the
    foreground), as the tests and bench/serve.py start it. ``as_root``: nginx runs as root
    (its workers then stay root: a temporary folder is readable by its owner only)."""
    load = f"load_module {brotli_module};\n" if brotli_module is not None and "brotli_static" in server_block else ""
    temp = "".join(f"    {kind}_temp_path {prefix}/{kind}-temp;\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"{load}{'user root;' if as_root else ''}\nworker_processes {workers};\ndaemon off;\n"
            f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log warn;\n"
            "events { worker_connections 1024; }\n"
            f"http {{\n    sendfile on;\n    tcp_nopush on;\n{temp}"
            + "".join("    " + line + "\n" if line else "\n" for line in server_block.splitlines()) + "}\n")
