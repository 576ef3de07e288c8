"""Entry sizing: edge after fees, minimum edge, fractional Kelly by sport, confidence, exposure caps.

Worked example used throughout (defaults: bankroll $1000, confidence full at 10 points, floor 0.5):
buy at 0.50 with win probability 0.60. Fee per contract 0.07 x 0.5 x 0.5 = 0.0175, so the edge
after fees is 0.0825 (8.25%), a contract costs 0.5175, full Kelly 0.0825 / 0.4825 = 0.17098,
confidence 0.825. NFL: 1000 x 0.17098 x 0.25 x 0.825 = $35.27 -> 68 contracts.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D
from pathlib import Path

import pytest

from config.loader import load_config
from config.schema import Config
from models.market import Side
from models.money import taker_fee
from models.signal import TradingSignal
from models.sizing import Exposure, edge_after_fees, fee_per_contract, size_entry

T0 = datetime(2025, 11, 22, 19, 0, tzinfo=timezone.utc)
CONFIG = load_config()


def signal(p: str = "0.60", sport: str = "nfl", contracts: int | None = None, side: Side = Side.YES) -> TradingSignal:
    return TradingSignal("s1", T0, "g1", sport, "KX-TEST", "kalshi", side, "model_edge", D(p),
                         market_price=D("0.50"), contracts=contracts)


def override(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "override.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


# --- fees ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("contracts,price,fee", [
    (100, "0.50", "1.75"),   # 0.07 x 100 x 0.25 = 1.75 exactly
    (1, "0.50", "0.02"),     # 0.0175 -> up to the cent
    (10, "0.56", "0.18"),    # 0.17248 -> 0.18
    (3, "0.30", "0.05"),     # 0.0441 -> 0.05
    (100, "0.10", "0.63"),   # 0.63 exactly stays 0.63
    (1, "0.01", "0.01"),     # 0.000693 -> one cent
    (1, "0.99", "0.01"),
    (1, "1.00", "0.00"),     # a certain contract costs no fee
    (0, "0.50", "0"),
])
def test_taker_fee_is_the_ceiling_to_the_cent_of_0_07_c_p_1_minus_p(contracts: int, price: str, fee: str) -> None:
    assert taker_fee(contracts, D(price)) == D(fee)


def test_edge_after_fees_subtracts_price_and_the_per_contract_fee() -> None:
    assert fee_per_contract(D("0.50")) == D("0.0175")
    assert edge_after_fees(D("0.60"), D("0.50")) == D("0.0825")
    assert edge_after_fees(D("0.65"), D("0.40")) == D("0.2332")     # fee 0.07 x 0.4 x 0.6 = 0.0168


# --- rejections ---------------------------------------------------------------------------------

def test_edge_exactly_at_the_minimum_is_accepted_and_just_below_rejected() -> None:
    at = size_entry(signal("0.5475"), D("0.50"), Exposure(), CONFIG)           # edge 3.00%
    below = size_entry(signal("0.5474"), D("0.50"), Exposure(), CONFIG)        # edge 2.99%
    assert at.accepted and at.edge_after_fees == D("0.0300")
    assert not below.accepted and below.contracts == 0
    assert "below minimum 3%" in below.reason


def test_a_negative_edge_is_rejected() -> None:
    decision = size_entry(signal("0.45"), D("0.50"), Exposure(), CONFIG)
    assert (decision.accepted, decision.contracts) == (False, 0)


def test_halted_entries_are_rejected_whatever_the_edge() -> None:
    decision = size_entry(signal("0.95"), D("0.50"), Exposure(), CONFIG, halted=True)
    assert (decision.accepted, decision.contracts) == (False, 0)
    assert "circuit breaker" in decision.reason


def test_a_second_position_on_the_same_market_and_side_is_rejected() -> None:
    decision = size_entry(signal("0.95", side=Side.NO), D("0.50"), Exposure(), CONFIG, already_open=True)
    assert (decision.accepted, decision.contracts) == (False, 0)
    assert "KX-TEST no is already open" in decision.reason


@pytest.mark.parametrize("ask", ["0", "1", "1.00"])
def test_no_tradable_ask_is_rejected(ask: str) -> None:
    assert not size_entry(signal("0.95"), D(ask), Exposure(), CONFIG).accepted


def test_a_kelly_stake_below_one_contract_is_rejected(tmp_path: Path) -> None:
    small = override(tmp_path, "sizing:\n  bankroll_dollars: 5\n")
    decision = size_entry(signal("0.5475"), D("0.50"), Exposure(), small)   # stake $0.03
    assert (decision.accepted, decision.reason) == (False, "Kelly stake below one contract")


# --- Kelly by sport and confidence --------------------------------------------------------------

@pytest.mark.parametrize("sport,fraction,contracts", [
    ("nfl", "0.25", 68), ("NFL", "0.25", 68), ("nba", "0.22", 59), ("tennis", "0.18", 49),
    ("curling", "0.20", 54),   # a sport without its own entry uses default
])
def test_kelly_fraction_by_sport(sport: str, fraction: str, contracts: int) -> None:
    assert CONFIG.kelly_fraction(sport) == D(fraction)
    decision = size_entry(signal(sport=sport), D("0.50"), Exposure(), CONFIG)
    assert (decision.accepted, decision.contracts) == (True, contracts)
    full_kelly = D("0.0825") / D("0.4825")
    assert decision.kelly_stake == D(1000) * full_kelly * D(fraction) * D("0.825")


def test_confidence_scales_the_stake_between_its_floor_and_one(tmp_path: Path) -> None:
    off = override(tmp_path, "sizing:\n  confidence_adjustment:\n    enabled: false\n")
    for p, multiplier in (("0.60", D("0.825")),      # 8.25 / 10
                          ("0.5575", D("0.5")),      # 4 / 10 = 0.4, raised to the 0.5 floor
                          ("0.70", D("1"))):         # 18.25 / 10, capped at 1
        with_conf = size_entry(signal(p), D("0.50"), Exposure(), CONFIG).kelly_stake
        without = size_entry(signal(p), D("0.50"), Exposure(), off).kelly_stake
        assert with_conf == without * multiplier, p


def test_a_no_signal_is_sized_from_its_own_ask() -> None:
    yes = size_entry(signal("0.60"), D("0.50"), Exposure(), CONFIG)
    no = size_entry(signal("0.60", side=Side.NO), D("0.50"), Exposure(), CONFIG)
    assert yes.contracts == no.contracts == 68


# --- exposure caps ------------------------------------------------------------------------------
# p 0.70 at 0.50 (NFL): Kelly wants 182 contracts ($94.19); a contract costs 0.5175.

@pytest.mark.parametrize("exposure,contracts", [
    (Exposure(), 182),                                           # under every cap
    (Exposure(market=D("80")), 38),                              # $20 left in the market: 20 / 0.5175
    (Exposure(game=D("140")), 19),                               # $10 left in the game
    (Exposure(portfolio=D("495")), 9),                           # $5 left in the portfolio
    (Exposure(market=D("50"), game=D("145"), portfolio=D("100")), 9),   # the tightest cap wins
])
def test_exposure_caps_cut_the_size(exposure: Exposure, contracts: int) -> None:
    decision = size_entry(signal("0.70"), D("0.50"), exposure, CONFIG)
    assert (decision.accepted, decision.contracts) == (True, contracts)
    if contracts < 182:
        assert f"cut from 182 to {contracts}" in decision.reason


@pytest.mark.parametrize("exposure", [Exposure(market=D("100")), Exposure(game=D("150")),
                                      Exposure(portfolio=D("499.60")), Exposure(portfolio=D("600"))])
def test_full_caps_reject_the_entry(exposure: Exposure) -> None:
    decision = size_entry(signal("0.70"), D("0.50"), exposure, CONFIG)
    assert (decision.accepted, decision.contracts) == (False, 0)
    assert "exposure caps" in decision.reason


def test_max_contracts_per_order_caps_the_size(tmp_path: Path) -> None:
    capped = override(tmp_path, "sizing:\n  max_contracts_per_order: 50\n")
    assert size_entry(signal("0.70"), D("0.50"), Exposure(), capped).contracts == 50


# --- forced sizes (replay "contracts") ----------------------------------------------------------

def test_forced_contracts_skip_kelly() -> None:
    decision = size_entry(signal("0.60", contracts=10), D("0.50"), Exposure(), CONFIG)
    assert (decision.accepted, decision.contracts, decision.kelly_stake) == (True, 10, None)


def test_forced_contracts_still_obey_the_exposure_caps() -> None:
    decision = size_entry(signal("0.60", contracts=1000), D("0.50"), Exposure(), CONFIG)
    assert (decision.accepted, decision.contracts) == (True, 193)        # 100 / 0.5175 per market
    full = size_entry(signal("0.60", contracts=5), D("0.50"), Exposure(market=D("100")), CONFIG)
    assert (full.accepted, full.contracts) == (False, 0)


def test_forced_contracts_still_need_the_minimum_edge() -> None:
    decision = size_entry(signal("0.52", contracts=10), D("0.50"), Exposure(), CONFIG)
    assert (decision.accepted, decision.contracts) == (False, 0)
