"""The ingest API: articles in and out of the source store as JSON over HTTP.

A WSGI application the serve process mounts at ``/api`` (scheduler.py routes
``/api/*`` here and everything else to ``public/``)::

    POST   /api/articles              create (409 when the id or slug is taken)
    GET    /api/articles              list, newest first (?limit=1..100&offset=0)
    GET    /api/articles/{id-or-slug} one article (a tag: id percent-encoded or not)
    PUT    /api/articles/{id-or-slug} replace: fields left out take their defaults
    PATCH  /api/articles/{id-or-slug} change the fields given (JSON merge patch, RFC 7396)
    DELETE /api/articles/{id-or-slug} delete: it leaves every feed (200, naming the id and those feeds)
    GET    /api/articles/{id-or-slug}/history   its stored versions, oldest first
    GET    /api/openapi.json          the OpenAPI 3.1 description (the one route open to all)

The fields are the front matter's (README "The newsroom article format") plus the
body: ``body`` is newsroom plain text, parsed as a file's body is (dateline,
"BACA JUGA" markers, end marks), or ``content_html`` is HTML (feeds sanitise it).
A write is one store transaction: the decision (``sources.ingest.merge``) runs
inside ``store.save``, so a PATCH applies to the version it read. The service's
store watcher sees the new revision and rebuilds within a second.

Security: with no token configured the API is off (every ``/api`` path is 404).
Every route but the OpenAPI document wants ``Authorization: Bearer <token>``
(RFC 6750), compared in constant time; anything else is 401 and says nothing of
the articles, embargoed ones included. A body larger than ``max_body_bytes`` (or
than an article may hold, ``IngestSettings.max_article_bytes``) is 413 before it is
read. Invalid input is 422 naming every bad field at once. What the field checks
changed on the way in (categories or tags past ``max_terms`` dropped, control
characters normalised) is logged and listed in the answer's ``warnings``.

Knows nothing of feeds: the composition root passes ``feed_urls``, the feeds an
article appears in, with the site's absolute URLs.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import parse_qs, quote, unquote_to_bytes, urlsplit
from zoneinfo import ZoneInfo

from .api_gate import bearer_token
from .drafts import ArticleDraft, assemble_draft, check_all_fields, derive_title
from .errors import FeedpubError, IngestError, StoreError
from .formats.html import fragment_parts
from .frontmatter import FRONT_MATTER_KEYS
from .ingest import merge
from .model import Article, Image, IngestSettings, SaveResult, Status
from .newsroom import parse_newsroom_text
from .store.roles import Articles
from .text import slugify, xml_safe

log = logging.getLogger(__name__)

StartResponse = Callable[..., object]
FeedUrls = Callable[[Article], Sequence[str]]

PREFIX = "/api"
JSON_TYPE = "application/json"
MERGE_PATCH_TYPE = "application/merge-patch+json"   # RFC 7396, for PATCH
CONTENT_KEYS = ("body", "content_html")
WRITABLE_KEYS = (*FRONT_MATTER_KEYS, *CONTENT_KEYS, "status")
LIST_KEYS = ("categories", "tags")
WRITABLE_STATUSES = (Status.PUBLISHED.value, Status.DRAFT.value)
DEFAULT_LIMIT, MAX_LIMIT = 20, 100

_REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
    404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 413: "Content Too Large",
    415: "Unsupported Media Type", 422: "Unprocessable Content", 500: "Internal Server Error",
    503: "Service Unavailable",
}


class ApiError(FeedpubError):
    """A request the API refuses: the HTTP status, a message and the bad fields, if any."""

    def __init__(self, status: int, message: str, *, fields: dict[str, str] | None = None,
                 headers: Sequence[tuple[str, str]] = ()):
        super().__init__(message)
        self.status = status
        self.fields = fields or {}
        self.headers = list(headers)


# --- input: JSON values -> checked fields (pure) -------------------------------------------


@dataclass(frozen=True)
class Content:
    """An article body as the API received it, parsed."""

    content_html: str
    content_text: str                    # as received
    lead: str                            # first paragraph as plain text: derived title and summary
    city: str | None = None
    publication: str | None = None
    related_titles: tuple[str, ...] = ()
    dateline: str | None = None          # as the body opened with it


@dataclass(frozen=True)
class Checked:
    """A request body that passed every check; ``present`` names the keys it gave."""

    fields: dict                 # sources.drafts.checked_fields' result (None = not given)
    present: frozenset[str]
    content: Content | None
    status: Status | None
    warnings: tuple[str, ...] = ()   # what the checks changed: terms dropped, control characters


def _content(key: str, value: str) -> Content:
    """Parse ``body`` as a newsroom file's body, or ``content_html`` as a JSON Lines record's
    (related-link markers taken out of both); IngestError when it has no text."""
    text = xml_safe(value.replace("\r\n", "\n").replace("\r", "\n"))
    if key == "body":
        body = parse_newsroom_text(text)
        return Content(body.html(), text, body.lead, body.city, body.publication, body.related_titles, body.dateline)
    html, lead, related = fragment_parts(text, path="")
    return Content(html, text, lead, related_titles=related)


def check_input(values: object, tz: ZoneInfo, *, require_content: bool, max_terms: int) -> Checked:
    """Every check at once: raises :class:`ApiError` 422 naming each bad field."""
    if not isinstance(values, dict):
        raise ApiError(422, "the body must be a JSON object of article fields")
    problems: dict[str, str] = {}
    for key in values:
        if key not in WRITABLE_KEYS:
            problems[key] = "unknown field (known: " + ", ".join(WRITABLE_KEYS) + ")"
    typed: dict[str, object] = {}
    for key in FRONT_MATTER_KEYS:
        value = values.get(key)
        if value is None:
            continue
        if key in LIST_KEYS:
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                problems[key] = "expected a list of strings"
                continue
        elif not isinstance(value, str):
            problems[key] = f"expected a string, got {_json_type(value)}"
            continue
        typed[key] = value
    fields, field_problems, warnings = check_all_fields(typed, tz, max_terms=max_terms)
    problems.update(field_problems)

    content = None
    given = [key for key in CONTENT_KEYS if values.get(key) is not None]
    if len(given) == 2:
        problems.update({key: "give body or content_html, not both" for key in CONTENT_KEYS})
    elif not given and require_content:
        problems["body"] = "required: the article's text (or content_html)"
    elif given:
        key = given[0]
        if not isinstance(values[key], str):
            problems[key] = f"expected a string, got {_json_type(values[key])}"
        else:
            try:
                content = _content(key, values[key])
            except IngestError as exc:
                problems[key] = (f"line {exc.line}: " if exc.line else "") + str(exc)

    status = None
    if values.get("status") is not None:
        if values["status"] in WRITABLE_STATUSES:
            status = Status(values["status"])
        else:
            problems["status"] = f"expected one of {', '.join(WRITABLE_STATUSES)}"
    if problems:
        raise ApiError(422, "invalid article: " + "; ".join(f"{k}: {v}" for k, v in problems.items()),
                       fields=problems)
    return Checked(fields, frozenset(values), content, status, warnings)


def _json_type(value: object) -> str:
    return {dict: "an object", list: "an array", bool: "a boolean", int: "a number",
            float: "a number", str: "a string"}.get(type(value), type(value).__name__)


# --- the decisions (pure, run inside store.save) ---------------------------------------------


def draft_from(fields: dict, content: Content, *, source: str | None, article_id: str | None,
               keep_slug: str | None, image: Image | None) -> ArticleDraft:
    """The :class:`ArticleDraft` an importer would make of these fields and this body."""
    title = fields["title"] or derive_title(content.lead)
    default_slug = keep_slug or title
    if not fields.get("slug") and not slugify(default_slug):
        raise ApiError(422, "no slug given and none can be made from the title",
                       fields={"slug": "required: the title has no letters or digits to make one from"})
    draft = assemble_draft(path=source or "", fields=fields, lead=content.lead, content_html=content.content_html,
                           content_text=content.content_text, default_slug=default_slug, city=content.city,
                           publication=content.publication, related_titles=content.related_titles,
                           dateline=content.dateline)
    return replace(draft, source=source, id=article_id or draft.id,
                   image=image if image is not None and image.url == draft.image_url else None)


# Set by remote sources only: an edit through the API keeps the partner's attribution.
_UPSTREAM_FIELDS = ("upstream_id", "via_url", "via_name")


def with_status(existing: Article | None, draft: ArticleDraft, status: Status, now: datetime,
                settings: IngestSettings) -> SaveResult:
    """:func:`sources.ingest.merge`, then the status asked for (merge always publishes)."""
    base = replace(existing, status=Status.PUBLISHED) if existing is not None else None
    result = merge(base, draft, now, settings)
    if result.action == "unchanged":
        if existing.status is status:
            return SaveResult("unchanged", existing)
        return SaveResult("updated", replace(existing, status=status, stored=now.replace(microsecond=0)))
    kept = {name: getattr(existing, name) for name in _UPSTREAM_FIELDS} if existing is not None else {}
    return SaveResult(result.action, replace(result.article, status=status, **kept))


def patched_fields(existing: Article, checked: Checked) -> dict:
    """The stored article's fields with the patch's over them (RFC 7396: null clears a field;
    a cleared title or summary is derived again). ``published`` and ``updated`` count only as
    given: an edit moves ``updated`` on by itself."""
    fields = {
        "id": existing.id, "title": existing.title, "slug": existing.slug, "url": existing.url,
        "author": existing.author, "categories": existing.categories, "tags": existing.tags,
        "summary": existing.summary, "image": existing.image.url if existing.image else None,
        "language": existing.language, "published": None, "updated": None,
    }
    for key in checked.present & set(FRONT_MATTER_KEYS):
        fields[key] = checked.fields.get(key)
    return fields


def _stored_content(article: Article) -> Content:
    """The stored body, for a PATCH that leaves it alone (suggested links are the store's, not its)."""
    try:
        lead = fragment_parts(article.content_html, path="")[1]
    except IngestError:
        lead = article.summary
    own = tuple(link.title for link in article.related if not link.suggested)
    return Content(article.content_html, article.content_text, lead, article.city, article.publication, own,
                   article.dateline)


# --- output -----------------------------------------------------------------------------


def article_json(article: Article, feeds: Sequence[str], now: datetime) -> dict:
    return {
        "id": article.id,
        "slug": article.slug,
        "url": article.url,
        "title": article.title,
        "summary": article.summary,
        "author": article.author,
        "published": article.published.isoformat(),
        "updated": article.updated.isoformat(),
        "categories": list(article.categories),
        "tags": list(article.tags),
        "image": article.image.url if article.image else None,
        "language": article.language,
        "status": article.status.value,
        "visible": article.is_visible(now),
        "city": article.city,
        "publication": article.publication,
        "dateline": article.dateline,
        "content_html": article.content_html,
        "content_text": article.content_text,
        "related": [
            {"title": link.title, "target_id": link.target_id, "suggested": link.suggested}
            for link in article.related
        ],
        "stored": article.stored.isoformat() if article.stored else None,
        "upstream_id": article.upstream_id,
        "via_url": article.via_url,
        "via_name": article.via_name,
        "feeds": list(feeds),
    }


# --- the WSGI application -------------------------------------------------------------------


class IngestAPI:
    """WSGI application for ``/api``; off (404 everywhere) when ``token`` is empty."""

    def __init__(self, store: Articles, *, settings: IngestSettings, token: str, max_body_bytes: int,
                 clock: Callable[[], datetime], feed_urls: FeedUrls):
        self.store = store
        self.settings = settings
        self.tz = ZoneInfo(settings.timezone)
        self._token = token.encode("utf-8")
        self.max_body_bytes = max_body_bytes
        # A request body holds one article: it may not be larger than an article may be.
        self.body_limit, self.limit_key = min((max_body_bytes, "api.max_body_bytes"),
                                              (settings.max_article_bytes, "ingest.max_article_bytes"))
        self.clock = clock
        self.feed_urls = feed_urls

    @property
    def enabled(self) -> bool:
        return bool(self._token)

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if not self.enabled:
                raise ApiError(404, "not found")
            segments = _segments(environ)
            if segments == ["api", "openapi.json"]:
                _allow(method, ("GET", "HEAD"))
                return _respond(start_response, 200, openapi_document(),
                                head=method == "HEAD", cache="no-cache")
            self._authenticate(environ)
            status, body, headers = self._route(method, segments, environ)
            return _respond(start_response, status, body, head=method == "HEAD", headers=headers)
        except ApiError as exc:
            body = {"error": str(exc)}
            if exc.fields:
                body["fields"] = exc.fields
            return _respond(start_response, exc.status, body, head=method == "HEAD", headers=exc.headers)
        except Exception:  # noqa: BLE001 - the one place a bug becomes a 500 instead of a dropped connection
            log.exception("ingest API: %s %s failed", method, environ.get("PATH_INFO", ""))
            return _respond(start_response, 500, {"error": "internal error; the server log has the details"})

    # --- plumbing -------------------------------------------------------------------------

    def _authenticate(self, environ: dict) -> None:
        given = bearer_token(environ.get("HTTP_AUTHORIZATION", ""))
        challenge = 'Bearer realm="feedpub"'
        if given is None:
            raise ApiError(401, "a bearer token is required (Authorization: Bearer <token>)",
                           headers=[("WWW-Authenticate", challenge)])
        if not hmac.compare_digest(given, self._token):
            raise ApiError(401, "the bearer token is wrong",
                           headers=[("WWW-Authenticate", challenge + ', error="invalid_token"')])

    def _route(self, method: str, segments: list[str], environ: dict) -> tuple[int, object, list]:
        if segments[:2] != ["api", "articles"] or len(segments) > 4:
            raise ApiError(404, "no such API route")
        if len(segments) == 2:
            _allow(method, ("GET", "HEAD", "POST"))
            if method == "POST":
                return self.create(self._read_json(environ, method))
            return 200, self.list_articles(environ.get("QUERY_STRING", "")), []
        key = segments[2]
        if not key:
            raise ApiError(404, "no such API route")
        if len(segments) == 4:
            if segments[3] != "history":
                raise ApiError(404, "no such API route")
            _allow(method, ("GET", "HEAD"))
            return 200, self.history(key), []
        _allow(method, ("GET", "HEAD", "PUT", "PATCH", "DELETE"))
        if method in ("GET", "HEAD"):
            return 200, self.get(key), []
        if method == "DELETE":
            return 200, self.delete(key), []
        return self.update(key, self._read_json(environ, method), patch=method == "PATCH")

    def _read_json(self, environ: dict, method: str) -> object:
        raw_length = (environ.get("CONTENT_LENGTH") or "").strip()
        if raw_length and not (raw_length.isascii() and raw_length.isdigit()):
            raise ApiError(400, f"Content-Length {raw_length!r} is not a number")
        length = int(raw_length) if raw_length else None
        if length is not None and length > self.body_limit:
            raise ApiError(413, f"the body is {length} bytes; the limit is {self.body_limit} ({self.limit_key})")
        media_type = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        accepted = (JSON_TYPE, MERGE_PATCH_TYPE) if method == "PATCH" else (JSON_TYPE,)
        if media_type not in accepted:
            raise ApiError(415, f"send the article as {' or '.join(accepted)}, not {media_type or 'nothing'}",
                           headers=[("Accept-Patch" if method == "PATCH" else "Accept-Post", ", ".join(accepted))])
        # Never more than the limit is read, whatever the header said (or did not say).
        data = environ["wsgi.input"].read(length if length is not None else self.body_limit + 1)
        if len(data) > self.body_limit:
            raise ApiError(413, f"the body is over the limit of {self.body_limit} bytes ({self.limit_key})")
        return parse_json(data)

    def _feeds(self, article: Article) -> Sequence[str]:
        return self.feed_urls(article) if article.status is Status.PUBLISHED else ()

    def _answer(self, article_id: str, warnings: tuple[str, ...] = ()) -> dict:
        stored = self.store.get(article_id)   # as stored: related links resolved, suggestions made
        if stored is None:                    # deleted by another request in between
            raise ApiError(404, f"article {article_id} is gone")
        for warning in warnings:
            log.warning("ingest API: %s: %s", article_id, warning)
        answer = article_json(stored, self._feeds(stored), self.clock())
        return {**answer, "warnings": list(warnings)} if warnings else answer

    def _find(self, key: str) -> Article | None:
        """The article with this id or slug, whatever its status. Ids are tag: URIs and a
        slug never holds a colon (sources.text.slugify), so the key says which it is."""
        return self.store.lookup(article_id=key if ":" in key else None, slug=key)

    def _existing(self, key: str) -> Article:
        found = self._find(key)
        if found is None or found.status is Status.DELETED:
            raise ApiError(404, f"no article has the id or slug {key!r}")
        return found

    def _save(self, decide, *, article_id: str | None, slug: str) -> SaveResult:
        try:
            return self.store.save(decide, article_id=article_id, slug=slug)
        except IngestError as exc:   # sources.ingest.merge refused it: an identity clash
            raise ApiError(409, str(exc)) from exc
        except StoreError as exc:
            # Slugs are checked before the write; one taken in between is a conflict too.
            owner = self._find(slug)
            if owner is not None and owner.id != article_id:
                raise ApiError(409, str(exc), fields={"slug": f"taken by {owner.id}"}) from exc
            raise ApiError(503, f"the store could not take the write: {exc}",
                           headers=[("Retry-After", "1")]) from exc

    # --- operations -------------------------------------------------------------------------

    def list_articles(self, query: str) -> dict:
        params = parse_qs(query, keep_blank_values=True)
        # A misspelt parameter (?limt=5) is an error, not silently a default.
        problems = {name: "unknown query parameter (known: limit, offset)"
                    for name in params if name not in ("limit", "offset")}
        numbers = {}
        for name, default, low, high in (("limit", DEFAULT_LIMIT, 1, MAX_LIMIT), ("offset", 0, 0, 10**9)):
            raw = params.get(name, [str(default)])[-1]
            # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
            if not (raw.isascii() and raw.isdigit() and len(raw) <= 10 and low <= int(raw) <= high):
                problems[name] = f"expected a whole number from {low} to {high}"
            else:
                numbers[name] = int(raw)
        if problems:
            raise ApiError(422, "invalid query", fields=problems)
        limit, offset = numbers["limit"], numbers["offset"]
        found = self.store.page(limit + 1, offset)
        now = self.clock()
        return {
            "articles": [article_json(a, self._feeds(a), now) for a in found[:limit]],
            "limit": limit,
            "offset": offset,
            "next_offset": offset + limit if len(found) > limit else None,
        }

    def get(self, key: str) -> dict:
        found = self._existing(key)
        return article_json(found, self._feeds(found), self.clock())

    def history(self, key: str) -> dict:
        """Every stored version, oldest first: a deleted article's too (what was deleted)."""
        found = self._find(key)
        if found is None:
            raise ApiError(404, f"no article has the id or slug {key!r}")
        now = self.clock()
        try:
            versions = self.store.history(found.id)
        except StoreError as exc:
            raise ApiError(404, str(exc)) from exc
        return {"id": found.id, "versions": [
            {"number": v.number, "stored": v.stored.isoformat(), "changed": list(v.changed),
             "article": article_json(v.article, (), now)}
            for v in versions
        ]}

    def create(self, values: object) -> tuple[int, dict, list]:
        checked = check_input(values, self.tz, require_content=True, max_terms=self.settings.max_terms)
        draft = draft_from(checked.fields, checked.content, source=None, article_id=None, keep_slug=None,
                           image=self._known_image(checked.fields["image"]))
        status = checked.status or Status.PUBLISHED
        now = self.clock()
        owner = self._find(draft.slug)
        if owner is not None and owner.status is not Status.DELETED and owner.id != draft.id:
            raise ApiError(409, f"slug {draft.slug!r} already belongs to article {owner.id}",
                           fields={"slug": f"taken by {owner.id}"})

        def decide(existing: Article | None) -> SaveResult:
            if existing is not None and existing.status is not Status.DELETED:
                raise ApiError(409, f"article {existing.id} already exists; PUT or PATCH changes it",
                               fields={"id" if draft.id else "slug": f"taken by {existing.id}"})
            # A deleted article comes back under its id, as a re-ingested file does.
            restored = replace(draft, source=existing.source) if existing is not None else draft
            return with_status(existing, restored, status, now, self.settings)

        result = self._save(decide, article_id=draft.id, slug=draft.slug)
        log.info("ingest API: created %s", result.article.id)
        location = f"{PREFIX}/articles/{quote(result.article.id, safe='')}"
        return 201, self._answer(result.article.id, checked.warnings), [("Location", location)]

    def update(self, key: str, values: object, *, patch: bool) -> tuple[int, dict, list]:
        """PUT (``patch=False``: fields left out take their defaults) or PATCH."""
        checked = check_input(values, self.tz, require_content=not patch, max_terms=self.settings.max_terms)
        current = self._existing(key)
        new_slug = checked.fields.get("slug")
        if new_slug and new_slug != current.slug:
            owner = self._find(new_slug)
            if owner is not None and owner.id != current.id:
                raise ApiError(409, f"slug {new_slug!r} already belongs to article {owner.id}",
                               fields={"slug": f"taken by {owner.id}"})
        image = self._known_image(checked.fields["image"])
        now = self.clock()

        def decide(existing: Article | None) -> SaveResult:
            if existing is None or existing.status is Status.DELETED:
                raise ApiError(404, f"no article has the id or slug {key!r}")
            if checked.fields["id"] not in (None, existing.id):
                raise ApiError(422, "an article's id never changes", fields={"id": f"must be {existing.id}"})
            fields = patched_fields(existing, checked) if patch else checked.fields
            updated, published = fields["updated"], fields["published"] or existing.published
            if updated is not None and updated < published:
                raise ApiError(422, "updated is earlier than published",
                               fields={"updated": f"is earlier than published ({published.isoformat()})"})
            draft = draft_from(fields, checked.content or _stored_content(existing), source=existing.source,
                               article_id=existing.id, keep_slug=existing.slug, image=image)
            status = checked.status or (existing.status if patch else Status.PUBLISHED)
            return with_status(existing, draft, status, now, self.settings)

        result = self._save(decide, article_id=current.id, slug=new_slug or current.slug)
        log.info("ingest API: %s %s", result.action, result.article.id)
        return 200, self._answer(result.article.id, checked.warnings), []

    def _known_image(self, url: str | None) -> Image | None:
        # No request leaves the request path: a URL some article already holds keeps its
        # measurement; a new one is stored unmeasured (``feedpub ingest`` measures).
        return self.store.find_image(url) if url else None

    def delete(self, key: str) -> dict:
        current = self._existing(key)
        # The feeds it leaves: those it appeared in (none for a draft or an embargoed one).
        left = self._feeds(current) if current.is_visible(self.clock()) else ()
        try:
            self.store.delete(current.id, self.clock())
        except StoreError as exc:
            raise ApiError(503, f"the store could not take the write: {exc}",
                           headers=[("Retry-After", "1")]) from exc
        log.info("ingest API: deleted %s", current.id)
        return {"id": current.id, "slug": current.slug, "status": Status.DELETED.value, "feeds": list(left)}


# --- HTTP helpers -----------------------------------------------------------------------------


def parse_json(data: bytes) -> object:
    """Strict JSON (RFC 8259): UTF-8, no NaN or Infinity, no duplicate keys, bounded nesting."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"the body is not UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise ApiError(400, "the body is empty; send a JSON object")

    def no_constants(name: str) -> object:
        raise ValueError(f"{name} is not JSON")

    def no_duplicates(pairs: list[tuple[str, object]]) -> dict:
        result = dict(pairs)
        if len(result) != len(pairs):
            seen = set()
            duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
            raise ValueError(f"the key {duplicate!r} is given twice")
        return result

    try:
        return json.loads(text, parse_constant=no_constants, object_pairs_hook=no_duplicates)
    except ValueError as exc:   # json.JSONDecodeError too
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
    except RecursionError:      # the C decoder's own depth guard
        raise ApiError(400, "the JSON is nested too deeply") from None


def _segments(environ: dict) -> list[str]:
    """The path's segments, each percent-decoded once: an id's %2F stays inside its segment."""
    raw = environ.get("REQUEST_URI")   # waitress: the request target as sent (latin-1 text)
    path = urlsplit(raw).path if raw else environ.get("PATH_INFO", "")
    try:
        if raw:
            parts = [unquote_to_bytes(part.encode("latin-1")).decode("utf-8") for part in path.split("/")]
        else:   # PATH_INFO: already decoded, PEP 3333 latin-1 text
            parts = path.encode("latin-1").decode("utf-8").split("/")
    except (UnicodeDecodeError, UnicodeEncodeError):
        raise ApiError(404, "no such API route") from None
    segments = parts[1:] if parts and parts[0] == "" else parts
    if len(segments) > 1 and segments[-1] == "":
        segments = segments[:-1]   # a trailing slash names the same resource
    if any("\x00" in segment for segment in segments):
        raise ApiError(404, "no such API route")
    return segments


def _allow(method: str, allowed: tuple[str, ...]) -> None:
    if method not in allowed:
        raise ApiError(405, f"{method} is not allowed here", headers=[("Allow", ", ".join(allowed))])


def _respond(start_response: StartResponse, status: int, body: object, *, head: bool = False,
             headers: Sequence[tuple[str, str]] = (), cache: str = "no-store") -> Iterable[bytes]:
    reason = f"{status} {_REASONS.get(status, 'Error')}"
    if status == 204:
        start_response(reason, [("Cache-Control", cache), *headers])
        return [b""]
    payload = json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"
    start_response(reason, [
        ("Content-Type", f"{JSON_TYPE}; charset=utf-8"),
        ("Content-Length", str(len(payload))),
        ("Cache-Control", cache),
        ("X-Content-Type-Options", "nosniff"),
        *headers,
    ])
    return [b""] if head else [payload]


# --- the OpenAPI 3.1 description ---------------------------------------------------------------

_TEXT = {"type": ["string", "null"]}
_TEXT_LIST = {"type": ["array", "null"], "items": {"type": "string"}}
_TIME_DOC = ("ISO 8601 date or date-time (e.g. 2024-09-18T10:15:00+07:00); without a zone it is in the "
             "site's time zone. A future `published` embargoes the article until then.")


def _input_schema(*, patch: bool) -> dict:
    properties = {
        "id": {**_TEXT, "description": "a tag: URI (RFC 4151); minted from the slug when left out. Never changes."},
        "title": {**_TEXT, "description": "headline; derived from the lead when left out"},
        "slug": {**_TEXT, "description": "URL-safe name, unique; made from the title when left out (kept on PUT)"},
        "url": {**_TEXT, "description": "canonical absolute http(s) URL"},
        "published": {**_TEXT, "description": _TIME_DOC},
        "updated": {**_TEXT, "description": "as published; not earlier than it. An edit moves it on by itself."},
        "author": _TEXT,
        "categories": _TEXT_LIST,
        "tags": _TEXT_LIST,
        "summary": {**_TEXT, "description": "plain text; derived from the lead when left out"},
        "image": {**_TEXT, "description": "lead image, absolute http(s) URL"},
        "language": {**_TEXT, "description": "BCP 47 language tag such as 'id' or 'en-US'"},
        "dateline": {**_TEXT, "description": "where the story happened, e.g. 'BATURAJA - OKES.NEWS -'; "
                                              "default: the one the body opens with"},
        "body": {**_TEXT, "description": "the article in the newsroom's plain-text format (dateline, one "
                                          "paragraph per line, BACA JUGA markers)"},
        "content_html": {**_TEXT, "description": "the article as HTML (sanitised in the feeds); instead of body"},
        "status": {"type": ["string", "null"], "enum": [*WRITABLE_STATUSES, None],
                   "description": "draft = in no feed; published (the default; PATCH keeps the current one)"},
    }
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if not patch:
        # Types only elsewhere: the checks behind them (README) are stricter than a schema says.
        schema["description"] = "Give exactly one of body and content_html."
        schema["oneOf"] = [{"required": [key], "properties": {key: {"type": "string"}}} for key in CONTENT_KEYS]
    return schema


def openapi_document() -> dict:
    """The API's OpenAPI 3.1 description (served at /api/openapi.json)."""
    def error(description: str, headers: dict | None = None) -> dict:
        response = {"description": description,
                    "content": {JSON_TYPE: {"schema": {"$ref": "#/components/schemas/Error"}}}}
        if headers:
            response["headers"] = headers
        return response

    unauthorized = error("missing or wrong bearer token", {
        "WWW-Authenticate": {"schema": {"type": "string"}, "required": True}})
    def from_api_or_server(description: str) -> dict:
        # The HTTP server itself refuses a malformed request (a bad Content-Length, say) or a
        # huge declared body before the API sees it, in plain text.
        response = error(description)
        response["content"]["text/plain"] = {"schema": {"type": "string"}}
        return response

    common = {"401": unauthorized, "405": error("method not allowed (see Allow)"),
              "400": from_api_or_server("malformed request or JSON"),
              "413": from_api_or_server("body larger than api.max_body_bytes or ingest.max_article_bytes"),
              "500": error("a bug: the server log has the details")}
    writes = {"415": error("not a JSON body"), "422": error("invalid fields: `fields` names each one"),
              "409": error("the id or slug belongs to another article"),
              "503": error("the store is busy; retry")}
    key_param = {"name": "key", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1},
                 "description": "the article's id (a tag: URI, percent-encoded) or slug",
                 "example": "okes-forkopimda-oku-pilkada-2024"}
    article_response = {"content": {JSON_TYPE: {"schema": {"$ref": "#/components/schemas/Article"}}}}

    def body(schema: str, media_types: tuple[str, ...] = (JSON_TYPE,)) -> dict:
        return {"required": True, "content": {t: {"schema": {"$ref": f"#/components/schemas/{schema}"}}
                                              for t in media_types}}

    item_path = {
        "parameters": [key_param],
        "get": {"operationId": "getArticle", "summary": "One article, whatever its status",
                "responses": {"200": {"description": "the article", **article_response},
                              "404": error("no such article"), **common}},
        "put": {"operationId": "replaceArticle", "summary": "Replace an article (fields left out take defaults)",
                "requestBody": body("ArticleInput"),
                "responses": {"200": {"description": "the article as stored", **article_response},
                              "404": error("no such article"), **writes, **common}},
        "patch": {"operationId": "patchArticle", "summary": "Change the fields given (RFC 7396; null clears)",
                  "requestBody": body("ArticlePatch", (JSON_TYPE, MERGE_PATCH_TYPE)),
                  "responses": {"200": {"description": "the article as stored", **article_response},
                                "404": error("no such article"), **writes, **common}},
        "delete": {"operationId": "deleteArticle", "summary": "Delete an article: it leaves every feed",
                   "responses": {"200": {"description": "deleted: the id and the feeds it leaves",
                                         "content": {JSON_TYPE: {"schema": {"$ref": "#/components/schemas/Deleted"}}}},
                                 "404": error("no such article"),
                                 "503": writes["503"], **common}},
    }
    paths = {
        "/api/articles": {
            "get": {
                "operationId": "listArticles", "summary": "Articles not deleted (drafts, embargoed too), newest first",
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                                 "maximum": 10**9, "default": 0}},
                ],
                "responses": {"200": {"description": "a page of articles", "content": {
                    JSON_TYPE: {"schema": {"$ref": "#/components/schemas/ArticleList"}}}},
                    "422": error("bad limit or offset"), **common},
            },
            "post": {
                "operationId": "createArticle", "summary": "Create an article",
                "requestBody": body("ArticleInput"),
                "responses": {"201": {"description": "created", **article_response,
                                      "headers": {"Location": {"schema": {"type": "string"}}}},
                              **writes, **common},
            },
        },
        "/api/articles/{key}": item_path,
    }
    paths["/api/articles/{key}/history"] = {
        "parameters": [key_param],
        "get": {"operationId": "articleHistory", "summary": "Every stored version, oldest first (deleted ones too)",
                "responses": {"200": {"description": "the versions", "content": {
                    JSON_TYPE: {"schema": {"$ref": "#/components/schemas/History"}}}},
                    "404": error("no such article"), **common}},
    }
    nullable_text = {"type": ["string", "null"]}
    article = {
        "type": "object",
        "required": ["id", "slug", "title", "summary", "published", "updated", "categories", "tags",
                     "language", "status", "visible", "content_html", "content_text", "related", "feeds"],
        "properties": {
            "id": {"type": "string"}, "slug": {"type": "string"}, "url": nullable_text,
            "title": {"type": "string"}, "summary": {"type": "string"}, "author": nullable_text,
            "published": {"type": "string", "format": "date-time"},
            "updated": {"type": "string", "format": "date-time"},
            "categories": {"type": "array", "items": {"type": "string"}},
            "tags": {"type": "array", "items": {"type": "string"}},
            "image": nullable_text, "language": {"type": "string"},
            "status": {"enum": ["published", "draft", "deleted"]},
            "visible": {"type": "boolean", "description": "published and its time has come"},
            "city": nullable_text, "publication": nullable_text,
            "dateline": {**nullable_text, "description": "where the story happened, as the newsroom wrote it"},
            "content_html": {"type": "string"}, "content_text": {"type": "string", "description": "as received"},
            "related": {"type": "array", "items": {
                "type": "object", "required": ["title", "target_id", "suggested"],
                "properties": {"title": {"type": "string"}, "target_id": nullable_text,
                               "suggested": {"type": "boolean"}}}},
            "stored": {"type": ["string", "null"], "format": "date-time"},
            "upstream_id": {**nullable_text, "description": "a partner article's id in the partner's feed"},
            "via_url": {**nullable_text, "description": "the partner feed it was taken from"},
            "via_name": {**nullable_text, "description": "the partner's name"},
            "feeds": {"type": "array", "items": {"type": "string", "format": "uri"},
                      "description": "absolute URLs of the feeds it appears in (an embargoed one from its time on)"},
            "warnings": {"type": "array", "items": {"type": "string"},
                         "description": "in the answer to a write only, when the checks changed something on the "
                                        "way in: categories or tags past the limit dropped, control characters "
                                        "normalised"},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "feedpub ingest API", "version": "1",
            "description": "Articles in and out of feedpub's source store. Every write is one transaction "
                           "and is in the feeds within about a second.",
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "api.token or FEEDPUB_API_TOKEN"}},
            "schemas": {
                "Deleted": {
                    "type": "object", "additionalProperties": False,
                    "required": ["id", "slug", "status", "feeds"],
                    "properties": {
                        "id": {"type": "string"}, "slug": {"type": "string"},
                        "status": {"type": "string", "enum": ["deleted"]},
                        "feeds": {"type": "array", "items": {"type": "string", "format": "uri"}},
                    },
                },
                "ArticleInput": _input_schema(patch=False),
                "ArticlePatch": _input_schema(patch=True),
                "Article": article,
                "ArticleList": {"type": "object", "required": ["articles", "limit", "offset", "next_offset"],
                                "properties": {"articles": {"type": "array",
                                                            "items": {"$ref": "#/components/schemas/Article"}},
                                               "limit": {"type": "integer"}, "offset": {"type": "integer"},
                                               "next_offset": {"type": ["integer", "null"]}}},
                "History": {"type": "object", "required": ["id", "versions"], "properties": {
                    "id": {"type": "string"},
                    "versions": {"type": "array", "items": {
                        "type": "object", "required": ["number", "stored", "changed", "article"],
                        "properties": {"number": {"type": "integer"},
                                       "stored": {"type": "string", "format": "date-time"},
                                       "changed": {"type": "array", "items": {"type": "string"}},
                                       "article": {"$ref": "#/components/schemas/Article"}}}}}},
                "Error": {"type": "object", "required": ["error"], "properties": {
                    "error": {"type": "string"},
                    "fields": {"type": "object", "additionalProperties": {"type": "string"},
                               "description": "each bad field and what is wrong with it"}}},
            },
        },
    }
