"""Small pure text helpers shared by importers and the store."""

from __future__ import annotations

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


def cut_at_word(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else cut at a word boundary with an ellipsis."""
    text = squash_space(text)
    if len(text) <= limit:
        return text
    window = text[: limit]  # one character is kept free for the ellipsis
    head = window[:-1].rsplit(" ", 1)[0] if " " in window[:-1] else window[:-1]
    return head.rstrip(" ,;:-–—") + "…"
