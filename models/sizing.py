"""Entry risk checks and fractional-Kelly sizing, pure.

For a binary contract bought at price c (plus the taker fee per contract f(c)) that pays 1
with probability p, full Kelly stakes f* = (p - c') / (1 - c') of the bankroll, c' = c + f(c).
We stake bankroll x f* x kelly_fraction(sport) x confidence, where confidence =
clamp(edge / full_confidence_edge, min_multiplier, 1), then cut to the exposure caps
(per market, per game, portfolio) and max_contracts_per_order.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from config.schema import Config
from models.money import HUNDRED, ONE, TAKER_FEE_RATE, ZERO, fmt_pct
from models.signal import TradingSignal


@dataclass(frozen=True, slots=True)
class Exposure:
    """Cost basis of open positions (and pending entries) that a new order would add to."""

    market: Decimal = ZERO
    game: Decimal = ZERO
    portfolio: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class SizingDecision:
    accepted: bool
    contracts: int
    reason: str
    edge_after_fees: Decimal | None = None
    kelly_stake: Decimal | None = None


def fee_per_contract(price: Decimal) -> Decimal:
    return TAKER_FEE_RATE * price * (ONE - price)


def edge_after_fees(win_probability: Decimal, price: Decimal) -> Decimal:
    return win_probability - price - fee_per_contract(price)


def size_entry(signal: TradingSignal, ask: Decimal, exposure: Exposure, config: Config,
               halted: bool = False, already_open: bool = False) -> SizingDecision:
    """Decide whether and how much to buy of `signal.side` at `ask`."""
    if halted:
        return SizingDecision(False, 0, "entries halted: circuit breaker tripped")
    if already_open:
        return SizingDecision(False, 0, f"a position on {signal.ticker} {signal.side.value} is already open")
    if ask <= 0 or ask >= ONE:
        return SizingDecision(False, 0, f"no tradable ask for {signal.side.value} ({ask})")
    s = config.sizing
    edge = edge_after_fees(signal.win_probability, ask)
    if edge * HUNDRED < s.min_edge_pct:
        return SizingDecision(False, 0, f"edge after fees {fmt_pct(edge * HUNDRED, s.min_edge_pct)} below minimum "
                                        f"{s.min_edge_pct}%", edge)

    unit_cost = ask + fee_per_contract(ask)
    if signal.contracts is not None:
        wanted = signal.contracts
        stake = None
    else:
        kelly = edge / (ONE - unit_cost) if unit_cost < ONE else ZERO
        confidence = ONE
        ca = s.confidence_adjustment
        if ca.enabled:
            confidence = min(ONE, max(ca.min_multiplier, edge * HUNDRED / ca.full_confidence_edge_pct))
        stake = s.bankroll_dollars * kelly * config.kelly_fraction(signal.sport) * confidence
        wanted = int((stake / unit_cost).to_integral_value(ROUND_FLOOR))

    x = config.exposure_limits
    headroom = min(x.per_market_dollars - exposure.market, x.per_game_dollars - exposure.game,
                   x.portfolio_dollars - exposure.portfolio)
    by_cap = int((max(headroom, ZERO) / unit_cost).to_integral_value(ROUND_FLOOR))
    contracts = min(wanted, by_cap, s.max_contracts_per_order)
    if contracts <= 0:
        why = "Kelly stake below one contract" if wanted <= 0 else f"exposure caps leave ${max(headroom, ZERO):.2f}"
        return SizingDecision(False, 0, why, edge, stake)
    reason = f"edge after fees {fmt_pct(edge * HUNDRED, s.min_edge_pct)}"
    if contracts < wanted:
        reason += f", cut from {wanted} to {contracts} by caps"
    return SizingDecision(True, contracts, reason, edge, stake)
