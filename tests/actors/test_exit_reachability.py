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

    from adapters.cli import app

    monkeypatch.delenv("DATABASE_URL", raising=False)
    completed: dict[str, int] = {}
    for seed in range(1, 7):
        audit = tmp_path / f"s{seed}.jsonl"
        assert app.main(["paper", "--seed", str(seed), "--sports", "nba", "nfl", "nhl",
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
    h.run(2 * CADENCE + 1)                          # seen at the next wake-up, fired once it has lasted 30 s
    fired = _first_trigger(h, pid, "liquidity_dried_up")
    assert fired is not None and "no bid" in fired["detail"]


# -- edge exits and the model probability's age --------------------------------------------------

def test_an_entry_probability_that_aged_past_the_limit_drives_no_edge_exit_and_the_position_says_so_once(make_engine):
    """nba limit 120 s. The entry signal's 0.60 ages like any model update: once it is older
    than the limit, the market catching up (edge 0.60 - 0.59 = 1 point < 2) exits nothing."""
    h = make_engine()
    h.market("T", "0.50", "0.51")
    pid = h.enter("T", win_probability="0.60", market_price="0.51", sport="nba")
    h.run(125)
    h.market("T", "0.59", "0.60")
    h.run(3 * CADENCE)
    assert _first_trigger(h, pid, "early_exit") is None
    said = [e for e in h.events("ALERT") + h.events("MODEL_STALE") if e.get("position_id") == pid]
    assert len(said) == 1 and "old" in said[0]["message"] and said[0]["limit_secs"] == "120"
    # A fresh model estimate brings the edge rules back (and may be said stale again later).
    h.set_model("T", "0.60")
    h.run(CADENCE + 1)
    assert _first_trigger(h, pid, "early_exit") is not None


def test_a_fresh_entry_probability_still_drives_edge_exits(make_engine):
    h = make_engine()
    h.market("T", "0.50", "0.51")
    pid = h.enter("T", win_probability="0.60", market_price="0.51", sport="nba")
    h.market("T", "0.59", "0.60")
    h.run(CADENCE + 1)
    assert _first_trigger(h, pid, "early_exit") is not None


# -- rebalance -----------------------------------------------------------------------------------


# Caps count cost as price x contracts but size with the fee included: 20 contracts at 0.51
# (0.5275 with the fee) fit $10.55 and leave $0.35, less than one more contract of anything.
FULL = "10.55"


def _caps(portfolio=FULL, game=FULL, market=FULL) -> dict:  # type: ignore[no-untyped-def]
    # numbers, not quoted text (the loader refuses "10.55": a quoted number is text)
    return {"exposure_limits": {"per_market_dollars": float(market), "per_game_dollars": float(game),
                                "portfolio_dollars": float(portfolio)}}


def _closed_reason(h, pid):  # type: ignore[no-untyped-def]
    closed = h.events("POSITION_CLOSED", position_id=pid)
    return closed[0]["reason"] if closed else None


@pytest.mark.parametrize("streamed", [True, False], ids=["replay-streamed", "paper-polling"])
@pytest.mark.parametrize("market_price", ["0.50", None], ids=["with-market_price", "without-market_price"])
def test_a_better_signal_blocked_by_the_caps_exits_the_weakest_position_and_is_entered(make_engine, streamed,
                                                                                       market_price):
    h = make_engine(_caps(), streamed=streamed)
    h.market("A", "0.50", "0.51", push=streamed)
    h.market("B", "0.49", "0.50", push=streamed)
    weak = h.enter("A", contracts=20, win_probability="0.58", market_price=market_price and "0.51", game_id="GA")
    h.run(25)    # polling: A's last quote is now older than the 10 s TTL (the offer must refresh it)
    sig = h.signal("B", contracts=20, win_probability="0.90", market_price=market_price, game_id="GB")
    h.run(0)
    asked = h.events("REBALANCE", signal_id=sig.signal_id, step="asked")
    assert asked and "exposure caps" in asked[0]["reason"] and asked[0]["positions"] == weak
    h.run(600)
    assert _closed_reason(h, weak) == "rebalance"
    (routed,) = [e for e in h.events("EXIT_ROUTED", position_id=weak)]
    assert routed["priority"] == "LOW"
    opened = h.events("TRADE_EXECUTED", signal_id=sig.signal_id)
    assert opened and opened[0]["contracts"] == 20, "the better signal was never entered with the freed capital"


def test_the_weakest_current_edge_is_exited_not_the_weakest_entry_edge(make_engine):
    """Two positions; the one that entered with the smaller edge has since gained edge (the
    model moved), so the other, now weakest, is the one exited."""
    h = make_engine(_caps(portfolio="14.63", game="14.63", market="10"))   # 2 x 14 at 0.51 leave $0.35
    h.market("A1", "0.50", "0.51")
    h.market("A2", "0.50", "0.51")
    h.market("B", "0.49", "0.50")
    first = h.enter("A1", contracts=14, win_probability="0.57", market_price="0.51", game_id="G1")
    second = h.enter("A2", contracts=14, win_probability="0.70", market_price="0.51", game_id="G2")
    h.set_model("A1", "0.75")       # A1's edge is now 25 points
    h.set_model("A2", "0.56")       # A2's edge is now 6 points: the weakest now
    sig = h.signal("B", contracts=20, win_probability="0.90", market_price="0.50", game_id="G3")
    h.run(600)
    assert _closed_reason(h, second) == "rebalance"
    assert _closed_reason(h, first) is None
    assert h.events("TRADE_EXECUTED", signal_id=sig.signal_id)


def test_only_a_position_whose_exit_frees_room_under_the_blocking_cap_is_exited(make_engine):
    """The per-game cap blocks the signal: exiting a position in another game frees nothing
    under it, however weak that position is; the weaker one in the same game goes."""
    h = make_engine(_caps(portfolio="100"))
    h.market("OTHER", "0.50", "0.51")
    h.market("SAME", "0.50", "0.51")
    h.market("B", "0.49", "0.50")
    other = h.enter("OTHER", contracts=20, win_probability="0.56", market_price="0.51", game_id="G1")   # weakest
    same = h.enter("SAME", contracts=20, win_probability="0.60", market_price="0.51", game_id="G2")
    sig = h.signal("B", contracts=20, win_probability="0.90", market_price="0.50", game_id="G2")
    h.run(600)
    assert _closed_reason(h, other) is None
    assert _closed_reason(h, same) == "rebalance"
    assert h.events("TRADE_EXECUTED", signal_id=sig.signal_id)


def test_no_position_is_exited_when_none_is_beaten_by_the_margin(make_engine):
    h = make_engine(_caps())
    h.market("A", "0.50", "0.51")
    h.market("B", "0.49", "0.50")
    held = h.enter("A", contracts=20, win_probability="0.90", market_price="0.51", game_id="GA")
    sig = h.signal("B", contracts=20, win_probability="0.56", market_price="0.50", game_id="GB")
    h.run(120)
    assert _closed_reason(h, held) is None
    assert not h.events("TRADE_EXECUTED", signal_id=sig.signal_id)
