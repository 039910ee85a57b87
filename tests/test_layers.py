"""Data flows one way: sources -> feeds -> public; scheduler.py wires them; feedpub/ is the edge.

The check reads every module's imports, wherever they are written (at the top, inside
a function, relative, or through ``importlib.import_module`` / ``__import__`` with a
literal name), resolves each to the module it loads, and holds the tree to:

- ``sources`` imports nothing of ``feeds``, ``scheduler`` or ``feedpub``;
- ``feeds`` imports nothing of ``scheduler`` or ``feedpub``, and of ``sources`` only
  its public model and the store's Protocols (never a store implementation, an
  importer or the API);
- inside ``feeds``, the stages import only downwards: rendering (pure: articles to bytes)
  nothing of the other stages; publishing (writing files) only rendering; building
  (deciding what to render) rendering and publishing; serving (HTTP) rendering and
  publishing (what a build wrote), never building;
- no two modules of one package import each other, directly or round a longer loop.

The last tests plant each kind of violation in a copy of the tree and see the check fail.
"""

from __future__ import annotations

import ast
import functools
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sources", "feeds", "feedpub")
TOP_MODULES = ("scheduler",)
FORBIDDEN = {
    "sources": ("feeds", "scheduler", "feedpub"),
    "feeds": ("scheduler", "feedpub"),
}
# Inside feeds/: what each stage must not import.
STAGES_BANNED = {
    "feeds.rendering": ("feeds.building", "feeds.publishing", "feeds.serving"),
    "feeds.publishing": ("feeds.building", "feeds.serving"),
    "feeds.building": ("feeds.serving",),
    "feeds.serving": ("feeds.building",),
}
# What feeds/ may take from sources/: values and Protocols, nothing that does I/O.
FEEDS_MAY_USE = ("sources.errors", "sources.model", "sources.text", "sources.placement", "sources.store.roles")


@dataclass(frozen=True)
class Import:
    importer: str      # dotted name of the importing module
    module: str        # dotted name of the module it loads
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(root: Path) -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((root / package).rglob("*.py"))
    for name in TOP_MODULES:
        yield root / f"{name}.py"


def _is_module(root: Path, dotted: str) -> bool:
    path = root.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path: Path, root: Path) -> list[Import]:
    """Every import in ``path``, resolved to the module it loads (``from a import b`` loads
    ``a.b`` when that is a module, else ``a``)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []
    for kind, level, module, names, line in _import_statements(path.read_text(encoding="utf-8"), str(path)):
        if kind == "import":
            found += [Import(name, alias, line) for alias in names]
        elif kind == "from":
            if level:
                base = package.split(".")
                base = base[:len(base) - (level - 1)] if level > 1 else base
                target = ".".join([*base, *([module] if module else [])])
            else:
                target = module
            for alias in names:
                submodule = f"{target}.{alias}" if target else alias
                found.append(Import(name, submodule if _is_module(root, submodule) else target, line))
        else:
            found.append(Import(name, module, line))
    return found


@functools.lru_cache(maxsize=None)
def _import_statements(source: str, filename: str) -> tuple[tuple[str, int, str, tuple[str, ...], int], ...]:
    """(kind, level, module, names, line) of each import statement and dynamic import; parsing is
    most of the check's time, and the planted-import tests check copies of the same files."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found.append(("import", 0, "", tuple(alias.name for alias in node.names), node.lineno))
        elif isinstance(node, ast.ImportFrom):
            found.append(("from", node.level, node.module or "", tuple(alias.name for alias in node.names),
                          node.lineno))
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str) and _is_dynamic_import(node.func)):
            found.append(("dynamic", 0, node.args[0].value, (), node.lineno))
    return tuple(found)


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def _within(module: str, layer: str) -> bool:
    return module == layer or module.startswith(layer + ".")


def layer_violations(root: Path) -> list[str]:
    problems = []
    for path in source_files(root):
        for found in imports_of(path, root):
            layer = found.importer.split(".")[0]
            where = f"{path.relative_to(root)}:{found.line}"
            if any(_within(found.module, banned) for banned in FORBIDDEN.get(layer, ())):
                problems.append(f"{where} imports {found.module}")
            elif any(_within(found.importer, stage) and any(_within(found.module, banned) for banned in bans)
                     for stage, bans in STAGES_BANNED.items()):
                problems.append(f"{where} imports {found.module}: a stage of feeds/ imports only the stages below it")
            elif (layer == "feeds" and _within(found.module, "sources")
                  and not any(_within(found.module, allowed) for allowed in FEEDS_MAY_USE)):
                problems.append(f"{where} imports {found.module}: feeds/ may use only {', '.join(FEEDS_MAY_USE)}")
    return problems


def package_cycles(root: Path) -> list[list[str]]:
    """Loops of imports among the modules of one package (its subpackages included)."""
    graph: dict[str, set[str]] = {}
    ours = module_names(root)
    for path in source_files(root):
        for found in imports_of(path, root):
            importer, target = found.importer, found.module
            if importer.split(".")[0] == target.split(".")[0] and importer in ours:
                if target != importer and not importer.startswith(target + "."):   # a package's own __init__
                    graph.setdefault(importer, set()).add(target)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}   # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for following in sorted(graph.get(node, ())):
            if state.get(following) == 1:
                cycles.append(path[path.index(following):] + [following])
            elif following not in state:
                visit(following)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def module_names(root: Path) -> set[str]:
    return {module_name(path, root) for path in source_files(root)}


def test_layers_import_only_downwards():
    assert not layer_violations(ROOT)


def test_no_package_has_an_import_cycle():
    assert not package_cycles(ROOT)


def test_the_check_sees_every_kind_of_import():
    found = {item.module for item in imports_of(ROOT / "scheduler.py", ROOT)}
    assert {"feedpub.settings", "sources.errors"} <= found
    relative = {item.module for item in imports_of(ROOT / "feeds" / "rendering" / "archive.py", ROOT)}
    assert any(module.startswith("feeds.") for module in relative)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    copy = tmp_path / "tree"
    for package in PACKAGES:
        shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    for name in TOP_MODULES:
        shutil.copy(ROOT / f"{name}.py", copy / f"{name}.py")
    assert not layer_violations(copy) and not package_cycles(copy)
    return copy


def _plant(tree: Path, relative: str, line: str) -> None:
    path = tree / relative
    path.write_text(path.read_text(encoding="utf-8") + "\n\ndef planted():\n    " + line + "\n", encoding="utf-8")


def _any_feeds_module(tree: Path) -> str:
    return str(sorted(p for p in (tree / "feeds").rglob("*.py") if p.name != "__init__.py")[0].relative_to(tree))


@pytest.mark.parametrize(("module", "line"), [
    ("feeds/rendering/formats.py", "from ..publishing.publish import write_atomic"),
    ("feeds/rendering/entries.py", "from feeds.building.build import build"),
    ("feeds/publishing/publish.py", "from ..building import fragments"),
    ("feeds/serving/server.py", "from ..building.build import build"),
])
def test_a_planted_import_up_the_stages_of_feeds_fails_the_check(tree, module, line):
    _plant(tree, module, line)
    assert len(layer_violations(tree)) == 1


@pytest.mark.parametrize("line", [
    "from sources.store.sqlite import SQLiteStore",
    "from sources.ingest import ingest_paths",
    "import scheduler",
    "import importlib; importlib.import_module('scheduler')",
    "__import__('feedpub.settings')",
    "from feedpub import settings",
])
def test_a_planted_forbidden_import_in_feeds_fails_the_check(tree, line):
    _plant(tree, _any_feeds_module(tree), line)
    problems = layer_violations(tree)
    assert len(problems) == 1, problems


@pytest.mark.parametrize("line", ["from feeds import site", "from ..feeds import site", "import scheduler"])
def test_a_planted_upward_import_in_sources_fails_the_check(tree, line):
    _plant(tree, "sources/model.py", line)
    assert layer_violations(tree)


def test_a_planted_relative_import_that_reaches_another_layer_fails_the_check(tree):
    (tree / "sources" / "model.py").write_text(
        (tree / "sources" / "model.py").read_text(encoding="utf-8") + "\nfrom .. import feeds\n", encoding="utf-8")
    assert layer_violations(tree)


def test_a_planted_cycle_inside_a_package_fails_the_check(tree):
    (tree / "sources" / "planted_a.py").write_text("from . import planted_b\n", encoding="utf-8")
    (tree / "sources" / "planted_b.py").write_text("def later():\n    from .planted_a import x\n", encoding="utf-8")
    cycles = package_cycles(tree)
    assert any({"sources.planted_a", "sources.planted_b"} <= set(cycle) for cycle in cycles), cycles
