"""The README and docs/ point only at things that exist, and the README stays a front page.

- README.md is at most 300 lines (the reference lives in docs/).
- Every repository path the README or a docs/ page names, in backticks, in a code block or in a
  link (anything starting actors/ models/ config/ adapters/ tests/ docs/ .ci/, or run.py,
  setup.cfg), exists in this checkout; a pattern such as tests/actors/test_actors_*.py matches at
  least one file. A relative link resolves from the page that holds it, and its #anchor names a
  heading of the page it points at.
- Every docs/ page is linked from the README, and every page the README links to exists.
- The README's "## Layout" section names every package directory under actors/, models/,
  config/ and adapters/ and every directory under tests/, by its path from the root, so the
  layout cannot fall behind the tree.

docs/_incoming_*.md are drafts other branches write for the lead to fold in; they are skipped.
"""
from __future__ import annotations

import glob
import re
from pathlib import Path

import pytest

from tests.paths import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 300

# A repository path: one of these roots, not preceded by a character that would make it part of a
# longer path (../shared/tests/... is not ours) or of a word.
_PATH = re.compile(r"(?<![\w./<-])((?:actors|models|config|adapters|tests|docs|\.ci)/[\w./*-]*|run\.py|setup\.cfg)")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def doc_pages() -> list[Path]:
    return sorted(p for p in DOCS.glob("*.md") if not p.name.startswith("_incoming_"))


def checked_files() -> list[Path]:
    return [README, *doc_pages()]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    in_code = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            in_code = not in_code
            continue
        m = None if in_code else _HEADING.match(line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def repo_paths(text: str) -> set[str]:
    """Every repository path the text names (prose, backticks and code blocks alike)."""
    out = set()
    for m in _PATH.finditer(text):
        path = m.group(1).split("::")[0].rstrip(".:,;")
        out.add(path)
    return out


def path_exists(path: str) -> bool:
    if any(ch in path for ch in "*?["):
        return bool(glob.glob(str(ROOT / path)))
    return (ROOT / path).exists()


def links(page: Path) -> list[str]:
    return [m.group(1) for m in _LINK.finditer(page.read_text(encoding="utf-8"))]


def is_external(target: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*:", target))


@pytest.fixture(scope="module")
def readme_text() -> str:
    return README.read_text(encoding="utf-8")


def test_the_readme_is_at_most_300_lines(readme_text):
    lines = len(readme_text.splitlines())
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; move reference material to docs/ (limit {MAX_README_LINES})"


@pytest.mark.parametrize("page", checked_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_repository_path_a_page_names_exists(page):
    missing = sorted(p for p in repo_paths(page.read_text(encoding="utf-8")) if not path_exists(p))
    assert not missing, f"{page.relative_to(ROOT)} names paths that do not exist: {missing}"


@pytest.mark.parametrize("page", checked_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_and_its_anchor_resolves(page):
    broken = []
    for target in links(page):
        if is_external(target):
            continue
        file_part, _, anchor = target.partition("#")
        dest = (page.parent / file_part).resolve() if file_part else page
        if not dest.exists():
            broken.append(f"{target}: no file {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading with anchor #{anchor} in {dest.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)} has broken links: {broken}"


def test_the_readme_links_every_docs_page_and_every_page_it_links_exists(readme_text):
    linked = {(README.parent / t.partition("#")[0]).resolve() for t in links(README)
              if not is_external(t) and t.partition("#")[0].startswith("docs/") and t.partition("#")[0].endswith(".md")}
    missing_pages = sorted(str(p.relative_to(ROOT)) for p in linked if not p.exists())
    assert not missing_pages, f"README.md links docs pages that do not exist: {missing_pages}"
    unlinked = sorted(p.relative_to(ROOT).as_posix() for p in doc_pages() if p.resolve() not in linked)
    assert not unlinked, f"README.md does not link these docs pages: {unlinked}"


def package_dirs() -> list[str]:
    """The directories the layout must show: packages under the code roots, every tests/ folder."""
    wanted = []
    for root in ("actors", "models", "config", "adapters", "tests"):
        for d in sorted([ROOT / root, *(ROOT / root).rglob("*")]):
            rel = d.relative_to(ROOT)
            if not d.is_dir() or any(part.startswith((".", "__")) or part.endswith(".egg-info") for part in rel.parts):
                continue
            if root == "tests" or any(d.glob("*.py")):
                wanted.append(rel.as_posix() + "/")
    return wanted


def layout_section(text: str) -> str:
    m = re.search(r"^## Layout\b.*?(?=^## |\Z)", text, flags=re.M | re.S)
    assert m, "README.md has no '## Layout' section"
    return m.group(0)


def test_the_readme_layout_lists_every_package_directory(readme_text):
    layout = layout_section(readme_text)
    named = {p.rstrip("/") + "/" for p in repo_paths(layout)}
    missing = [d for d in package_dirs() if d not in named]
    assert not missing, f"README.md's Layout section does not list these directories (by their path from the root): {missing}"
