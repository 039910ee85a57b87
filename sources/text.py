"""Small pure text helpers shared by importers and the store."""

from __future__ import annotations

import hashlib
import re
import unicodedata

# XML 1.0 section 2.2 "Char": anything outside this set makes a feed
# ill-formed, so it is removed from every field at the door.
_XML_INVALID = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SPACE = re.compile(r"\s+")
# A BCP 47 language tag as feeds carry it (RFC 5646 section 2.1, the common forms): "id", "en-US".
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
# What a person's text may hold that neither XML 1.0 (section 2.2 "Char") nor a YAML reader
# (YAML 1.1 section 5.1, "c-printable") accepts: C0 controls but tab and line breaks, DEL,
# C1 controls but NEL, lone surrogates, U+FFFE and U+FFFF.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
# Word writes a manual line break as a vertical tab, and a page break as a form feed:
# both stand between two words.
_AS_SPACE = frozenset("\x0b\x0c")


def xml_safe(text: str) -> str:
    """Drop characters that XML 1.0 cannot carry (control characters, lone surrogates)."""
    return _XML_INVALID.sub("", text)


def control_characters(text: str) -> list[tuple[int, str]]:
    """(index, character) of each control character :func:`normalise_controls` changes."""
    return [(found.start(), found.group()) for found in _CONTROL.finditer(text)]


def normalise_controls(text: str) -> str:
    """``text`` with a vertical tab or form feed as a space and the other control characters
    (see ``_CONTROL``) dropped: what a newsroom pastes from a word processor, made readable."""
    return _CONTROL.sub(lambda found: " " if found.group() in _AS_SPACE else "", text)


def describe_control(char: str) -> str:
    """How a warning names a control character and what became of it."""
    done = "replaced by a space" if char in _AS_SPACE else "dropped"
    name = {"\x0b": " (vertical tab)", "\x0c": " (form feed)", "\x00": " (NUL)"}.get(char, "")
    return f"control character U+{ord(char):04X}{name} {done}"


def squash_space(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def normalise_title(title: str) -> str:
    """The key related-link markers are matched on.

    Case, punctuation, symbols and runs of white space are ignored, so
    "AHY Tekankan Keadilan dalam Pengadaan Tanah:" and "Ahy tekankan keadilan
    dalam pengadaan tanah" are equal.
    """
    text = unicodedata.normalize("NFKC", title).casefold()
    kept = [" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in text]
    return squash_space("".join(kept))


def slugify(text: str) -> str:
    """A lowercase ASCII slug, safe as a file name and a URL segment."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def cut_at_word(text: str, limit: int, *, avoid: frozenset[str] = frozenset()) -> str:
    """``text`` if it fits in ``limit`` characters, else cut at a word boundary with an
    ellipsis; words in ``avoid`` (casefolded) are dropped from the end of the cut, as long as
    a word is left."""
    text = squash_space(text)
    if len(text) <= limit:
        return text
    window = text[: limit]  # one character is kept free for the ellipsis
    head = window[:-1].rsplit(" ", 1)[0] if " " in window[:-1] else window[:-1]
    words = head.rstrip(" ,;:-–—").split(" ")
    while len(words) > 1 and words[-1].casefold() in avoid:
        words.pop()
    return " ".join(words).rstrip(" ,;:-–—") + "…"


# A derived headline cut short ends, best first: after its last whole sentence, at its last
# clause boundary (a comma, semicolon, colon or dash between words), and only failing both
# after a word. A boundary nearer the start than a third of the limit is not used: a few
# words ("Namun," "Menurut Kapolres,") say less than a longer cut after a word.
_SENTENCE_END = re.compile(r"(?<=\w)[.!?]['\"”’)]*(?= )")
_CLAUSE_END = re.compile(r"['\"”’)]?[,;:]['\"”’)]*(?= )| [-–—](?= )")
# A period after these is not the end of a sentence: initials ("M. Iqbal"), titles and
# the abbreviations of an Indonesian address or name ("Jl.", "Kab.", "Hj.").
_ABBREVIATIONS = frozenset({
    "bpk", "dkk", "dll", "dr", "drs", "dsb", "hj", "ir", "jl", "jln", "kab", "kec", "kel", "mr", "mrs", "ms",
    "no", "ny", "pj", "plt", "prof", "sdr", "st", "tn", "vs",
})
# Words that lead into what follows them (Indonesian and English conjunctions, prepositions,
# relatives, articles): a headline cut after a word never ends on one ("… Perahu Hias yang…").
_LEADING_WORDS = frozenset({
    "yang", "dan", "serta", "atau", "tetapi", "namun", "karena", "sehingga", "untuk", "agar", "supaya",
    "ketika", "saat", "setelah", "sebelum", "sejak", "hingga", "sampai", "bahwa", "dengan", "di", "ke",
    "dari", "pada", "oleh", "bagi", "dalam", "akan", "para", "sang", "si",
    "a", "an", "the", "and", "or", "but", "which", "that", "who", "because", "while", "when", "after",
    "before", "with", "for", "to", "of", "in", "on", "at", "by", "from", "as",
})


def _sentence_ends(text: str) -> list[int]:
    """Where each sentence of ``text`` ends but the last (the index after its mark)."""
    ends = []
    for found in _SENTENCE_END.finditer(text):
        word = text[: found.start()].rsplit(" ", 1)[-1]
        if found.group()[0] == "." and (len(word) == 1 or "." in word or word.casefold() in _ABBREVIATIONS):
            continue
        ends.append(found.end())
    return ends


def cut_headline(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else a headline of at most ``limit``
    characters cut from its start: its whole sentences, else up to a clause boundary,
    else up to a word boundary (never ending on a word such as "yang" or "the"); an
    ellipsis marks a cut inside a sentence. Never cuts a word unless the first is longer
    than the limit."""
    text = squash_space(text)
    if len(text) <= limit:
        return text
    shortest = limit // 3
    sentences = [end for end in _sentence_ends(text) if shortest <= end <= limit]
    if sentences:
        head = text[: sentences[-1]]
        return head[:-1] if head.endswith(".") else head   # a headline has no full stop
    clauses = [found.start() for found in _CLAUSE_END.finditer(text) if shortest <= found.start() <= limit - 1]
    if clauses:
        return text[: clauses[-1]] + "…"
    return cut_at_word(text, limit, avoid=_LEADING_WORDS)


NAME_MAX = 255      # bytes in one file or folder name (Linux NAME_MAX): a section's slug is a folder
DIGEST_CHARS = 12   # of a long name's SHA-256: 48 bits, and "-2" still settles a clash


def section_slug(name: str, taken: set[str]) -> str:
    """The address of a category, tag or author named ``name`` (its folder: "pilkada-2024"), told
    apart from the slugs ``taken`` by its kind's other names with "-2", "-3".

    Lowercase ASCII made from the name; a name with no Latin letters or digits gets "t-" and a
    short hash of the name. A slug longer than a file system allows one name (255 bytes: ext4,
    XFS, btrfs, ZFS, tmpfs) is cut at a word boundary and ends with a digest of the whole name,
    so two long names alike in their first 250 characters still get two folders (issue #15)."""
    base = slugify(name) or "t-" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    if len(base) > NAME_MAX:
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:DIGEST_CHARS]
        base = f"{_cut_slug(base, NAME_MAX - len(digest) - 1)}-{digest}"
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{_cut_slug(base, NAME_MAX - len(str(n)) - 1)}-{n}"
    return slug


def _cut_slug(slug: str, limit: int) -> str:
    """``slug`` in at most ``limit`` characters, at the last word boundary when there is one
    in its second half (a name of one long word is cut where the limit falls)."""
    if len(slug) <= limit:
        return slug
    head = slug[:limit]
    if slug[limit] != "-" and head.rfind("-") > limit // 2:
        head = head[:head.rfind("-")]
    return head.rstrip("-")
