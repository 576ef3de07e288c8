"""Where the tests find the repository and the real data beside it.

ROOT is the checkout; SHARED is ../shared beside it (a git worktree sits one folder deeper, under
wt/, so its parent's parent is tried too). Data under SHARED is read, never copied; tests that need
it skip when it is absent.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = next((p / "shared" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared").is_dir()),
              ROOT.parent / "shared")
