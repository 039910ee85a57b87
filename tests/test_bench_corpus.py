"""The benchmark corpus (bench/corpus.py): deterministic, shaped like a newsroom's
output, made the way the importer makes articles, and loadable into a real store."""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bench.corpus import (
    AUTHOR_COUNT,
    AUTHORS,
    CACHE_ENV,
    CATEGORIES,
    END,
    PER_DAY,
    SETTINGS,
    TAG_COUNT,
    TAGS,
    generate,
    generate_in_background,
    load,
    store_path,
)
from feedpub.settings import utc_now
from sources.formats.text import read_draft
from sources.ingest import merge
from sources.store import SQLiteStore
from sources.text import normalise_title, slugify

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def corpus() -> list:
    return list(generate(4000, seed=0))


def test_the_same_n_and_seed_give_the_same_articles():
    first = list(generate(200, seed=7))
    assert first == list(generate(200, seed=7))
    assert [a.content_text for a in first] == [a.content_text for a in generate(200, seed=7)]
    assert [a.title for a in first] != [a.title for a in generate(200, seed=8)]


def test_a_fresh_interpreter_generates_the_same_articles():
    # A child process has its own string-hash seed: set or dict order leaking into
    # the draw would show here.
    assert list(generate_in_background(300, seed=3)) == list(generate(300, seed=3))


def test_articles_are_what_the_importer_makes_of_their_source_text(corpus):
    for article in corpus[:25] + corpus[-25:]:
        draft = read_draft(article.content_text.encode(), path=article.source, settings=SETTINGS)
        draft = replace(draft, image=article.image)   # what measuring the image would give
        assert merge(None, draft, article.stored, SETTINGS).article == article


def test_publication_times_fill_the_days_before_the_end(corpus):
    published = [a.published for a in corpus]
    assert published == sorted(published)
    assert all(p < END and p.utcoffset() == timedelta(hours=7) for p in published)
    per_day = Counter(p.date() for p in published)
    assert len(per_day) == 4000 // PER_DAY
    assert set(per_day.values()) == {PER_DAY}
    assert max(per_day) == (END - timedelta(days=1)).date()
    night = sum(1 for p in published if p.hour < 5) / len(published)
    assert night < 0.1


def test_a_few_percent_were_edited_after_publication(corpus):
    edited = [a for a in corpus if a.updated != a.published]
    assert 0.02 < len(edited) / len(corpus) < 0.07
    assert all(a.published < a.updated < END and a.stored == a.updated for a in edited)


def test_categories_are_the_documented_twelve_weighted(corpus):
    counts = Counter(c for a in corpus for c in a.categories)
    assert set(counts) == set(CATEGORIES) and len(CATEGORIES) == 12
    assert counts["Politik"] > 3 * counts["Otomotif"]
    assert all(1 <= len(a.categories) <= 2 for a in corpus)
    assert 0.04 < sum(len(a.categories) == 2 for a in corpus) / len(corpus) < 0.12


def test_tags_follow_a_zipf_like_popularity(corpus):
    assert len(set(TAGS)) == TAG_COUNT == 300
    assert len({slugify(tag) for tag in TAGS}) == TAG_COUNT
    counts = Counter(t for a in corpus for t in a.tags)
    assert all(1 <= len(a.tags) <= 5 and len(set(a.tags)) == len(a.tags) for a in corpus)
    share = {rank: counts[TAGS[rank - 1]] / len(corpus) for rank in (1, 10, 100)}
    assert 0.17 < share[1] < 0.29
    assert 0.025 < share[10] < 0.06
    assert share[100] < 0.015
    assert len(counts) > 250   # the long tail is there, thinly


def test_about_150_authors_some_far_more_prolific(corpus):
    assert len(set(AUTHORS)) == AUTHOR_COUNT == 150
    counts = Counter(a.author for a in corpus)
    unsigned = counts.pop(None, 0)
    assert 0.005 < unsigned / len(corpus) < 0.04
    assert set(counts) <= set(AUTHORS) and len(counts) > 140
    assert counts[AUTHORS[0]] > 5 * counts[AUTHORS[-1]]


def test_bodies_are_newsroom_sized(corpus):
    paragraphs = [a.content_html.count("<p>") for a in corpus]
    assert min(paragraphs) == 6 and max(paragraphs) == 20
    sizes = sorted(len(a.content_html.encode()) for a in corpus)
    assert 2000 < statistics.median(sizes) < 4500
    assert sizes[len(sizes) // 20] > 1000 and sizes[-len(sizes) // 20] < 6500
    assert all(a.language == "id" and a.city and a.publication for a in corpus)
    assert all(a.summary and a.content_html.startswith("<p>" + a.summary[:40]) for a in corpus)
    with_image = [a for a in corpus if a.image]
    assert 0.5 < len(with_image) / len(corpus) < 0.7
    assert all(a.image.media_type == "image/jpeg" and a.image.length for a in with_image)


def test_ids_slugs_and_headlines_are_unique(corpus):
    assert len({a.id for a in corpus}) == len(corpus)
    assert all(a.id.startswith(f"tag:{SETTINGS.tag_authority},") for a in corpus)
    assert len({a.slug for a in corpus}) == len(corpus)
    assert all(a.slug == slugify(a.slug) for a in corpus)
    assert len({normalise_title(a.title) for a in corpus}) == len(corpus)


def test_related_links_name_earlier_articles_of_the_same_category(corpus):
    position = {a.title: index for index, a in enumerate(corpus)}
    linked = 0
    for index, article in enumerate(corpus):
        assert len(article.related) <= 3
        for link in article.related:
            target = corpus[position[link.title]]
            assert position[link.title] < index
            assert target.categories[0] == article.categories[0]
            linked += 1
    assert 0.9 < linked / len(corpus) < 1.3


def test_every_related_link_resolves_in_a_store(tmp_path):
    articles = list(generate(300, seed=1))
    store = SQLiteStore(tmp_path / "corpus.sqlite3", clock=utc_now, suggest_related=False)
    try:
        assert load(store, articles) == 300
        by_title = {a.title: a.id for a in articles}
        links = 0
        for article in articles:
            stored = store.get(article.id)
            assert [link.title for link in stored.related] == [link.title for link in article.related]
            for link in stored.related:
                assert link.target_id == by_title[link.title]
                links += 1
        assert links > 150
    finally:
        store.close()


def test_store_path_builds_once_into_the_cache_named_by_the_environment(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(cache))
    path = store_path(300, seed=2)
    assert path == cache / "corpus-300-2.sqlite3"
    assert sorted(p.name for p in cache.iterdir()) == [".gitignore", "corpus-300-2.sqlite3"]   # no partial copy left
    built = path.stat().st_mtime_ns
    assert store_path(300, seed=2) == path and path.stat().st_mtime_ns == built
    store = SQLiteStore(path, clock=utc_now)
    try:
        assert store.count() == 300
        oldest = next(iter(generate(300, seed=2)))
        assert store.get(oldest.id).title == oldest.title
    finally:
        store.close()


def test_the_command_builds_the_cache_and_says_where(tmp_path):
    cache = tmp_path / "cache"
    done = subprocess.run(
        [sys.executable, "-m", "bench.corpus", "40", "--seed", "5"],
        check=False, cwd=ROOT, env={"PATH": "/usr/bin:/bin", CACHE_ENV: str(cache)},
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    path, count, _took = done.stdout.strip().split("\t")
    assert Path(path) == cache / "corpus-40-5.sqlite3" and Path(path).exists()
    assert count == "40 articles"
    assert done.stderr == ""   # progress goes to a terminal only
