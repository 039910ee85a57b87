"""Headlines derived from the lead: cut where a reader expects, said once."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from sources.drafts import TITLE_LIMIT, derive_title
from sources.text import cut_headline

from .conftest import SAMPLE, write_article
from .harness import FEEDPUB

# Words with no vowel: never one of the words a cut after a word avoids ("yang", "the", ...).
WORDS = st.text(alphabet="bcdfghjklmnpqrstvwxz", min_size=1, max_size=12)
# ... and of four letters or more: never an initial or an abbreviation ("M.", "Jl."), so a full stop after one ends a sentence.
LONG_WORDS = st.text(alphabet="bcdfghjklmnpqrstvwxz", min_size=4, max_size=12)
CLAUSE_MARKS = (",", ";", ":")


@st.composite
def leads(draw, *, marks: tuple[str, ...] = CLAUSE_MARKS, words: st.SearchStrategy[str] = WORDS) -> str:
    """Words, some followed by a mark, long enough to be cut more often than not."""
    words = draw(st.lists(words, min_size=1, max_size=40))
    ends = draw(st.lists(st.sampled_from(("",) * 6 + marks), min_size=len(words), max_size=len(words)))
    return " ".join(word + end for word, end in zip(words, ends, strict=True)).rstrip(",;:")


def _boundaries(text: str, marks: tuple[str, ...]) -> list[int]:
    return [index for index, char in enumerate(text) if char in marks and text[index + 1:index + 2] == " "]


@given(leads(), st.integers(min_value=20, max_value=120))
def test_a_derived_headline_fits_keeps_its_words_and_ends_at_the_last_clause_boundary_within_the_limit(text, limit):
    headline = cut_headline(text, limit)
    assert len(headline) <= limit
    assert (headline == text) is (len(text) <= limit)
    head = headline.removesuffix("…")
    assert text.startswith(head)
    rest = text[len(head):]
    assert rest == "" or not rest[0].isalnum(), f"{headline!r} cuts a word of {text!r}"
    within = [end for end in _boundaries(text, CLAUSE_MARKS) if limit // 3 <= end <= limit - 1]
    if len(text) > limit and within:
        assert headline == text[:within[-1]] + "…"


@given(leads(marks=(".",), words=LONG_WORDS), st.integers(min_value=20, max_value=120))
def test_a_derived_headline_keeps_whole_sentences_when_one_ends_within_the_limit(text, limit):
    ends = [end for end in _boundaries(text, (".",)) if limit // 3 <= end + 1 <= limit]
    headline = cut_headline(text, limit)
    if len(text) > limit and ends:
        assert headline == text[:ends[-1]]


def test_the_samples_headline_ends_at_its_clause_not_inside_the_next():
    lead = ("Menjelang Pilkada Serentak 2024 yang akan digelar pada 27 November, Forum Koordinasi Pimpinan "
            "Daerah (Forkopimda) mengadakan rapat koordinasi guna memastikan kesiapan semua pihak terkait.")
    assert derive_title(lead) == "Menjelang Pilkada Serentak 2024 yang akan digelar pada 27 November…"


def test_a_headline_cut_after_a_word_does_not_end_on_yang():
    lead = ("Pemerintah Kabupaten Ogan Komering Ulu kembali menggelar Festival Perahu Hias yang diikuti "
            "puluhan perahu dari desa di sepanjang Sungai Ogan.")
    assert derive_title(lead) == "Pemerintah Kabupaten Ogan Komering Ulu kembali menggelar Festival Perahu Hias…"
    assert len(derive_title(lead)) <= TITLE_LIMIT


def test_an_initial_is_not_the_end_of_a_sentence():
    lead = ("Penjabat (Pj) Bupati OKU, M. Iqbal Alisyahbana, menegaskan bahwa keberhasilan Pilkada ditentukan "
            "oleh beberapa faktor utama.")
    assert derive_title(lead) == "Penjabat (Pj) Bupati OKU, M. Iqbal Alisyahbana…"


def _ingest(cwd: Path, *paths: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return subprocess.run([*FEEDPUB, "ingest", *map(str, paths)], cwd=cwd, capture_output=True, text=True, env=env)


def test_no_headline_given_is_said_for_new_and_changed_files_only(tmp_path):
    article = write_article(tmp_path / "naskah", "rakor.txt", SAMPLE.read_text(encoding="utf-8"))
    first = _ingest(tmp_path, article)
    assert first.returncode == 0 and "1 created" in first.stdout
    assert "rakor.txt: no headline given; derived 'Menjelang Pilkada Serentak 2024" in first.stdout
    again = _ingest(tmp_path, article)
    assert "1 unchanged" in again.stdout and "no headline given" not in again.stdout, again.stdout
    article.write_text(SAMPLE.read_text(encoding="utf-8") + "Tambahan paragraf.\n", encoding="utf-8")
    edited = _ingest(tmp_path, article)
    assert "1 updated" in edited.stdout and "no headline given" in edited.stdout
