"""Drafts: an article as one source describes it, and the field checks every way in shares.

The format readers (:mod:`sources.formats`), the ingest API and partner feeds all turn
what they read into an :class:`ArticleDraft` through :func:`assemble_draft`, after
:func:`checked_fields` (or :func:`check_all_fields`, which collects every problem at
once for the API) checked each value. So every way in shares the limits of
:class:`~sources.model.IngestSettings`: at most ``max_terms`` categories and tags each
(the rest dropped with a warning: every term makes a feed of its own, three documents),
at most ``max_article_bytes`` an article (:func:`bounded`, :func:`over_limit`), one URL
check (:func:`url_problem`) and one treatment of control characters. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from .errors import IngestError
from .frontmatter import FRONT_MATTER_KEYS, split_front_matter
from .model import Image, IngestSettings, Status
from .text import (
    LANGUAGE_TAG,
    control_characters,
    cut_at_word,
    cut_headline,
    describe_control,
    normalise_controls,
    slugify,
    squash_space,
    xml_safe,
)

TITLE_LIMIT = 90     # characters of a headline derived from the lead: what a reader's list shows of one
SUMMARY_LIMIT = 300  # characters of a summary derived from the lead
# Flags that name one article, so they make no sense with several files.
SINGLE_ARTICLE_KEYS = ("id", "slug", "title", "url", "summary")
_TAG_URI = re.compile(r"^tag:[A-Za-z0-9.@_-]+,\d{4}(?:-\d{2}(?:-\d{2})?)?:\S+$")
# What RFC 3986 (section 2) allows nowhere in a URI: white space, controls and " < > \ ^ ` { | }.
# A quote or an angle bracket would end the attribute an unescaping template put the URL in.
# Letters beyond ASCII are kept (IRIs, RFC 3987).
_NOT_IN_URLS = re.compile(r'[\s"<>\\^`{|}\x00-\x1f\x7f]')
TERM_KINDS = ("categories", "tags")   # what an article carries a list of, each capped at max_terms


@dataclass(frozen=True)
class ArticleDraft:
    """An article as one source describes it; times may be missing."""

    # The file it came from (absolute path once ingest_paths resolved it); None when one
    # file holds several articles (JSON Lines): those are known by id or slug alone.
    source: str | None
    slug: str
    title: str
    summary: str
    content_html: str
    content_text: str
    id: str | None = None
    url: str | None = None
    author: str | None = None
    city: str | None = None
    publication: str | None = None
    dateline: str | None = None       # "BATURAJA - OKES.NEWS -", as the newsroom wrote it
    published: datetime | None = None
    updated: datetime | None = None
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    language: str | None = None
    image_url: str | None = None
    image: Image | None = None        # the measured image, when the shell measured it
    related_titles: tuple[str, ...] = ()
    status: Status = Status.PUBLISHED  # a draft (a WordPress export's) is kept out of every feed
    notes: tuple[str, ...] = field(default=(), compare=False)  # what was derived, for the person
    line: int | None = field(default=None, compare=False)      # its line when a file holds several
    # What was changed on the way in (terms dropped, control characters normalised), each
    # naming where: "path:line: ..." for a file, "field 'tags': ..." for the API.
    warnings: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Origin:
    """Where a value came from, for error messages; collects the warnings of one check."""

    path: str
    lines: Mapping[str, int]
    flag_keys: frozenset[str]
    label: str = "front matter"   # what held the value: "front matter", "HTML", "key" (JSON Lines)
    warnings: list[str] = field(default_factory=list, compare=False)

    def fail(self, key: str, message: str) -> IngestError:
        if key in self.flag_keys:
            return IngestError(f"--{key}: {message}", path=self.path)
        return IngestError(f"{self.label} {key!r}: {message}", path=self.path, line=self.lines.get(key))

    def warn(self, key: str, message: str) -> None:
        self.warnings.append(str(Origin.fail(self, key, message)))


def derive_title(lead: str) -> str:
    """The headline of an article that has none: its lead, cut short at the best place
    within :data:`TITLE_LIMIT` (:func:`~sources.text.cut_headline`)."""
    return cut_headline(lead.rstrip("."), TITLE_LIMIT)


def parse_time(value: object, tz: ZoneInfo) -> datetime:
    """ISO 8601 date or date-time; a time without a zone is in the site's zone.

    Seconds are the finest unit kept: feeds show no more, and equal inputs must
    give equal stored values.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 date or date-time (e.g. 2024-09-18T10:30:00+07:00)") from None
        if len(text) == 10:  # a bare date: the start of that day in the site's zone
            parsed = datetime.combine(parsed.date(), time(0, 0))
    else:
        raise ValueError(f"expected a date or date-time, got {type(value).__name__}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    if not 1900 <= parsed.year <= 9000:
        raise ValueError(f"{value!r} is outside the years 1900 to 9000")
    return parsed.replace(microsecond=0)


def url_problem(text: str) -> str | None:
    """Why ``text`` is not an absolute http(s) URL, or None: the one check of every URL field
    (``url``, ``image``) whatever way it comes in, partner feeds included."""
    forbidden = _NOT_IN_URLS.search(text)
    if forbidden:
        return f"{text!r} is not a URL: it contains {forbidden.group()!r}"
    try:
        parts = urlsplit(text)
        parts.port   # a port out of range or not a number
    except ValueError as exc:   # "http://[x": an unclosed IPv6 literal
        return f"{text!r} is not a URL: {exc}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{text!r} is not an absolute http(s) URL"
    return None


def capped_terms(terms: Iterable[str], limit: int) -> tuple[tuple[str, ...], str | None]:
    """(the distinct ``terms`` in order, at most ``limit`` of them; what was dropped, or None).
    Duplicates go first (in linear time), so the count said is of distinct terms."""
    distinct = tuple(dict.fromkeys(terms))
    if len(distinct) <= limit:
        return distinct, None
    return distinct[:limit], (f"{len(distinct)} given, at most {limit} kept (ingest.max_terms): "
                              f"the {len(distinct) - limit} from {distinct[limit]!r} on were dropped")


def _controls_warning(found: list[str]) -> str:
    """The first control character found in a value and what became of it, and how many more."""
    more = f" (and {len(found) - 1} more control characters)" if len(found) > 1 else ""
    return describe_control(found[0]) + more


def _text(origin: Origin, key: str, value: object, *, required: bool = False, warn: bool = True) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise origin.fail(key, f"expected text, got {type(value).__name__}")
    try:
        raw = str(value)
    except ValueError:   # an int of more than 4300 digits: Python refuses to make it text
        raise origin.fail(key, "a number too long to be text") from None
    found = [char for _, char in control_characters(raw)]
    if found:   # never a reason to refuse an article: normalised, and said
        if warn:
            origin.warn(key, _controls_warning(found))
        raw = normalise_controls(raw)
    text = squash_space(xml_safe(raw))
    if required and not text:
        raise origin.fail(key, "must not be empty")
    return text or None


def _url(origin: Origin, key: str, value: object) -> str | None:
    text = _text(origin, key, value)
    problem = url_problem(text) if text is not None else None
    if problem:
        raise origin.fail(key, problem)
    return text


def _list(origin: Origin, key: str, value: object, limit: int) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    texts = [_text(origin, key, item, warn=False) for item in items]
    found = [char for item in items if isinstance(item, str) for _, char in control_characters(item)]
    if found:
        origin.warn(key, _controls_warning(found))
    kept, dropped = capped_terms((text for text in texts if text), limit)
    if dropped:
        origin.warn(key, dropped)
    return kept


def checked_fields(values: Mapping[str, object], origin: Origin, tz: ZoneInfo, *, max_terms: int) -> dict:
    out: dict = {}
    for key in ("title", "summary", "author", "dateline"):
        out[key] = _text(origin, key, values.get(key))
    for key in ("url", "image"):
        out[key] = _url(origin, key, values.get(key))
    for key in TERM_KINDS:
        out[key] = _list(origin, key, values.get(key), max_terms)
    for key in ("published", "updated"):
        raw = values.get(key)
        try:
            out[key] = None if raw is None else parse_time(raw, tz)
        except ValueError as exc:
            raise origin.fail(key, str(exc)) from None
    article_id = _text(origin, "id", values.get("id"))
    if article_id is not None and not _TAG_URI.match(article_id):
        raise origin.fail("id", f"{article_id!r} is not a tag: URI (e.g. tag:example.com,2024-09-18:my-story)")
    out["id"] = article_id
    slug_text = _text(origin, "slug", values.get("slug"))
    if slug_text is not None:
        out["slug"] = slugify(slug_text)
        if not out["slug"]:
            raise origin.fail("slug", f"{slug_text!r} has no letters or digits to make a slug from")
    language = _text(origin, "language", values.get("language"))
    if language is not None and not LANGUAGE_TAG.match(language):
        raise origin.fail("language", f"{language!r} is not a language tag such as 'id' or 'en-US'")
    out["language"] = language
    if out["published"] and out["updated"] and out["updated"] < out["published"]:
        raise origin.fail("updated", "is earlier than published")
    return out


class FieldError(IngestError):
    """One bad field, keyed by its name (see :func:`check_all_fields`)."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(message)


class _Collecting(Origin):
    def fail(self, key: str, message: str) -> IngestError:
        return FieldError(key, message)


def check_all_fields(values: Mapping[str, object], tz: ZoneInfo, *,
                     max_terms: int) -> tuple[dict, dict[str, str], tuple[str, ...]]:
    """:func:`checked_fields` reporting every bad field, not only the first (the ingest
    API answers 422 with all of them): (checked values, {field: problem}, warnings)."""
    remaining = dict(values)
    problems: dict[str, str] = {}
    while True:
        origin = _Collecting("", {}, frozenset(), label="field")   # the warnings of this pass only
        try:
            return checked_fields(remaining, origin, tz, max_terms=max_terms), problems, tuple(origin.warnings)
        except FieldError as exc:
            if exc.key not in remaining:   # not caused by a value: nothing left to set aside
                raise
            problems[exc.key] = str(exc)
            del remaining[exc.key]        # checked again without it, to find the next


def decode_source(data: bytes, *, path: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise IngestError(
            f"byte 0x{data[exc.start]:02x} at offset {exc.start} is not valid UTF-8 (save the file as UTF-8)",
            path=path, line=line,
        ) from exc
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise IngestError("the file is empty", path=path)
    return text


def read_front_matter(
    data: bytes,
    *,
    path: str,
    settings: IngestSettings,
    overrides: Mapping[str, object] | None = None,
) -> tuple[str, dict, str, int, tuple[str, ...]]:
    """(the decoded text, its checked fields with flags applied, the body, its first line,
    the warnings): the start every format with front matter shares (text, Markdown)."""
    text = decode_source(data, path=path)
    front, body_text, body_line = split_front_matter(text, path=path)
    overrides = clean_overrides(overrides, path=path)
    origin = Origin(path, front.lines, frozenset(overrides))
    fields = checked_fields({**front.values, **overrides}, origin, ZoneInfo(settings.timezone),
                             max_terms=settings.max_terms)
    return text, fields, body_text, body_line, (*front.warnings, *origin.warnings)


def clean_overrides(overrides: Mapping[str, object] | None, *, path: str) -> dict[str, object]:
    """The command-line flags that were given; an unknown one is refused."""
    overrides = {k: v for k, v in (overrides or {}).items() if v not in (None, (), [])}
    unknown = set(overrides) - set(FRONT_MATTER_KEYS)
    if unknown:
        raise IngestError(f"unknown override(s): {', '.join(sorted(unknown))}", path=path)
    return overrides


def flag_bytes(overrides: Mapping[str, object] | None) -> int:
    """The bytes the command-line flags add to each article they apply to."""
    values = [item for value in (overrides or {}).values() if value is not None
              for item in (value if isinstance(value, (list, tuple)) else [value])]
    return sum(len(str(item).encode("utf-8", "surrogatepass")) for item in values)


def over_limit(settings: IngestSettings, overrides: Mapping[str, object] | None, what: str) -> str:
    """The error for an article over ``max_article_bytes``; ``what`` says where it passes the limit."""
    flags = flag_bytes(overrides)
    with_flags = f" with the {flags} bytes of the command-line flags" if flags else ""
    return (f"the article is larger than {settings.max_article_bytes} bytes{with_flags}, the most one article "
            f"may hold (ingest.max_article_bytes); {what}")


@dataclass(frozen=True)
class Skipped:
    """An item of a file that is not an article (a WordPress page, attachment...): counted, not imported."""

    kind: str
    line: int | None = None


def assemble_draft(
    *,
    path: str,
    fields: Mapping[str, object],
    lead: str,
    content_html: str,
    content_text: str,
    default_slug: str,
    city: str | None = None,
    publication: str | None = None,
    related_titles: tuple[str, ...] = (),
    dateline: str | None = None,
    line: int | None = None,
    warnings: tuple[str, ...] = (),
) -> ArticleDraft:
    """The draft every importer ends with: checked ``fields`` (see :func:`checked_fields`)
    plus the body; a missing headline or summary is derived from the ``lead`` paragraph.
    A ``dateline`` given as a field wins over the one the body opened with."""
    notes: list[str] = []
    title = fields["title"]
    if title is None:
        title = derive_title(lead)
        notes.append(f"no headline given; derived {title!r} from the lead")
    slug = fields.get("slug") or slugify(default_slug)
    if not slug:
        raise IngestError("cannot make a slug from the file name; give 'slug' in the front matter", path=path)
    return ArticleDraft(
        source=path,
        id=fields["id"],
        slug=slug,
        url=fields["url"],
        title=title,
        summary=fields["summary"] or cut_at_word(lead, SUMMARY_LIMIT),
        content_html=content_html,
        content_text=content_text,
        author=fields["author"],
        city=city,
        publication=publication,
        dateline=fields.get("dateline") or dateline,
        published=fields["published"],
        updated=fields["updated"],
        categories=fields["categories"],
        tags=fields["tags"],
        language=fields["language"],
        image_url=fields["image"],
        related_titles=related_titles,
        notes=tuple(notes),
        line=line,
        warnings=warnings,
    )


def bounded(draft: ArticleDraft, settings: IngestSettings) -> tuple[ArticleDraft, tuple[str, ...]]:
    """A draft that no checked file or request body made (a partner feed's item) held to the
    limits every other way in has: :class:`IngestError` when its text and fields together are
    over ``max_article_bytes``; categories and tags past ``max_terms`` dropped, with warnings."""
    size = sum(len(text.encode("utf-8", "surrogatepass")) for text in (
        draft.content_text, draft.title, draft.summary, draft.author or "", draft.url or "",
        draft.image_url or "", *draft.categories, *draft.tags, *draft.related_titles))
    if size > settings.max_article_bytes:
        raise IngestError(f"its text and fields hold {size} bytes, over the {settings.max_article_bytes} "
                          "an article may hold (ingest.max_article_bytes)")
    warnings: list[str] = []
    kept: dict[str, tuple[str, ...]] = {}
    for kind in TERM_KINDS:
        kept[kind], dropped = capped_terms(getattr(draft, kind), settings.max_terms)
        if dropped:
            warnings.append(f"{kind}: {dropped}")
    return replace(draft, **kept), tuple(warnings)
