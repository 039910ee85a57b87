"""What a build asks of the store for an archive page does not grow with the store: a full
build asks it of every archive page, so a question that read every row of a feed made the
build grow with the square of the store.

Counted in SQLite's virtual machine steps (a progress handler called at every step): the
same on any machine, however loaded."""

from __future__ import annotations

from datetime import timedelta

from sources.ingest import mint_id
from sources.model import Article, IngestSettings, Status
from sources.store import SQLiteStore

from .conftest import INGEST_TIME
from .vm_steps import counting_steps, save_new

SETTINGS = IngestSettings(tag_authority="okes.example", timezone="Asia/Jakarta", language="id")


def _story(n: int) -> Article:
    slug = f"berita-{n:04d}"
    published = INGEST_TIME - timedelta(hours=1000 - n)   # saved oldest first, as an archive is
    return Article(id=mint_id(SETTINGS, slug, published), slug=slug, url=None, title=f"Berita nomor {n}",
                   summary="", content_html=f"<p>Isi berita {n}.</p>", content_text="Isi.", author=None, city=None,
                   publication=None, published=published, updated=published, categories=("Daerah",), tags=(),
                   related=(), status=Status.PUBLISHED, stored=INGEST_TIME)


def _place(article: Article) -> tuple[int, str]:
    """Where an article stands in its feeds: (publication time in Unix seconds, id)."""
    return int(article.published.timestamp()), article.id


def _steps_to_ask_of_a_page(tmp_path, stored: int) -> tuple[int, object]:
    """Steps to ask when a page of ten of the main feed's places, in the middle of ``stored``
    stories saved oldest first, last changed; and the answer."""
    store = SQLiteStore(tmp_path / f"store-{stored}.sqlite3", clock=lambda: INGEST_TIME)
    try:
        stories = [_story(n) for n in range(stored)]
        save_new(store, stories)
        first, last, witness = (_place(stories[stored // 2 + k]) for k in (0, 9, 19))
        with counting_steps(store) as steps:
            (changed,) = store.place_changed_each([(None, None, first[0], last, witness, first)])
        return steps.count, changed
    finally:
        store.close()


def test_asking_when_an_archive_page_changed_takes_as_many_steps_in_a_store_of_hundreds_as_in_one_of_tens(tmp_path):
    (few, changed_few), (many, changed_many) = _steps_to_ask_of_a_page(tmp_path, 40), _steps_to_ask_of_a_page(
        tmp_path, 400)
    assert changed_few is not None and changed_many is not None   # each place's arrival is recorded
    assert many <= few * 1.1, (few, many)
