"""Issue 14's bench additions: the replay scaling rows (exit-heavy and monitoring-heavy), the
growth exponent, and the size flags. Speed is never asserted: only that the numbers exist, were
measured on the workload they name, and that the monitoring-heavy positions really live
through the game."""
from __future__ import annotations

import contextlib
import io
import json
import math

import pytest

from adapters.cli import app as run
from adapters.harness.bench.growth_floor import audit_record_cost_s, counting_decisions, growth_floor
from adapters.harness.bench.monitoring import ENTRY_POINTS, entry_indices, growth_exponent
from adapters.harness.bench.replay_speed import load_events
from models.market import Quote

from tests.paths import SHARED

NAME = "kalshi-nba-2025-11-22-LAC-CHA"
RECORDING = next((c for c in (SHARED / "data" / NAME,) if c.is_dir() and any(c.glob("*.jsonl"))), None)
needs_recording = pytest.mark.skipif(RECORDING is None, reason="the NBA recording (../shared/data) is absent")


def test_the_growth_floor_is_the_slope_of_the_quotes_alone_plus_one_record_per_decision():
    # F = 1 s, 10 decisions per position at 100 µs each: 2 s at 1,000 positions, 11 s at 10,000
    floor = growth_floor(1.0, 1e-4, {1000: 10.0, 5000: 10.0, 10000: 10.0})
    assert floor.k_floor == pytest.approx(math.log(11 / 2) / math.log(10))
    assert growth_floor(1.0, 1e-4, {1000: 10.0}).k_floor is None
    # decisions that do not grow with the positions (none per position) leave the quotes alone: k 0
    assert growth_floor(1.0, 1e-4, {1000: 0.0, 10000: 0.0}).k_floor == pytest.approx(0.0)


def test_decisions_are_counted_apart_from_the_heartbeat_and_the_start_up_steps():
    from actors.clock import VirtualClock
    from adapters.audit.log import Audit
    from models import audit_events as ae
    from tests.conftest import T0

    audit = Audit(VirtualClock(T0), [])
    counted = counting_decisions(audit)
    audit.emit(ae.Heartbeat(state="running", pid=1, clock="virtual"))
    audit.emit(ae.Alert(said="ALERT a decision", detail="x"))
    assert counted == [1] and len(audit.recorder) == 2
    assert audit_record_cost_s(samples=50) > 0


def test_growth_exponent_is_the_log_slope_between_the_smallest_and_largest_size():
    assert growth_exponent([(1000, 2.0), (10000, 20.0)]) == pytest.approx(1.0)
    assert growth_exponent([(1000, 2.0), (5000, 3.0), (10000, 2.0 * math.sqrt(10))]) == pytest.approx(0.5)
    assert growth_exponent([(1000, 2.0)]) is None


@pytest.mark.parametrize("flag", ["--exit-sizes", "--monitor-sizes"])
@pytest.mark.parametrize("bad", ["0", "ten"])
def test_a_bad_size_is_refused_with_status_2(flag, bad, capsys):
    with pytest.raises(SystemExit) as exc:
        run.main(["bench", "--quick", flag, bad])
    assert exc.value.code == 2
    assert "positions" in capsys.readouterr().err


@needs_recording
def test_entries_fall_inside_the_game_not_on_the_pre_game_quotes():
    events, _ = load_events(RECORDING)
    cuts = entry_indices(events)
    assert len(cuts) == ENTRY_POINTS and cuts == sorted(cuts)
    first_quote_ts = next(ts for ts, p in events if isinstance(p, Quote))
    assert (events[cuts[0]][0] - first_quote_ts).total_seconds() > 3600 * 10    # after the morning and the gap
    assert (events[-1][0] - events[cuts[-1]][0]).total_seconds() > 600          # the last entry still watches


@needs_recording
def test_the_replay_section_reports_both_workloads_and_the_growth_exponent():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = run.main(["bench", "--quick", "--json", "--only", "replay", "--data", str(RECORDING),
                         "--exit-sizes", "4", "12", "--monitor-sizes", "8", "24"])
    assert code == 0
    data = json.loads(out.getvalue())
    rows = data["replay_scaling"]
    assert [(r["workload"], r["positions"]) for r in rows] == [
        ("exit_heavy", 4), ("exit_heavy", 12), ("monitoring_heavy", 8), ("monitoring_heavy", 24)]
    for r in rows:
        assert set(r) == {"workload", "positions", "wall_s", "speedup"}
        assert r["wall_s"] > 0 and r["speedup"] > 0
    assert isinstance(data["replay_growth_exponent"], float)
    floor = data["details"]["replay_growth_floor"]
    assert set(floor["decisions_per_position"]) == {"8", "24"}       # JSON keys
    assert all(d > 1 for d in floor["decisions_per_position"].values())   # every position decides its exit
    assert floor["quotes_only_s"] > 0 and floor["record_us"] > 0
    assert isinstance(data["replay_growth_exponent_floor"], float)
    details = {(r["workload"], r["positions"]): r for r in data["details"]["replay_scaling"]}
    for (workload, n), r in details.items():
        assert sum(r["exits"].values()) == n                 # every position accounted for
    monitored = details[("monitoring_heavy", 24)]["exits"]
    # positions live through the game: some are still held at the final whistle and settle,
    # others exit on the way
    assert monitored.get("settlement", 0) > 0
    assert sum(v for k, v in monitored.items() if k != "settlement") > 0


@needs_recording
def test_the_decisions_counted_are_those_made_inside_the_wall_time_they_bound(tmp_path, monkeypatch):
    """The floor bounds wall_s, which leaves out the time spent opening positions: decisions made
    while they open (a position that triggers at once: its exit, order, fill and close) must be
    left out of the count too, or the floor counts work the wall time it bounds never timed."""
    import adapters.harness.bench.monitoring as monitoring
    from adapters.harness.bench.engine import engine_factory
    from config.loader import load_config
    from models import audit_events as ae

    opening, inside, outside = [False], [0], [0]
    counting, opening_positions = monitoring.counting_decisions, monitoring.open_positions

    def spying(audit):  # type: ignore[no-untyped-def]
        counter = counting(audit)
        emit = audit.emit

        def spy(event):  # type: ignore[no-untyped-def]
            if not isinstance(event, (ae.Heartbeat, ae.EngineStartup)):
                (outside if opening[0] else inside)[0] += 1
            return emit(event)

        audit.emit = spy
        return counter

    def opened(*args, **kw):  # type: ignore[no-untyped-def]
        opening[0] = True
        try:
            return opening_positions(*args, **kw)
        finally:
            opening[0] = False

    monkeypatch.setattr(monitoring, "counting_decisions", spying)
    monkeypatch.setattr(monitoring, "open_positions", opened)
    import dataclasses

    config = load_config(None)   # liquidity_dried_up at once, so that some positions decide while they open
    config = dataclasses.replace(config, liquidity=dataclasses.replace(config.liquidity, breach_for_secs=0))
    result = monitoring.measure_monitoring(engine_factory(config, tmp_path), RECORDING, positions=100, config=config)
    assert outside[0] > 0                      # the workload does decide while positions open
    assert result.decisions == inside[0], (result.decisions, inside[0], outside[0])
