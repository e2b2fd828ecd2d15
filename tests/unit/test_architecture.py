"""The import map of docs/architecture.md holds for every module of nexusctl.

The allowed-imports table is read from the doc's ``toml`` block (declared once, shown to
readers); imports are read with ``ast`` from every ``nexusctl/**/*.py``, including imports
inside functions and ``TYPE_CHECKING`` blocks.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "nexusctl"
DOC = ROOT / "docs" / "architecture.md"
MAX_LINES = 500

#: Modules allowed over MAX_LINES, by path below nexusctl/, each with the reason.
LONG_MODULES: dict[str, str] = {}

#: Cross-package imports of private modules still in code other branches own, with the reason.
KNOWN_PRIVATE_IMPORTS: dict[tuple[str, str], str] = {}

TERMINAL_LIBRARIES = ("typer", "rich", "click")


@dataclass(frozen=True)
class Import:
    """One imported module name, where it was imported."""

    module: str  # the importing module, e.g. nexusctl.lint.engine
    path: str  # below nexusctl/, e.g. lint/engine.py
    target: str  # the dotted name imported, e.g. nexusctl.policy.loader
    line: int

    @property
    def source_part(self) -> str:
        """The package (or top-level module) the importing file belongs to."""
        return self.path.split("/")[0].removesuffix(".py")

    def __str__(self) -> str:
        return f"nexusctl/{self.path}:{self.line} imports {self.target}"


def load_map() -> dict[str, list[str]]:
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) == 1, "docs/architecture.md must hold exactly one toml block"
    table = tomllib.loads(blocks[0])
    return {name: list(allowed) for name, allowed in table.items()}


def modules() -> Iterator[tuple[str, str, ast.Module]]:
    for file in sorted(PACKAGE.rglob("*.py")):
        rel = file.relative_to(PACKAGE).as_posix()
        dotted = "nexusctl." + rel.removesuffix(".py").replace("/", ".")
        dotted = dotted.removesuffix(".__init__")
        yield dotted, rel, ast.parse(file.read_text(encoding="utf-8"), filename=str(file))


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports() -> Iterator[Import]:
    for dotted, rel, tree in modules():
        is_package = rel.endswith("__init__.py")
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield Import(dotted, rel, alias.name, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(dotted, is_package, node)
                yield Import(dotted, rel, target, node.lineno)
                # `from nexusctl.x import _y` imports the module nexusctl.x._y when it is one.
                for alias in node.names:
                    yield Import(dotted, rel, f"{target}.{alias.name}", node.lineno)


ALL_IMPORTS = list(imports())
INTERNAL = [i for i in ALL_IMPORTS if i.target.startswith("nexusctl.")]


def _existing_module(target: str) -> bool:
    parts = target.split(".")[1:]
    path = PACKAGE.joinpath(*parts)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def test_the_map_is_a_layered_order() -> None:
    table = load_map()
    graph = {name: {a for a in allowed if a != "*"} for name, allowed in table.items()}
    for name, allowed in graph.items():
        unknown = allowed - set(table)
        assert not unknown, f"{name} may import {sorted(unknown)}, which the map does not place"
        assert name not in allowed, f"{name} lists itself"
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:  # pragma: no cover - the failure message is the point
        pytest.fail(f"the import map has a cycle: {exc.args[1]}")
    assert order[0] in {"errors"} or not graph[order[0]]
    assert table["cli"] == ["*"]
    assert not any("cli" in allowed for name, allowed in table.items() if name != "cli")


def test_every_package_is_placed_on_the_map() -> None:
    table = load_map()
    parts = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()}
    parts = {
        p
        for p in parts
        if not p.startswith(("_", ".")) and p != "py"
        if (PACKAGE / p).is_dir() or (PACKAGE / f"{p}.py").is_file()
    }
    missing = sorted(parts - set(table))
    assert not missing, f"add {missing} to the import map in docs/architecture.md"


def test_imports_follow_the_map() -> None:
    table = load_map()
    wrong = []
    for item in INTERNAL:
        target_part = item.target.split(".")[1]
        source_part = item.source_part
        if target_part == source_part or not _existing_module(item.target):
            continue
        allowed = table.get(source_part, [])
        if "*" not in allowed and target_part not in allowed:
            wrong.append(f"{item} ({source_part} may import: {', '.join(allowed) or 'nothing'})")
    assert not wrong, "imports against docs/architecture.md:\n" + "\n".join(sorted(set(wrong)))


def test_no_private_module_is_imported_from_another_package() -> None:
    wrong = set()
    for item in INTERNAL:
        parts = item.target.split(".")
        if not _existing_module(item.target):
            continue
        if not any(p.startswith("_") and p != "__init__" for p in parts[2:]):
            continue
        if item.source_part != parts[1]:
            wrong.add((item.path, item.target))
    unexpected = sorted(wrong - set(KNOWN_PRIVATE_IMPORTS))
    assert not unexpected, "private modules imported across packages: " + ", ".join(
        f"nexusctl/{path} imports {target}" for path, target in unexpected
    )
    stale = sorted(set(KNOWN_PRIVATE_IMPORTS) - wrong)
    assert not stale, f"{stale} no longer happen: drop them from KNOWN_PRIVATE_IMPORTS"


def test_only_cli_touches_the_terminal_and_the_process() -> None:
    wrong = []
    for item in ALL_IMPORTS:
        if item.source_part == "cli":
            continue
        if item.target.split(".")[0] in TERMINAL_LIBRARIES:
            wrong.append(str(item))
    for _dotted, rel, tree in modules():
        if rel.startswith("cli/"):
            continue
        for node in ast.walk(tree):
            name = _dotted_name(node)
            if name in {"sys.exit", "os.environ", "os.getenv", "os.putenv", "os.environb"}:
                wrong.append(f"nexusctl/{rel}:{getattr(node, 'lineno', 0)} uses {name}")
            if isinstance(node, ast.ImportFrom) and node.module in {"os", "sys"}:
                used = {a.name for a in node.names} & {"exit", "environ", "getenv", "putenv"}
                if used:
                    wrong.append(f"nexusctl/{rel}:{node.lineno} imports {sorted(used)}")
    assert not wrong, "only nexusctl/cli/ may do this:\n" + "\n".join(sorted(set(wrong)))


def _dotted_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return None


def test_no_module_is_over_the_size_cap() -> None:
    long = {}
    for file in sorted(PACKAGE.rglob("*.py")):
        rel = file.relative_to(PACKAGE).as_posix()
        count = len(file.read_text(encoding="utf-8").splitlines())
        if count > MAX_LINES:
            long[rel] = count
    unexpected = {rel: n for rel, n in long.items() if rel not in LONG_MODULES}
    assert not unexpected, f"modules over {MAX_LINES} lines: {unexpected}; split them"
    stale = sorted(set(LONG_MODULES) - set(long))
    assert not stale, f"{stale} are back under {MAX_LINES} lines: drop them from LONG_MODULES"


def test_the_checks_see_imports_inside_functions(tmp_path: Path) -> None:
    """The reader finds deferred and relative imports (the CLI defers most of its imports)."""
    source = (
        "def f():\n    from nexusctl.bundle._build import x\n    from . import _edit\n"
        "    import typer\n"
    )
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = _resolve("nexusctl.catalog.refresh", False, node)
            found += [target, *(f"{target}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names]
    assert "nexusctl.bundle._build" in found
    assert "nexusctl.catalog._edit" in found
    assert "typer" in found
    deferred = [i for i in INTERNAL if i.path.startswith("cli/") and i.target == "nexusctl.lint"]
    assert deferred, "the CLI's deferred import of nexusctl.lint was not seen"


def test_schema_registry_names_public_modules_only() -> None:
    """The registry imports models by name; those names obey the private-module rule too."""
    from nexusctl.schema._registry import EXPORTED_MODELS

    private = [
        target
        for _, target in EXPORTED_MODELS
        if any(part.startswith("_") for part in target.partition(":")[0].split(".")[2:])
    ]
    assert not private, f"schema registry targets in private modules: {private}"
