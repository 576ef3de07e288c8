"""Configuration a user cannot misread (issue 9 §3): whole percents, known sports, real numbers,
and the Phase 5 design's own file turned into ours by `check-config --migrate`."""
from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
import yaml

from adapters.cli import app
from config.loader import ConfigError, load_config
from tests.paths import SHARED

PHASE5_FILE = SHARED / "reference" / "phase5" / "position_management.yaml"


def write(tmp_path: Path, text: str, name: str = "user.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


# --- percent keys are whole percents ---------------------------------------------------------------

FRACTIONS = [
    ("signal_types:\n  default:\n    stop_loss_pct: 0.12\n", "signal_types.default.stop_loss_pct", "0.12", "12"),
    ("signal_types:\n  momentum:\n    profit_target_pct: 0.15\n", "signal_types.momentum.profit_target_pct", "0.15", "15"),
    ("signal_types:\n  default:\n    trailing_stop: {activation_pct: 0.1}\n",
     "signal_types.default.trailing_stop.activation_pct", "0.1", "10"),
    ("monitoring:\n  urgent_threshold_pct: 0.02\n", "monitoring.urgent_threshold_pct", "0.02", "2"),
    ("monitoring:\n  reserved_for_orders_pct: 0.15\n", "monitoring.reserved_for_orders_pct", "0.15", "15"),
    ("partial_exits:\n  stages:\n    - {profit_pct: 0.15, sell_fraction_pct: 50}\n",
     "partial_exits.stages[0].profit_pct", "0.15", "15"),
    ("partial_exits:\n  stages:\n    - {profit_pct: 15, sell_fraction_pct: 0.5}\n",
     "partial_exits.stages[0].sell_fraction_pct", "0.5", "50"),
    ("sizing:\n  min_edge_pct: 0.03\n", "sizing.min_edge_pct", "0.03", "3"),
    ("edge_exits:\n  early_exit_edge_pct: 0.02\n", "edge_exits.early_exit_edge_pct", "0.02", "2"),
    ("rebalance:\n  edge_margin_pct: 0.05\n", "rebalance.edge_margin_pct", "0.05", "5"),
    ("sizing:\n  confidence_adjustment:\n    full_confidence_edge_pct: 0.1\n",
     "sizing.confidence_adjustment.full_confidence_edge_pct", "0.1", "10"),
]


@pytest.mark.parametrize("text,key,value,whole", FRACTIONS, ids=[f[1] for f in FRACTIONS])
def test_a_fraction_in_a_percent_key_is_an_error_with_a_hint(tmp_path: Path, text: str, key: str, value: str,
                                                             whole: str) -> None:
    path = write(tmp_path, text)
    msg = error_of(path)
    assert msg.startswith(f"{path}: {key}: "), msg
    assert f"{value} looks like a fraction: write {whole} for {whole}%" in msg, msg


def test_small_edges_stay_allowed_as_whole_percents(tmp_path: Path) -> None:
    # Half a percentage point of edge is a sane setting, and zero means "off".
    c = load_config(write(tmp_path, "sizing:\n  min_edge_pct: 0.5\nedge_exits:\n  early_exit_edge_pct: 0.5\n"
                                    "  edge_disappeared_edge_pct: 0\nmonitoring:\n  reserved_for_orders_pct: 0\n"))
    assert c.sizing.min_edge_pct == D("0.5") and c.edge_exits.early_exit_edge_pct == D("0.5")


@pytest.mark.parametrize("text,key", [
    ("sizing:\n  min_edge_pct: 60\n", "sizing.min_edge_pct"),
    ("edge_exits:\n  early_exit_edge_pct: 75\n", "edge_exits.early_exit_edge_pct"),
    ("rebalance:\n  edge_margin_pct: 80\n", "rebalance.edge_margin_pct"),
], ids=["min_edge", "early_exit", "edge_margin"])
def test_edge_percents_have_a_sane_upper_bound(tmp_path: Path, text: str, key: str) -> None:
    msg = error_of(write(tmp_path, text))
    assert f"{key}: expected" in msg and "at most 50" in msg, msg


# --- numbers are numbers ----------------------------------------------------------------------------

@pytest.mark.parametrize("text,key", [
    ('monitoring:\n  normal_interval_secs: "30"\n', "monitoring.normal_interval_secs"),
    ("signal_types:\n  default:\n    stop_loss_pct: '12'\n", "signal_types.default.stop_loss_pct"),
    ('sizing:\n  kelly_fraction:\n    nfl: "0.25"\n', "sizing.kelly_fraction.nfl"),
    ('monitoring:\n  max_api_calls_per_minute: "60"\n', "monitoring.max_api_calls_per_minute"),
], ids=["secs", "pct", "kelly", "count"])
def test_a_number_in_quotes_is_an_error_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    msg = error_of(path)
    assert msg.startswith(f"{path}: {key}: expected a"), msg
    assert "found str" in msg and "quotes" in msg, msg


# --- sports under the Kelly fractions ---------------------------------------------------------------

def test_a_misspelt_sport_is_an_error_with_a_did_you_mean(tmp_path: Path) -> None:
    path = write(tmp_path, "sizing:\n  kelly_fraction:\n    tenis: 0.18\n")
    msg = error_of(path)
    assert msg.startswith(f"{path}: sizing.kelly_fraction.tenis: "), msg
    assert "unknown sport" in msg and "did you mean 'tennis'" in msg, msg


def test_an_unknown_sport_lists_the_known_ones(tmp_path: Path) -> None:
    msg = error_of(write(tmp_path, "sizing:\n  kelly_fraction:\n    curling: 0.1\n"))
    assert "sizing.kelly_fraction.curling" in msg and "nfl" in msg and "tennis" in msg and "default" in msg, msg


def test_every_known_sport_may_have_a_fraction(tmp_path: Path) -> None:
    from models.winprob import SPORT_KEYS

    text = "sizing:\n  kelly_fraction:\n" + "".join(f"    {s}: 0.1\n" for s in SPORT_KEYS)
    c = load_config(write(tmp_path, text))
    assert all(c.kelly_fraction(s) == D("0.1") for s in SPORT_KEYS)


# --- the Phase 5 design's file ----------------------------------------------------------------------

def test_a_phase5_key_names_the_migrate_command(tmp_path: Path) -> None:
    msg = error_of(write(tmp_path, "monitoring:\n  normal_frequency: 30\n"))
    assert "monitoring.normal_frequency" in msg and "check-config --migrate" in msg, msg


def _migrate(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = app.main(["check-config", "--migrate", str(path)])
    out, err = capsys.readouterr()
    return status, out, err


needs_phase5 = pytest.mark.skipif(not PHASE5_FILE.exists(), reason="the Phase 5 reference file is absent")


@needs_phase5
def test_the_real_phase5_file_is_rejected_as_is_with_the_way_out() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(PHASE5_FILE)
    assert "--migrate" in str(info.value)


@needs_phase5
def test_the_real_phase5_file_migrates_to_a_file_that_loads_and_means_the_same(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _migrate(PHASE5_FILE, capsys)
    assert status == 0, err
    migrated = write(tmp_path, out, "migrated.yaml")
    c = load_config(migrated)
    theirs = yaml.safe_load(PHASE5_FILE.read_text(encoding="utf-8"))
    m = theirs["monitoring"]
    assert c.monitoring.normal_interval_secs == m["normal_frequency"]
    assert c.monitoring.urgent_interval_secs == m["urgent_frequency"]
    assert c.monitoring.urgent_threshold_pct == D(str(m["urgent_conditions"]["near_stop_loss_pct"])) * 100
    assert c.monitoring.price_cache_ttl_secs == m["price_cache_ttl_seconds"]
    assert c.monitoring.max_api_calls_per_minute == m["max_api_calls_per_minute"]
    for level, x in theirs["exit_execution"].items():
        ours = c.exit_execution.for_priority(level)
        assert ours.timeout_secs == x["timeout_seconds"]
        assert ours.retry_strategy == x["retry_strategy"]
        assert ours.max_walks == x.get("max_walks", 0)
    e = c.exit_execution
    assert (e.CRITICAL.order_type, e.CRITICAL.price_strategy) == ("marketable", "far_side")   # "market"
    assert [e.HIGH.price_strategy, e.MEDIUM.price_strategy, e.LOW.price_strategy] == ["best_bid", "mid", "near_ask"]
    stages = theirs["partial_exits"]["stages"]
    assert [(s.profit_pct, s.sell_fraction_pct) for s in c.partial_exits.stages] == [
        (D(str(s["profit_threshold"])) * 100, s["exit_percentage"]) for s in stages]     # 15/50, 25/25
    assert c.partial_exits.stages[0].profit_pct == 15 and c.partial_exits.stages[0].sell_fraction_pct == 50
    assert c.liquidity.max_spread_cents == D(str(theirs["liquidity"]["max_spread"])) * 100 == 3
    assert c.liquidity.min_volume == theirs["liquidity"]["min_volume"]
    assert c.exit_priorities == {k: tuple(v) for k, v in theirs["exit_priorities"].items()}
    assert "check-config" in out and "0.15" in out      # the header says what was converted from what


@needs_phase5
def test_the_migrated_file_passes_check_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _migrate(PHASE5_FILE, capsys)
    migrated = write(tmp_path, out, "migrated.yaml")
    assert app.main(["check-config", str(migrated)]) == 0


def test_migrating_a_file_that_has_a_key_neither_design_knows_is_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "monitoring:\n  normal_frequency: 30\n  poll_harder: true\n")
    status, out, err = _migrate(path, capsys)
    assert status == 2 and out == ""
    assert str(path) in err and "monitoring.poll_harder" in err


def test_migrating_keeps_keys_already_in_our_names_and_converts_units(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, ("monitoring:\n  normal_frequency: 20\n  urgent_interval_secs: 4\n"
                            "  urgent_conditions: {near_stop_loss_pct: 0.01, near_profit_target_pct: 0.03}\n"
                            "liquidity:\n  max_spread: 0.05\n"))
    status, out, err = _migrate(path, capsys)
    assert status == 0, err
    c = load_config(write(tmp_path, out, "m.yaml"))
    assert (c.monitoring.normal_interval_secs, c.monitoring.urgent_interval_secs) == (20, 4)
    # one "near" threshold in this engine: the widest of theirs (urgent sooner, never later), said so
    assert c.monitoring.urgent_threshold_pct == 3
    assert "near_stop_loss_pct" in out and "widest" in out
    assert c.liquidity.max_spread_cents == 5


def test_migrating_a_missing_file_is_exit_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _migrate(tmp_path / "nope.yaml", capsys)
    assert status == 2 and "nope.yaml" in err
