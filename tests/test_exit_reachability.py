"""Every exit rule can fire where it should (issue 8 §2), through the actors on virtual time.

Hostile markets on purpose: quotes that never change, markets that go silent, a side with no
bid, a model that stops updating, a blocked signal that should take a weaker position's room.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from tests.conftest import T0

CADENCE = 30   # monitoring.normal_interval_secs
# A market whose quotes never change also trades nothing: liquidity_dried_up would close the
# position first. Tests of other rules switch the recent-volume test off (the harness's default);
# the liquidity tests switch it back on with the shipped default.
QUIET_IS_LIQUID = {"liquidity": {"min_volume": 0}}
LIQUIDITY_ON = {"liquidity": {"min_volume": 50}}


def _ts(event) -> datetime:  # type: ignore[no-untyped-def]
    return datetime.fromisoformat(event["ts"])


def _first_trigger(h, pid: str, condition: str):  # type: ignore[no-untyped-def]
    found = h.events("EXIT_TRIGGERED", position_id=pid, condition=condition)
    return found[0] if found else None


# -- time_based_urgent ----------------------------------------------------------------------------

@pytest.mark.parametrize("streamed", [True, False], ids=["replay-streamed", "paper-polling"])
def test_time_based_urgent_fires_within_one_cadence_of_the_boundary_on_an_unchanging_market(make_engine, streamed):
    h = make_engine(QUIET_IS_LIQUID, streamed=streamed)
    close = T0 + timedelta(minutes=20)
    h.market("T", "0.50", "0.51", close_time=close, push=streamed)   # the only quote there will ever be
    pid = h.enter("T", win_probability="0.60", market_price="0.51")
    boundary = close - timedelta(minutes=5)
    h.run((boundary - h.now()).total_seconds() - 1)
    assert _first_trigger(h, pid, "time_based_urgent") is None        # not before the boundary
    h.run(CADENCE + 1)
    fired = _first_trigger(h, pid, "time_based_urgent")
    assert fired is not None, "time_based_urgent never fired on a market whose quotes do not change"
    assert boundary <= _ts(fired) <= boundary + timedelta(seconds=CADENCE)


def test_a_streamed_position_inside_the_close_window_is_still_evaluated_at_the_cadence(make_engine):
    """Re-armed: an exit that could not be done (no bid at all) is tried again later, with no
    quote change to wake the position."""
    h = make_engine(QUIET_IS_LIQUID, streamed=True)
    close = T0 + timedelta(minutes=10)
    h.market("T", "0.50", "0.51", close_time=close, push=True)
    pid = h.enter("T", win_probability="0.60", market_price="0.51")
    h.venue.set_book("T", [], [(Decimal("0.51"), 100)])   # the bids vanish at the venue; the stream says nothing
    h.run((close - timedelta(minutes=5) - h.now()).total_seconds() + 1)
    assert _first_trigger(h, pid, "time_based_urgent") is not None
    h.run(300)                                 # the exit finds nothing and gives up; the position stays
    assert h.position_ref(pid) is not None
    before = h.evaluations(pid)
    h.run(3 * CADENCE)
    assert h.evaluations(pid) >= before + 2


def test_python_run_py_paper_exercises_time_based_urgent_over_six_seeds(tmp_path, monkeypatch):
    """`python run.py paper --seed 1..6 --sports nba nfl nhl`: the simulated markets close
    shortly after the final whistle, so at least one position is exited by time_based_urgent."""
    import json

    import run

    monkeypatch.delenv("DATABASE_URL", raising=False)
    completed: dict[str, int] = {}
    for seed in range(1, 7):
        audit = tmp_path / f"s{seed}.jsonl"
        assert run.main(["paper", "--seed", str(seed), "--sports", "nba", "nfl", "nhl",
                         "--db", str(tmp_path / f"s{seed}.db"), "--audit", str(audit)]) == 0
        for line in audit.read_text(encoding="utf-8").splitlines():
            e = json.loads(line)
            if e["event"] == "EXIT_COMPLETED" and e.get("filled", 0) > 0:
                completed[e["condition"]] = completed.get(e["condition"], 0) + 1
    assert completed.get("time_based_urgent", 0) >= 1, completed


def test_an_entry_inside_the_close_window_is_refused_not_sold_straight_back(make_engine):
    h = make_engine()
    h.market("T", "0.50", "0.51", close_time=T0 + timedelta(minutes=4, seconds=30))
    sig = h.signal("T", win_probability="0.70", market_price="0.51")
    h.run(0)
    assert not h.events("TRADE_EXECUTED", signal_id=sig.signal_id)
    (rejected,) = h.events("SIGNAL_REJECTED", signal_id=sig.signal_id)
    assert "closes in 4.5 min" in rejected["reason"] and "time_based_urgent" in rejected["reason"]


# -- liquidity_dried_up ---------------------------------------------------------------------------

@pytest.mark.parametrize("streamed", [True, False], ids=["replay-streamed", "paper-polling"])
def test_a_busy_market_that_goes_silent_dries_up(make_engine, streamed):
    """Lifetime volume in the millions, then nothing trades and nothing moves: within one
    window (5 min) and a cadence, liquidity_dried_up fires. Lifetime volume alone never could."""
    h = make_engine(LIQUIDITY_ON, streamed=streamed)
    h.market("T", "0.50", "0.51", volume=2_000_000, push=streamed)
    pid = h.enter("T", win_probability="0.60", market_price="0.51")
    h.run(240)
    assert _first_trigger(h, pid, "liquidity_dried_up") is None     # less history than the window: unknown
    h.run(300 + CADENCE)
    fired = _first_trigger(h, pid, "liquidity_dried_up")
    assert fired is not None and "traded" in fired["detail"]


def test_a_thin_new_market_is_not_judged_on_volume_before_a_window_of_history(make_engine):
    h = make_engine(LIQUIDITY_ON)
    h.market("T", "0.50", "0.51", volume=10)                       # lifetime 10 < 50, but it just opened
    pid = h.enter("T", win_probability="0.60", market_price="0.51")
    h.run(200)
    assert _first_trigger(h, pid, "liquidity_dried_up") is None


def test_a_position_whose_side_has_no_bid_at_all_is_exited_as_illiquid(make_engine):
    h = make_engine()
    h.market("T", "0.50", "0.51")
    pid = h.enter("T", win_probability="0.60", market_price="0.51")
    h.market("T", None, "0.51")                                     # every YES bid pulled
    h.run(CADENCE + 1)
    fired = _first_trigger(h, pid, "liquidity_dried_up")
    assert fired is not None and "no bid" in fired["detail"]
