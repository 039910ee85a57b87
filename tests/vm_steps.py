"""Counting what SQLite does for a question or a save: its virtual machine's steps (a progress
handler called at every step), the same on any machine however loaded. For the tests that a
cost does not grow with the store (tests/test_save_cost.py, tests/test_build_cost.py)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sources.model import Article, SaveResult
from sources.store import SQLiteStore


@dataclass
class Steps:
    count: int = 0


@contextmanager
def counting_steps(store: SQLiteStore) -> Iterator[Steps]:
    """The steps SQLite takes for ``store`` within the block."""
    steps = Steps()

    def step() -> int:
        steps.count += 1
        return 0   # go on

    store._db.set_progress_handler(step, 1)   # test-only: the store's own connection
    try:
        yield steps
    finally:
        store._db.set_progress_handler(None, 1)


def save_new(store: SQLiteStore, articles: Iterable[Article]) -> None:
    """Save each of ``articles`` as a new article, in one batch."""
    with store.batch():
        for article in articles:
            store.save(lambda existing, article=article: SaveResult("created", article), article_id=None,
                       slug=article.slug)
