"""Findings of a correctness review, each pinned: fills counted once across executor recovery,
reconciliation relative to the ledger, restart-absorbed fills reported, and no exit ends while
its order's state is unknown."""
from __future__ import annotations

import dataclasses
from decimal import Decimal

from models.market import Quote, Side

TICKER_reconcile = "KXTEST-RV4"

def test_reconcile_counts_a_fill_once_when_the_order_row_lags_the_ledger(make_engine):
    from adapters.engine.reconcile import reconcile
    from config.loader import load_config
    from adapters.cli.running import build_paper_engine
    a = make_engine()
    a.market(TICKER_reconcile, "0.49", "0.50", push=True)
    pid = a.enter(TICKER_reconcile, "yes", contracts=10, win_probability="0.80", market_price="0.50")
    a.levels(TICKER_reconcile, [(Decimal("0.55"), 4)], [(Decimal("0.60"), None)])
    a.run_until(lambda: a.events("ORDER_FILLED", position_id=pid), limit=120)
    a.run(0)
    (o,) = [o for o in a.sells(TICKER_reconcile)]
    snap = a.venue.get_order(o.order_id)
    assert snap.filled_count == 4 and not snap.is_done
    venue = a.venue
    a.stop()
    # kill -9 after the Store committed RecordFill but before RecordOrderUpdate: the row still says 0 filled
    a.repo.update_order(dataclasses.replace(snap, filled_count=0, avg_fill_price=None, fees=Decimal(0)))
    venue.set_quote(Quote(TICKER_reconcile, a.now(), Decimal("0.55"), Decimal("0.60"), 2, None, None, 1000, None))
    assert venue.holding(TICKER_reconcile, Side.YES) == 4
    audit = []
    b = build_paper_engine(load_config(), a.now(), db_path=str(a.db_path), audit_path=None, fresh=False,
                           recorder=audit, venue_factory=lambda clock: venue)
    try:
        report = b.startup.report       # the builder reconciled before starting anything
        print("alerts", report.alerts)
        fills = [f for oo in b.repository.orders_for(pid) if oo.order_id for f in b.repository.fills_for_order(oo.order_id)]
        print("ledger sells", [(f.fill_id, f.count) for f in fills if f.action.value == "sell"])
        p = b.repository.load_position(pid)
        print("db", p.status, p.contracts, "venue", venue.holding(TICKER_reconcile, Side.YES))
        assert p.contracts == venue.holding(TICKER_reconcile, Side.YES)
    finally:
        b.stop()

from models.events import VenueResult

TICKER_recovery = "KXTEST-RV"

def test_a_recovered_executor_does_not_count_again_fills_reported_before_the_crash(make_engine):
    h = make_engine()
    h.market(TICKER_recovery, "0.49", "0.50", push=True)
    pid = h.enter(TICKER_recovery, "yes", contracts=10, win_probability="0.80", market_price="0.50")
    assert h.venue.holding(TICKER_recovery, Side.YES) == 10
    # spread 5c -> liquidity_dried_up (HIGH): GTC at the best bid 0.55; only 4 there
    h.levels(TICKER_recovery, [(Decimal("0.55"), 4)], [(Decimal("0.60"), None)])
    h.run_until(lambda: h.events("EXIT_ROUTED", position_id=pid), limit=120)
    h.run(0)
    print([ (e["event"], e.get("contracts"), e.get("price")) for e in h.audit if e["event"].startswith(("EXIT","ORDER"))])
    assert h.venue.holding(TICKER_recovery, Side.YES) == 6
    assert h.position(pid).contracts == 6
    # 2 more fill while the order rests (the executor does not see it yet)
    h.levels(TICKER_recovery, [(Decimal("0.55"), 2)], [(Decimal("0.60"), None)])
    assert h.venue.holding(TICKER_recovery, Side.YES) == 4
    executor = h.system.refs.exit_router.proxy().executor_ref(pid).get(timeout=10)
    h.system.rt.send(executor, VenueResult("x", "place_order", value="garbage"))
    h.run(0)
    assert h.events("ACTOR_RESTARTED")
    h.system.flush()
    fills = [f for o in h.repo.orders_for(pid) if o.order_id for f in h.repo.fills_for_order(o.order_id)]
    print("ledger sells", [(f.fill_id, f.count) for f in fills if f.action.value == "sell"])
    print("position", h.position(pid).contracts, h.position(pid).status, "venue holds", h.venue.holding(TICKER_recovery, Side.YES))
    assert h.position(pid).contracts == h.venue.holding(TICKER_recovery, Side.YES)

from models.commands import ForwardToPosition
from models.events import ExitFill, ModelProbabilityUpdated
from models.store_commands import RecordFill
from models.orders import Action, Fill
from models.priorities import Priority

TICKER_restart_pnl = "KXTEST-RV2"

def test_fills_taken_in_by_a_restart_are_reported_and_close_the_position(make_engine):
    h = make_engine({"liquidity": {"breach_for_secs": 0}})     # the wide phantom book exits at once
    h.market(TICKER_restart_pnl, "0.49", "0.50", push=True)
    pid = h.enter(TICKER_restart_pnl, "yes", contracts=10, win_probability="0.80", market_price="0.50")
    h.phantom(TICKER_restart_pnl, "0.55", "0.60")          # spread 5c: HIGH liquidity exit rests 10 at 0.55
    (routed,) = h.events("EXIT_ROUTED", position_id=pid)
    (placed,) = [e for e in h.events("ORDER_PLACED") if e.get("exit_id") == routed["exit_id"]]
    cid = placed["client_order_id"]
    # the venue fills it (a buyer comes in); the executor reports it as the crash happens
    h.venue.set_quote(Quote(TICKER_restart_pnl, h.now(), Decimal("0.56"), Decimal("0.60"), None, None, None, 1000, None))
    snap = h.venue.find_order(cid)
    assert snap.filled_count == 10 and h.venue.holding(TICKER_restart_pnl, Side.YES) == 0
    fid = f"{snap.order_id}-10"
    rt, sup = h.system.rt, h.system.refs.supervisor
    rt.send(h.system.refs.store, RecordFill(Fill(fid, snap.order_id, cid, TICKER_restart_pnl, Side.YES, Action.SELL, 10,
                                                 Decimal("0.55"), Decimal("0"), h.now())))
    rt.send(sup, ForwardToPosition(pid, ModelProbabilityUpdated(TICKER_restart_pnl, "bad", h.now())))   # crash
    rt.send(sup, ForwardToPosition(pid, ExitFill(routed["exit_id"], "liquidity_dried_up", Priority.HIGH, 10,
                                                 Decimal("0.55"), Decimal("0"), snap.order_id, cid, None, h.now(), fid)))
    h.run(0)
    assert h.events("ACTOR_CRASHED", key=pid)
    pos = h.position(pid)
    print("db position:", pos.status, pos.contracts, pos.realized_pnl)
    daily = h.system.proxy_attr(h.system.refs.risk_manager, "realized")
    print("risk daily:", daily)
    print("POSITION_CLOSED events:", h.events("POSITION_CLOSED", position_id=pid))
    h.market(TICKER_restart_pnl, "0.49", "0.50", push=True)
    sig = h.signal(TICKER_restart_pnl, "yes", contracts=5, win_probability="0.80", market_price="0.50")
    h.run(0)
    print("new signal:", [e["reason"] for e in h.events("SIGNAL_REJECTED", signal_id=sig.signal_id)])
    assert h.events("TRADE_EXECUTED", signal_id=sig.signal_id), "re-entry refused"

def test_an_exit_whose_order_state_is_unknown_holds_and_never_places_beside_it(make_engine):
    from models.venue import VenueUnavailable

    ticker = "KXTEST-RV3"
    h = make_engine()
    h.market(ticker, "0.49", "0.50", push=True)
    pid = h.enter(ticker, "yes", contracts=10, win_probability="0.80", market_price="0.50")
    h.venue.inject_fault_after("place_order", VenueUnavailable("timeout"), 1)   # created, answer lost
    h.venue.inject_fault("find_order", VenueUnavailable("503"), 200)           # look-ups fail for a while
    h.phantom(ticker, "0.58", "0.60")          # +16%: stage 1 sells 5 at 0.59 (rests: venue bid 0.49)
    h.run(1200)
    assert h.double_exit_orders == []
    assert not h.events("EXIT_GAVE_UP")
    assert any("cannot confirm the state" in e["message"] for e in h.events("ALERT"))
    h.venue.clear_faults()   # the venue answers again: the order is found, then the breaker's exit runs
    h.market(ticker, "0.59", "0.60")
    h.run(600)
    assert h.double_exit_orders == [] and not h.events("ORDER_REJECTED")
    assert h.position(pid).contracts == h.venue.holding(ticker, Side.YES) == 0


def test_new_fill_is_what_an_order_filled_beyond_what_is_known():
    from models.ledger import FillTotals, after, new_fill
    from models.orders import Action, OrderSnapshot, OrderStatus

    snap = OrderSnapshot("O1", "c1", "T", Side.YES, Action.SELL, 10, Decimal("0.55"), OrderStatus.RESTING,
                         filled_count=6, avg_fill_price=Decimal("0.56"), fees=Decimal("0.10"))
    known = FillTotals(4, Decimal("2.20"), Decimal("0.07"))                     # 4 at 0.55
    assert new_fill(known, snap) == (2, Decimal("0.580000"), Decimal("0.03"))   # (3.36 - 2.20) / 2
    assert new_fill(after(snap), snap)[0] == 0 and new_fill(FillTotals(7), snap)[0] == 0
