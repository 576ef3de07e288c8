"""A settlement that arrives while an exit is in flight settles only what is still held.

Found by the fault simulation (seeds 0 and 8 of `python run.py simulate`): a resting exit
order filled, the market settled before the executor had seen the fill, and the position
booked every contract at the settlement payout; the sale's fill then reached a closed position
and was dropped, so the database said more was settled than was held.
"""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from actors.position import SETTLEMENT_WAIT
from models.market import Quote, Side
from models.position import PositionStatus
from models.records import ExitStatus
TICKER = "KXTEST-SETTLE"


def _exit_resting(h) -> str:
    h.market(TICKER, "0.49", "0.50", push=True)
    pid = h.enter(TICKER, "yes", contracts=10, win_probability="0.80", market_price="0.50")
    h.market(TICKER, "0.58", "0.60", push=True)       # +16%: stage 1 rests 5 at the mid, 0.59
    h.run(1)
    resting = [o for o in h.sells(TICKER) if not o.is_done]
    assert len(resting) == 1 and resting[0].count == 5 and resting[0].limit_price == Decimal("0.59")
    return pid


def test_a_settlement_during_an_exit_settles_only_what_the_exit_left(make_engine):
    h = make_engine()
    pid = _exit_resting(h)
    # The market trades through the order (the engine is not told), then settles YES.
    h.venue.set_quote(Quote(TICKER, h.now(), Decimal("0.59"), Decimal("0.60"), None, None, None, 1000, None))
    assert h.venue.holding(TICKER, Side.YES) == 5
    h.settle(TICKER, "yes")
    # The exit is canceled at once (review of issue 13) and the settlement waits for the cancel's
    # answer, which says 5 sold: only the 5 left are settled.
    h.run_until(lambda: h.position(pid).status is PositionStatus.CLOSED, limit=120)
    outcomes = [x for x in h.exits(pid) if x.status is not ExitStatus.TRIGGERED]
    assert sorted((x.reason, x.contracts) for x in outcomes) == [("partial_exit_target", 5), ("settlement", 5)]
    settled = h.events("POSITION_SETTLED", position_id=pid)
    assert [e["contracts"] for e in settled] == [5]
    # 5 sold at 0.59 and 5 paid 1: realized P&L counts both, less the fees.
    p = h.position(pid)
    assert p.realized_pnl == (Decimal("0.09") * 5 + Decimal("0.50") * 5 - p.entry_fees - p.exit_fees)


def test_a_settlement_waits_at_most_settlement_wait_for_an_exit_that_never_answers(make_engine, tmp_path):
    """After a process restart a position comes back EXITING with no executor behind it: the
    settlement still closes it, once SETTLEMENT_WAIT has passed."""
    from config.loader import load_config
    from adapters.cli.running import build_paper_engine

    a = make_engine()
    pid = _exit_resting(a)
    assert a.position(pid).status is PositionStatus.EXITING
    venue = a.venue
    a.stop()
    audit: list = []
    b = build_paper_engine(load_config(), a.now(), db_path=str(a.db_path), audit_path=None, fresh=False,
                           recorder=audit, venue_factory=lambda clock: venue)
    try:
        assert b.startup.resumed == 1
        b.scheduler.run_for(timedelta(seconds=1))
        from models.events import MarketSettled
        venue.settle(TICKER, Side.NO)
        b.system.settle(MarketSettled(TICKER, Side.NO, b.clock.now()))
        b.scheduler.run_for(SETTLEMENT_WAIT - timedelta(seconds=5))
        # (The resumed position re-triggers its exit; the settlement now cancels that exit at once
        # (review of issue 13), so it may close well before SETTLEMENT_WAIT: never after it.)
        b.scheduler.run_for(timedelta(seconds=10))
        b.system.flush()
        p = b.repository.load_position(pid)
        assert (p.status, p.exit_reason, p.contracts) == (PositionStatus.CLOSED, "settlement", 0)
        assert [e["contracts"] for e in audit if e["event"] == "POSITION_SETTLED"] == [10]
    finally:
        b.stop()


def test_a_position_whose_entry_was_in_flight_at_the_settlement_is_settled_on_start(make_engine):
    """Found by seed 462: the entry's create timed out after the venue acted, its look-up was
    rate-limited, and the market settled meanwhile; the position opened afterwards never heard
    of the settlement and stayed open on a market the venue had already paid out."""
    from models.venue import RateLimited, VenueUnavailable

    h = make_engine()
    h.market(TICKER, "0.49", "0.50", push=True)
    h.venue.inject_fault_after("place_order", VenueUnavailable("timed out"))
    h.venue.inject_fault("find_order", RateLimited("too many requests"))
    sig = h.signal(TICKER, "yes", contracts=6, win_probability="0.80", market_price="0.50")
    h.run(0)
    assert h.venue.holding(TICKER, Side.YES) == 6 and not h.events("TRADE_EXECUTED")   # bought, not yet known
    h.settle(TICKER, "yes")
    h.run(30)
    pid = f"pos-{sig.signal_id}"
    assert h.events("TRADE_EXECUTED", position_id=pid)
    p = h.position(pid)
    assert (p.status, p.exit_reason, p.contracts) == (PositionStatus.CLOSED, "settlement", 0)
    assert [e["contracts"] for e in h.events("POSITION_SETTLED", position_id=pid)] == [6]
