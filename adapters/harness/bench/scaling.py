"""Replay scaling: the exit-heavy replay (replay_speed.py) and the monitoring-heavy replay
(monitoring.py) at several sizes, and the growth exponent of the monitoring-heavy one.

One row per run: {"workload": "exit_heavy" | "monitoring_heavy", "positions", "wall_s",
"speedup", ...}. The growth exponent k (cost ∝ positions^k) is taken between the smallest and
the largest monitoring-heavy size measured (1,000 and 10,000 in the full run), and the least k any
engine that records its decisions one by one could have there (growth_floor.py: the replay with no
position, the decisions per position, the cost of one audit record).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from adapters.harness.bench.fleet import Stopwatch
from adapters.harness.bench.growth_floor import GrowthFloor, audit_record_cost_s, growth_floor
from adapters.harness.bench.monitoring import growth_exponent, measure_monitoring
from adapters.harness.bench.replay_speed import measure_replay


def measure_scaling(make: Callable[..., Any], folder: Path, config: Any, *, exit_sizes: Sequence[int],
                    monitor_sizes: Sequence[int], progress: Callable[[str], None] = lambda _: None
                    ) -> tuple[list[dict[str, Any]], float | None]:
    rows: list[dict[str, Any]] = []
    for n in exit_sizes:
        progress(f"exit-heavy replay, {n:,} positions")
        took = Stopwatch()
        r = measure_replay(make, folder, positions=n)
        rows.append(dict(workload="exit_heavy", positions=n, wall_s=r.wall_s, speedup=r.speedup,
                         closed=r.closed, exits=r.exits_by_reason, run_s=took.elapsed))
    for n in monitor_sizes:
        progress(f"monitoring-heavy replay, {n:,} positions")
        took = Stopwatch()
        m = measure_monitoring(make, folder, positions=n, config=config)
        rows.append(dict(workload="monitoring_heavy", positions=n, wall_s=m.wall_s, speedup=m.speedup,
                         open_s=m.open_s, closed=m.closed, exits=m.exits_by_reason, run_s=took.elapsed,
                         decisions_per_position=m.decisions / n))
    k = growth_exponent([(r["positions"], r["wall_s"]) for r in rows if r["workload"] == "monitoring_heavy"])
    return rows, k


def measure_floor(make: Callable[..., Any], folder: Path, config: Any, rows: Sequence[dict[str, Any]]
                  ) -> GrowthFloor | None:
    """growth_floor.py's bound for the monitoring-heavy rows of measure_scaling (None without two)."""
    monitored = {r["positions"]: r["decisions_per_position"] for r in rows if r["workload"] == "monitoring_heavy"}
    if len(monitored) < 2:
        return None
    quotes_only = measure_monitoring(make, folder, positions=0, config=config).wall_s
    return growth_floor(quotes_only, audit_record_cost_s(), monitored)
