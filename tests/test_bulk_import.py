"""A newsroom's archive imported at once: saves committed in batches, a bad article failing
alone, suggestions drawn from the most recent saves, the same import again changing nothing."""

from __future__ import annotations

import pytest

from sources.model import SaveResult
from sources.store import sql as store_sql

from .conftest import INGEST_TIME, latest_published, store_dump, write_article

pytestmark = pytest.mark.both_stores


def story(n: int, subject: str = "Banjir") -> str:
    return (f"---\ntitle: {subject} Melanda Desa Nomor {n}\npublished: 2024-09-{n % 28 + 1:02d}T10:00:00+07:00\n---\n"
            f"BATURAJA - OKES.NEWS - {subject} melanda desa nomor {n} di Kecamatan Lengkiti.\n"
            f"Warga desa nomor {n} mengungsi ke balai desa sejak pagi.\n")


def test_a_bad_article_in_a_batch_fails_alone_with_its_file_and_the_rest_are_stored(tmp_path, store, ingest):
    folder = tmp_path / "arsip"
    for n in range(12):
        write_article(folder, f"a/berita-{n:02d}.txt", story(n))
    # Same slug as a/berita-05.txt, another file, other content: refused while saving,
    # inside the batch that holds its neighbours.
    write_article(folder, "b/berita-05.txt", story(99, "Kebakaran"))
    write_article(folder, "b/rusak.txt", "---\ntitle: [tidak ditutup\n---\nIsi.")
    summary = ingest(folder)
    assert (summary.created, summary.failed) == (12, 2), ingest.messages
    errors = [m for m in ingest.messages if m.startswith("error")]
    assert any("b/berita-05.txt" in m and "already belongs to article" in m for m in errors), errors
    assert any("b/rusak.txt:2" in m for m in errors), errors
    assert len(latest_published(store, INGEST_TIME, 50)) == 12


def test_a_failed_save_in_a_batch_leaves_nothing_of_itself(tmp_path, store):
    def broken(existing):
        raise ValueError("decided nothing")

    def created(slug):
        return lambda existing: SaveResult("created", _article(slug))

    with store.batch():
        store.save(created("pertama"), article_id=None, slug="pertama")
        before = store_dump(store)
        with pytest.raises(ValueError):
            store.save(broken, article_id=None, slug="kedua")
        assert store_dump(store) == before
        store.save(created("ketiga"), article_id=None, slug="ketiga")
    assert sorted(a.slug for a in store.page(10)) == ["ketiga", "pertama"]


def test_a_batch_commits_when_asked_so_that_other_writers_need_not_wait(store):
    other = store.opener()()   # another connection to the same store, as another process has
    try:
        with store.batch() as commit:
            store.save(lambda existing: SaveResult("created", _article("pertama")), article_id=None, slug="pertama")
            assert other.count() == 0
            commit()   # as an import does before asking an image's server for its size
            assert other.count() == 1
            store.save(lambda existing: SaveResult("created", _article("kedua")), article_id=None, slug="kedua")
        assert other.count() == 2
    finally:
        other.close()


def test_an_exception_out_of_a_batch_rolls_back_what_it_had_not_committed(store):
    before = store_dump(store)
    with pytest.raises(KeyboardInterrupt), store.batch():
        store.save(lambda existing: SaveResult("created", _article("pertama")), article_id=None, slug="pertama")
        raise KeyboardInterrupt
    assert store_dump(store) == before


def test_each_word_looks_at_its_most_recent_saves_only(tmp_path, store, ingest, monkeypatch):
    ingest(write_article(tmp_path, "lama.txt", story(1)))
    ingest(write_article(tmp_path, "tengah.txt", story(2)))   # the same words, saved later
    monkeypatch.setattr(store_sql, "PER_TERM", 1)
    ingest(write_article(tmp_path, "baru.txt", story(3)))
    assert suggested(store, "baru") == ["tengah"]
    monkeypatch.setattr(store_sql, "PER_TERM", 100)
    ingest(write_article(tmp_path, "lain.txt", story(4)))     # further back: the older save too
    assert {"lama", "tengah"} <= set(suggested(store, "lain"))


def test_the_index_keeps_each_word_s_most_recent_saves_and_lets_older_ones_go(tmp_path, store, ingest, monkeypatch):
    monkeypatch.setattr(store_sql, "KEPT_PER_TERM", 2)
    monkeypatch.setattr(store_sql, "PRUNE_EVERY", 1)   # at every save, not once in a few
    for n in range(5):   # the same words in every story
        ingest(write_article(tmp_path, f"berita-{n}.txt", story(n)))
    with store._read("the suggestion index") as cur:   # test-only peek at the index's rows
        rows = cur.execute("SELECT a.slug, count(*) FROM suggestion_terms t JOIN suggestion_saves s ON s.seq = t.seq "
                           "JOIN articles a ON a.id = s.article_id WHERE t.term = 'banjir' GROUP BY a.slug "
                           "ORDER BY a.slug").fetchall()
        most = cur.execute("SELECT max(n) FROM (SELECT count(*) AS n FROM suggestion_terms GROUP BY term) AS c"
                           ).fetchone()[0]
    assert [tuple(row) for row in rows] == [("berita-3", 1), ("berita-4", 1)]
    assert most == 2
    # Each word still looks at its most recent saves, as before the older ones went.
    assert set(suggested(store, "berita-4")) == {"berita-3", "berita-2"}


def test_a_candidate_indexed_by_one_shared_word_is_suggested_when_its_body_shares_enough(tmp_path, store, ingest):
    # Thirty frequent words fill the candidate's index, so the three rare ones it shares with
    # the new story are not among its indexed words: only its title word "festival" is.
    frequent = [f"{stem}{tail}" for stem in ("kayu", "batu", "pasir", "tanah", "rumput", "daun") for tail in "abcde"]
    body = " ".join(word for word in frequent for _ in range(3))
    ingest(write_article(tmp_path, "kandidat.txt", (
        "---\ntitle: Festival Layang Raksasa\npublished: 2024-09-01T10:00:00+07:00\n---\n"
        f"BATURAJA - OKES.NEWS - {body}.\nDi dermaga dekat mercusuar para nelayan menonton.\n")))
    ingest(write_article(tmp_path, "baru.txt", (
        "---\ntitle: Festival Dermaga Mercusuar Nelayan\npublished: 2024-09-02T10:00:00+07:00\n---\n"
        "BATURAJA - OKES.NEWS - Festival dermaga mercusuar nelayan digelar di pantai.\n")))
    assert suggested(store, "baru") == ["kandidat"]


def suggested(store, slug: str) -> list[str]:
    (article,) = [a for a in latest_published(store, INGEST_TIME, 50) if a.slug == slug]
    return [link.target.slug for link in article.related if link.suggested]


def test_the_same_folder_again_changes_nothing_and_says_so(tmp_path, store, ingest):
    folder = tmp_path / "arsip"
    for n in range(5):
        write_article(folder, f"berita-{n}.txt", story(n))
    assert ingest(folder).line() == "5 created, 0 updated, 0 unchanged, 0 failed"
    revision = store.revision()
    again = ingest(folder)
    assert again.line() == ("0 created, 0 updated, 5 unchanged, 0 failed; "
                            "nothing changed: the store already held all of it")
    assert store.revision() == revision


def _article(slug: str):
    from sources.ingest import mint_id
    from sources.model import Article, IngestSettings, Status

    settings = IngestSettings(tag_authority="okes.example", timezone="Asia/Jakarta", language="id")
    return Article(id=mint_id(settings, slug, INGEST_TIME), slug=slug, url=None, title=f"Judul {slug}", summary="",
                   content_html="<p>Isi.</p>", content_text="Isi.", author=None, city=None, publication=None,
                   published=INGEST_TIME, updated=INGEST_TIME, categories=(), tags=(), language="id", image=None,
                   related=(), status=Status.PUBLISHED, source=None, stored=INGEST_TIME)
