"""Suggested related articles, for an article whose newsroom named none.

Each stored article leaves its distinctive words (:func:`query_terms`, title words
weighing three times body words: :func:`index_terms`) in the store's suggestion index.
For each of an article's words, the :data:`PER_TERM` most recent saves that hold it
are looked at; those articles are ranked by the weight of the words they share with it
(:func:`rank_candidates`, the same on both backends: sources/store/sql.py reads the rows),
and of the best :data:`CANDIDATES`, :func:`choose_related` keeps those that share enough
of the words. Looking at a bounded number of rows per word keeps the cost of a suggestion
the same in a store of a thousand articles and of a million (full-text ranking over the
whole store grew with it: docs/BENCHMARKS.md, "Ingest"); a rare word reaches back as far
as its articles go, a common one only to the latest, and a newsroom's related stories are
mostly recent ones. The index itself keeps about :data:`KEPT_PER_TERM` saves of a word:
the older ones would never be looked at, and a common word's rows were most of the index
(and of what an import wrote) while a suggestion read a few dozen of them. It keeps more
than it looks at so that a word still has :data:`PER_TERM` to look at after some of its
articles are deleted or saved again; and a save lets go of its words' older rows once in
:data:`PRUNE_EVERY` saves, not at each (that was as much work as the save's own rows), so
a word holds a few more rows than that between two. Indonesian function words are left out
of the query so that "yang", "dan", "di" do not decide what is related. The suggestions are
stored marked ``suggested`` so the feeds can tell them from the newsroom's own picks.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

from .model import Article

MAX_SUGGESTIONS = 3
QUERY_TERMS = 24
CANDIDATES = 20        # best matches of the suggestion index looked at
MIN_SHARED_TERMS = 3   # distinctive words a suggestion must share with the article
PER_TERM = 25          # most recent saves looked at for each of an article's words
KEPT_PER_TERM = 2 * PER_TERM   # most recent saves the index keeps of each word (at least)
PRUNE_EVERY = 8        # a save lets go of its words' older rows once in this many saves
TITLE_WEIGHT = 3       # a title word counts as much as three body words

# Frequent Indonesian (and a few English) function words: no signal for relatedness.
STOPWORDS = frozenset("""
ada adalah agar akan aku anda antara apa atau bagi bahwa baik banyak bagaimana belum beberapa
berbagai bisa dalam dan dapat demi dengan di dia dari dua harus hal hingga ia ini itu jika juga
kami kata kalau karena ke kepada ketika kita lagi lain lalu maka masih menjadi menurut mereka
namun oleh pada para pula saat saja sama sampai satu sebagai sebelum sedang sejak selama seperti
serta setelah sudah tak tanpa telah tengah terhadap termasuk tersebut tetapi tidak tiga untuk
yaitu yakni yang ujar ungkap kata tambah jelas ucap hari ini kemarin pekan tahun bulan minggu
senin selasa rabu kamis jumat sabtu pukul sekitar lebih kurang hanya masing sendiri secara
the and for with that this from are was were have has not but
""".split())
_WORD = re.compile(r"\w{3,}", re.UNICODE)


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def _body_text(article: Article) -> str:
    # The HTML body, not the original text: the dateline (city, publication) is
    # metadata every article of a newsroom shares, not a sign of relatedness.
    return re.sub(r"<[^>]+>", " ", article.content_html)


def query_terms(article: Article) -> list[str]:
    """The article's most frequent distinctive words, title words first."""
    title = _words(article.title)
    body = _words(_body_text(article))
    counts = Counter(w for w in body if w not in STOPWORDS and not w.isdigit())
    terms: list[str] = []
    for word in title + [w for w, _ in counts.most_common()]:
        if word not in STOPWORDS and not word.isdigit() and word not in terms:
            terms.append(word)
        if len(terms) == QUERY_TERMS:
            break
    return terms


def index_terms(article: Article, terms: list[str] | None = None) -> list[tuple[str, int]]:
    """(word, weight) of what the suggestion index holds for ``article``: its
    :func:`query_terms` (``terms`` when already known), a title word weighing :data:`TITLE_WEIGHT`."""
    title = set(_words(article.title))
    return [(term, TITLE_WEIGHT if term in title else 1) for term in (terms or query_terms(article))]


def rank_candidates(rows: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """(seq, words matched) of the saves of the suggestion index's ``rows`` (seq, weight: a row
    for each word of the query that a save holds), best first: the greatest weight of the words
    they share with the query, then the most recent. A seq is one article's save, so this
    ranks articles."""
    weight: dict[int, int] = {}
    matched: dict[int, int] = {}
    for seq, row_weight in rows:
        weight[seq] = weight.get(seq, 0) + row_weight
        matched[seq] = matched.get(seq, 0) + 1
    return [(seq, matched[seq]) for seq in sorted(weight, key=lambda seq: (-weight[seq], -seq))]


def choose_related(terms: list[str], candidates: Iterable[tuple[str, str, int]], content: Callable[[str], str],
                   limit: int = MAX_SUGGESTIONS) -> list[tuple[str, str]]:
    """(id, title) of up to ``limit`` of the ranked (id, title, words matched) ``candidates``
    that share at least :data:`MIN_SHARED_TERMS` of the query's ``terms``, best first.

    "Words matched" counts the ``terms`` the index found for the candidate: its own indexed
    words, which are words of its title and body, so that many are shared for certain. For a
    candidate matched on fewer, ``content`` (its id -> its HTML body) is read and every word
    counts: an article shares words with the query beyond the ones it is indexed by."""
    wanted = set(terms)
    chosen = []
    for target_id, title, matched in candidates:
        # The ranking rates anything sharing a word; a suggestion must share several.
        if matched >= MIN_SHARED_TERMS or len(
                wanted & set(_words(title) + _words(re.sub(r"<[^>]+>", " ", content(target_id))))) >= MIN_SHARED_TERMS:
            chosen.append((target_id, title))
        if len(chosen) == limit:
            break
    return chosen
