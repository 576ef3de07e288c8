"""`python run.py bench`: the quick run prints one JSON object with every number, and the
benchmark's fixtures are what they claim to be (checked with the pure exit rules). Nothing
here asserts a speed: only that the numbers exist, are sane, and were measured."""
from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from decimal import Decimal

import pykka
import pytest

from adapters.cli import app
from adapters.harness.bench.budget import analytic_calls_per_minute, specs_for
from adapters.harness.bench.fleet import Spec, percentile, quote, state_of
from adapters.harness.bench.latency import BASE, BYSTANDER_ENTRY, CROSS, TARGET_ENTRY
from adapters.harness.bench.report import format_table
from config.loader import load_config
from models.exit_rules import evaluate_exits, near_threshold
from models.market import Side
from models.pnl import mark_position
from tests.paths import SHARED

NOW = datetime(2026, 1, 10, 18, 0, tzinfo=timezone.utc)
REQUIRED = ("tick_to_order_p50_ms", "tick_to_order_p99_ms", "pykka_3hop_p99_ms", "positions_within_budget",
            "replay_speedup", "replay_wall_s", "rss_kib_per_position", "recovery_s_1000")
RECORDING = SHARED / "data" / "kalshi-nba-2025-11-22-LAC-CHA"


@pytest.fixture(scope="module")
def quick() -> dict:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = app.main(["bench", "--quick", "--json"])
    assert code == 0
    assert pykka.ActorRegistry.get_all() == []          # every engine it built was stopped
    return json.loads(out.getvalue())                   # the whole of stdout is one JSON object


def test_the_quick_run_reports_every_number_the_issue_asks_for(quick):
    assert set(REQUIRED) <= set(quick)
    assert quick["quick"] is True
    assert quick["machine"]["cpus"] >= 1
    for key in ("tick_to_order_p50_ms", "tick_to_order_p99_ms", "pykka_3hop_p99_ms", "rss_kib_per_position",
                "recovery_s_1000"):
        assert isinstance(quick[key], float) and quick[key] > 0 and math.isfinite(quick[key]), key
    assert quick["tick_to_order_p50_ms"] <= quick["tick_to_order_p99_ms"]
    assert quick["details"]["latency"]["samples"] > 0


def test_the_budget_is_measured_and_the_largest_fitting_n_is_one_of_those_tried(quick):
    budget = quick["details"]["budget"]
    tried = [p["positions"] for p in budget["points"]]
    assert quick["positions_within_budget"] in tried
    for p in budget["points"]:
        assert p["calls_per_minute"] > 0                 # the positions really polled the venue
        assert p["evaluations_per_position_minute"] >= 2  # and evaluated at least at the 30 s cadence
        assert abs(p["calls_per_minute"] - p["analytic_calls_per_minute"]) <= 0.1 * p["analytic_calls_per_minute"]
    fits = [p["positions"] for p in budget["points"] if p["calls_per_minute"] <= budget["read_allowance_per_minute"]]
    assert quick["positions_within_budget"] == max(fits)


def test_the_replay_ran_the_recording_or_says_why_not(quick):
    if RECORDING.is_dir():
        assert quick["replay_speedup"] > 0 and quick["replay_wall_s"] > 0
        replay = quick["details"]["replay"]
        assert replay["quotes"] == 11442 and replay["markets"] == 2
        assert sum(replay["exits"].values()) == replay["positions"]
    else:
        assert quick["replay_speedup"] is None and quick["replay_wall_s"] is None
        assert "replay skipped" in " ".join(quick["notes"])


def test_recovery_resumed_every_position(quick):
    rec = quick["details"]["memory"]["recovery"]
    assert rec["positions"] == quick["recovery_positions"] > 0
    assert rec["polling"] is False and rec["virtual_s"] == 0     # streamed quotes: no time had to pass


def test_the_table_names_each_measure_and_its_target(quick):
    text = format_table(quick)
    for words in ("tick -> exit order p99", "pykka 3-hop", "venue reads/min", "positions within",
                  "RSS per open position", "recover 1,000 open positions"):
        assert words in text
    assert "<= 2 ms" in text and "<= 32 KiB" in text and "<= 3 s" in text


def test_without_the_recording_the_replay_is_skipped_with_a_clear_message(tmp_path, capsys):
    assert app.main(["bench", "--quick", "--json", "--only", "replay", "--data", str(tmp_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["replay_speedup"] is None and data["replay_wall_s"] is None
    assert data["details"]["replay"]["skipped"].startswith(f"no recording at {tmp_path}")
    assert "replay skipped" in format_table(data)


def test_a_bad_data_folder_is_refused(tmp_path, capsys):
    assert app.main(["bench", "--quick", "--data", str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err


# -- the fixtures are what they claim ---------------------------------------------------------------

def test_the_latency_quote_fires_a_stop_loss_for_the_target_and_nothing_for_the_bystanders():
    config = load_config(None)
    target = state_of(Spec("t", "M", Side.YES, TARGET_ENTRY), NOW)
    bystander = state_of(Spec("b", "M", Side.YES, BYSTANDER_ENTRY), NOW)
    base, cross = quote("M", NOW, *BASE), quote("M", NOW, *CROSS)
    for state in (target, bystander):
        assert evaluate_exits(mark_position(state, base, NOW, config), base, NOW, config) == ()
    fired = evaluate_exits(mark_position(target, cross, NOW, config), cross, NOW, config)
    assert [t.condition for t in fired] == ["stop_loss"]
    assert evaluate_exits(mark_position(bystander, cross, NOW, config), cross, NOW, config) == ()


def test_budget_positions_are_calm_except_one_in_ten_near_its_stop_and_none_fires():
    config = load_config(None)
    specs = specs_for(400, 100, config, urgent_every=10)
    assert {s.side for s in specs} == {Side.YES, Side.NO} and len({s.ticker for s in specs}) == 100
    q = {s.ticker: quote(s.ticker, NOW, "0.50", "0.51") for s in specs}
    urgent = [near_threshold(mark_position(state_of(s, NOW), q[s.ticker], NOW, config), config) for s in specs]
    assert sum(urgent) == 40 and all(urgent[9::10])
    for s in specs:
        marked = mark_position(state_of(s, NOW), q[s.ticker], NOW, config)
        assert evaluate_exits(marked, q[s.ticker], NOW, config) == ()


@pytest.mark.parametrize("n, markets, urgent_every, fills, expected", [
    # The cache as it is: every market in use is a read of its own per refresh (30 s; 15 s urgent).
    (20, 100, 10, False, 18 * 2 + 2 * 4.0),
    (2000, 100, 10, False, 90 * 2 + 10 * 4.0),   # grows with the markets, not with N
    (2000, 100, 0, False, 100 * 2.0),
    # Reads filled with the other stale markets: one read per 100 markets per refresh.
    (2000, 100, 10, True, 4.0),
    (2000, 100, 0, True, 2.0),
    (2000, 250, 10, True, 12.0),
    (20, 100, 0, True, 2.0),
])
def test_analytic_reads_per_minute(n, markets, urgent_every, fills, expected):
    config = load_config(None)
    specs = specs_for(n, markets, config, urgent_every)
    assert analytic_calls_per_minute(specs, config, urgent_every, fills=fills) == expected


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0


def test_entry_prices_stay_on_decimal_money():
    config = load_config(None)
    assert all(isinstance(s.entry_price, Decimal) for s in specs_for(30, 10, config, 10))
