"""From a newsroom file to a stored article.

Three steps, the first two pure:

1. :func:`read_draft` turns a file's bytes (plus command-line overrides) into an
   :class:`ArticleDraft`, or raises :class:`IngestError` naming file and line.
   :func:`read_drafts` picks the reader by suffix: this module's for newsroom
   text, :mod:`sources.markdown_format`, :mod:`sources.html_format` and
   :mod:`sources.jsonl_format` (several drafts per file) for the others.
2. :func:`merge` decides what the store should hold given the stored version
   (if any) and the clock: created, updated (same id, later ``updated``) or
   unchanged.
3. :func:`ingest_paths` is the thin shell that reads files and writes each
   article in its own store transaction, so a bad file (or JSON line) leaves the
   store as it was and the good ones are still imported; with ``dry_run`` it
   only reports what it would do (:func:`plan`).

Every way in (files, command-line flags, the ingest API, partner feeds) shares the
field checks below and the limits of :class:`~sources.model.IngestSettings`: at most
``max_terms`` categories and tags each (the rest dropped with a warning: every term
makes a feed of its own, three documents), at most ``max_article_bytes`` an article
(a file of one article is read no further than that; a JSON Lines file line by line),
and one URL check (:func:`url_problem`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from datetime import datetime, time, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from .errors import FeedpubError, IngestError, StoreError
from .frontmatter import FRONT_MATTER_KEYS, split_front_matter
from .model import Article, Image, IngestSettings, RelatedLink, SaveResult, Status
from .newsroom import parse_newsroom_text
from .store.roles import Articles
from .text import control_characters, cut_at_word, describe_control, normalise_controls, slugify, squash_space, xml_safe

TITLE_LIMIT = 90     # characters of a headline derived from the lead
SUMMARY_LIMIT = 300  # characters of a summary derived from the lead
# Flags that name one article, so they make no sense with several files.
SINGLE_ARTICLE_KEYS = ("id", "slug", "title", "url", "summary")
_TAG_URI = re.compile(r"^tag:[A-Za-z0-9.@_-]+,\d{4}(?:-\d{2}(?:-\d{2})?)?:\S+$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
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
    published: datetime | None = None
    updated: datetime | None = None
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    language: str | None = None
    image_url: str | None = None
    image: Image | None = None        # the measured image, when the shell measured it
    related_titles: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=(), compare=False)  # what was derived, for the person
    line: int | None = field(default=None, compare=False)      # its line when a file holds several
    # What was changed on the way in (terms dropped, control characters normalised), each
    # naming where: "path:line: ..." for a file, "field 'tags': ..." for the API.
    warnings: tuple[str, ...] = field(default=(), compare=False)


# --- field checks shared by front matter and command-line flags -------------------------


@dataclass(frozen=True)
class _Origin:
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
        self.warnings.append(str(_Origin.fail(self, key, message)))


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


def _text(origin: _Origin, key: str, value: object, *, required: bool = False, warn: bool = True) -> str | None:
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


def _url(origin: _Origin, key: str, value: object) -> str | None:
    text = _text(origin, key, value)
    problem = url_problem(text) if text is not None else None
    if problem:
        raise origin.fail(key, problem)
    return text


def _list(origin: _Origin, key: str, value: object, limit: int) -> tuple[str, ...]:
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


def _checked_fields(values: Mapping[str, object], origin: _Origin, tz: ZoneInfo, *, max_terms: int) -> dict:
    out: dict = {}
    for key in ("title", "summary", "author"):
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
    if language is not None and not _LANGUAGE.match(language):
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


class _Collecting(_Origin):
    def fail(self, key: str, message: str) -> IngestError:
        return FieldError(key, message)


def check_all_fields(values: Mapping[str, object], tz: ZoneInfo, *,
                     max_terms: int) -> tuple[dict, dict[str, str], tuple[str, ...]]:
    """:func:`_checked_fields` reporting every bad field, not only the first (the ingest
    API answers 422 with all of them): (checked values, {field: problem}, warnings)."""
    remaining = dict(values)
    problems: dict[str, str] = {}
    while True:
        origin = _Collecting("", {}, frozenset(), label="field")   # the warnings of this pass only
        try:
            return _checked_fields(remaining, origin, tz, max_terms=max_terms), problems, tuple(origin.warnings)
        except FieldError as exc:
            if exc.key not in remaining:   # not caused by a value: nothing left to set aside
                raise
            problems[exc.key] = str(exc)
            del remaining[exc.key]        # checked again without it, to find the next


# --- step 1: bytes -> draft ---------------------------------------------------------------


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
    origin = _Origin(path, front.lines, frozenset(overrides))
    fields = _checked_fields({**front.values, **overrides}, origin, ZoneInfo(settings.timezone),
                             max_terms=settings.max_terms)
    return text, fields, body_text, body_line, (*front.warnings, *origin.warnings)


def read_draft(
    data: bytes,
    *,
    path: str,
    settings: IngestSettings,
    overrides: Mapping[str, object] | None = None,
) -> ArticleDraft:
    """Parse one newsroom text file; ``overrides`` (command-line flags) win over front matter."""
    text, fields, body_text, body_line, warnings = read_front_matter(
        data, path=path, settings=settings, overrides=overrides)
    body = parse_newsroom_text(body_text, path=path, first_line=body_line)
    return assemble_draft(
        path=path, fields=fields, lead=body.lead, content_html=body.html(), content_text=xml_safe(text),
        default_slug=Path(path).stem, city=body.city, publication=body.publication,
        related_titles=body.related_titles, warnings=warnings,
    )


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
    line: int | None = None,
    warnings: tuple[str, ...] = (),
) -> ArticleDraft:
    """The draft every importer ends with: checked ``fields`` (see :func:`_checked_fields`)
    plus the body; a missing headline or summary is derived from the ``lead`` paragraph."""
    notes: list[str] = []
    title = fields["title"]
    if title is None:
        title = cut_at_word(lead.rstrip("."), TITLE_LIMIT)
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


# --- step 2: the decision -----------------------------------------------------------------


def mint_id(settings: IngestSettings, slug: str, published: datetime) -> str:
    """A tag: URI (RFC 4151) minted once; it never follows later slug or URL changes."""
    day = published.astimezone(ZoneInfo(settings.timezone)).date().isoformat()
    return f"tag:{settings.tag_authority},{day}:{slug}"


def merge(existing: Article | None, draft: ArticleDraft, now: datetime, settings: IngestSettings) -> SaveResult:
    """What the store should hold after ingesting ``draft`` at ``now``."""
    # Times the importer fills in are kept in the site's zone, as a newsroom writes them,
    # in whole seconds (newsboat misreads fractional seconds in Atom dates).
    now = now.astimezone(ZoneInfo(settings.timezone)).replace(microsecond=0)
    published = draft.published or (existing.published if existing else now)
    image = None
    if draft.image_url:
        keep = existing and existing.image and existing.image.url == draft.image_url and existing.image.length
        image = draft.image or (existing.image if keep else Image(draft.image_url))
    candidate = Article(
        id=existing.id if existing else (draft.id or mint_id(settings, draft.slug, published)),
        slug=draft.slug,
        url=draft.url,
        title=draft.title,
        summary=draft.summary,
        content_html=draft.content_html,
        content_text=draft.content_text,
        author=draft.author,
        city=draft.city,
        publication=draft.publication,
        published=published,
        updated=draft.updated or published,
        categories=draft.categories,
        tags=draft.tags,
        language=draft.language or settings.language,
        image=image,
        related=tuple(RelatedLink(title) for title in draft.related_titles),
        status=Status.PUBLISHED,
        source=draft.source,
        stored=now,
    )
    if existing is None:
        return SaveResult("created", candidate)
    if (draft.id is None and existing.source and draft.source != existing.source
            and existing.slug == draft.slug and not candidate.same_content(existing)):
        # Same file name, another file, other content: two stories, not an edit, and
        # nothing is overwritten. (A byte-identical copy is the same story: unchanged.)
        raise IngestError(
            f"slug {draft.slug!r} already belongs to article {existing.id}, imported from {existing.source}; "
            "give this file its own 'slug' (or the article's 'id' if it is the same story)",
            path=draft.source,
        )
    if candidate.same_content(existing) and (draft.updated is None or draft.updated == existing.updated):
        if candidate.image and candidate.image.length is not None and candidate.image != existing.image:
            # A measurement arrived late: store it without announcing an edit.
            return SaveResult("updated", replace(existing, image=candidate.image, stored=now))
        return SaveResult("unchanged", existing)
    # An edit keeps the id and moves ``updated`` strictly forward (even within the
    # same second, or after the clock stepped back) so every reader sees a change.
    updated = draft.updated or max(now, existing.updated + timedelta(seconds=1), published)
    return SaveResult("updated", replace(candidate, updated=updated))


# --- step 3: the shell --------------------------------------------------------------------


@dataclass
class IngestSummary:
    """Counts only: a JSON Lines file of a million articles must not be held in memory."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def fail(self, report: Callable[[str], None], message: object) -> None:
        """Count one rejected item and say why (the run goes on with the next)."""
        self.failed += 1
        report(f"error: {message}")


# The formats, by file suffix (any case). A file named directly with another suffix
# is read as newsroom text.
SOURCE_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".jsonl")


def read_drafts(
    data: bytes,
    *,
    path: str,
    settings: IngestSettings,
    overrides: Mapping[str, object] | None = None,
) -> list[ArticleDraft | IngestError]:
    """Every article a file holds, read as its suffix says.

    A file of one article raises :class:`IngestError` when it cannot be imported. A
    JSON Lines file holds many: a bad line's error stands in that line's place and
    the other lines are still read; it raises only for the file as a whole.
    """
    # The format modules build on the helpers above, so they are imported here.
    suffix = Path(path).suffix.lower()
    if suffix in (".md", ".markdown"):
        from .markdown_format import read_markdown_draft

        return [read_markdown_draft(data, path=path, settings=settings, overrides=overrides)]
    if suffix in (".html", ".htm"):
        from .html_format import read_html_draft

        return [read_html_draft(data, path=path, settings=settings, overrides=overrides)]
    if suffix == ".jsonl":
        from .jsonl_format import read_jsonl_drafts

        return read_jsonl_drafts(data, path=path, settings=settings, overrides=overrides)
    return [read_draft(data, path=path, settings=settings, overrides=overrides)]


def read_file_drafts(
    file: Path,
    *,
    settings: IngestSettings,
    overrides: Mapping[str, object] | None = None,
) -> Iterator[ArticleDraft | IngestError]:
    """:func:`read_drafts` of a file, never holding more of it than one article may hold
    (``max_article_bytes``, less what the flags add): a JSON Lines file is read line by line
    however large it is; any other file (one article) no further than the limit and a byte.
    Raises :class:`IngestError` or :class:`OSError` for the file as a whole."""
    path = str(file)
    budget = max(settings.max_article_bytes - flag_bytes(overrides), 0)
    with file.open("rb") as stream:
        if file.suffix.lower() == ".jsonl":
            from .jsonl_format import iter_jsonl_drafts

            yield from iter_jsonl_drafts(stream, path=path, settings=settings, overrides=overrides)
            return
        data = stream.read(budget + 1)
    if len(data) > budget:
        raise IngestError(over_limit(settings, overrides, "it passes that size on this line"),
                          path=path, line=data.count(b"\n", 0, budget) + 1)
    yield from read_drafts(data, path=path, settings=settings, overrides=overrides)


def _each_draft(file: Path, *, settings: IngestSettings,
                overrides: Mapping[str, object] | None) -> Iterator[ArticleDraft | IngestError]:
    """:func:`read_file_drafts`, an error for the file as a whole becoming its last item."""
    try:
        yield from read_file_drafts(file, settings=settings, overrides=overrides)
    except IngestError as exc:
        yield exc
    except OSError as exc:
        yield IngestError(exc.strerror or str(exc), path=str(file))


def _would_find(store: Articles, planned: Mapping[str, Article], draft: ArticleDraft) -> Article | None:
    """What ``store.save`` would find for ``draft`` once the run's earlier items
    (``planned``, by id) were written: the same keys in the same order."""
    if draft.id:
        return planned.get(draft.id) or store.lookup(article_id=draft.id, slug=draft.slug)
    stored = store.lookup(article_id=None, slug=draft.slug, source=draft.source)
    stored = planned.get(stored.id, stored) if stored else None   # as this run left it
    if draft.source:
        hit = next((a for a in planned.values() if a.source == draft.source), None)
        if hit is not None:
            return hit
        if stored is not None and stored.source == draft.source:
            return stored
    hit = next((a for a in planned.values() if a.slug == draft.slug), None)
    return hit or (stored if stored is not None and stored.slug == draft.slug else None)


def plan(store: Articles, planned: dict[str, Article], draft: ArticleDraft, now: datetime,
         settings: IngestSettings) -> tuple[SaveResult, Article | None]:
    """``--dry-run``: (what saving ``draft`` would do, the article it would replace), written
    nowhere but ``planned``; refuses what the store would refuse (a slug or id taken)."""
    existing = _would_find(store, planned, draft)
    result = merge(existing, draft, now, settings)
    if result.action != "unchanged":
        article = result.article
        owner = next((a for a in planned.values() if a.slug == article.slug), None)
        if owner is None:
            owner = store.lookup(article_id=None, slug=article.slug)
            owner = planned.get(owner.id, owner) if owner else None
            owner = owner if owner is not None and owner.slug == article.slug else None
        if owner is not None and owner.id != article.id:
            raise StoreError(f"slug {article.slug!r} already belongs to article {owner.id}; give this one another slug")
        if existing is None and (article.id in planned or store.get(article.id) is not None):
            raise StoreError("that id already belongs to another article")
        planned[article.id] = article
    return result, existing


def changed_fields(before: Article, after: Article) -> list[str]:
    """The fields that change, in :class:`Article` order. The source text, the file and
    ``updated`` change with any edit, so they are named only when nothing else changes."""
    def value(article: Article, name: str) -> object:
        if name == "related":   # the newsroom's own links; the store's suggestions follow from them
            return [link.title for link in article.related if not getattr(link, "suggested", False)]
        return getattr(article, name)

    changed = [f.name for f in dataclass_fields(Article)
               if f.name != "stored" and value(before, f.name) != value(after, f.name)]
    return [name for name in changed if name not in ("content_text", "source", "updated")] or changed


def _measured(store: Articles, url: str, measure: Callable[[str], Image],
              report: Callable[[str], None], file: Path) -> Image | None:
    known = store.find_image(url)
    if known is not None:
        return known
    try:
        return measure(url)
    except FeedpubError as exc:
        report(f"warning: {file}: {exc}; stored without its size, measured again on the next ingest")
        return None


def collect_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[IngestError]]:
    """Files named directly, plus every file of a known format (:data:`SOURCE_SUFFIXES`)
    below named directories (sorted; hidden folders skipped); and an error for each path
    that does not exist."""
    files: list[Path] = []
    missing: list[IngestError] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SOURCE_SUFFIXES
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
            )
        elif path.exists():
            files.append(path)
        else:
            missing.append(IngestError("no such file or directory", path=str(path)))
    return files, missing


def ingest_paths(
    store: Articles,
    paths: Iterable[str | Path],
    *,
    settings: IngestSettings,
    now: Callable[[], datetime],
    overrides: Mapping[str, object] | None = None,
    report: Callable[[str], None] = print,
    measure: Callable[[str], Image] | None = None,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> IngestSummary:
    """Import every article of every file; each in one transaction (so each line of a
    JSON Lines file in its own), failures reported and skipped.

    ``measure`` (see :mod:`sources.media`) asks an image's server for its length
    and type once per URL; without it images are stored unmeasured.
    ``progress`` is told (files done, files in all) as the import goes.
    ``dry_run`` decides the same way (against the store as the earlier items would
    have left it) and reports "would create", "would update" (with the fields that
    change) or "unchanged", but writes nothing and measures nothing.
    """
    files, missing = collect_files(paths)
    single = [key for key in SINGLE_ARTICLE_KEYS if (overrides or {}).get(key)]
    if single and len(files) + len(missing) != 1:
        raise IngestError(f"--{single[0]} names one article but {len(files) + len(missing)} files were given")
    summary = IngestSummary()
    for error in missing:
        summary.fail(report, error)
    planned: dict[str, Article] = {}   # dry run: what the earlier items would have written, by id
    for done, file in enumerate(files):
        if progress:
            progress(done, len(files))
        for draft in _each_draft(file, settings=settings, overrides=overrides):
            if isinstance(draft, IngestError):
                summary.fail(report, draft)
                continue
            where = f"{file}:{draft.line}" if draft.line else str(file)
            try:
                if draft.source is not None:
                    # The absolute path identifies the file whatever the working directory.
                    draft = replace(draft, source=str(file.resolve()))
                if draft.image_url and measure is not None and not dry_run:
                    draft = replace(draft, image=_measured(store, draft.image_url, measure, report, file))
                for warning in draft.warnings:
                    report(f"warning: {warning}")
                for note in draft.notes:
                    report(f"{where}: {note}")
                if dry_run:
                    result, existing = plan(store, planned, draft, now(), settings)
                else:
                    result = store.save(
                        lambda existing, draft=draft: merge(existing, draft, now(), settings),
                        article_id=draft.id, slug=draft.slug, source=draft.source,
                    )
            except IngestError as exc:
                summary.fail(report, exc if exc.path else IngestError(str(exc), path=where))
                continue
            except StoreError as exc:
                summary.fail(report, f"{where}: {exc}")
                continue
            except OSError as exc:
                summary.fail(report, f"{where}: {exc.strerror or exc}")
                continue
            setattr(summary, result.action, getattr(summary, result.action) + 1)
            if not dry_run:
                report(f"{result.action}: {result.article.id} ({where})")
            elif result.action == "created":
                report(f"would create: {result.article.id} ({where})")
            elif result.action == "updated":
                changed = ", ".join(changed_fields(existing, result.article)) or "nothing a reader sees"
                report(f"would update: {result.article.id} ({where}) (changed: {changed})")
            else:
                report(f"unchanged: {result.article.id} ({where})")
    if progress:
        progress(len(files), len(files))
    return summary
