"""`python run.py audit` after a restart (issue 10 §2): a fill the log holds twice is counted once,
and reconciliation's corrections (the venue holds fewer) are audit events the rebuild understands
and ledger entries a resumed position respects."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from adapters.audit.check import compare, read_database
from adapters.audit.history import lines_of, rebuild_positions
from adapters.engine.build import build_engine
from models.market import Quote, Side
from models.orders import Action, OrderRequest, TimeInForce
from models.position import PositionStatus
from adapters.storage.tables import FillRow

TICKER = "KXAUDIT-R"


def audit_against_db(records, repo):  # type: ignore[no-untyped-def]
    audited = rebuild_positions(lines_of(records))
    return audited, compare(audited, read_database(repo, audited))


def _partly_sold(make_engine):  # type: ignore[no-untyped-def]
    """10 bought; a HIGH exit (liquidity dried up) rests at 0.55 and sells 4 of them."""
    a = make_engine()
    a.market(TICKER, "0.49", "0.50", push=True)
    pid = a.enter(TICKER, "yes", contracts=10, win_probability="0.80", market_price="0.50")
    a.levels(TICKER, [(Decimal("0.55"), 4)], [(Decimal("0.60"), None)])
    a.run_until(lambda: a.events("ORDER_FILLED", position_id=pid), limit=120)
    a.run(0)
    a.system.flush()
    return a, pid


def test_a_fill_written_twice_to_the_audit_log_is_counted_once(make_engine):
    a, pid = _partly_sold(make_engine)
    (filled,) = a.events("ORDER_FILLED", position_id=pid)
    assert filled["fill_id"] == f"{filled['order_id']}-4" and filled["filled_total"] == 4
    log = list(a.audit)
    log.insert(log.index(filled) + 1, dict(filled))          # written before a kill and again after
    audited, report = audit_against_db(log, a.repo)
    assert audited[pid].contracts == 6 == a.position(pid).contracts
    assert report.differences == ()


def test_a_fill_told_again_wider_after_a_restart_replaces_the_narrower_one(make_engine):
    """Killed after the executor logged 4 filled but before the Store wrote that fill; 2 more
    fill while down. The restart's reconciliation logs the order's 6 (0..6), which covers the
    4 (0..4) already in the log: the rebuild counts 6, as the ledger does."""
    a, pid = _partly_sold(make_engine)
    (filled,) = a.events("ORDER_FILLED", position_id=pid)
    venue = a.venue
    a.stop()
    FillRow.delete().where(FillRow.order_id == filled["order_id"]).execute()      # the write that was lost
    a.repo.update_order(_unfilled(venue.get_order(filled["order_id"])))              # ... and the row's
    venue.set_quote(Quote(TICKER, a.now(), Decimal("0.55"), Decimal("0.60"), 2, None, None, 1000, None))
    assert venue.get_order(filled["order_id"]).filled_count == 6
    audit: list = []
    b = build_engine("paper", a.config, db_path=str(a.db_path), start=a.now(), recorder=audit, seed=0,
                     venue_factory=lambda clock: venue)
    try:
        b.system.flush()
        again = [e for e in audit if e["event"] == "ORDER_FILLED"]
        assert [(e["contracts"], e["filled_total"]) for e in again] == [(6, 6)]
        audited, report = audit_against_db(list(a.audit) + audit, b.repository)
        assert audited[pid].contracts == 4 == b.repository.load_position(pid).contracts
        assert report.differences == ()
    finally:
        b.stop()


def _unfilled(snap):  # type: ignore[no-untyped-def]
    import dataclasses

    return dataclasses.replace(snap, filled_count=0, avg_fill_price=None, fees=Decimal(0))


def test_audit_rebuilds_a_position_reconciliation_shrank_to_follow_the_venue(make_engine):
    """4 of 10 contracts sold by hand while the engine was down. The restart follows the venue
    (6), says so in the audit log (POSITION_RECONCILED), writes it where the ledger rebuild finds
    it (the resumed actor holds 6, not 10), and the audit rebuild agrees with the database, then
    and after the 6 are sold."""
    a = make_engine()
    a.market(TICKER, "0.49", "0.50", push=True)
    pid = a.enter(TICKER, "yes", contracts=10, win_probability="0.80", market_price="0.50")
    venue = a.venue
    a.stop()
    venue.place_order(OrderRequest("by-hand-1", TICKER, Side.YES, Action.SELL, 4, Decimal("0.49"), TimeInForce.IOC))
    assert venue.holding(TICKER, Side.YES) == 6
    audit: list = []
    b = build_engine("paper", a.config, db_path=str(a.db_path), start=a.now(), recorder=audit, seed=0,
                     venue_factory=lambda clock: venue)
    try:
        (fixed,) = [e for e in audit if e["event"] == "POSITION_RECONCILED"]
        assert (fixed["position_id"], fixed["contracts_before"], fixed["contracts"], fixed["removed"]) == (pid, 10, 6, 4)
        b.system.flush()
        actor = b.system.proxy_attr(b.system.refs.supervisor, "positions")[pid]
        assert actor.proxy().state.get(timeout=10).contracts == 6
        assert b.repository.load_position(pid).contracts == 6
        audited, report = audit_against_db(list(a.audit) + audit, b.repository)
        assert audited[pid].contracts == 6 and report.differences == ()
        # The market falls through the stop: the 6 held are sold, no more.
        q = Quote(TICKER, b.clock.now(), Decimal("0.30"), Decimal("0.31"), None, None, None, 1000, None)
        venue.set_quote(q)
        b.system.push_quote(q)
        b.scheduler.run_for(timedelta(seconds=60))
        b.system.flush()
        p = b.repository.load_position(pid)
        assert (p.status, p.contracts, venue.holding(TICKER, Side.YES)) == (PositionStatus.CLOSED, 0, 0)
        assert not [e for e in audit if e["event"] == "ORDER_REJECTED"]
        audited, report = audit_against_db(list(a.audit) + audit, b.repository)
        assert audited[pid].status == "closed" and report.differences == ()
    finally:
        b.stop()


def test_audit_rebuilds_a_position_reconciliation_closed_as_not_on_the_venue(make_engine):
    a = make_engine()
    a.market(TICKER, "0.49", "0.50", push=True)
    pid = a.enter(TICKER, "yes", contracts=10, win_probability="0.80", market_price="0.50")
    venue = a.venue
    a.stop()
    venue.place_order(OrderRequest("by-hand-2", TICKER, Side.YES, Action.SELL, 10, Decimal("0.49"), TimeInForce.IOC))
    audit: list = []
    b = build_engine("paper", a.config, db_path=str(a.db_path), start=a.now(), recorder=audit, seed=0,
                     venue_factory=lambda clock: venue)
    try:
        assert b.startup.report.positions_closed == [pid]
        audited, report = audit_against_db(list(a.audit) + audit, b.repository)
        assert (audited[pid].status, audited[pid].contracts) == ("closed", 0)
        assert report.differences == ()
    finally:
        b.stop()
