"""The benchmark's results: one JSON-ready dict (the keys the issue asks for, and the details)
and a readable table of the numbers against their targets."""
from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field
from typing import Any

TARGETS = {
    "tick_to_order_p99_ms": ("<=", 2.0),          # issue 14 (1,000 positions over 200 markets)
    "positions_within_budget": (">=", 2000),
    "replay_speedup": (">=", 10_000),
    "rss_kib_per_position": ("<=", 32.0),         # issue 14 (at 10,000 positions)
    "recovery_s_1000": ("<=", 3.0),
    "replay_growth_exponent": ("<=", 0.5),
    "tick_to_order_p99_ms_10000": ("<=", 5.0),
    "recovery_s_10000": ("<=", 5.0),
}
# the exit-heavy replay's wall seconds by size (issue 14: at least NautilusTrader's figures)
EXIT_HEAVY_WALL_S = {100: 0.5, 1000: 3.0, 5000: 25.0}


def machine() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        pykka_version = version("pykka")
    except PackageNotFoundError:
        pykka_version = "?"
    return {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform(),
            "pykka": pykka_version, "load_average_1m": round(os.getloadavg()[0], 2)}


def meets(key: str, value: Any) -> bool | None:
    if key not in TARGETS or value is None:
        return None
    op, target = TARGETS[key]
    return value <= target if op == "<=" else value >= target


@dataclass
class Report:
    quick: bool
    values: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_json(self, machine_before: dict[str, Any], load_after: float) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.values)
        # A quick run's sizes are too small to judge the targets by.
        out["targets_met"] = {k: None if self.quick else meets(k, self.values.get(k)) for k in TARGETS}
        out["quick"] = self.quick
        out["machine"] = dict(machine_before, load_average_1m_after=round(load_after, 2))
        out["details"] = self.details
        out["notes"] = self.notes
        return out


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    else:
        text = f"{value:,}" if isinstance(value, int) else str(value)
    return text + unit


def format_table(data: dict[str, Any]) -> str:
    d = data["details"]
    lat, bud, rep, mem = d.get("latency", {}), d.get("budget", {}), d.get("replay", {}), d.get("memory", {})
    rows: list[tuple[str, str, str, str]] = []

    def row(label: str, key: str | None, value: str, target: str = "", measured: Any = None) -> None:
        met = None if data["quick"] or not key else meets(key, data.get(key) if measured is None else measured)
        rows.append((label, value, target, "" if met is None else ("ok" if met else "MISSED")))

    if lat:
        row(f"tick -> exit order p50 ({lat['positions']:,} positions, {lat['markets']} markets, "
            f"{lat['samples']} samples)", None, _fmt(data.get("tick_to_order_p50_ms"), " ms"))
        row("tick -> exit order p90 / max", None, f"{_fmt(lat['p90_ms'], ' ms')} / {_fmt(lat['max_ms'], ' ms')}")
        row("tick -> exit order p99", "tick_to_order_p99_ms", _fmt(data.get("tick_to_order_p99_ms"), " ms"),
            "<= 2 ms")
        row("pykka 3-hop tell p50 / p99 (the floor)", None,
            f"{_fmt(lat['floor_p50_ms'], ' ms')} / {_fmt(data.get('pykka_3hop_p99_ms'), ' ms')}")
        row("tick -> order p99 / floor p99", None, _fmt(lat["ratio_p99"], "x"))
    if bud:
        for p in bud["points"]:
            row(f"venue reads/min, N={p['positions']:,} over M={p['markets']} (analytic)", None,
                f"{p['calls_per_minute']:.1f} ({p['analytic_calls_per_minute']:.1f}), "
                f"{_fmt(p['realtime_factor'], 'x')} real time")
        bound = ">= " if bud["lower_bound"] else ""
        row(f"positions within {bud['read_allowance_per_minute']} reads/min (of {bud['limit_per_minute']}) "
            f"at M={bud['markets']}", "positions_within_budget",
            bound + _fmt(data.get("positions_within_budget")), ">= 2,000")
        analytic = bud["analytic_positions_within_budget"]
        row("  analytic", None, "no limit in N" if analytic is None else _fmt(analytic))
    if rep.get("skipped"):
        row("replay speed", "replay_speedup", "skipped: " + rep["skipped"], ">= 10,000x")
    elif rep:
        row(f"replay: {rep['quotes']:,} quotes, {rep['span_h']:.1f} h, {rep['positions']} positions",
            "replay_speedup", _fmt(data.get("replay_speedup"), "x real time"), ">= 10,000x")
        row("  wall seconds / exits", None,
            f"{_fmt(data.get('replay_wall_s'), ' s')} / " + ", ".join(f"{k} {v}" for k, v in rep["exits"].items()))
    for r in d.get("replay_scaling", []):
        target = EXIT_HEAVY_WALL_S.get(r["positions"]) if r["workload"] == "exit_heavy" else None
        met = None if data["quick"] or target is None else r["wall_s"] <= target
        extra = f", {r['open_s']:.1f} s opening" if "open_s" in r else ""
        rows.append((f"replay {r['workload'].replace('_', '-')}, {r['positions']:,} positions",
                     f"{_fmt(r['wall_s'], ' s')}, {_fmt(r['speedup'], 'x')} real time{extra}",
                     "" if target is None else f"<= {target:g} s", "" if met is None else ("ok" if met else "MISSED")))
    if "replay_growth_exponent" in data:
        row("  monitoring-heavy growth exponent k (wall ∝ positions^k)", "replay_growth_exponent",
            _fmt(data.get("replay_growth_exponent")), "<= 0.5")
    fl = d.get("replay_growth_floor")
    if fl:
        per = ", ".join(f"{v:.1f} at {int(n):,}" for n, v in sorted(fl["decisions_per_position"].items(),
                                                                      key=lambda item: int(item[0])))
        row("  least k with this quote path, every decision recorded", None,
            f"{_fmt(fl['k_floor'])} (quotes alone {fl['quotes_only_s']:.2f} s; decisions per position {per}; "
            f"{fl['record_us']:.1f} µs per audit record)")
    if d.get("latency_10000"):
        big = d["latency_10000"]
        row(f"tick -> exit order p50 / p99 ({big['positions']:,} positions, {big['markets']:,} markets)",
            "tick_to_order_p99_ms_10000", f"{_fmt(big['p50_ms'], ' ms')} / {_fmt(big['p99_ms'], ' ms')}", "p99 <= 5 ms")
    if mem:
        for p in mem["rss"]:
            row(f"RSS per open position at {p['positions']:,}", "rss_kib_per_position",
                _fmt(p["kib_per_position"], " KiB"), "<= 32 KiB", measured=p["kib_per_position"])
        rec = mem["recovery"]
        row(f"recover {rec['positions']:,} open positions from the database (quotes streamed)", "recovery_s_1000",
            _fmt(data.get("recovery_s_1000"), " s"), "<= 3 s")
        if mem.get("recovery_10000"):
            row("recover 10,000 open positions (quotes streamed)", "recovery_s_10000",
                _fmt(mem["recovery_10000"]["wall_s"], " s"), "<= 5 s")
        polled = mem.get("recovery_polling")
        if polled:
            row("  ... quotes polled instead: virtual (= live) s, wall s, venue reads", None,
                f"{_fmt(polled['virtual_s'], ' s')}, {_fmt(polled['wall_s'], ' s')}, {polled['venue_reads']}")
    ws = d.get("stream")
    if ws:
        wl, wr = ws["latency"], ws["reads"]
        row(f"WebSocket: book change at the fake -> exit order at the fake p50 / p99 ({wl['positions']:,} "
            f"positions, {wl['markets']} markets, {wl['samples']} samples)", None,
            f"{_fmt(wl['p50_ms'], ' ms')} / {_fmt(wl['p99_ms'], ' ms')} (max {_fmt(wl['max_ms'], ' ms')})",
            "polled: up to 30 s")
        row(f"REST market reads/min, {wr['positions']} positions over {wr['markets']} markets: streamed / polled",
            None, f"{wr['streamed_reads_per_minute']:.1f} / {wr['polled_reads_per_minute']:.1f} "
                  f"(other calls streamed: {wr['streamed_other_calls_per_minute']:.1f})")
    head = ("measure", "value", "target", "")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(head, widths)).rstrip(),
             "  ".join("-" * w for w in widths[:3])]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    m = data["machine"]
    lines.append("")
    lines.append(f"machine: {m['cpus']} cpus, Python {m['python']}, pykka {m['pykka']}, load average "
                 f"{m['load_average_1m']} -> {m['load_average_1m_after']}")
    if data["quick"]:
        lines.append("quick run: smaller sizes, the targets are not judged (run `python run.py bench`)")
    lines += [f"note: {n}" for n in data.get("notes", [])]
    return "\n".join(lines)
