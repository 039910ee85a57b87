"""No early leak: an embargoed article appears nowhere before its time, over random schedules and edits.

Hypothesis generates a sequence of operations on a fresh store (create, edit, move
in time, unpublish, delete, restore), applied on a clock that moves forward. Every
article carries a unique token ("ZQX<n>K") in its id, slug, title, summary, body,
author, category, tag and image URL; related-link markers are drawn from a small
vocabulary of headline phrases (never containing a token), so they resolve to
other articles, embargoed ones included, or stay pending.

Then, at several times ``t`` (now, and each publish and deletion time and the
second before it), every rendered document and every file a build writes
(``.manifest.json`` included) is searched:

* an article that is not visible at ``t`` (not published, or published after
  ``t``) leaves no token anywhere, "Baca juga" lists and related-link elements
  included; the one exception is an RFC 6721 ``at:deleted-entry`` in atom.xml,
  which carries only the id and link of a deleted article that had been public
  before its deletion;
* the Atom tombstones are exactly: every article visible at the moment it was
  deleted (deleted in the tombstone window) must have one, and none may name an
  article that was never public before its deletion;
* every visible article among the newest ``items_per_feed`` is in rss.xml,
  atom.xml and feed.json;
* the feeds' ``updated`` time comes from visible entries, shown tombstones, the times an
  article readers saw left the feed (unpublished, deleted, moved later) and the second after the
  newest tombstone gone from it only, each change at the second the store's clock gave it:
  an article's stored ``updated`` moves only at an operation on another article (a link of
  its that showed leads elsewhere or nowhere now), and a link that resolved after its first
  publication dates it only once the link shows (its target's release at the earliest).
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from lxml import etree

from feedpub.settings import utc_now
from feeds.building.build import build, render_documents
from feeds.rendering.entries import EPOCH
from feeds.publishing.atomic import retired
from feeds.site import SiteSettings
from sources.model import Article, Image, RelatedLink, SaveResult, Status
from sources.store import SQLiteStore

JAKARTA = ZoneInfo("Asia/Jakarta")
NOW = datetime(2024, 9, 18, 12, 0, tzinfo=JAKARTA)
START = NOW - timedelta(hours=3)        # the clock of the first operation
ITEMS = 4                               # small, so the newest-N cut is exercised
SITE = SiteSettings(
    title="OKES.NEWS", description="Berita Ogan Komering Ulu", base_url="https://okes.example",
    language="id", timezone="Asia/Jakarta", author="Redaksi OKES.NEWS", items_per_feed=ITEMS,
    rebuild_minutes=15,
)
ATOM = "http://www.w3.org/2005/Atom"
AT = "http://purl.org/atompub/tombstones/1.0"

# Headline phrases: some begin others, so a marker may match one title, several
# (pending) or none. A title is a phrase plus the article's token; a marker is a
# phrase, or a phrase cut short, and never holds a token.
PHRASES = ("Banjir Baturaja", "Banjir Baturaja Meluas", "Rapat Pilkada OKU", "Harga Cabai Naik",
           "Harga Cabai Turun", "Jalan Rusak")
MARKERS = PHRASES + ("Harga Cabai", "Banjir Batu", "Rapat Pilkada OKU Digelar")


def token(n: int) -> str:
    return f"ZQX{n}K"   # the closing K: "ZQX1K" is no substring of "ZQX11K"


# --- operations ---------------------------------------------------------------------------

minutes = st.integers(-180, 180)
markers = st.lists(st.integers(0, len(MARKERS) - 1), max_size=2)
create = st.tuples(st.just("create"), minutes, st.integers(0, len(PHRASES) - 1), markers,
                   st.booleans(), st.booleans(), st.booleans())   # image, own URL, as a draft
edit = st.tuples(st.just("edit"), st.integers(0, 50),
                 st.none() | st.integers(0, len(PHRASES) - 1),     # new headline phrase
                 st.none() | minutes,                               # new publish time
                 st.none() | markers,                               # new related markers
                 st.sampled_from(["keep", "published", "draft"]))   # "keep" restores a deleted one
delete = st.tuples(st.just("delete"), st.integers(0, 50), st.booleans())          # by slug or id
unpublish = st.tuples(st.just("unpublish"), st.integers(0, 50), st.booleans())    # store API or save
step = st.integers(0, 40)   # minutes the clock moves before an operation
operations = st.lists(st.tuples(step, st.one_of(create, create, edit, delete, unpublish)),
                      min_size=1, max_size=12)


@dataclass
class Model:
    """What the test expects of one article after the sequence."""

    n: int
    id: str
    slug: str
    status: Status
    published: datetime
    updated: datetime
    stored: datetime
    deleted_at: datetime | None = None
    visible_at_deletion: bool = False
    ever_public: bool = False   # visible at some instant before its deletion
    taken_down: bool = False    # unpublished through the store while readers saw it (partners announce it)

    @property
    def token(self) -> str:
        return token(self.n)

    def visible(self, t: datetime) -> bool:
        return self.status is Status.PUBLISHED and self.published <= t


def new_article(n: int, published: datetime, phrase: int, marks: list[int], image: bool, own_url: bool,
                clock: datetime) -> Article:
    tok = token(n)
    return Article(
        id=f"tag:okes.example,2024-09-18:{tok.lower()}", slug=f"berita-{tok.lower()}",
        url=f"https://okes.example/2024/09/{tok.lower()}" if own_url else None,
        title=f"{PHRASES[phrase]} {tok}", summary=f"Ringkasan {tok}.",
        content_html=f"<p>Isi berita {tok} versi 1.</p>", content_text=f"Isi berita {tok} versi 1.",
        author=f"Wartawan {tok}", city="BATURAJA", publication="OKES.NEWS",
        published=published, updated=max(published, clock), categories=(f"Kategori {tok}",),
        tags=(f"Label {tok}",), language="id",
        image=Image(f"https://cdn.okes.example/{tok.lower()}.jpg", "image/jpeg", 1000 + n) if image else None,
        related=tuple(RelatedLink(MARKERS[m]) for m in marks), status=Status.PUBLISHED, stored=clock,
    )


def put(store: SQLiteStore, article: Article, action: str) -> None:
    store.save(lambda existing: SaveResult(action, article), article_id=article.id, slug=article.slug)


def redated(store: SQLiteStore, models: list[Model], clock: datetime, at: datetime) -> None:
    """An operation at ``clock`` may move the ``updated`` of other articles readers see (a link of
    theirs now shows otherwise): only to the second the store gave the operation (``at``), and
    then their stored time is that too."""
    for m in models:
        stored = store.get(m.id)
        if stored.updated != m.updated:
            assert stored.updated == at and stored.stored == at and m.visible(clock), (m.token, stored.updated)
            m.updated, m.stored = stored.updated, at


class StoreClock:
    """The store's clock (sources/store/sql.py ``_change_second``): a change readers' documents
    show takes its clock reading's second, or the one after the last such change's."""

    def __init__(self) -> None:
        self.last: datetime | None = None

    def take(self, at: datetime) -> datetime:
        at = at.replace(microsecond=0)
        if self.last is not None and at <= self.last:
            at = self.last + timedelta(seconds=1)
        self.last = at
        return at


def shown_time(store: SQLiteStore, m: Model, t: datetime) -> datetime:
    """``updated`` as readers see the article at ``t``: never later than they could first see the
    version (stored, or released), and later when a link bound after its first publication shows,
    from when it appeared (bound, and its target visible)."""
    article = store.articles([m.id], t)[0]
    appeared = [max(link_bound_at(store, m, link), link.target.published) for link in article.related
                if link.bound and link.target is not None]
    return max([min(m.updated, max(m.published, m.stored)), *appeared])


def link_bound_at(store: SQLiteStore, m: Model, link: RelatedLink) -> datetime:
    with store._lock:  # test-only peek: when the store bound it
        ts = store._db.execute("SELECT bound_ts FROM related_links WHERE article_id = ? AND target_id = ?",
                               (m.id, link.target_id)).fetchone()[0]
    return datetime.fromtimestamp(ts, JAKARTA)


def apply(store: SQLiteStore, ops) -> tuple[list[Model], list[datetime]]:
    """(the articles, the times an article readers saw left the main feed: removals move its time)."""
    models: list[Model] = []
    removals: list[datetime] = []
    clock = START
    store_clock = StoreClock()
    for advance, op in ops:
        new_clock = clock + timedelta(minutes=advance)
        # Between two operations the state stood still: who was public meanwhile?
        for m in models:
            if advance and m.deleted_at is None and m.status is Status.PUBLISHED and m.published < new_clock:
                m.ever_public = True
        clock = new_clock
        kind = op[0]
        if kind == "create":
            _, offset, phrase, marks, image, own_url, draft = op
            n = len(models) + 1
            article = new_article(n, NOW + timedelta(minutes=offset), phrase, marks, image, own_url, clock)
            if draft:
                article = replace(article, status=Status.DRAFT)
            put(store, article, "created")
            at = store_clock.take(clock) if article.is_visible(clock) else clock
            models.append(Model(n, article.id, article.slug, article.status, article.published,
                                article.updated, at))
            redated(store, models, clock, at)
            continue
        if not models:
            continue
        m = models[op[1] % len(models)]
        seen = m.visible(clock)
        kept = m.status is Status.DELETED and m.visible_at_deletion   # a tombstone in its feeds
        # A removal readers saw, which partners' feeds announce: any change to it takes a clock second.
        announced = kept or m.taken_down
        at = clock
        if kind == "edit":
            _, _, phrase, offset, marks, status = op
            old = store.get(m.id)
            published = old.published if offset is None else NOW + timedelta(minutes=offset)
            new_status = {"keep": Status.DRAFT if old.status is Status.DRAFT else Status.PUBLISHED,
                          "published": Status.PUBLISHED, "draft": Status.DRAFT}[status]
            version = int(re.search(r"versi (\d+)", old.content_html).group(1)) + 1
            updated = max(published, clock, old.updated + timedelta(seconds=1))
            edited = replace(
                old,
                title=old.title if phrase is None else f"{PHRASES[phrase]} {m.token}",
                published=published, updated=updated, status=new_status, stored=clock,
                content_html=f"<p>Isi berita {m.token} versi {version}.</p>",
                content_text=f"Isi berita {m.token} versi {version}.",
                related=tuple(RelatedLink(link.title) for link in old.related if not link.suggested) if marks is None
                else tuple(RelatedLink(MARKERS[i]) for i in marks),
            )
            put(store, edited, "updated")
            at = next_second(m.stored, clock)
            if seen or kept or announced or edited.is_visible(clock):
                at = store_clock.take(at)
            m.status, m.published, m.updated, m.deleted_at = new_status, published, updated, None
            m.stored = at
            m.visible_at_deletion = False
        elif kind == "delete":
            _, _, by_slug = op
            store.delete(m.slug if by_slug else m.id, clock)
            if m.status is not Status.DELETED:
                # Unseen: its stored time never goes back before its last version's.
                at = store_clock.take(clock) if seen or announced else max(clock, m.stored)
                m.visible_at_deletion = m.visible(clock)
                m.ever_public = m.ever_public or m.visible_at_deletion
                m.status, m.deleted_at, m.stored = Status.DELETED, clock, at
            else:
                continue   # deleted already: nothing changed
        elif kind == "unpublish":
            _, _, via_api = op
            if m.status is Status.DRAFT:
                continue   # a draft already: nothing changed
            if via_api and hasattr(store, "unpublish"):
                store.unpublish(m.slug, clock)
                if m.status is not Status.DRAFT:
                    at = store_clock.take(clock) if seen or announced else max(clock, m.stored)
                    m.status, m.deleted_at, m.stored = Status.DRAFT, None, at
                    m.taken_down = seen
            elif m.status is not Status.DRAFT:
                old = store.get(m.id)
                put(store, replace(old, status=Status.DRAFT, stored=clock,
                                   related=tuple(RelatedLink(link.title) for link in old.related if not link.suggested)), "updated")
                at = next_second(m.stored, clock)
                at = store_clock.take(at) if seen or announced else at
                m.status, m.deleted_at, m.stored = Status.DRAFT, None, at
            m.visible_at_deletion = False
        if (seen and not m.visible(clock)) or kept:
            # A removal, or a tombstone turned back into its entry: at the second the store kept it.
            removals.append(max(clock, m.stored))
        redated(store, models, clock, at)
    return models, removals


# --- checks ------------------------------------------------------------------------------


def tombstones_in(atom: bytes) -> dict[str, etree._Element]:
    root = etree.fromstring(atom)
    return {el.get("ref"): el for el in root.findall(f"{{{AT}}}deleted-entry")}


_TOMBSTONE = re.compile(rb"<at:deleted-entry\b[^>]*?(?:/>|>.*?</at:deleted-entry>)", re.DOTALL)


def without_tombstones(atom: bytes, allowed: set[str]) -> bytes:
    """atom.xml with the deleted-entry elements of ``allowed`` ids cut out."""
    def cut(match: re.Match) -> bytes:
        ref = re.search(rb'ref="([^"]*)"', match.group(0)).group(1).decode()
        return b"" if ref in allowed else match.group(0)
    return _TOMBSTONE.sub(cut, atom)


def next_second(previous: datetime, clock: datetime) -> datetime:
    """When the store keeps a new version of an article saved at ``clock``: two versions of one
    article never share a second (their documents' file times tell them apart), so a save in
    the second of the one before, or before it, is kept at the second after."""
    clock = clock.replace(microsecond=0)
    return previous.replace(microsecond=0) + timedelta(seconds=1) if clock <= previous else clock


def check(store: SQLiteStore, documents: dict[str, bytes], models: list[Model], t: datetime, where: str,
          removals: list[datetime] = ()) -> None:
    window = t - timedelta(days=SITE.tombstone_days)
    in_window = [m for m in models if m.deleted_at is not None and window <= m.deleted_at <= t]
    shown = set(tombstones_in(documents["atom.xml"]))
    must = {m.id for m in in_window if m.visible_at_deletion}
    may = {m.id for m in in_window if m.ever_public}
    assert shown <= may, f"{where} at {t}: tombstones for articles never public before deletion: {shown - may}"
    assert must <= shown, f"{where} at {t}: missing tombstones: {must - shown}"
    for ref, element in tombstones_in(documents["atom.xml"]).items():
        text = etree.tostring(element).lower()
        model = next(m for m in models if m.id == ref)
        # Only the id and the link: no title, summary or content of what was deleted.
        assert model.token.lower().encode() not in re.sub(rb'(ref|href)="[^"]*"', b"", text), (where, t, text)

    hidden = [m for m in models if not m.visible(t)]
    # A deleted article readers saw keeps its address, which answers 410 Gone: the manifest names it.
    gone = [f'"articles/{m.slug}"'.encode() for m in models
            if m.deleted_at is not None and m.deleted_at <= t and m.visible_at_deletion]
    for name, body in documents.items():
        if name == "atom.xml" or name.startswith(".delta/atom.xml/"):   # deltas of atom.xml carry its tombstones
            body = without_tombstones(body, shown)
        if name.endswith(".manifest.json"):   # the main one, and those it names (.manifests/, archive folders)
            for path in gone:
                body = body.replace(path, b"")
        lowered = body.lower()
        for m in hidden:
            assert m.token.lower().encode() not in lowered, (
                f"{where} at {t.isoformat()}: {m.token} ({m.status.value}, published "
                f"{m.published.isoformat()}) leaks into {name}")

    visible = sorted((m for m in models if m.visible(t)), key=lambda m: (int(m.published.timestamp()), m.id),
                     reverse=True)
    newest = visible[:ITEMS]
    for name in ("rss.xml", "atom.xml", "feed.json"):
        for m in newest:
            assert m.token.encode() in documents[name], f"{where} at {t}: {m.token} missing from {name}"

    # No time trace either: the feed's time comes from what it shows.
    times = [shown_time(store, m, t) for m in newest] + [m.stored for m in newest]
    times += [m.deleted_at for m in in_window if m.id in shown]
    times += removals   # an article leaving it, kept (the clock of these checks may be behind the store's)
    # The newest tombstone gone from the feed since (past the window): it left at the second after.
    aged = [m.deleted_at for m in models
            if m.deleted_at is not None and m.visible_at_deletion and m.deleted_at < window]
    times += [max(aged) + timedelta(days=SITE.tombstone_days, seconds=1)] if aged else []
    expected = max(times, default=EPOCH).astimezone(JAKARTA)
    updated = etree.fromstring(documents["atom.xml"]).findtext(f"{{{ATOM}}}updated")
    assert datetime.fromisoformat(updated) == expected, f"{where} at {t}: feed updated {updated}, expected {expected}"


# ~8 s when it passes; the explain phase is left out so a failure shrinks in about a minute.
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink])
@given(ops=operations)
def test_no_article_leaks_before_it_is_visible(ops):
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "feedpub.sqlite3", clock=utc_now)
        try:
            models, removals = apply(store, ops)
            times = {NOW}
            for m in models:
                times |= {m.published - timedelta(seconds=1), m.published}
                if m.deleted_at is not None:
                    times |= {m.deleted_at - timedelta(seconds=1), m.deleted_at}
            out = Path(tmp) / "public"
            for t in sorted(times):   # one web root, the clock moving forward as in service
                rendered = {doc.path: doc.body for doc in render_documents(store, SITE, t)}
                check(store, rendered, models, t, "render_documents", removals)
                build(store, SITE, out, t)
                retired()   # the versions the build replaced are removed on a thread of their own
                files = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
                assert ".manifest.json" in files and set(rendered) <= set(files)
                check(store, files, models, t, "build", removals)
        finally:
            store.close()
