"""No position is stopped out by the spread it paid (issue 8 §1).

The stop loss is measured from the entry-time mark (our side's bid in the quote the entry was
priced from), not from the price paid: a one-tick spread on a cheap contract is not a loss the
market inflicted. A real adverse move of the stop's size still fires it. And the EntryManager
refuses a signal whose quote would trigger an exit at once (no bid, the bid already past the
stop measured from what we would pay, or the liquidity limits already breached).
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from config.loader import load_config
from models.entry_checks import exit_at_once
from models.exit_rules import evaluate_exits, near_threshold, stop_price
from models.market import Quote, Side
from models.position import PositionState

T0 = datetime(2025, 11, 22, 19, 0, tzinfo=timezone.utc)
CFG = load_config()


def state(entry: str, basis: str | None, *, side: Side = Side.YES, signal_type: str = "default",
          mark: str | None = None) -> PositionState:
    return PositionState("p1", "M", side, signal_type, "nba", "G", D(entry), 20, 20, D("0.10"), T0,
                         stop_basis=None if basis is None else D(basis),
                         current_price=None if mark is None else D(mark))


def quote(bid: str | None, ask: str | None, *, volume: int | None = 1000, recent: int | None = 1000) -> Quote:
    """`volume` is the market's lifetime volume, `recent` what traded in the liquidity window."""
    return Quote("M", T0, None if bid is None else D(bid), None if ask is None else D(ask), None, None, None,
                 volume, None, recent_volume=recent)


def fired(s: PositionState, q: Quote) -> list[str]:
    return [t.condition for t in evaluate_exits(s, q, T0, CFG)]


# --- how the stop is measured -----------------------------------------------------------------

@pytest.mark.parametrize("entry, basis, yes_bid, stops", [
    # Bought at the 0.50 ask while the bid was 0.49: the stop is 12% below 0.49 = 0.4312.
    ("0.50", "0.49", "0.49", False),     # the spread we crossed: no loss the market made
    ("0.50", "0.49", "0.44", False),     # -12% of the price paid, but only -10.2% of the market move
    ("0.50", "0.49", "0.43", True),      # a real 12.2% adverse move
    # A cheap contract with a one-tick spread: 0.05 paid is -20% at the 0.04 bid.
    ("0.05", "0.04", "0.04", False),
    ("0.05", "0.04", "0.03", True),      # the bid fell 25%: a real move past the stop
    # A position without a recorded entry-time mark (older database rows) keeps the old measure.
    ("0.50", None, "0.44", True),
    ("0.50", None, "0.45", False),
])
def test_the_stop_loss_is_measured_from_the_entry_time_bid(entry, basis, yes_bid, stops):
    s = state(entry, basis)
    assert ("stop_loss" in fired(s, quote(yes_bid, "0.99"))) is stops


def test_a_no_position_measures_its_stop_from_its_own_entry_time_bid():
    s = state("0.51", "0.50", side=Side.NO)            # bought NO at 0.51 while NO bid was 0.50
    assert stop_price(s, CFG) == D("0.44")              # 0.50 x 0.88
    assert "stop_loss" not in fired(s, quote("0.55", "0.55"))   # NO bid 0.45
    assert "stop_loss" in fired(s, quote("0.55", "0.56"))       # NO bid 0.44


def test_the_stop_trigger_names_the_bid_the_stop_price_and_the_entry_time_bid():
    s = state("0.50", "0.49")
    (t,) = [t for t in evaluate_exits(s, quote("0.43", "0.45"), T0, CFG) if t.condition == "stop_loss"]
    assert t.threshold == D("-12")
    assert t.value < D("-12")
    assert "0.4300" in t.detail and "0.4312" in t.detail and "0.4900" in t.detail


def test_near_threshold_counts_the_stop_from_the_entry_time_bid():
    # 0.44 is -12% of the 0.50 paid, but 10.2% below the 0.49 entry-time bid: within 2 points.
    assert near_threshold(state("0.50", "0.49", mark="0.44"), CFG)
    # 0.46 is 6.1% below 0.49: far from the stop (and from +15%).
    assert not near_threshold(state("0.50", "0.49", mark="0.46"), CFG)


# --- entry refusals ------------------------------------------------------------------------------

def test_a_quote_with_no_bid_for_our_side_is_refused():
    why = exit_at_once(quote("0.40", None), Side.NO, "default", CFG)   # NO bid = 1 - YES ask: none
    assert why is not None and "no no bid" in why


def test_a_bid_already_past_the_stop_from_the_ask_is_refused_with_the_numbers():
    # momentum stops at 10%: paying 0.05 with the bid at 0.04 is -20% the moment it fills.
    why = exit_at_once(quote("0.04", "0.05"), Side.YES, "momentum", CFG)
    assert why is not None
    assert "0.0400" in why and "0.0450" in why and "0.0500" in why and "10%" in why
    # 0.49 / 0.50 is -2%: fine.
    assert exit_at_once(quote("0.49", "0.50"), Side.YES, "momentum", CFG) is None


def test_a_spread_or_volume_already_past_the_liquidity_limits_is_refused():
    why = exit_at_once(quote("0.46", "0.50"), Side.YES, "default", CFG)
    assert why is not None and "spread 4" in why and "3" in why
    assert exit_at_once(quote("0.47", "0.50"), Side.YES, "default", CFG) is None     # exactly 3c: fine
    why = exit_at_once(quote("0.49", "0.50", recent=10), Side.YES, "default", CFG)
    assert why is not None and "10 traded" in why and "< 50" in why
    # a recent volume still unknown (less history than the window) refuses nothing
    assert exit_at_once(quote("0.49", "0.50", volume=10, recent=None), Side.YES, "default", CFG) is None


# --- through the actors ----------------------------------------------------------------------------

def test_the_entry_manager_refuses_a_signal_whose_quote_would_stop_it_out_at_once(engine):
    h = engine
    h.market("CHEAP", "0.04", "0.05")
    sig = h.signal("CHEAP", signal_type="momentum", market_price="0.05")
    h.run(0)
    (rej,) = h.events("SIGNAL_REJECTED", signal_id=sig.signal_id)
    assert "stop loss" in rej["reason"] and "0.0400" in rej["reason"]
    assert not h.events("TRADE_EXECUTED")
    assert h.sells("CHEAP") == [] and not h.venue.list_orders("CHEAP")


def test_the_entry_manager_refuses_a_side_with_no_bid(engine):
    h = engine
    h.market("NOBID", "0.40", None)                     # nobody offers YES: NO has no bid
    sig = h.signal("NOBID", "no", market_price="0.60")
    h.run(0)
    (rej,) = h.events("SIGNAL_REJECTED", signal_id=sig.signal_id)
    assert "no no bid" in rej["reason"] or "no fresh quote" in rej["reason"]
    assert not h.events("TRADE_EXECUTED")


def test_a_position_records_its_entry_time_bid_and_is_not_stopped_by_the_spread(engine):
    h = engine
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20)
    assert h.position(pid).stop_basis == D("0.49")
    h.market("M1", "0.44", "0.45", push=True)           # -12% of 0.50 paid, -10.2% of the market
    h.run(30)
    assert not h.events("EXIT_ROUTED", position_id=pid, condition="stop_loss")
    h.market("M1", "0.43", "0.45", push=True)           # a real 12.2% adverse move
    h.run(5)
    assert h.events("EXIT_ROUTED", position_id=pid, condition="stop_loss")
