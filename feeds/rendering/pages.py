"""Pages for people: a page per feed and per archive page, a page per article, the home page.

Pure like the feed renderers: (entries, feed definition, site settings) -> document
bytes, from Jinja2 templates with autoescaping (``templates/``) and the strings of
the site's language (:mod:`feeds.rendering.language`). Nothing on a page runs
script, and nothing is fetched from another origin but the images of articles
(the Content-Security-Policy of ``templates/base.html`` holds pages to that): one
shared stylesheet, ``public/style.css``, from the site itself.

- A feed's page (``feed.html`` for the main feed, ``category/politik/index.html``
  beside a category's feeds, ``archive/2024-09-1.html`` beside an archive document)
  shows what the feed holds; the server gives it to a browser that asks for the feed
  (feeds/serving/server.py). A subscription feed's page says what a feed is, gives its
  address and links that subscribe in feed readers; an archive page names its month
  and links the live feed and the neighbouring pages instead.
- An entry on a feed page is rendered once (:func:`entry_html`) and kept like the
  feeds' entries (feeds/building/fragments.py): headline linked to the article's page, time,
  author, lead image, the lead paragraphs, categories and tags linked to their
  pages, and the "Baca juga" list.
- An article's page (:func:`render_article_page`) holds its whole content with
  canonical, auto-discovery, Open Graph and schema.org ``NewsArticle`` metadata; a
  deleted article's page answers 410 Gone (:func:`render_gone_page`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from importlib import resources
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from ..site import SiteSettings
from .archive import Page
from .catalogue import term_feed
from .document import Document
from .entries import EPOCH, Entry, FeedDefinition, FeedView, main_feed, newest
from .language import month_name, strings, when

PAGE_TYPE = "text/html; charset=utf-8"
CSS_TYPE = "text/css; charset=utf-8"
STYLESHEET_PATH = "style.css"      # under public/
NOT_FOUND_PATH = "404.html"       # served with 404 for any address with nothing (feeds/serving/server.py)
INDEX_PATH = "index.html"
LEAD_PARAGRAPHS = 2                # of an entry's content, on a feed page
# Feed readers that subscribe from a link, and the link (the feed's address URL-encoded).
READERS = (
    ("Feedly", "https://feedly.com/i/subscription/feed/{url}"),
    ("Inoreader", "https://www.inoreader.com/?add_feed={url}"),
    ("NewsBlur", "https://www.newsblur.com/?url={url}"),
    ("The Old Reader", "https://theoldreader.com/feeds/subscribe?url={url}"),
)
FORMATS = (("rss_path", "application/rss+xml", "RSS 2.0"), ("atom_path", "application/atom+xml", "Atom 1.0"),
           ("json_path", "application/feed+json", "JSON Feed 1.1"))
_PARAGRAPH = re.compile(r"<p(?:\s[^>]*)?>.*?</p>", re.S)


def fill(template: str, **values) -> Markup:
    """A catalogue string with its fields filled in: the string and plain values escaped,
    Markup values (links made by a template) kept."""
    return Markup(escape(template)).format(**values)


@cache
def _environment() -> Environment:
    # auto_reload off: templates are part of feedpub (the build's fingerprint), and looking at
    # each file's time before every page cost a full build more than its templates' rendering.
    env = Environment(loader=PackageLoader("feeds.rendering", "templates"), autoescape=True, auto_reload=False,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["fill"] = fill
    return env


def _render(template: str, site: SiteSettings, **context) -> bytes:
    text = strings(site.language)
    return _environment().get_template(template).render(
        site=site, t=text, lang=site.language, when=lambda moment: when(moment, text),
        stylesheet=urlsplit(site.url(STYLESHEET_PATH)).path,   # path only: always the page's own origin
        home=site.url(""), opml=site.url("feeds.opml"), **context).encode("utf-8")


def page_url(site: SiteSettings, path: str) -> str:
    """A page's address: a folder's index.html by the folder's ("category/politik/")."""
    return site.url(path.removesuffix("index.html") if path.endswith("/index.html") else path)


def html_path(path: str) -> str:
    """The page beside an archive document: archive/2024-09-1.xml -> archive/2024-09-1.html."""
    return path.removesuffix(".xml") + ".html"


def lead(entry: Entry) -> Markup:
    """The first paragraphs of an entry's content (sanitised already), or its summary."""
    found = _PARAGRAPH.findall(entry.body_html)[:LEAD_PARAGRAPHS]
    return Markup("\n".join(found)) if found else Markup("<p>{}</p>").format(entry.summary)


def entry_html(entries: Sequence[Entry], site: SiteSettings) -> list[bytes]:
    """Each entry as a feed page shows it (kept between builds like the feeds' entries)."""
    return [_render("entry.html", site, e=entry, lead=lead(entry), related=Markup(entry.related_html))
            for entry in entries]


def _subscription(feed: FeedDefinition, site: SiteSettings) -> dict:
    """What a page needs to offer a feed: its addresses, and links to readers that subscribe."""
    address = site.url(feed.rss_path)
    return {
        "address": address,
        "formats": [(name, site.url(getattr(feed, attribute)), media_type) for attribute, media_type, name in FORMATS],
        "readers": [(name, link.format(url=quote(address, safe=""))) for name, link in READERS],
    }


def render_feed_page(view: FeedView, site: SiteSettings, entries: Sequence[bytes], *,
                     page: Page | None = None) -> Document:
    """The page of a feed (``view.feed``), or with ``page`` of one of its archive pages; ``entries``:
    its entries from :func:`entry_html`, newest first."""
    feed = view.feed
    text = strings(site.language)
    context: dict = {"feed": feed, "heading": feed.label or feed.title, "entries": Markup("".join(
        fragment.decode("utf-8") for fragment in entries)), "live": page_url(site, feed.page_path)}
    if page is None:
        path = feed.page_path
        newest_archive = view.history.prev if view.history else None
        context.update(_subscription(feed, site), archive=None, canonical=page_url(site, path),
                       newest_archive=site.url(html_path(newest_archive)) if newest_archive else None)
    else:
        path = html_path(page.path)
        context.update(archive=_archive_context(page, text, site), canonical=site.url(path), newest_archive=None)
    body = _render("feed.html", site, **context)
    return Document(path, body, PAGE_TYPE, view.updated.isoformat(), archive=page is not None)


def _archive_context(page: Page, text: Mapping, site: SiteSettings) -> dict:
    def label(path: str) -> str:
        month, _, number = path.rpartition("/")[2].removesuffix(".xml").rpartition("-")
        name = month_name(month, text)
        return name if number == "1" else f"{name}, {text['archive_page'].format(number=number)}"

    title = text["archive_title"].format(month=month_name(page.month, text))
    if page.number > 1:
        title += ", " + text["archive_page"].format(number=page.number)
    return {
        "title": title,
        "month": month_name(page.month, text),
        "older": (site.url(html_path(page.prev)), label(page.prev)) if page.prev else None,
        "newer": (site.url(html_path(page.next)), label(page.next)) if page.next else None,
    }


def render_article_page(entry: Entry, site: SiteSettings, path: str) -> Document:
    """An article's page at ``path`` (its address: ``entry.link``), with auto-discovery links
    to the main feed and to the Atom feeds of its categories, tags and author."""
    main = main_feed(site)
    feeds = [(f"{main.title} ({name})", media_type, site.url(getattr(main, attribute)))
             for attribute, media_type, name in FORMATS]
    for term in entry.terms:
        if term.slug:
            feed = term_feed(term.kind, term.name, term.slug, site)
            feeds.append((feed.title, "application/atom+xml", site.url(feed.atom_path)))
    body = _render("article.html", site, e=entry, feeds=feeds, ld=_news_article(entry, site),
                   body=Markup(entry.body_html), related=Markup(entry.related_html),
                   sections=[term.name for term in entry.terms if term.kind == "category"],
                   tags=[term.name for term in entry.terms if term.kind == "tag"])
    # Compressed quickly like archive pages (Document.archive): a site has one per article,
    # each fetched now and then by a person, not polled.
    return Document(path, body, PAGE_TYPE, newest([entry], (), site).isoformat(), archive=True)


def _news_article(entry: Entry, site: SiteSettings) -> dict:
    """schema.org NewsArticle (https://schema.org/NewsArticle), as search engines read it."""
    data: dict = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": entry.title,
        "description": entry.summary,
        "url": entry.link,
        "mainEntityOfPage": entry.link,
        "datePublished": entry.published.isoformat(),
        "dateModified": entry.updated.isoformat(),
        "inLanguage": entry.language,
        "publisher": {"@type": "Organization", "name": site.publisher,
                      "logo": {"@type": "ImageObject", "url": site.image_url}},
    }
    if entry.author:
        data["author"] = {"@type": "Person", "name": entry.author}
    if entry.image:
        data["image"] = [entry.image.url]
    sections = [term.name for term in entry.terms if term.kind == "category"]
    if sections:
        data["articleSection"] = sections
    tags = [term.name for term in entry.terms if term.kind == "tag"]
    if tags:
        data["keywords"] = tags
    return data


def render_gone_page(path: str, site: SiteSettings, deleted: datetime) -> Document:
    """What a deleted article's address answers, with 410 Gone (feeds/serving/server.py)."""
    return Document(path, _render("gone.html", site), PAGE_TYPE, deleted.isoformat(), status=410, archive=True)


def render_not_found_page(view: FeedView, site: SiteSettings) -> Document:
    """public/404.html: what an address with nothing at it answers, with 404 Not Found
    (feeds/serving/server.py), in the site's language: an unpublished article's address too."""
    return Document(NOT_FOUND_PATH, _render("not_found.html", site), PAGE_TYPE, EPOCH.isoformat(), status=404)


def render_index(view: FeedView, site: SiteSettings) -> Document:
    """public/index.html: the newest articles, the main feed and every section's, by kind."""
    text = strings(site.language)
    groups: dict[str, list[FeedDefinition]] = {}
    for feed in view.catalogue:
        groups.setdefault(feed.kind, []).append(feed)
    body = _render("index.html", site, feed=view.feed, entries=view.entries, page=page_url(site, view.feed.page_path),
                   groups=[(text["groups"][kind], feeds) for kind, feeds in groups.items()],
                   **_subscription(view.feed, site))
    return Document(INDEX_PATH, body, PAGE_TYPE, view.updated.isoformat())


@cache
def stylesheet_bytes() -> bytes:
    return (resources.files("feeds.rendering") / "assets" / STYLESHEET_PATH).read_bytes()


def render_stylesheet(view: FeedView, site: SiteSettings) -> Document:
    """public/style.css, the one stylesheet of every page: changes only with feedpub itself."""
    return Document(STYLESHEET_PATH, stylesheet_bytes(), CSS_TYPE, EPOCH.isoformat())
