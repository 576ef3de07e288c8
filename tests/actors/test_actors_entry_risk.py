"""Entries, the circuit breaker and settlement, through the whole engine on virtual time."""
from __future__ import annotations

from decimal import Decimal

from models.market import Side
from models.records import ExitStatus
D = Decimal


def trades(h) -> list[tuple[str, str, int]]:  # type: ignore[no-untyped-def]
    return [(e["market"], e["side"], e["contracts"]) for e in h.events("TRADE_EXECUTED")]


def rejections(h) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(e["signal_id"], e["reason"]) for e in h.events("SIGNAL_REJECTED")]


# --- entries ------------------------------------------------------------------------------------

def test_one_position_per_market_and_side_while_pending_open_and_until_it_closes(make_engine):
    h = make_engine({"signals": {"reentry_after_stop_secs": 0}})   # (the wait after a stop: test_reentry_after_stop.py)
    h.market("M1", "0.49", "0.50")                  # not pushed: each entry must read the quote first
    first = h.signal("M1", "yes", contracts=10)
    second = h.signal("M1", "yes", contracts=10)    # arrives while the first is still pending
    h.run(0)
    assert trades(h) == [("M1", "yes", 10)]
    assert [sid for sid, _ in rejections(h)] == [second.signal_id]
    assert "already open or pending" in rejections(h)[0][1]
    h.signal("M1", "yes", contracts=10)             # ... and while it is open
    h.signal("M1", "no", contracts=10, market_price="0.51")   # the other side: Kalshi would net it
    h.run(0)
    assert trades(h) == [("M1", "yes", 10)]
    assert len(rejections(h)) == 3 and "nets the two sides" in rejections(h)[-1][1]
    assert h.venue.holding("M1", Side.YES) == 10 and h.venue.holding("M1", Side.NO) == 0
    # Once the YES position has closed, a new YES signal may open one again.
    h.market("M1", "0.40", "0.42", push=True)       # YES stop loss
    h.run(5)
    assert h.events("POSITION_CLOSED", side="yes")
    h.signal("M1", "yes", contracts=10, market_price="0.42")
    h.run(0)
    assert trades(h)[-1] == ("M1", "yes", 10)
    h.system.flush()
    assert [(p.ticker, p.side.value, p.contracts) for p in h.repo.load_open_positions()] == [("M1", "yes", 10)]
    assert first.signal_id != second.signal_id


def test_entries_are_cut_to_the_market_game_and_portfolio_caps_and_refused_when_none_is_left(make_engine):
    h = make_engine({"exposure_limits": {"per_market_dollars": 100, "per_game_dollars": 150,
                                         "portfolio_dollars": 200}})
    for m in ("M1", "M2", "M3", "M4", "M5"):
        h.market(m, "0.49", "0.50")
    unit = D("0.50") + D("0.07") * D("0.50") * D("0.50")   # price + taker fee per contract: 0.5175
    h.signal("M1", game_id="G1", contracts=300)     # per market $100 -> 193
    h.run(0)
    h.signal("M2", game_id="G1", contracts=300)     # per game: 150 - 96.50 = 53.50 -> 103
    h.run(0)
    h.signal("M3", game_id="G2", contracts=300)     # portfolio: 200 - 148.00 = 52.00 -> 100
    h.run(0)
    h.signal("M4", game_id="G3", contracts=300)     # portfolio: 2.00 -> 3
    h.run(0)
    h.signal("M5", game_id="G4", contracts=300)     # 0.50 left: not one contract
    h.run(0)
    assert [n for _, _, n in trades(h)] == [int(D(100) / unit), int(D("53.50") / unit), int(D("52.00") / unit),
                                            int(D("2.00") / unit)] == [193, 103, 100, 3]
    assert len(rejections(h)) == 1 and "exposure caps" in rejections(h)[0][1]
    cost = sum(D(e["cost"]) for e in h.events("TRADE_EXECUTED"))
    assert cost == D("199.50") <= D(200)
    # Selling frees capital: after M4's position closes, M5 can open.
    h.market("M4", "0.40", "0.42", push=True)
    h.run(5)
    assert h.events("POSITION_CLOSED", market="M4")
    h.signal("M5", game_id="G4", contracts=300)
    h.run(0)
    assert trades(h)[-1][0] == "M5"


def test_an_ioc_entry_that_finds_nothing_opens_nothing_and_frees_the_market(engine):
    h = engine
    h.market("M1", "0.49", None)                    # the venue: nobody is selling
    h.phantom("M1", "0.49", "0.50")                 # the stream still shows a 0.50 ask
    sig = h.signal("M1", contracts=10)
    h.run(5)
    placed = h.events("ORDER_PLACED", signal_id=sig.signal_id)
    assert [(e["price"], e["time_in_force"]) for e in placed] == [("0.50", "immediate_or_cancel")]
    assert h.events("ENTRY_NOT_FILLED", signal_id=sig.signal_id)
    assert not h.events("TRADE_EXECUTED")
    h.system.flush()
    assert h.repo.all_positions() == ()
    assert h.venue.holding("M1", Side.YES) == 0
    assert [o.status.value for o in h.venue.list_orders("M1")] == ["canceled"]
    # Nothing is held or pending, so the same market and side can be tried again.
    h.market("M1", "0.49", "0.50")
    h.signal("M1", contracts=10)
    h.run(0)
    assert trades(h) == [("M1", "yes", 10)]


# --- the circuit breaker ------------------------------------------------------------------------------

def test_a_daily_loss_over_the_limit_closes_every_position_critically_and_halts_entries(make_engine):
    h = make_engine({"circuit_breaker": {"daily_loss_limit_dollars": 5}})
    for m in ("M1", "M2", "M3"):
        h.market(m, "0.49", "0.50")
    loser = h.enter("M1", contracts=100, game_id="G1")
    others = [h.enter("M2", contracts=20, game_id="G2"), h.enter("M3", "no", contracts=20, game_id="G3",
                                                                  market_price="0.51")]
    h.run(3)
    h.market("M1", "0.43", "0.46", push=True)       # stop loss: 100 x -0.07 and fees, over $5
    h.run(10)
    tripped = h.events("CIRCUIT_BREAKER_TRIPPED")
    assert len(tripped) == 1 and "daily loss" in tripped[0]["reason"]
    assert D(h.position(loser).realized_pnl) <= D(-5)
    for pid in others:
        routed = h.events("EXIT_ROUTED", position_id=pid)
        assert [(e["condition"], e["priority"]) for e in routed] == [("circuit_breaker", "CRITICAL")]
        p = h.position(pid)
        assert (p.status.value, p.contracts, p.exit_reason, p.exit_priority) == \
            ("closed", 0, "circuit_breaker", "CRITICAL")
    assert all(e["time_in_force"] == "immediate_or_cancel" for e in h.events("ORDER_PLACED")
               if e.get("position_id") in others)
    # No new entries: a signal after the trip is refused and nothing is bought.
    h.market("M4", "0.49", "0.50")
    sig = h.signal("M4", contracts=10, game_id="G4")
    h.run(5)
    assert [r for sid, r in rejections(h) if sid == sig.signal_id][0].startswith("entries halted")
    assert not h.events("ORDER_PLACED", signal_id=sig.signal_id)
    h.system.flush()
    assert h.repo.load_open_positions() == ()
    assert all(h.venue.holding(m, s) == 0 for m in ("M1", "M2", "M3", "M4") for s in Side)


# --- settlement ------------------------------------------------------------------------------------------

def test_settlement_closes_the_winning_side_at_1_and_the_losing_side_at_0(engine):
    h = engine
    h.market("M1", "0.49", "0.50")
    h.market("M2", "0.49", "0.50")
    yes = h.enter("M1", "yes", contracts=20)
    no = h.enter("M2", "no", contracts=10, market_price="0.51", game_id="G2")   # one side per market (Kalshi nets)
    h.run(60)
    h.settle("M1", "yes")
    h.settle("M2", "yes")
    h.run(60)
    py, pn = h.position(yes), h.position(no)
    assert (py.status.value, py.contracts, py.exit_reason, py.current_price) == ("closed", 0, "settlement", D(1))
    assert (pn.status.value, pn.contracts, pn.exit_reason, pn.current_price) == ("closed", 0, "settlement", D(0))
    assert py.realized_pnl == 20 * (D(1) - D("0.50")) - py.entry_fees
    assert pn.realized_pnl == 10 * (D(0) - D("0.51")) - pn.entry_fees
    for pid, payout, n in ((yes, D(1), 20), (no, D(0), 10)):
        settled = [x for x in h.exits(pid) if x.status is ExitStatus.FILLED]
        assert [(x.reason, x.contracts, x.price) for x in settled] == [("settlement", n, payout)]
    assert sorted(e["position_id"] for e in h.events("POSITION_SETTLED")) == sorted([yes, no])
    assert h.venue.holding("M1", Side.YES) == 0 and h.venue.holding("M2", Side.NO) == 0
    assert not h.events("ORDER_PLACED", position_id=yes) and not h.events("ORDER_PLACED", position_id=no)
