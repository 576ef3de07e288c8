"""Exit execution on virtual time: each strategy of DESIGN.md §3 to each of its ends.

Every scenario opens 20 YES (or 40) at 0.50 through a signal, moves the market, and reads
back the exit orders from the audit log (price, time in force, virtual time). Walk steps are
1c x 1.0, 1.5, 2.0, ... rounded up to the 1c tick: 1, 2, 2, 3, 3, 4, 4, 5, 5, 6 cents.

"phantom" quotes are pushed to the engine but are not on the venue (the stream showed them,
the book had already moved): an order priced from one does not find that liquidity, which is
how an order is made to rest, or an IOC to come back empty.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from models.market import Side
from models.orders import OrderStatus

D = Decimal
ORDER_EVENTS = ("ORDER_PLACED", "ORDER_WALKED", "ORDER_ESCALATED")
WIDE = {"liquidity": {"max_spread_cents": 50}}   # so a wide book does not fire liquidity_dried_up


@pytest.fixture
def engine(make_engine):  # type: ignore[no-untyped-def]
    """liquidity_dried_up fires at once here: these scenarios use it as the HIGH exit to execute
    (its wait for a lasting breach: tests/system/test_liquidity_blips.py)."""
    return make_engine({"liquidity": {"breach_for_secs": 0}})


def exit_orders(h, pid: str, since: datetime | None = None) -> list[tuple[float, str, Decimal, str]]:
    """(seconds after `since` or the first order, event, price, time in force) of each exit order."""
    evs = [e for e in h.audit if e["event"] in ORDER_EVENTS and e.get("position_id") == pid]
    if not evs:
        return []
    t0 = since or datetime.fromisoformat(evs[0]["ts"])
    return [((datetime.fromisoformat(e["ts"]) - t0).total_seconds(), e["event"], D(e["price"]),
             e["time_in_force"]) for e in evs]


def at(h, event: str, since: datetime, **fields) -> list[float]:  # type: ignore[no-untyped-def]
    return [(datetime.fromisoformat(e["ts"]) - since).total_seconds() for e in h.events(event, **fields)]


def fills(h, pid: str) -> list[tuple[int, Decimal]]:
    return [(e["contracts"], D(e["price"])) for e in h.events("ORDER_FILLED", position_id=pid)]


def no_oversell_and_one_live_order(h) -> None:
    assert not h.events("ORDER_REJECTED")
    assert h.double_exit_orders == []


def opened(h, ticker: str = "M1", contracts: int = 20, **kw) -> str:  # type: ignore[no-untyped-def]
    h.market(ticker, "0.49", "0.50")
    pid = h.enter(ticker, contracts=contracts, **kw)
    h.run(3)
    return pid


# --- CRITICAL: immediate_market ------------------------------------------------------------------

def test_critical_stop_loss_sells_with_a_marketable_ioc_at_the_bid_and_fills(engine):
    h = engine
    pid = opened(h)
    h.market("M1", "0.43", "0.46", push=True)          # 12.2% below the 0.49 entry-time bid: the stop loss
    assert exit_orders(h, pid) == [(0, "ORDER_PLACED", D("0.43"), "immediate_or_cancel")]
    assert fills(h, pid) == [(20, D("0.43"))]
    p = h.position(pid)
    assert (p.status.value, p.contracts, p.exit_reason, p.exit_priority) == ("closed", 0, "stop_loss", "CRITICAL")
    assert h.venue.holding("M1", Side.YES) == 0
    no_oversell_and_one_live_order(h)


def test_critical_ioc_that_finds_nothing_is_sent_again_marketable_every_5s_until_it_fills(engine):
    h = engine
    pid = opened(h)
    h.market("M1", None, "0.46")                        # the venue: nobody bids
    h.phantom("M1", "0.43", "0.46")                     # the stream still shows a 0.43 bid
    t0 = h.now()
    h.run(12)
    h.market("M1", "0.42", "0.46")                      # a bid comes back, lower; not pushed
    h.run(10)
    # The IOC at the stale 0.43 finds nothing, which proves that quote gone: the next attempt
    # (+5 s) reads the venue (no bid: nothing sent), +10 s and +15 s price from that read (fresh
    # for 10 s: still no bid), +20 s reads again and fills at 0.42. (Before: 0.43 was sent again
    # at +5 s and +10 s from the cached quote the first IOC had proven gone.)
    assert exit_orders(h, pid, t0) == [
        (0, "ORDER_PLACED", D("0.43"), "immediate_or_cancel"),
        (20, "ORDER_ESCALATED", D("0.42"), "immediate_or_cancel"),
    ]
    assert fills(h, pid) == [(20, D("0.42"))]
    assert h.position(pid).status.value == "closed"
    no_oversell_and_one_live_order(h)


def test_critical_gives_up_after_its_marketable_attempts_and_the_position_stays_monitored(engine):
    h = engine
    pid = opened(h)
    h.market("M1", None, "0.46")
    h.phantom("M1", "0.43", "0.46")
    t0 = h.now()
    h.run(60)
    max_attempts = h.config.exit_execution.CRITICAL.max_marketable_attempts
    gave_up = h.events("EXIT_GAVE_UP", position_id=pid)
    assert len(gave_up) == 1
    assert (gave_up[0]["condition"], gave_up[0]["priority"], gave_up[0]["filled"], gave_up[0]["remaining"]) == \
        ("stop_loss", "CRITICAL", 0, 20)
    assert at(h, "EXIT_GAVE_UP", t0) == [5.0 * (max_attempts - 1)]   # one attempt every 5 s
    sent = exit_orders(h, pid, t0)
    # The IOC finds nothing, the read after it shows no bid at all: nothing to send after that,
    # one ALERT for the exit (not one an attempt).
    assert [s[0] for s in sent] == [0]
    assert all(s[3] == "immediate_or_cancel" for s in sent)
    stop_exit = gave_up[0]["exit_id"]     # (no bid at all also fires liquidity_dried_up: its own exit)
    assert len([e for e in h.events("ALERT") if e.get("exit_id") == stop_exit]) == 1
    p = h.position(pid)
    # Still held; "exiting" when liquidity_dried_up (no bid at all) has its own exit waiting for a bid.
    assert p.status.value in ("open", "exiting") and p.contracts == 20
    evaluations = h.evaluations(pid)
    h.run(60)
    assert h.evaluations(pid) > evaluations             # still monitored
    # The bid comes back: once the give-up cooldown has passed, the stop loss runs again.
    h.market("M1", "0.43", "0.45")
    h.run(180)
    assert h.position(pid).status.value == "closed"
    assert fills(h, pid) == [(20, D("0.43"))]
    no_oversell_and_one_live_order(h)


def test_a_no_position_stops_out_when_yes_rises_and_sells_no_at_its_bid(engine):
    h = engine
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", "no", market_price="0.51")     # NO ask = 1 - 0.49
    h.run(3)
    h.market("M1", "0.53", "0.54", push=True)          # YES up: NO bid 0.46 is -9.8%, no stop yet
    assert not h.events("EXIT_TRIGGERED", position_id=pid)
    h.market("M1", "0.56", "0.57", push=True)          # NO bid 0.43: -15.7%
    assert exit_orders(h, pid) == [(0, "ORDER_PLACED", D("0.43"), "immediate_or_cancel")]
    assert fills(h, pid) == [(20, D("0.43"))]
    p = h.position(pid)
    assert (p.status.value, p.exit_reason, p.side) == ("closed", "stop_loss", Side.NO)
    assert h.venue.holding("M1", Side.NO) == 0
    no_oversell_and_one_live_order(h)


# --- HIGH: walk_then_market ------------------------------------------------------------------------

def test_high_exit_at_the_best_bid_fills_at_once(engine):
    h = engine
    pid = opened(h)
    h.market("M1", "0.49", "0.55", push=True)           # spread 6c > 3c: liquidity_dried_up (HIGH)
    assert exit_orders(h, pid) == [(0, "ORDER_PLACED", D("0.49"), "good_till_canceled")]
    assert fills(h, pid) == [(20, D("0.49"))]
    p = h.position(pid)
    assert (p.status.value, p.exit_reason, p.exit_priority) == ("closed", "liquidity_dried_up", "HIGH")
    no_oversell_and_one_live_order(h)


def test_high_exit_walks_twice_every_10s_then_goes_marketable(engine):
    h = engine
    pid = opened(h)
    h.market("M1", "0.45", "0.48")                      # the venue
    h.phantom("M1", "0.49", "0.55")                     # the stream: spread 6c, liquidity_dried_up
    t0 = h.now()
    h.run(40)
    assert exit_orders(h, pid, t0) == [
        (0, "ORDER_PLACED", D("0.49"), "good_till_canceled"),     # aggressive: at the best bid
        (10, "ORDER_WALKED", D("0.48"), "good_till_canceled"),    # 1c x 1.0
        (20, "ORDER_WALKED", D("0.46"), "good_till_canceled"),    # 1c x 1.5 -> 2c (venue quote by now)
        (30, "ORDER_ESCALATED", D("0.45"), "immediate_or_cancel"),  # marketable at the bid
    ]
    assert at(h, "ORDER_CANCELED", t0, position_id=pid) == [10, 20, 30]
    assert fills(h, pid) == [(20, D("0.45"))]
    assert [e["walk"] for e in h.events("ORDER_WALKED", position_id=pid)] == [1, 2]
    assert h.position(pid).status.value == "closed"
    no_oversell_and_one_live_order(h)


# --- MEDIUM: walk_price ------------------------------------------------------------------------------

def test_medium_exit_starts_at_the_mid_and_fills_on_its_fourth_walk(make_engine):
    h = make_engine(WIDE)
    pid = opened(h)
    h.market("M1", "0.58", "0.70", push=True)           # +16%: partial stage 1 sells 50% = 10
    t0 = h.now()
    h.run(150)
    assert exit_orders(h, pid, t0) == [
        (0, "ORDER_PLACED", D("0.64"), "good_till_canceled"),      # the mid
        (30, "ORDER_WALKED", D("0.63"), "good_till_canceled"),     # -1c
        (60, "ORDER_WALKED", D("0.61"), "good_till_canceled"),     # -2c
        (90, "ORDER_WALKED", D("0.59"), "good_till_canceled"),     # -2c
        (120, "ORDER_WALKED", D("0.58"), "good_till_canceled"),    # -3c, held at the stage's floor (0.575 -> 0.58)
    ]
    assert fills(h, pid) == [(10, D("0.58"))]                     # a taker fill at the bid
    done = h.events("EXIT_COMPLETED", position_id=pid)
    assert [(e["condition"], e["outcome"], e["filled"], e["walks"]) for e in done] == \
        [("partial_exit_target", "filled", 10, 4)]
    p = h.position(pid)
    assert (p.status.value, p.contracts, p.partial_stages_done) == ("open", 10, 1)
    no_oversell_and_one_live_order(h)


def test_medium_exit_gives_up_after_5_walks_and_the_position_stays_open_and_monitored(make_engine):
    h = make_engine(WIDE)
    pid = opened(h)
    h.market("M1", "0.58", "0.84", push=True)           # mid 0.71: five walks never reach 0.58
    t0 = h.now()
    h.run(200)
    assert exit_orders(h, pid, t0) == [
        (0, "ORDER_PLACED", D("0.71"), "good_till_canceled"),
        (30, "ORDER_WALKED", D("0.70"), "good_till_canceled"),
        (60, "ORDER_WALKED", D("0.68"), "good_till_canceled"),
        (90, "ORDER_WALKED", D("0.66"), "good_till_canceled"),
        (120, "ORDER_WALKED", D("0.63"), "good_till_canceled"),
        (150, "ORDER_WALKED", D("0.60"), "good_till_canceled"),
    ]
    assert at(h, "EXIT_GAVE_UP", t0, position_id=pid) == [180]
    gave_up = h.events("EXIT_GAVE_UP", position_id=pid)[0]
    assert (gave_up["condition"], gave_up["priority"], gave_up["walks"], gave_up["remaining"]) == \
        ("partial_exit_target", "MEDIUM", 5, 10)
    assert all(o.status is not OrderStatus.RESTING for o in h.sells("M1"))
    p = h.position(pid)
    assert (p.status.value, p.contracts, p.partial_stages_done) == ("open", 20, 0)
    evaluations = h.evaluations(pid)
    h.run(200)
    assert h.evaluations(pid) > evaluations
    # After the give-up cooldown the stage, still firing, is tried again.
    assert len(h.events("EXIT_ROUTED", position_id=pid, condition="partial_exit_target")) == 2
    no_oversell_and_one_live_order(h)


# --- LOW: walk_slowly ----------------------------------------------------------------------------------

def low_exit_resting(h) -> tuple[str, datetime]:  # type: ignore[no-untyped-def]
    pid = opened(h)
    h.market("M1", "0.46", "0.84", push=True)           # -8%: no stop loss; wide but allowed
    h.set_model("M1", "0.47")                           # edge 0.47 - 0.46 = 1% < 2%: early_exit (LOW)
    return pid, h.now()


def test_low_exit_starts_near_the_ask_walks_10_times_a_minute_apart_then_gives_up(make_engine):
    h = make_engine(WIDE)
    pid, t0 = low_exit_resting(h)
    h.run(700)
    steps = [1, 2, 2, 3, 3, 4, 4, 5, 5, 6]
    expected = [(0, "ORDER_PLACED", D("0.83"), "good_till_canceled")]     # one tick below the ask
    price = D("0.83")
    for n, cents in enumerate(steps, start=1):
        price -= D(cents) / 100
        expected.append((60 * n, "ORDER_WALKED", price, "good_till_canceled"))
    assert exit_orders(h, pid, t0) == expected
    assert expected[-1][2] == D("0.48")
    assert at(h, "EXIT_GAVE_UP", t0, position_id=pid) == [660]
    gave_up = h.events("EXIT_GAVE_UP", position_id=pid)[0]
    assert (gave_up["condition"], gave_up["priority"], gave_up["walks"]) == ("early_exit", "LOW", 10)
    p = h.position(pid)
    assert (p.status.value, p.contracts) == ("open", 20)
    no_oversell_and_one_live_order(h)


# --- preemption ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("slow", ["LOW", "MEDIUM"])
def test_a_stop_loss_preempts_a_resting_exit_cancel_confirmed_before_the_critical_order(make_engine, slow):
    h = make_engine(WIDE)
    if slow == "LOW":
        pid, _ = low_exit_resting(h)                    # early_exit: 20 at 0.83, resting
    else:
        pid = opened(h)
        h.market("M1", "0.58", "0.84", push=True)       # partial stage 1: 10 at 0.71, resting
    h.run(70 if slow == "LOW" else 40)                  # one walk, resting again
    assert len(h.events("ORDER_WALKED", position_id=pid)) == 1
    h.market("M1", "0.40", "0.42", push=True)           # -20%: stop loss
    h.run(10)
    names = [e["event"] for e in h.audit if e.get("position_id") == pid]
    i_preempt = names.index("EXIT_PREEMPTED")
    i_canceled = len(names) - 1 - names[::-1].index("ORDER_CANCELED")
    critical = [e for e in h.events("ORDER_PLACED", position_id=pid) if e["priority"] == "CRITICAL"]
    assert len(critical) == 1
    i_critical = h.audit.index(critical[0])
    assert i_preempt < i_canceled
    assert h.audit.index([e for e in h.audit if e.get("position_id") == pid][i_canceled]) < i_critical
    assert critical[0]["contracts"] == 20                # everything held, not the slow exit's size
    ended = [e for e in h.events("EXIT_COMPLETED", position_id=pid)]
    assert [(e["priority"], e["outcome"]) for e in ended] == [(slow, "preempted"), ("CRITICAL", "filled")]
    assert fills(h, pid) == [(20, D("0.40"))]
    sells = h.sells("M1")
    assert [o.status for o in sells] == [OrderStatus.CANCELED, OrderStatus.CANCELED, OrderStatus.EXECUTED]
    assert h.position(pid).exit_reason == "stop_loss"
    no_oversell_and_one_live_order(h)


# --- partial fills -----------------------------------------------------------------------------------------

def test_a_partly_filled_exit_resizes_the_rest_and_later_exits_still_run(engine):
    h = engine
    pid = opened(h)
    # The venue bids 0.59 for only 4; the stream shows 0.58/0.60 (+16%): stage 1 sells 10 at the
    # 0.59 mid, takes the 4 at once and rests 6.
    h.levels("M1", [("0.59", 4), ("0.58", None)], [("0.60", None)])
    h.phantom("M1", "0.58", "0.60")
    t0 = h.now()
    h.run(40)
    assert exit_orders(h, pid, t0) == [
        (0, "ORDER_PLACED", D("0.59"), "good_till_canceled"),
        (30, "ORDER_WALKED", D("0.58"), "good_till_canceled"),
    ]
    assert [e["contracts"] for e in h.events("ORDER_PLACED", position_id=pid)
            + h.events("ORDER_WALKED", position_id=pid)] == [10, 6]   # the walk is sized from what is left
    assert fills(h, pid) == [(4, D("0.59")), (6, D("0.58"))]
    p = h.position(pid)
    assert (p.contracts, p.partial_stages_done, p.status.value) == (10, 1, "open")
    # The rest is still managed: a stop loss sells exactly the 10 left.
    h.market("M1", "0.40", "0.42", push=True)
    h.run(10)
    assert fills(h, pid)[2:] == [(10, D("0.40"))]
    p = h.position(pid)
    assert (p.status.value, p.contracts, p.exit_reason) == ("closed", 0, "stop_loss")
    assert h.venue.holding("M1", Side.YES) == 0
    no_oversell_and_one_live_order(h)


def test_partial_fills_across_walks_never_sell_more_than_held(engine):
    h = engine
    pid = opened(h)
    # Spread 6c: liquidity_dried_up (HIGH) for all 20; the bids are thin.
    h.levels("M1", [("0.49", 8), ("0.47", 5)], [("0.55", None)])
    h.phantom("M1", "0.49", "0.55")
    t0 = h.now()
    h.run(25)
    h.levels("M1", [("0.45", None)], [("0.55", None)])
    h.run(20)
    sent = h.events("ORDER_PLACED", position_id=pid) + h.events("ORDER_WALKED", position_id=pid) \
        + h.events("ORDER_ESCALATED", position_id=pid)
    sent.sort(key=lambda e: e["client_order_id"])
    # 20 at the bid: 8 fill, 12 rest; walk 1 (12) rests; walk 2 (12) takes the 5 at 0.47 and
    # rests 7; marketable (7) at the quote's 0.47 finds nothing; one timeout (10 s) later, at
    # 0.45, it fills.
    assert [(e["contracts"], D(e["price"])) for e in sent] == [
        (20, D("0.49")), (12, D("0.48")), (12, D("0.46")), (7, D("0.47")), (7, D("0.45"))]
    assert fills(h, pid) == [(8, D("0.49")), (5, D("0.47")), (7, D("0.45"))]
    assert sum(o.filled_count for o in h.sells("M1")) == 20
    assert [s[0] for s in exit_orders(h, pid, t0)] == [0, 10, 20, 30, 40]
    assert h.position(pid).status.value == "closed"
    no_oversell_and_one_live_order(h)


# --- both stages, then the trailing stop -------------------------------------------------------------------

def test_both_partial_stages_then_the_trailing_stop_closes_the_rest(engine):
    h = engine
    pid = opened(h, contracts=40)
    h.market("M1", "0.58", "0.60", push=True)      # +16%: stage 1, 20 at the 0.59 mid
    h.run(10)
    h.market("M1", "0.59", "0.61")                 # the bid rises to it: a maker fill
    h.run(40)
    h.market("M1", "0.63", "0.65", push=True)      # +26%: stage 2, 10 at the 0.64 mid
    h.run(10)
    h.market("M1", "0.64", "0.66")
    h.run(40)
    assert h.position(pid).contracts == 10
    assert h.position(pid).peak_price == D("0.64")
    h.market("M1", "0.58", "0.60", push=True)      # 6c off the 0.64 peak: trailing stop (5c)
    h.run(10)
    p = h.position(pid)
    assert (p.status.value, p.contracts, p.exit_reason, p.exit_priority) == ("closed", 0, "trailing_stop", "HIGH")
    assert fills(h, pid) == [(20, D("0.59")), (10, D("0.64")), (10, D("0.58"))]
    routed = [(e["condition"], e["contracts"]) for e in h.events("EXIT_ROUTED", position_id=pid)]
    assert routed == [("partial_exit_target", 20), ("partial_exit_target", 10), ("trailing_stop", 10)]
    assert not [e for e in h.events("EXIT_TRIGGERED", position_id=pid) if e["condition"] == "profit_target"]
    exits = [(x.reason, x.contracts, x.price) for x in h.exits(pid) if x.status.value == "filled"]
    assert exits == [("partial_exit_target", 20, D("0.59")), ("partial_exit_target", 10, D("0.64")),
                     ("trailing_stop", 10, D("0.58"))]
    # Realized P&L: the gains, less the trailing stop's taker fee and the entry fee.
    expected = (20 * D("0.09") + 10 * D("0.14") + 10 * D("0.08")) - p.exit_fees - p.entry_fees
    assert p.realized_pnl == expected
    no_oversell_and_one_live_order(h)


def test_a_partly_filled_slow_exit_preempted_by_a_stop_loss_sells_everything_left(make_engine):
    h = make_engine(WIDE)
    pid, t0 = low_exit_resting(h)                       # early_exit: 20 at 0.83, resting
    h.levels("M1", [("0.83", 5), ("0.46", None)], [("0.84", None)])   # someone takes 5 of them
    h.run(65)                                           # the timeout finds the 5 filled, walks 15 at 0.82
    assert fills(h, pid) == [(5, D("0.83"))]
    assert h.events("ORDER_WALKED", position_id=pid)[0]["contracts"] == 15
    h.market("M1", "0.40", "0.42", push=True)           # stop loss
    h.run(10)
    critical = [e for e in h.events("ORDER_PLACED", position_id=pid) if e["priority"] == "CRITICAL"]
    assert [e["contracts"] for e in critical] == [15]
    assert fills(h, pid) == [(5, D("0.83")), (15, D("0.40"))]
    p = h.position(pid)
    assert (p.status.value, p.contracts, p.exit_reason) == ("closed", 0, "stop_loss")
    assert h.venue.holding("M1", Side.YES) == 0
    no_oversell_and_one_live_order(h)


def test_after_a_partly_filled_exit_gives_up_the_rest_is_still_exited(make_engine):
    h = make_engine(WIDE)
    pid, t0 = low_exit_resting(h)                       # early_exit keeps firing while the exit walks
    h.levels("M1", [("0.83", 5), ("0.46", None)], [("0.84", None)])
    h.run(700)                                          # ten walks over the 0.46 bid, then it gives up
    gave_up = h.events("EXIT_GAVE_UP", position_id=pid)
    assert [(e["filled"], e["remaining"]) for e in gave_up] == [(5, 15)]
    assert h.position(pid).contracts == 15
    h.market("M1", "0.40", "0.42", push=True)           # a stop loss must still sell the 15 left
    h.run(10)
    p = h.position(pid)
    assert (p.status.value, p.contracts, p.exit_reason) == ("closed", 0, "stop_loss")
    assert fills(h, pid) == [(5, D("0.83")), (15, D("0.40"))]
    no_oversell_and_one_live_order(h)
