"""What `simulate` prints: one line per seed, its violations, and a summary of the run."""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from adapters.harness.fault_sim.verdict import SeedResult

SHOWN_VIOLATIONS = 5     # per failing seed in the text output (--json has them all)


def rerun_hint(seed: int) -> str:
    return f"python run.py simulate --seed {seed}"


def seed_lines(r: SeedResult) -> list[str]:
    faults = ", ".join(f"{k} x{n}" if n > 1 else k for k, n in r.injected) or "none"
    restarts = f"{r.restarts} restart{'' if r.restarts == 1 else 's'}"
    head = (f"seed {r.seed:<6} {'ok  ' if r.ok else 'FAIL'}  {r.positions} positions ({r.closed} closed), "
            f"{r.orders} orders, {restarts}, budget {r.budget}/min, {r.wall_s:.2f}s  faults: {faults}")
    lines = [head]
    for v in r.violations[:SHOWN_VIOLATIONS]:
        lines.append(f"    {v}")
    if len(r.violations) > SHOWN_VIOLATIONS:
        lines.append(f"    ... and {len(r.violations) - SHOWN_VIOLATIONS} more")
    if not r.ok:
        lines.append(f"    rerun alone: {rerun_hint(r.seed)}")
    return lines


def summarize(results: Iterable[SeedResult]) -> dict[str, Any]:
    results = list(results)
    injected: Counter[str] = Counter()
    fired: Counter[str] = Counter()
    by_invariant: Counter[str] = Counter()
    for r in results:
        injected.update(dict(r.injected))
        fired.update(dict(r.fired))
        by_invariant.update({v.invariant for v in r.violations})
    failed = [r.seed for r in results if not r.ok]
    wall = sum(r.wall_s for r in results)
    core: Counter[str] = Counter()
    unprotected: dict[str, list[float]] = {}
    for r in results:
        for _, kind, actor, _, secs in r.core_faults:
            core[f"{kind} {actor}"] += 1
            if secs is not None:
                unprotected.setdefault(actor, []).append(secs)
    return {
        "seeds_run": len(results),
        "seeds_failed": failed,
        "faults_injected": dict(sorted(injected.items())),
        "faults_fired": dict(sorted(fired.items())),
        "seeds_failing_by_invariant": dict(sorted(by_invariant.items())),
        "positions": sum(r.positions for r in results),
        "orders": sum(r.orders for r in results),
        "restarts": sum(r.restarts for r in results),
        "virtual_hours": round(sum(r.virtual_s for r in results) / 3600, 2),
        "core_faults": dict(sorted(core.items())),
        "unprotected_after_core_fault_s": {a: _spread(v) for a, v in sorted(unprotected.items())},
        "failed_safe": [r.seed for r in results if r.failed_safe],
        "longest_unprotected_s": max((r.longest_unprotected_s for r in results), default=0.0),
        "wall_s": round(wall, 2),
    }


def _spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"n": len(ordered), "median": round(ordered[len(ordered) // 2], 1), "max": round(ordered[-1], 1)}


def format_summary(s: dict[str, Any]) -> str:
    failed = s["seeds_failed"]
    lines = [
        "-" * 78,
        f"Seeds run: {s['seeds_run']}, passed {s['seeds_run'] - len(failed)}, failed {len(failed)}"
        + (f": {', '.join(map(str, failed))}" if failed else ""),
        "Faults injected (fired at a venue call): " + (", ".join(
            f"{k} {n}" + (f" ({s['faults_fired'][k]})" if k in s["faults_fired"] else "")
            for k, n in s["faults_injected"].items()) or "none"),
        "Violations (seeds failing each invariant): " + (", ".join(
            f"{k} {n}" for k, n in s["seeds_failing_by_invariant"].items()) or "none"),
        f"Traded: {s['positions']} positions, {s['orders']} orders, {s['restarts']} process restarts, "
        f"{s['virtual_hours']} virtual hours in {s['wall_s']:.1f}s",
        "Core-actor faults (kind actor: injected): " + (", ".join(
            f"{k} {n}" for k, n in s["core_faults"].items()) or "none"),
        "Unprotected after a core fault (a position past its stop, virtual s from the fault to its next exit "
        "decision): " + (", ".join(f"{a} n={v['n']} median {v['median']} max {v['max']}"
                                   for a, v in s["unprotected_after_core_fault_s"].items()) or "no samples"),
        f"Longest any position sat past its stop with no exit in flight: {s['longest_unprotected_s']:.1f}s",
    ]
    if s["failed_safe"]:
        lines.append(f"Engine failed safe in seeds: {', '.join(map(str, s['failed_safe']))}")
    if failed:
        lines.append(f"Rerun a failing seed alone: {rerun_hint(failed[0])}")
    return "\n".join(lines)


def result_json(r: SeedResult) -> dict[str, Any]:
    return {
        "seed": r.seed, "ok": r.ok, "faults": list(r.faults), "injected": dict(r.injected), "fired": dict(r.fired),
        "violations": [{"invariant": v.invariant, "detail": v.detail} for v in r.violations],
        "positions": r.positions, "closed": r.closed, "orders": r.orders, "restarts": r.restarts,
        "venue_calls": r.venue_calls, "budget_per_minute": r.budget, "virtual_s": r.virtual_s, "wall_s": r.wall_s,
        "core_faults": [{"at_s": a, "kind": k, "actor": n, "point": p, "unprotected_s": u}
                        for a, k, n, p, u in r.core_faults], "failed_safe": r.failed_safe,
        "longest_unprotected_s": r.longest_unprotected_s,
    }
