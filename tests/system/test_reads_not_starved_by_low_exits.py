"""Reads are never starved by LOW exits (outside review 7, defect 2), default config: 60 calls a
minute, 15% kept for orders.

76 positions, 75 of them walking LOW exits against a 1-lot bid (each walk a create and a cancel),
and M0 falls through its stop; the first sell that reaches M0 finds its bid faded 2c, so the stop's
second IOC needs a book read made after that miss. Before the fix LOW exits kept 55 calls in the
window and reads stop at 51: no `get_quotes` went out for anyone for 162 s, the stop was seen
+162 s after the fall, its second IOC waited another 174 s for its read, closed +336 s.

Now a read that has waited a cadence ranks ahead of entries and LOW/MEDIUM exits (one batched read
serves every market), and the read a CRITICAL or HIGH exit needs to price its order goes at that
exit's priority.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal as D

from models.budget import max_calls_in_any_window
from models.market import Quote
from models.orders import Action

WIDE = {"liquidity": {"max_spread_cents": 50}}
N_LOW = 75
CADENCE = 30            # monitoring.normal_interval_secs default


def _engine_with_low_walks(make_engine):  # type: ignore[no-untyped-def]
    h = make_engine(WIDE)
    pids = {}
    for i in range(N_LOW + 1):
        t = f"M{i}"
        h.market(t, "0.49", "0.50")
        sig = h.signal(t, contracts=10, win_probability="0.60", game_id=f"G{i}")
        h.run_until(lambda: h.events("TRADE_EXECUTED", signal_id=sig.signal_id), limit=120)
        pids[t] = h.events("TRADE_EXECUTED", signal_id=sig.signal_id)[0]["position_id"]
    h.run(2)
    for i in range(1, N_LOW + 1):              # the edge is gone: LOW exits walk against a 1-lot bid
        h.market(f"M{i}", "0.46", "0.56", bid_size=1)
        h.set_model(f"M{i}", "0.40")
    h.run(150)
    return h, pids


def test_a_stop_is_seen_and_repriced_while_75_low_exits_walk(make_engine):
    h, pids = _engine_with_low_walks(make_engine)
    faded: list[datetime] = []
    inner = h.venue.place_order

    def place(req):  # type: ignore[no-untyped-def]
        if req.ticker == "M0" and req.action is Action.SELL and not faded:
            faded.append(h.now())       # the bid fades as the stop's first IOC reaches it
            h.venue.set_quote(Quote("M0", h.now(), D("0.38"), D("0.39"), None, None, None, 1000, None))
        return inner(req)

    h.venue.place_order = place  # type: ignore[method-assign]
    t0 = h.now()
    before = [t for t, _ in h.call_log()]
    h.market("M0", "0.40", "0.41")
    took = h.run_until(lambda: h.position(pids["M0"]).contracts == 0, limit=900)
    reads = [t for t, m in h.call_log() if m == "get_quotes" and t >= t0]
    stop = [datetime.fromisoformat(e["ts"]) for e in h.events()
            if e.get("position_id") == pids["M0"] and e.get("condition") == "stop_loss"
            and e["event"] in ("ORDER_PLACED", "ORDER_ESCALATED")]
    # LOW exits keep the window full (before the fix: 55 calls, reads stop at 51).
    assert len([t for t, m in h.call_log() if t0 - timedelta(minutes=1) < t < t0
                and m in ("place_order", "cancel_order")]) >= 45
    # The positions are still watched: a read within a cadence or so of the fall, and the stop seen then.
    assert reads and reads[0] - t0 <= timedelta(seconds=CADENCE + 15), reads[:3]
    (trig,) = h.events("EXIT_TRIGGERED", position_id=pids["M0"], condition="stop_loss")
    assert datetime.fromisoformat(trig["ts"]) - t0 <= timedelta(seconds=CADENCE + 15)
    # The first IOC missed; the second is priced from a book read after the miss, made at once.
    assert len(stop) >= 2 and faded
    assert stop[1] - stop[0] <= timedelta(seconds=15), [s - t0 for s in stop]
    assert took <= 2 * CADENCE + 30
    # The 60 calls/min cap held throughout.
    assert max_calls_in_any_window(before + [t for t, _ in h.call_log() if t >= t0]) <= 60


def test_reads_keep_going_while_low_exits_walk(make_engine):
    """Every 30 s cadence window sees a read while 75 LOW exits walk (no stop needed)."""
    h, _ = _engine_with_low_walks(make_engine)
    t0 = h.now()
    h.run(300)
    reads = [t for t, m in h.call_log() if m == "get_quotes" and t >= t0]
    gaps = [(b - a).total_seconds() for a, b in zip([t0] + reads, reads + [h.now()])]
    assert max(gaps) <= CADENCE + 15, gaps
