"""Reliability: racing signals, supervision (crash -> restart from the database), and a
process restart that resumes open positions from the database and the fills ledger."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from models.market import Side
from models.commands import ForwardToPosition
from models.events import ModelProbabilityUpdated
from models.orders import Action
from models.position import PositionStatus
from models.signal import TradingSignal

TICKER = "KXTEST-RACE"


def test_a_thousand_identical_signals_from_fifty_threads_open_exactly_one_position(make_engine):
    h = make_engine()
    h.market(TICKER, "0.49", "0.50", push=True)
    sig = TradingSignal("dup-1", h.now(), "G1", "nba", TICKER, "paper", Side.YES, "default",
                        Decimal("0.70"), Decimal("0.50"), contracts=5)
    barrier = threading.Barrier(50)

    def shoot() -> None:
        barrier.wait()
        for _ in range(20):
            h.system.push_signal(sig)

    threads = [threading.Thread(target=shoot) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    h.run(0)
    assert len(h.events("SIGNAL_RECEIVED")) == 1000
    assert len(h.events("TRADE_EXECUTED")) == 1
    assert len(h.events("SIGNAL_REJECTED")) == 999
    h.system.flush()
    assert [p.contracts for p in h.repo.load_open_positions()] == [5]
    assert h.venue.holding(TICKER, Side.YES) == 5


def test_signals_for_one_market_and_side_from_different_sources_are_deduplicated(make_engine):
    h = make_engine()
    h.market(TICKER, "0.49", "0.50", push=True)
    for n, source in enumerate(("model", "espn-model", "signals-file")):
        h.system.push_signal(TradingSignal(f"src-{n}", h.now(), "G1", "nba", TICKER, "paper", Side.YES, "default",
                                           Decimal("0.70"), Decimal("0.50"), source=source, contracts=3))
    h.run(0)
    assert len(h.events("TRADE_EXECUTED")) == 1
    reasons = [e["reason"] for e in h.events("SIGNAL_REJECTED")]
    assert len(reasons) == 2 and all("already open or pending" in r for r in reasons)
    # The other side of the same market is refused too: Kalshi nets the two sides (paper follows it).
    h.system.push_signal(TradingSignal("src-no", h.now(), "G1", "nba", TICKER, "paper", Side.NO, "default",
                                       Decimal("0.70"), Decimal("0.50"), contracts=3))
    h.run(0)
    assert len(h.events("TRADE_EXECUTED")) == 1
    assert "nets the two sides" in h.events("SIGNAL_REJECTED", signal_id="src-no")[0]["reason"]


def _crash(h, pid: str) -> None:
    # A malformed message (a probability that is not a number) raises inside the handler.
    h.system.rt.send(h.system.refs.supervisor, ForwardToPosition(pid, ModelProbabilityUpdated(TICKER, "bad", h.now())))
    h.run(0)


def test_a_crashed_position_actor_is_restarted_from_the_database_and_monitored_again(make_engine):
    h = make_engine()
    h.market(TICKER, "0.49", "0.50", push=True)
    pid = h.enter(TICKER, "no", contracts=10, win_probability="0.70", market_price="0.51")
    h.market(TICKER, "0.40", "0.41", push=True)       # NO bid 0.59: +18% -> stage 1 sells 50%
    h.run_until(lambda: h.position(pid).partial_stages_done == 1, limit=600)
    before = h.position(pid)
    old_ref = h.position_ref(pid)
    _crash(h, pid)
    assert h.events("ACTOR_CRASHED", key=pid)
    assert h.events("ACTOR_RESTARTED", position_id=pid)
    new_ref = h.position_ref(pid)
    assert new_ref is not None and new_ref.actor_urn != old_ref.actor_urn and new_ref.is_alive()
    after = h.position(pid)
    assert (after.contracts, after.partial_stages_done, after.peak_price, after.trailing_stop_active) == (
        before.contracts, before.partial_stages_done, before.peak_price, before.trailing_stop_active)
    evaluations = h.evaluations(pid)
    h.run(30)                                           # within one cadence it is monitored again
    assert h.evaluations(pid) > evaluations


def test_past_the_restart_limit_the_position_is_flagged_alerted_and_its_exit_escalated(make_engine):
    h = make_engine()
    h.market(TICKER, "0.49", "0.50", push=True)
    pid = h.enter(TICKER, "no", contracts=4, win_probability="0.70", market_price="0.51")
    for _ in range(4):
        _crash(h, pid)
        h.run(1)
    assert len(h.events("ACTOR_RESTARTED", position_id=pid)) == 4
    alerts = [e for e in h.events("ALERT") if e.get("position_id") == pid]
    assert len(alerts) == 1 and "flagged" in alerts[0]["message"] and alerts[0]["restarts_in_window"] == 4
    h.market(TICKER, "0.49", "0.50", push=True)
    h.run_until(lambda: h.position(pid).status is PositionStatus.CLOSED, limit=120)
    assert h.position(pid).exit_reason == "circuit_breaker"
    routed = h.events("EXIT_ROUTED", position_id=pid)
    assert routed and routed[0]["priority"] == "CRITICAL"


def test_a_restarted_process_resumes_open_positions_with_their_state(make_engine, tmp_path):
    a = make_engine()
    a.market(TICKER, "0.49", "0.50", push=True)
    pid = a.enter(TICKER, "yes", contracts=10, win_probability="0.80", market_price="0.50")
    a.market(TICKER, "0.58", "0.59", push=True)           # +16%: stage 1 sells 5
    a.run_until(lambda: a.position(pid).partial_stages_done == 1, limit=600)
    venue = a.venue
    held = venue.holding(TICKER, Side.YES)
    state_a = a.position(pid)
    a.stop()

    from adapters.cli.running import build_paper_engine
    from config.loader import load_config

    audit: list = []
    b = build_paper_engine(load_config(), a.now(), db_path=str(a.db_path), audit_path=None, fresh=False,
                           recorder=audit, venue_factory=lambda clock: venue)
    try:
        assert b.startup.resumed == 1          # the builder reconciled, started and resumed it
        b.scheduler.run_for(__import__("datetime").timedelta(seconds=1))
        b.system.flush()
        state_b = b.repository.load_position(pid)
        assert (state_b.contracts, state_b.partial_stages_done, state_b.peak_price) == (
            state_a.contracts, state_a.partial_stages_done, state_a.peak_price) == (held, 1, state_a.peak_price)
        # A second signal for the same market and side is refused: the restored key holds.
        b.system.push_signal(TradingSignal("again", b.clock.now(), "G1", "nba", TICKER, "paper", Side.YES,
                                           "default", Decimal("0.9"), Decimal("0.59"), contracts=3))
        b.scheduler.run_for(__import__("datetime").timedelta(seconds=1))
        assert [e["event"] for e in audit if e.get("signal_id") == "again"][-1] == "SIGNAL_REJECTED"
        # The price falls through the trailing stop: the resumed actor sells exactly what is held.
        venue.set_quote(__import__("models.market", fromlist=["Quote"]).Quote(
            TICKER, b.clock.now(), Decimal("0.50"), Decimal("0.51"), None, None, None, 1000, None))
        b.system.push_quote(venue.get_quotes([TICKER])[TICKER])
        b.scheduler.run_for(__import__("datetime").timedelta(seconds=120))
        b.system.flush()
        assert b.repository.load_position(pid).status is PositionStatus.CLOSED
        assert venue.holding(TICKER, Side.YES) == 0
        sells = [o for o in venue.list_orders(TICKER) if o.action is Action.SELL]
        assert sum(o.filled_count for o in sells) == 10
    finally:
        b.stop()


def test_after_a_crash_mid_exit_reconciliation_cancels_the_orphan_and_counts_its_fills(make_engine):
    """Process A dies while a partial exit rests (and part of it fills while nobody watches).
    Before B starts any actor, reconcile() cancels the orphan, records the fill in the ledger and
    the resumed position holds exactly what the venue says; no order is sent twice."""
    from datetime import timedelta

    from adapters.engine.reconcile import reconcile
    from config.loader import load_config
    from models.market import Quote
    from adapters.cli.running import build_paper_engine

    a = make_engine()
    a.market(TICKER, "0.49", "0.50", push=True)
    pid = a.enter(TICKER, "yes", contracts=10, win_probability="0.80", market_price="0.50")
    # +16%: stage 1 (MEDIUM) rests 5 at the mid (0.59) above the bid and does not fill.
    a.market(TICKER, "0.58", "0.60", push=True)
    a.run(1)
    resting = [o for o in a.sells(TICKER) if not o.is_done]
    assert len(resting) == 1 and resting[0].count == 5
    venue = a.venue
    a.stop()                                     # the executor is gone; its order still rests
    venue.set_quote(Quote(TICKER, a.now(), Decimal("0.59"), Decimal("0.60"), 3, None, None, 1000, None))
    assert venue.get_order(resting[0].order_id).filled_count == 3      # filled while down

    audit: list = []
    orders_before = len(venue.list_orders(TICKER))
    b = build_paper_engine(load_config(), a.now(), db_path=str(a.db_path), audit_path=None, fresh=False,
                           recorder=audit, venue_factory=lambda clock: venue)
    try:
        report = b.startup.report                  # the builder's start-up reconciliation
        assert report.orders_canceled == 1 and report.fills_recorded == 1
        assert len(venue.list_orders(TICKER)) == orders_before          # nothing new sent
        assert venue.get_order(resting[0].order_id).is_done
        b.system.flush()
        assert b.repository.load_position(pid).contracts == 7 == venue.holding(TICKER, Side.YES)
        assert b.startup.resumed == 1
        b.scheduler.run_for(timedelta(seconds=5))
        # A second reconcile finds nothing left to do: idempotent.
        again = reconcile(venue, b.repository, b.audit, b.clock)
        assert (again.orders_canceled, again.fills_recorded, again.alerts) == (0, 0, [])
    finally:
        b.stop()


def test_reconcile_closes_a_position_the_venue_no_longer_holds_and_alerts(make_engine):
    from adapters.engine.reconcile import reconcile

    h = make_engine()
    h.market(TICKER, "0.49", "0.50", push=True)
    pid = h.enter(TICKER, "yes", contracts=4, win_probability="0.80", market_price="0.50")
    h.system.flush()
    h.venue.settle(TICKER, Side.NO)              # settled while nobody was watching
    report = reconcile(h.venue, h.repo, h.engine.audit, h.clock)
    assert report.positions_closed == [pid]
    assert h.repo.load_position(pid).status is PositionStatus.CLOSED
    assert any(pid in a for a in report.alerts)


def test_a_crashed_executor_is_restarted_and_takes_over_its_resting_order(make_engine):
    """The executor of a resting exit dies; the router starts it again for the same exit. Its
    first order meets the old one at the venue (same client_order_id), looks it up, cancels it
    when it times out and walks on: one live order at a time, nothing sold twice."""
    from models.events import VenueResult

    h = make_engine()
    h.market(TICKER, "0.58", "0.60", push=True)
    h.market(TICKER, "0.49", "0.50", push=True)
    pid = h.enter(TICKER, "yes", contracts=10, win_probability="0.80", market_price="0.50")
    h.market(TICKER, "0.58", "0.60", push=True)          # +16%: stage 1 rests 5 at the mid
    (routed,) = h.events("EXIT_ROUTED", position_id=pid)
    exit_id = routed["exit_id"]
    executor = h.system.refs.exit_router.proxy().executor_ref(pid).get(timeout=10)
    # A garbage venue answer makes its handler raise: the executor dies for real.
    h.system.rt.send(executor, VenueResult("x", "place_order", value="garbage"))
    h.run(0)
    assert not executor.is_alive()
    assert h.events("ACTOR_CRASHED", key=exit_id)
    assert h.events("ACTOR_RESTARTED", exit_id=exit_id)
    h.market(TICKER, "0.59", "0.60")                      # the walk finds a buyer
    h.run_until(lambda: h.position(pid).partial_stages_done == 1, limit=300)
    assert h.double_exit_orders == []
    assert not h.events("ORDER_REJECTED")
    assert h.position(pid).contracts == 5 == h.venue.holding(TICKER, Side.YES)


def test_untrustworthy_quotes_and_signals_are_refused_at_the_door(make_engine):
    from models.market import Quote

    h = make_engine()
    h.market(TICKER, "0.49", "0.50", push=True)
    pid = h.enter(TICKER, "yes", contracts=5, win_probability="0.60", market_price="0.50")
    peak = h.position(pid).peak_price
    for bad in (Quote(TICKER, h.now(), Decimal("0.90"), Decimal("0.50")),           # crossed
                Quote(TICKER, h.now(), Decimal("0.5000001"), Decimal("0.51")),      # finer than stored
                Quote(TICKER, h.now(), Decimal("1.5"), None)):                       # not a price
        h.system.push_quote(bad)
    h.run(0)
    assert h.position(pid).peak_price == peak
    assert not h.events("EXIT_TRIGGERED", position_id=pid)
    assert h.system.proxy_attr(h.system.refs.price_cache, "rejected") == 3
    h.system.push_signal(TradingSignal("p15", h.now(), "G1", "nba", "KXOTHER", "paper", Side.YES, "default",
                                       Decimal("1.5"), Decimal("0.50")))
    h.system.push_signal(TradingSignal("neg", h.now(), "G1", "nba", "KXOTHER", "paper", Side.NO, "default",
                                       Decimal("0.7"), Decimal("0.50"), contracts=-3))
    h.run(0)
    reasons = {e["signal_id"]: e["reason"] for e in h.events("SIGNAL_REJECTED")}
    assert "not between 0 and 1" in reasons["p15"] and "positive whole number" in reasons["neg"]
    assert not h.events("ACTOR_CRASHED")


def test_a_partial_stage_that_sold_while_down_is_done_after_the_restart(make_engine):
    """Stage 1 rests; the process stops; the order fills while nobody watches. Reconciliation
    marks stage 1 done, so the resumed position does not sell its 50% a second time."""
    from datetime import timedelta

    from adapters.engine.reconcile import reconcile
    from config.loader import load_config
    from models.market import Quote
    from adapters.cli.running import build_paper_engine

    a = make_engine()
    a.market(TICKER, "0.49", "0.50", push=True)
    pid = a.enter(TICKER, "yes", contracts=10, win_probability="0.80", market_price="0.50")
    a.market(TICKER, "0.58", "0.60", push=True)          # +16%: stage 1 rests 5 at 0.59
    venue = a.venue
    a.stop()
    venue.set_quote(Quote(TICKER, a.now(), Decimal("0.59"), Decimal("0.60"), None, None, None, 1000, None))
    audit: list = []
    b = build_paper_engine(load_config(), a.now(), db_path=str(a.db_path), audit_path=None, fresh=False,
                           recorder=audit, venue_factory=lambda clock: venue)
    try:
        state = b.repository.load_position(pid)     # as the builder's reconciliation left it
        assert (state.contracts, state.partial_stages_done) == (5, 1)
        assert b.startup.resumed == 1
        b.scheduler.run_for(timedelta(seconds=120))     # still +18%: stage 2 is at +25%, nothing fires
        assert [e for e in audit if e["event"] == "EXIT_ROUTED"] == []
        assert venue.holding(TICKER, Side.YES) == 5
    finally:
        b.stop()


def test_a_core_actor_that_raises_drops_that_message_and_is_restarted(make_engine):
    """The supervisor (which everyone depends on) meets a message that makes it raise: the
    message is dropped with an ALERT naming it, the supervisor is restarted from persisted
    state, and it still starts and routes to positions afterwards."""
    from models.commands import StartPosition

    h = make_engine()
    h.system.rt.send(h.system.refs.supervisor, StartPosition("not a position state"))
    h.run(0)
    assert h.system.refs.supervisor.is_alive()
    (crash,) = h.events("ACTOR_CRASHED", actor="supervisor")
    assert crash["message_type"] == "StartPosition" and "dropped" in crash["message"]
    assert h.events("ACTOR_RESTARTED", actor="supervisor")
    h.market(TICKER, "0.49", "0.50", push=True)
    pid = h.enter(TICKER, "yes", contracts=2)             # the system still works
    assert h.position_ref(pid) is not None
