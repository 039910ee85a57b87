"""What saving one article costs does not grow with the store (issue #22): an archive of
100,000 articles imports its last thousand as fast as its first.

Counted in SQLite's virtual machine steps (a progress handler called at every step): the
same on any machine, however loaded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from sources.ingest import mint_id
from sources.model import Article, IngestSettings, RelatedLink, Status
from sources.store import SQLiteStore
from sources.suggest import PRUNE_EVERY

from .conftest import INGEST_TIME
from .vm_steps import counting_steps, save_new

SETTINGS = IngestSettings(tag_authority="okes.example", timezone="Asia/Jakarta", language="id")


def _article(n: int, tag: str) -> Article:
    """A published story in the category everything is in, with a "Baca juga" marker naming a
    story the store does not hold (it stays pending)."""
    slug = f"berita-{n}"
    published = INGEST_TIME - timedelta(hours=n)
    return Article(id=mint_id(SETTINGS, slug, INGEST_TIME), slug=slug, url=None,
                   title=f"Judul berita nomor {n} tentang {tag}", summary="",
                   content_html=f"<p>Isi berita {n} tentang {tag}.</p>", content_text="Isi.", author=None, city=None,
                   publication=None, published=published, updated=published, categories=("Berita",), tags=(tag,),
                   related=(RelatedLink(f"Tulisan yang belum ada nomor {n}"),), status=Status.PUBLISHED,
                   stored=INGEST_TIME)


def _unlinked(n: int, tag: str) -> Article:
    """A published story naming no related story, on the subject every other is on: the store
    suggests some for it."""
    return replace(_article(n, tag), related=(), content_html=(
        f"<p>Banjir bandang merendam desa nomor {n}; warga mengungsi ke posko darurat dan "
        "tenda pengungsian di lapangan kecamatan.</p>"))


def _steps_to_save_more(tmp_path, stored: int, story: Callable[[int, str], Article] = _article) -> int:
    """Steps to save :data:`~sources.suggest.PRUNE_EVERY` more stories, each with a tag no other
    has, once ``stored`` stories are in the store: one of them lets the suggestion index's older
    rows go, as one save in that many does."""
    store = SQLiteStore(tmp_path / f"store-{stored}.sqlite3", clock=lambda: INGEST_TIME)
    try:
        save_new(store, (story(n, "Banjir") for n in range(PRUNE_EVERY + 1, PRUNE_EVERY + stored + 1)))
        with counting_steps(store) as steps:
            save_new(store, (story(n, f"Gempa {n}") for n in range(PRUNE_EVERY)))
        return steps.count
    finally:
        store.close()


def test_saving_an_article_takes_as_many_steps_in_a_store_of_hundreds_as_in_one_of_tens(tmp_path):
    """Each stored story left a pending link and carries the category: a save once read every
    pending link of the store (to find those its headline settles) and, for a tag new to the
    store, every published article (to find when the tag's feed was first published)."""
    few, many = _steps_to_save_more(tmp_path, 20), _steps_to_save_more(tmp_path, 400)
    assert many <= few * 1.1, (few, many)


def test_suggesting_related_stories_takes_as_many_steps_in_a_store_of_hundreds_as_in_one_of_tens(tmp_path):
    """Every story shares its words with the new one, more of them than each word's index keeps
    in both stores: a suggestion once read every visible article, through the articles by time."""
    few, many = _steps_to_save_more(tmp_path, 60, _unlinked), _steps_to_save_more(tmp_path, 600, _unlinked)
    assert many <= few * 1.1, (few, many)
