"""The dependency rule, checked on every import of the code (module level and inside functions).

models/  imports nothing of ours but config's schema     (pure domain logic)
config/  imports config and models (schema.py: nothing)   (the typed configuration)
actors/  imports actors, models, config                   (behaviour, no I/O of its own)
adapters/ imports adapters, actors, models, config        (I/O at the edges, and the wiring)
run.py   imports anything; nothing imports run.py, and no code outside tests/ imports tests.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("models", "actors", "adapters", "config", "run", "tests")
ALLOWED = {
    "models": ("models", "config.schema"),
    "config": ("config", "models"),
    "actors": ("actors", "models", "config"),
    "adapters": ("adapters", "actors", "models", "config"),
}
NOTHING_OF_OURS = ("config.schema",)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(source: str, module: str) -> list[tuple[int, str]]:
    """(line, module) for every import of `source`, relative ones made absolute."""
    found = []
    package = module.rsplit(".", 1)[0] if "." in module else ""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
    return found


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(module: str, source: str) -> list[str]:
    """What `module` imports that the rule forbids, as 'module:line imports name' lines."""
    layer = module.split(".")[0]
    out = []
    for line, name in imported(source, module):
        if not _within(name, OURS):
            continue                                   # the standard library and packages
        if module in NOTHING_OF_OURS:
            ok = False
        elif layer == "run":
            ok = not _within(name, ("tests",))
        elif layer == "tests":
            ok = not _within(name, ("run",))
        else:
            ok = _within(name, ALLOWED[layer])
        if not ok:
            out.append(f"{module}:{line} imports {name}")
    return out


def _our_files() -> list[Path]:
    files = [ROOT / "run.py"]
    for top in ("models", "config", "actors", "adapters", "tests"):
        files += sorted((ROOT / top).rglob("*.py"))
    return files


def test_every_import_of_the_code_points_down() -> None:
    broken = []
    for path in _our_files():
        broken += violations(_module_name(path), path.read_text(encoding="utf-8"))
    assert broken == [], "imports against the dependency rule:\n" + "\n".join(broken)


@pytest.mark.parametrize("module, source", [
    ("models.sizing", "from actors.base import ArbeesActor"),
    ("models.sizing", "def f():\n    from adapters.storage import tables\n"),
    ("models.sizing", "import config.loader"),
    ("config.schema", "from models.money import ZERO"),
    ("actors.position", "from adapters.storage.repository import Repository"),
    ("actors.position", "import run"),
    ("adapters.paper.venue", "from run import main"),
    ("adapters.paper.venue", "from tests.fakes import kalshi_server"),
    ("tests.test_x", "import run"),
    ("models.sizing", "from ..actors import base"),
])
def test_the_checker_sees_each_kind_of_wrong_import(module: str, source: str) -> None:
    assert violations(module, source) != []


@pytest.mark.parametrize("module, source", [
    ("models.sizing", "from config.schema import Config\nfrom models.money import ZERO"),
    ("actors.position", "from models.market import Quote\nfrom config.schema import Config"),
    ("adapters.paper.venue", "from actors.clock import Clock\nfrom .book import Book"),
    ("run", "from adapters.cli.app import main"),
])
def test_the_checker_lets_the_right_imports_through(module: str, source: str) -> None:
    assert violations(module, source) == []
