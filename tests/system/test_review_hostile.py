"""An outside review of the exit and risk fixes (issues 8 and 9), as a trader would try them:
hostile markets through the whole engine on virtual time (tests/conftest.py's make_engine).

Each test names the scenario; the ones that found a defect say what went wrong before the fix.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal as D

from tests.conftest import T0

WIDE = {"liquidity": {"max_spread_cents": 50}}   # a wide book does not fire liquidity_dried_up


def ts(e) -> datetime:  # type: ignore[no-untyped-def]
    return datetime.fromisoformat(e["ts"])


def risk_unrealized(h) -> D:  # type: ignore[no-untyped-def]
    """What the RiskManager counts as the open positions' unrealized P&L."""
    h.system.flush()
    u = h.system.proxy_attr(h.system.refs.risk_manager, "unrealized")
    return sum(u.values(), D(0))


# --- a wide spread at entry ---------------------------------------------------------------------------

def test_a_wide_spread_at_entry_is_refused_with_the_numbers(engine):
    h = engine
    h.market("M1", "0.40", "0.50")
    sig = h.signal("M1", contracts=20)
    h.run(1)
    (rej,) = h.events("SIGNAL_REJECTED", signal_id=sig.signal_id)
    assert "0.4000" in rej["reason"] and not h.events("TRADE_EXECUTED")


# --- a signal exactly at the close window --------------------------------------------------------------

def test_a_signal_exactly_at_the_close_window_is_refused(engine):
    h = engine
    h.market("T", "0.49", "0.50", close_time=T0 + timedelta(minutes=5))
    sig = h.signal("T", contracts=20)
    h.run(1)
    assert h.events("SIGNAL_REJECTED", signal_id=sig.signal_id)
    assert not h.events("TRADE_EXECUTED")


# --- no bid after entry: the breaker must not forget the loss -----------------------------------------

def test_a_vanished_bid_does_not_erase_the_unrealized_loss_the_breaker_counts(make_engine):
    """Before: the position reported an unrealized P&L of 0 the moment its bid vanished, as if it
    were worth what it cost; a -$5.00 loss disappeared from the daily limit."""
    h = make_engine({"circuit_breaker": {"daily_loss_limit_dollars": 20}})
    h.market("M1", "0.49", "0.50")
    h.enter("M1", contracts=100)
    h.market("M1", "0.45", "0.46", push=True)    # -5.00 at the bid, above the 0.4312 stop
    h.run(1)
    assert risk_unrealized(h) == D("-5")
    h.market("M1", None, "0.46", push=True)      # the bid vanishes: the mark is unknown
    h.run(1)
    assert risk_unrealized(h) == D("-5")         # the loss seen last, not 0
    h.market("M1", "0.47", "0.48", push=True)    # the bid comes back: a known mark again
    h.run(1)
    assert risk_unrealized(h) == D("-3")


# --- a trailing stop / time exit that gave up is re-attacked when the bid comes back --------------------

def trailing_stop_that_gave_up(h):  # type: ignore[no-untyped-def]
    h.market("M1", "0.49", "0.50", push=True)
    pid = h.enter("M1", contracts=20)
    h.market("M1", "0.60", "0.61", push=True)            # +20%: stage 1 sells 10, trailing stop armed
    h.run_until(lambda: h.position(pid).contracts == 10, limit=300)
    h.market("M1", "0.60", "0.61", push=True)
    h.run(2)
    h.market("M1", None, "0.56")                          # the venue: nobody bids
    h.phantom("M1", "0.54", "0.56")                       # the stream shows 0.54: below the 0.55 trail
    h.run_until(lambda: h.events("EXIT_GAVE_UP", position_id=pid, condition="trailing_stop"), limit=300)
    return pid, h.now()


def test_a_trailing_stop_that_gave_up_is_re_attacked_when_the_bid_comes_back(make_engine):
    """Before: a trailing stop whose orders found no bid cooled down 120 s; the bid came back
    lower (0.53, still above the stop loss) and the position waited out the cooldown."""
    h = make_engine({**WIDE, "partial_exits": {"stages": [{"profit_pct": 15, "sell_fraction_pct": 50}]}},
                    streamed=True)
    pid, gave_up = trailing_stop_that_gave_up(h)
    h.run(10)
    h.market("M1", "0.53", "0.56", bid_size=50, push=True)   # buyers are back, lower
    h.run(30)
    p = h.position(pid)
    assert p.contracts == 0, "the trailing stop waited out its cooldown while the bid was there"
    assert (h.now() - gave_up).total_seconds() < 60


def test_a_time_exit_that_gave_up_is_re_attacked_when_the_bid_comes_back(make_engine):
    """Before: time_based_urgent found an empty book at close - 5 min, gave up, and waited 120 s
    (of the 5 minutes left) after the bid came back."""
    h = make_engine(WIDE, streamed=True)
    close = T0 + timedelta(minutes=7)
    h.market("T", "0.49", "0.50", close_time=close, push=True)
    pid = h.enter("T", contracts=20)
    h.run(60)
    h.market("T", None, "0.50", close_time=close)             # the venue: nobody bids
    h.phantom("T", "0.49", "0.50")
    h.run_until(lambda: h.events("EXIT_GAVE_UP", position_id=pid, condition="time_based_urgent"), limit=300)
    gave_up = h.now()
    h.run(5)
    h.market("T", "0.48", "0.50", bid_size=50, close_time=close, push=True)
    h.run(30)
    assert h.position(pid).contracts == 0
    assert (h.now() - gave_up).total_seconds() < 60


# --- a stop whose bid vanishes then returns worse ------------------------------------------------------

def test_a_stop_whose_bid_vanished_sells_when_it_returns_at_a_worse_price(make_engine):
    h = make_engine(streamed=True)
    h.market("M1", "0.49", "0.50", push=True)
    pid = h.enter("M1", contracts=20)
    h.run(3)
    h.market("M1", None, "0.46")
    h.phantom("M1", "0.43", "0.46")                         # past the 0.4312 stop
    h.run_until(lambda: h.events("EXIT_GAVE_UP", position_id=pid), limit=120)
    h.run(10)
    h.market("M1", "0.38", "0.46", bid_size=50, push=True)   # back, 5 cents worse
    h.run(30)
    p = h.position(pid)
    assert (p.contracts, p.exit_reason) == (0, "stop_loss") or p.contracts == 0
    assert p.realized_pnl < 0


# --- quotes that do not change for an hour (polling) ----------------------------------------------------

def test_an_hour_of_unchanged_quotes_still_marks_and_then_stops_on_a_real_move(engine):
    h = engine
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20)
    h.run(3600)
    p = h.position(pid)
    assert p.status.value == "open" and p.current_price == D("0.49")
    before = h.evaluations(pid)
    h.run(60)
    assert h.evaluations(pid) - before >= 2                    # still evaluated at the cadence
    h.market("M1", "0.42", "0.43")
    h.run(40)
    assert h.position(pid).exit_reason == "stop_loss"


# --- restarts in the middle of an exit -----------------------------------------------------------------

def sold(h, pid) -> int:  # type: ignore[no-untyped-def]
    return sum(e["contracts"] for e in h.events("ORDER_FILLED", position_id=pid))


def restarted(make_engine, monkeypatch, a, overrides=None, *, after: float = 10):  # type: ignore[no-untyped-def]
    """A new process on `a`'s database `after` seconds later, trading on the same venue (which
    still holds what `a` bought and the orders `a` left resting)."""
    from adapters.cli import running

    venue = a.venue
    build = running.build_paper_engine

    def same_venue(clock):  # type: ignore[no-untyped-def]
        venue._clock = clock
        return venue

    monkeypatch.setattr(running, "build_paper_engine", lambda *args, **kw: build(*args, venue_factory=same_venue, **kw))
    try:
        return make_engine(overrides, start=a.now() + timedelta(seconds=after), database_of=a)
    finally:
        monkeypatch.setattr(running, "build_paper_engine", build)


def test_a_restart_in_the_middle_of_a_partial_stage_sells_the_stage_once(make_engine, monkeypatch):
    a = make_engine(WIDE)
    a.market("M1", "0.49", "0.50")
    pid = a.enter("M1", contracts=20)
    a.run(3)
    a.market("M1", "0.58", "0.62", push=True)          # +16%: stage 1 rests its 10 at the mid
    a.run(5)
    assert a.events("ORDER_PLACED", position_id=pid) and not a.events("ORDER_FILLED", position_id=pid)
    a.stop()
    b = restarted(make_engine, monkeypatch, a, WIDE, after=20)
    b.market("M1", "0.58", "0.62")
    b.run(120)
    b.market("M1", "0.60", "0.61")                      # a buyer at 0.60
    b.run(200)
    p = b.position(pid)
    assert (p.contracts, p.partial_stages_done) == (10, 1)
    assert sold(b, pid) == 10
    assert not b.double_exit_orders


def test_a_breaker_tripped_then_a_restart_mid_exit_still_closes_everything_and_takes_no_entry(make_engine,
                                                                                              monkeypatch):
    limits = {**WIDE, "circuit_breaker": {"daily_loss_limit_dollars": 5}}
    a = make_engine(limits)
    a.market("M1", "0.49", "0.50")
    pid = a.enter("M1", contracts=190)
    a.market("M1", None, "0.48")                        # the venue: nobody bids
    a.phantom("M1", "0.46", "0.48")                     # the stream: -7.60 unrealized, the breaker trips
    a.run(2)
    assert a.events("CIRCUIT_BREAKER_TRIPPED")
    assert [e["condition"] for e in a.events("EXIT_ROUTED", position_id=pid)][:1] == ["circuit_breaker"]
    assert a.position(pid).contracts == 190             # nothing sold: the exit is in flight
    a.stop()
    b = restarted(make_engine, monkeypatch, a, limits, after=30)
    b.market("M1", "0.45", "0.47")
    b.run(60)
    assert b.events("CIRCUIT_BREAKER_RESTORED")
    assert b.position(pid).contracts == 0
    b.market("M2", "0.49", "0.50")
    sig = b.signal("M2", contracts=10, game_id="G2")
    b.run(1)
    assert b.events("SIGNAL_REJECTED", signal_id=sig.signal_id) and not b.events("TRADE_EXECUTED")


def test_a_restart_in_the_middle_of_a_stop_loss_attacks_the_stop_again(make_engine, monkeypatch):
    a = make_engine()
    a.market("M1", "0.49", "0.50")
    pid = a.enter("M1", contracts=20)
    a.market("M1", None, "0.46")
    a.phantom("M1", "0.43", "0.46")                     # past the stop; no bid to take it
    a.run(3)
    assert a.events("EXIT_ROUTED", position_id=pid, condition="stop_loss")
    a.stop()
    b = restarted(make_engine, monkeypatch, a, after=10)
    b.market("M1", "0.42", "0.45")
    b.run(45)
    p = b.position(pid)
    assert (p.contracts, p.exit_reason) == (0, "stop_loss")


def test_a_signal_a_second_before_the_close_window_is_refused_not_sold_a_second_later(engine):
    """Before: bought 20 at 0.50 with 5 min 1 s to close, time_based_urgent sold them at 0.49 one
    second later: -$0.90 for a one-second position (the spread and two taker fees)."""
    h = engine
    h.market("T", "0.49", "0.50", close_time=T0 + timedelta(minutes=5, seconds=1))
    sig = h.signal("T", contracts=20)
    h.run(1)
    (rej,) = h.events("SIGNAL_REJECTED", signal_id=sig.signal_id)
    assert "time_based_urgent" in rej["reason"] and not h.events("TRADE_EXECUTED")


def test_a_signal_with_more_than_a_cadence_before_the_close_window_still_enters(engine):
    h = engine
    h.market("T", "0.49", "0.50", close_time=T0 + timedelta(minutes=5, seconds=31))
    h.enter("T", contracts=20)


def test_a_trailing_stop_whose_bid_vanished_fires_when_the_bid_returns_below_the_trail(make_engine):
    h = make_engine({**WIDE, "partial_exits": {"enabled": False}}, streamed=True)
    h.market("M1", "0.49", "0.50", push=True)
    pid = h.enter("M1", contracts=20)
    h.market("M1", "0.56", "0.57", push=True)          # +12%: the trailing stop is armed (trail 0.51)
    h.run(2)
    assert h.position(pid).trailing_stop_active
    h.market("M1", None, "0.57", push=True)            # the bid vanishes: no mark, no trigger on a gone price
    h.run(60)
    h.market("M1", "0.50", "0.52", bid_size=50, push=True)   # back below the 0.51 trail
    h.run(30)
    p = h.position(pid)
    assert p.contracts == 0 and p.exit_reason in ("trailing_stop", "liquidity_dried_up")
    assert h.events("EXIT_TRIGGERED", position_id=pid, condition="trailing_stop")


# --- the fills ledger says who paid the taker fee ------------------------------------------------------

def test_the_fills_ledger_tells_a_resting_makers_fill_from_a_takers(engine):
    """Before: every exit fill was written with is_taker = true, the maker fills of resting LOW
    exits (fee $0.00) too, so the database could not say which exits crossed the spread."""
    h = engine
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20, win_probability="0.60")
    h.run(3)
    h.set_model("M1", "0.50")                          # early_exit (LOW): rests at 0.50, above the bid
    h.run(1)
    h.market("M1", "0.50", "0.51")                     # a buyer comes up to 0.50: our resting order fills
    h.run(61)
    h.system.flush()
    (fill,) = h.events("ORDER_FILLED", position_id=pid)
    (row,) = h.repo.fills_for_order(fill["order_id"])
    assert (row.is_taker, row.fee) == (False, D(0))
    entry = h.events("TRADE_EXECUTED", position_id=pid)[0]
    (buy,) = h.repo.fills_for_order(entry["order_id"])
    assert buy.is_taker and buy.fee > 0


def test_an_ioc_stop_fill_is_written_as_a_taker(engine):
    h = engine
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20)
    h.market("M1", "0.42", "0.44", push=True)
    h.run(5)
    h.system.flush()
    (fill,) = h.events("ORDER_FILLED", position_id=pid)
    (row,) = h.repo.fills_for_order(fill["order_id"])
    assert row.is_taker and row.fee > 0


# --- a take-profit resting at its floor keeps its place in the queue ------------------------------------

def test_a_take_profit_at_its_floor_is_not_canceled_and_re_placed_at_the_same_price(make_engine):
    """Before: each walk of a stage already at its floor canceled the order and sent it again at
    the same price ("walked 0.5800 -> 0.5800"): its place in the queue lost and two venue calls
    spent, three times over (6 such walks in the 12 paper seeds)."""
    h = make_engine(WIDE)
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20)
    h.run(3)
    h.market("M1", "0.54", "0.62")                     # nobody bids near the stage
    h.phantom("M1", "0.58", "0.62")                    # the stream showed +16%: stage 1 fires
    h.run(400)
    at_floor = [o for o in h.sells("M1") if o.limit_price == D("0.58")]
    assert len(at_floor) == 1, [(o.limit_price, o.status.value) for o in h.sells("M1")]
    assert h.events("EXIT_GAVE_UP", position_id=pid, condition="partial_exit_target")
    assert h.position(pid).contracts == 20


def test_a_take_profit_kept_at_its_floor_learns_its_fill_within_a_timeout(make_engine):
    h = make_engine(WIDE)
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20)
    h.run(3)
    h.market("M1", "0.54", "0.62")
    h.phantom("M1", "0.58", "0.62")
    h.run_until(lambda: any(e.get("kept") for e in h.events("ORDER_WALKED", position_id=pid)), limit=300)
    h.market("M1", "0.58", "0.62")                     # a buyer at 0.58 takes our resting 10
    h.run(31)
    p = h.position(pid)
    assert (p.contracts, p.partial_stages_done) == (10, 1)
    (fill,) = h.events("ORDER_FILLED", position_id=pid)
    assert D(fill["price"]) == D("0.58") and D(fill["fee"]) == 0


def stop_past_its_price_with_no_bid_at_the_venue(make_engine):  # type: ignore[no-untyped-def]
    """The stream shows 0.43 (past the 0.4312 stop); the venue has no bid at all."""
    h = make_engine(streamed=True)
    h.market("M1", "0.49", "0.50", push=True)
    pid = h.enter("M1", contracts=20)
    h.run(3)
    h.market("M1", None, "0.46")
    h.phantom("M1", "0.43", "0.46")
    return h, pid


def test_a_stop_that_gave_up_retries_soon_even_when_the_bid_returns_at_the_price_already_shown(make_engine):
    """Session 6 review: the stream showed 0.43 (past the stop) all along, the venue had no bid; the
    stop gave up. The venue's bid then came back at exactly 0.43, so the position saw no change to
    its book, and the stop waited out the whole 120 s cooldown (115 s after the bid's return).
    A capital-protection exit that gave up is tried again within 15 s of its first give-up."""
    h, pid = stop_past_its_price_with_no_bid_at_the_venue(make_engine)
    h.run_until(lambda: h.events("EXIT_GAVE_UP", position_id=pid), limit=300)
    gave_up = h.now()
    h.run(5)
    h.market("M1", "0.43", "0.46")                 # the venue's bid is back at the price the stream showed
    took = h.run_until(lambda: h.position(pid).contracts == 0, limit=400)
    assert (h.now() - gave_up).total_seconds() <= 25, took
    held = [e for e in h.events("EXIT_HELD", position_id=pid) if "cooling down" in e["reason"]]
    assert held and all("after its exit gave up" in e["reason"] for e in held)


def test_a_stop_that_keeps_giving_up_backs_off_up_to_the_full_cooldown(make_engine):
    """No bid at the venue for many minutes: the stop's retries back off (15, 30, 60, then 120 s),
    never a tight loop of give-ups and alerts."""
    h, pid = stop_past_its_price_with_no_bid_at_the_venue(make_engine)
    h.run(900)
    gave = [datetime.fromisoformat(e["ts"]) for e in h.events("EXIT_GAVE_UP", position_id=pid)]
    routed = [datetime.fromisoformat(e["ts"]) for e in h.events("EXIT_ROUTED", position_id=pid)]
    waits = [round((r - g).total_seconds()) for g, r in zip(gave, routed[1:])]
    assert waits[:4] == [15, 30, 60, 120] and set(waits[4:]) <= {120}, waits
