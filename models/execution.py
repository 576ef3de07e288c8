"""Exit order pricing by urgency (DESIGN.md §3), pure.

We are always *selling* the side we hold. "Toward the market" is therefore down, and the far
side for a seller is the best bid of our side.
- far_side: the best bid (sent immediate_or_cancel: Kalshi has no market orders).
- best_bid: an aggressive limit at the best bid (rests if the bid leaves).
- mid: the fair mid, rounded up to the tick (we do not give a tick away).
- near_ask: one tick below the ask.
The first mid or near_ask order rests as a maker: at least one tick above the bid (in a one-tick
market that is the ask; with no ask, bid + 1 tick), so it never pays the taker fee; later walks
may cross.
A walk lowers the price by walk_step x aggressiveness (1.0, 1.5, 2.0, ...), rounded to the
tick, and never below bid - (ask - bid): past the far side by at most the bid-ask distance.
`floor` (a profit-taking exit's threshold price) holds every price: initial, walked, marketable.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from config.schema import ExecutionConfig, ExitExecutionConfig
from models.market import Quote, Side
from models.money import CENT, HUNDRED, clamp_price, round_to_tick
from models.orders import TimeInForce


@dataclass(frozen=True, slots=True)
class PricedOrder:
    price: Decimal
    time_in_force: TimeInForce


class NoMarket(Exception):
    """No bid for our side: there is nothing to sell into right now."""


def _floored(price: Decimal, floor: Decimal | None, tick: Decimal) -> Decimal:
    price = clamp_price(price, tick)
    return price if floor is None else max(price, clamp_price(round_to_tick(floor, tick, up=True), tick))


def initial_exit_price(cfg: ExecutionConfig, quote: Quote, side: Side, tick: Decimal = CENT, *,
                       floor: Decimal | None = None) -> PricedOrder:
    bid, ask = quote.bid(side), quote.ask(side)
    if bid is None or bid <= 0:
        raise NoMarket(f"{quote.ticker}: no {side.value} bid to sell into")
    if cfg.order_type == "marketable":
        return PricedOrder(_floored(bid, floor, tick), TimeInForce.IOC)
    if cfg.price_strategy in ("best_bid", "far_side"):
        price = bid
    else:
        if ask is None:
            price = bid
        elif cfg.price_strategy == "mid":
            price = round_to_tick((bid + ask) / 2, tick, up=True)
        else:  # near_ask
            price = ask - tick
        price = max(price, bid + tick)      # a maker: resting above the bid
    return PricedOrder(_floored(price, floor, tick), TimeInForce.GTC)


def marketable_price(quote: Quote, side: Side, tick: Decimal = CENT, *, floor: Decimal | None = None) -> PricedOrder:
    bid = quote.bid(side)
    if bid is None or bid <= 0:
        raise NoMarket(f"{quote.ticker}: no {side.value} bid to sell into")
    return PricedOrder(_floored(bid, floor, tick), TimeInForce.IOC)


def aggressiveness(walk_number: int, exe: ExitExecutionConfig) -> Decimal:
    """Walk 1 -> 1.0, walk 2 -> 1.0 + step, ..."""
    return Decimal(1) + exe.aggressiveness_step * (walk_number - 1)


def walked_price(previous: Decimal, walk_number: int, exe: ExitExecutionConfig, quote: Quote, side: Side,
                 tick: Decimal = CENT, *, floor: Decimal | None = None) -> Decimal:
    step = round_to_tick(exe.walk_step_cents / HUNDRED * aggressiveness(walk_number, exe), tick, up=True)
    price = previous - max(step, tick)
    bid, ask = quote.bid(side), quote.ask(side)
    if bid is not None:
        deepest = bid - ((ask - bid) if ask is not None else Decimal(0))
        price = max(price, round_to_tick(deepest, tick, up=True))
        # A walk that would start above the ask is pulled down to it first.
        if ask is not None:
            price = min(price, ask)
    return _floored(price, floor, tick)
