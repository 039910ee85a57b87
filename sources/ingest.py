"""From a newsroom file to a stored article.

Three steps, the first two pure:

1. :mod:`sources.formats` turns a file's bytes (plus command-line overrides) into
   drafts (:class:`~sources.drafts.ArticleDraft`), or an
   :class:`~sources.errors.IngestError` naming file and line.
2. :func:`merge` decides what the store should hold given the stored version
   (if any) and the clock: created, updated (same id, later ``updated``) or
   unchanged.
3. :func:`ingest_paths` is the thin shell that reads files and writes each
   article in its own savepoint of a batch transaction (``Articles.batch``), so a
   bad file (or JSON line, or export item) leaves the store as it was and the good
   ones are still imported; with ``dry_run`` it only reports what it would do
   (:func:`plan`). A large import's files are read and parsed in a worker process
   ahead of the saves (:mod:`sources.readahead`), in the same order.

An import is re-runnable: the same files again find every article unchanged and
write nothing. An import cut short (Ctrl-C, a killed process) leaves whole
articles only: Ctrl-C stops after the article at hand and commits what was done;
a killed process loses the batch it had not committed. Running it again resumes:
what is stored is found unchanged, the rest is imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from contextlib import closing, nullcontext
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from .drafts import SINGLE_ARTICLE_KEYS, ArticleDraft
from .errors import FeedpubError, IngestError, StoreError
from .formats import SOURCE_SUFFIXES, Skipped, count_items
from .model import Article, Image, IngestSettings, RelatedLink, SaveResult, Status
from .readahead import file_drafts
from .store.roles import Articles


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
        dateline=draft.dateline,
        published=published,
        updated=draft.updated or published,
        categories=draft.categories,
        tags=draft.tags,
        language=draft.language or settings.language,
        image=image,
        related=tuple(RelatedLink(title) for title in draft.related_titles),
        status=draft.status,
        source=draft.source,
        stored=now,
        sample=existing.sample if existing else False,
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
    skipped: int = 0            # items of an export that are not articles (pages, attachments...)
    interrupted: bool = False   # stopped when asked to, after a whole article

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def line(self, *, dry_run: bool = False) -> str:
        """The import's one summary line."""
        skipped = f", {self.skipped} skipped (not articles)" if self.skipped else ""
        if dry_run:
            return (f"dry run: {self.created} to create, {self.updated} to update, {self.unchanged} unchanged, "
                    f"{self.failed} failed{skipped}; the store was not changed")
        text = (f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.failed} failed{skipped}")
        if self.interrupted:
            return text + "; interrupted: what is stored is whole, run the same command again to resume"
        if self.unchanged and not (self.changed or self.failed):
            return text + "; nothing changed: the store already held all of it"
        return text

    def fail(self, report: Callable[[str], None], message: object) -> None:
        """Count one rejected item and say why (the run goes on with the next)."""
        self.failed += 1
        report(f"error: {message}")


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


def _marked(result: SaveResult, sample: bool) -> SaveResult:
    if not sample or result.action != "created":
        return result
    return SaveResult(result.action, replace(result.article, sample=True))


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


def embargo_note(article: Article, now: datetime, settings: IngestSettings) -> str | None:
    """What a person is told of an article published with a time still ahead (None otherwise)."""
    if article.status is not Status.PUBLISHED or article.published <= now:
        return None
    when = article.published.astimezone(ZoneInfo(settings.timezone))
    return f"embargoed until {when:%Y-%m-%d %H:%M:%S %Z} ({when.isoformat()}): in no feed or page before then"


def _measured(store: Articles, url: str, measure: Callable[[str], Image],
              report: Callable[[str], None], file: Path, commit: Callable[[], None]) -> Image | None:
    known = store.find_image(url)
    if known is not None:
        return known
    commit()   # the batch's writes are not held back while an image's server answers
    try:
        return measure(url)
    except FeedpubError as exc:
        report(f"warning: {file}: {exc}; stored without its size, measured again on the next ingest")
        return None


def collect_files(paths: Iterable[str | Path]) -> tuple[list[str], list[IngestError]]:
    """Files named directly, plus every file of a known format (:data:`SOURCE_SUFFIXES`)
    below named directories (in the order paths sort, part by part; hidden files and folders
    skipped); and an error for each path that does not exist or folder that cannot be read.
    Names, not :class:`Path` objects: they are kept for the whole import. Not through
    ``Path.rglob`` either, which holds every Path it yielded until it ends, and the process
    never gave that memory back (docs/BENCHMARKS.md, "Files parsed in a worker process")."""
    files: list[str] = []
    missing: list[IngestError] = []
    for raw in paths:
        name = os.fspath(raw)
        if os.path.isdir(name):
            _walk(str(Path(name)), files, missing)
        elif os.path.exists(name):
            files.append(str(Path(name)))
        else:
            missing.append(IngestError("no such file or directory", path=str(Path(name))))
    return files, missing


def _walk(folder: str, files: list[str], errors: list[IngestError]) -> None:
    """Append the source files below ``folder`` (a name as :class:`Path` writes it) to ``files``
    depth first, each folder's entries sorted by name: the order of the whole paths compared
    part by part. A link to a folder is not followed, as ``Path.rglob`` does not; a link to a
    file is read. A folder that cannot be read is an error naming it, and the rest is walked."""
    try:
        with os.scandir(folder) as scan:
            entries = sorted((entry for entry in scan if not entry.name.startswith(".")), key=lambda entry: entry.name)
    except OSError as exc:
        errors.append(IngestError(f"cannot read the folder: {exc.strerror or exc}", path=folder))
        return
    for entry in entries:
        path = os.path.join(folder, entry.name)
        if entry.is_dir(follow_symlinks=False):
            _walk(path, files, errors)
        elif entry.is_file() and os.path.splitext(entry.name)[1].lower() in SOURCE_SUFFIXES:
            files.append(path)


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
    sample: bool = False,
    stop: Callable[[], bool] | None = None,
) -> IngestSummary:
    """Import every article of every file; each in a savepoint of its own (so each line of
    a JSON Lines file, each item of an export), failures reported and skipped; committed
    in batches (``Articles.batch``) unless ``dry_run``.

    ``measure`` (see :mod:`sources.media`) asks an image's server for its length
    and type once per URL; without it images are stored unmeasured.
    ``progress`` is told (items done, items in all) as the import goes: an item is an
    article, a rejected one or an export's item that is not an article; the total is
    counted before the import (:func:`sources.formats.count_items`).
    ``stop`` is asked before each item: when it says so, the import ends there
    (``IngestSummary.interrupted``), what was done committed.
    ``dry_run`` decides the same way (against the store as the earlier items would
    have left it) and reports "would create", "would update" (with the fields that
    change) or "unchanged", but writes nothing and measures nothing.
    ``sample`` marks what it creates as the sample article (see ``Article.sample``).
    """
    files, missing = collect_files(paths)
    single = [key for key in SINGLE_ARTICLE_KEYS if (overrides or {}).get(key)]
    if single and len(files) + len(missing) != 1:
        raise IngestError(f"--{single[0]} names one article but {len(files) + len(missing)} files were given")
    summary = IngestSummary()
    for error in missing:
        summary.fail(report, error)
    planned: dict[str, Article] = {}   # dry run: what the earlier items would have written, by id
    total = sum(count_items(Path(name)) for name in files) if progress else 0
    done = 0
    # Articles this run created: links of theirs that later items resolve are part of their
    # first publication, and re-date nothing (see roles.Articles.save).
    created: set[str] = set()
    # A large import's files are read and parsed in a worker process while this one saves
    # (sources/readahead.py); closed on the way out, which ends the worker.
    with (closing(file_drafts(files, settings=settings, overrides=overrides)) as items,
          nullcontext(lambda: None) if dry_run else store.batch() as commit):
        for file, draft in items:
            if progress:
                progress(done, max(total, done + 1))
            done += 1
            if stop is not None and stop():
                summary.interrupted = True
                break
            _one(store, draft, file, summary, planned, settings=settings, now=now, report=report,
                 measure=measure, dry_run=dry_run, sample=sample, commit=commit, created=created)
    if progress:
        progress(done, max(total, done))
    return summary


def _one(store: Articles, draft: ArticleDraft | IngestError | Skipped, file: Path, summary: IngestSummary,
         planned: dict[str, Article], *, settings: IngestSettings, now: Callable[[], datetime],
         report: Callable[[str], None], measure: Callable[[str], Image] | None, dry_run: bool,
         sample: bool, commit: Callable[[], None], created: set[str]) -> None:
    """Import (or plan) one item of ``file``, counted in ``summary``; an article it creates
    joins ``created``."""
    if isinstance(draft, Skipped):
        summary.skipped += 1
        return
    if isinstance(draft, IngestError):
        summary.fail(report, draft)
        return
    where = f"{file}:{draft.line}" if draft.line else str(file)
    try:
        if draft.source is not None:
            # The absolute path identifies the file whatever the working directory.
            draft = replace(draft, source=str(file.resolve()))
        if draft.image_url and measure is not None and not dry_run:
            draft = replace(draft, image=_measured(store, draft.image_url, measure, report, file, commit))
        for warning in draft.warnings:
            report(f"warning: {warning}")
        if dry_run:
            result, existing = plan(store, planned, draft, now(), settings)
        else:
            result = store.save(
                lambda existing, draft=draft: _marked(merge(existing, draft, now(), settings), sample),
                article_id=draft.id, slug=draft.slug, source=draft.source, fresh=created,
            )
            if result.action == "created":
                created.add(result.article.id)
    except IngestError as exc:
        summary.fail(report, exc if exc.path else IngestError(str(exc), path=where))
        return
    except StoreError as exc:
        summary.fail(report, f"{where}: {exc}")
        return
    except OSError as exc:
        summary.fail(report, f"{where}: {exc.strerror or exc}")
        return
    setattr(summary, result.action, getattr(summary, result.action) + 1)
    if result.action != "unchanged":
        # What was derived is news only when it is stored (or would be): an unchanged
        # file ingested again says nothing of it.
        for note in draft.notes:
            report(f"{where}: {note}")
        embargo = embargo_note(result.article, now(), settings)
        if embargo:
            report(f"{where}: {embargo}")
    if not dry_run:
        report(f"{result.action}: {result.article.id} ({where})")
    elif result.action == "created":
        report(f"would create: {result.article.id} ({where})")
    elif result.action == "updated":
        changed = ", ".join(changed_fields(existing, result.article)) or "nothing a reader sees"
        report(f"would update: {result.article.id} ({where}) (changed: {changed})")
    else:
        report(f"unchanged: {result.article.id} ({where})")
