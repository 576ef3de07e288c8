"""Small modules named for what they hold: no module of actors/, models/, config/, adapters/ or
run.py is over 400 lines (pykka itself is about 2,100 lines with none over 400)."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 400
# Over the limit today and owned by other work in issue 11; the lead empties this list. Nothing
# may be added to it.
ALLOWED_OVER = {
    "config/loader.py",
    "adapters/harness/fault_sim/runner.py",
    "adapters/storage/repository.py",
}


def _sizes() -> dict[str, int]:
    paths = [p for d in ("actors", "models", "config", "adapters") for p in (ROOT / d).rglob("*.py")]
    paths += [ROOT / "run.py"]
    return {p.relative_to(ROOT).as_posix(): len(p.read_text().splitlines()) for p in paths if p.exists()}


def test_no_module_is_over_400_lines():
    over = {path: n for path, n in sorted(_sizes().items()) if n > LIMIT and path not in ALLOWED_OVER}
    assert not over, f"modules over {LIMIT} lines (split them by what they hold): {over}"


def test_the_allow_list_holds_only_modules_still_over_the_limit():
    sizes = _sizes()
    stale = sorted(p for p in ALLOWED_OVER if sizes.get(p, 0) <= LIMIT)
    assert not stale, f"no longer over {LIMIT} lines: take them off ALLOWED_OVER: {stale}"
