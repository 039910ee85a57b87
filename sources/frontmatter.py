"""Optional YAML front matter between ``---`` lines, checked field by field.

>>> fm, body, first = split_front_matter("---\\ntitle: Hujan\\n---\\nJAKARTA - Hujan.", path="a.txt")
>>> fm.values["title"], fm.lines["title"], body, first
('Hujan', 2, 'JAKARTA - Hujan.', 4)

Values keep their YAML types except timestamps, which stay strings so that
:mod:`sources.ingest` parses every date one way and reports it with its line.

Anchors and aliases (``&a`` / ``*a``) are refused: front matter has no use for them,
and one long string aliased thousands of times multiplies the work of every later
check. Control characters (a vertical tab is how Word writes a manual line break)
never refuse an article: they are normalised as :func:`sources.text.normalise_controls`
says, each with a warning naming its line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import yaml

from .errors import IngestError
from .text import control_characters, describe_control, normalise_controls

# Warnings about control characters in one front matter: the first few are named one by
# one, the rest counted (a pasted document can hold thousands).
NAMED_CONTROLS = 5

FRONT_MATTER_KEYS = (
    "id", "title", "slug", "url", "published", "updated", "author",
    "categories", "tags", "summary", "image", "language", "dateline",
)


# libyaml's parser when PyYAML was built with it: the pure-Python one took a quarter of an
# import's time (docs/BENCHMARKS.md, "Ingest"). Both give the same events, nodes and marks;
# constructing values stays PyYAML's SafeConstructor either way.
_SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Deeper than this is refused while reading events, before any node is composed: libyaml
# composes recursively in C, where Python's recursion limit does not stop it.
MAX_DEPTH = 100
# Each collection of YAML opens with one of these characters of its own ("[", "{", a block
# sequence's "-", a mapping's first ":" or "?"): a text with no more of them than MAX_DEPTH
# cannot nest deeper.
_OPENERS = ("[", "{", "-", ":", "?")


class _PlainLoader(_SafeBase):
    """SafeLoader (libyaml's when present) without implicit timestamps: dates reach us as written."""


_PlainLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class FrontMatter:
    values: dict = field(default_factory=dict)
    lines: dict = field(default_factory=dict)   # key -> line number in the file
    warnings: tuple[str, ...] = ()              # "path:line:column: ..." for the person


def split_front_matter(text: str, *, path: str) -> tuple[FrontMatter, str, int]:
    """Return (front matter, body, line number where the body starts)."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return FrontMatter(), text, 1
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            break
    else:
        raise IngestError("front matter opened with '---' is never closed", path=path, line=1)
    yaml_lines = lines[1:index]
    found = [(number, offset + 1, char) for number, line in enumerate(yaml_lines, start=2)
             for offset, char in control_characters(line)]
    if found:   # the YAML reader would refuse them: normalised first, said after
        yaml_lines = [normalise_controls(line) for line in yaml_lines]
    body = "\n".join(lines[index + 1:])
    front = _parse("\n".join(yaml_lines), path=path)
    return replace(front, warnings=_control_warnings(found, front.lines, path=path)), body, index + 2


def _control_warnings(found: list[tuple[int, int, str]], lines: dict, *, path: str) -> tuple[str, ...]:
    """A warning per control character (line, column, character), naming the key it is in."""
    def where(number: int, column: int) -> str:
        key = max(((line, key) for key, line in lines.items() if line <= number), default=(0, None))[1]
        return f"front matter{f' {key!r}' if key else ''}, column {column}"

    warnings = [str(IngestError(f"{where(number, column)}: {describe_control(char)}", path=path, line=number))
                for number, column, char in found[:NAMED_CONTROLS]]
    if len(found) > NAMED_CONTROLS:
        warnings.append(str(IngestError(f"front matter: {len(found) - NAMED_CONTROLS} more control characters "
                                        "normalised the same way", path=path)))
    return tuple(warnings)


def _refuse_anchors(yaml_text: str, *, path: str) -> None:
    """An anchor or alias anywhere, or nesting past :data:`MAX_DEPTH`, is refused before any
    node is built."""
    if "&" not in yaml_text and "*" not in yaml_text and sum(map(yaml_text.count, _OPENERS)) <= MAX_DEPTH:
        return   # nothing could be refused: the events, a large part of reading an article, are not read
    depth = 0
    try:
        for event in yaml.parse(yaml_text, Loader=_PlainLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise IngestError("front matter is nested too deeply", path=path,
                                      line=event.start_mark.line + 2)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                what = "alias *" if isinstance(event, yaml.AliasEvent) else "anchor &"
                raise IngestError(
                    f"front matter uses the YAML {what}{event.anchor} (column {event.start_mark.column + 1}); "
                    "anchors and aliases are not accepted in front matter: write each value out",
                    path=path, line=event.start_mark.line + 2)
    except yaml.YAMLError:
        return   # not YAML at all: composing it below says why, as it always did


def _parse(yaml_text: str, *, path: str) -> FrontMatter:
    try:
        _refuse_anchors(yaml_text, path=path)
        # Composed once, then built from the nodes (whose marks give each key's line).
        loader = _PlainLoader(yaml_text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        # libyaml marks the end of the text one line past the last (PyYAML's parser, on it):
        # an error there is on the front matter's last line, as it always was.
        line = min(mark.line + 2, yaml_text.count("\n") + 2) if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        if "maximum nesting depth" in problem:   # libyaml's own limit, met before MAX_DEPTH
            raise IngestError("front matter is nested too deeply", path=path, line=line) from None
        raise IngestError(f"front matter is not valid YAML: {problem}", path=path, line=line) from exc
    except ValueError as exc:
        # PyYAML builds ints with int(): one of more than 4300 digits is refused by Python
        # itself (CVE-2020-10735 limit), outside YAMLError.
        line = next((number for number, text in enumerate(yaml_text.split("\n"), start=2)
                     if sum(char.isdigit() for char in text) > 4300), 2)
        raise IngestError("front matter holds a number of more than 4300 digits", path=path, line=line) from exc
    except RecursionError:   # "title: [[[[..." nested past the interpreter's limit
        raise IngestError("front matter is nested too deeply", path=path, line=2) from None
    if data is None:
        return FrontMatter()
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise IngestError("front matter must be a mapping of keys to values", path=path, line=2)
    lines = {
        key_node.value: key_node.start_mark.line + 2  # +1 for 1-based, +1 for the opening ---
        for key_node, _ in node.value
        if isinstance(key_node, yaml.ScalarNode)
    }
    for key in data:
        if key not in FRONT_MATTER_KEYS:
            # A key that is not text (a number, a date...) is named as written: repr() of an
            # int of more than 4300 digits raises ValueError.
            written = key if isinstance(key, str) else next(
                (text for text in lines if text not in FRONT_MATTER_KEYS), type(key).__name__)
            shown = written if len(written) <= 60 else written[:57] + "..."
            raise IngestError(
                f"unknown front matter key {shown!r} (known: {', '.join(FRONT_MATTER_KEYS)})",
                path=path, line=lines.get(written, 2),
            )
    return FrontMatter(values=dict(data), lines=lines)
