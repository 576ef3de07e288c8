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

The retry ladder (`climb`, `exit_price`) says which of these the next order of an exit uses,
so "why this price" is answered here: the ExecutorActor only places what it is told.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from config.schema import ExecutionConfig, ExitExecutionConfig
from models.market import Quote, Side
from models.money import CENT, HUNDRED, clamp_price, plural, round_to_tick
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


class ExitPhase(StrEnum):
    """Where an ExecutorActor is between messages (its state machine, actors/executor.py)."""
    START = "start"                      # built, nothing asked yet
    QUOTE = "quote"                      # waiting for the quote that prices the next order
    PLACING = "placing"                  # an order sent, its answer awaited
    RESTING = "resting"                  # the order rests until its timeout
    WAITING = "waiting"                  # nothing to sell into (or an IOC found too little): a timeout
    CANCELING = "canceling"              # a cancel sent (or retried), its confirmation awaited
    LOOKUP = "lookup"                    # the order's state is unknown: looked up with back-off
    RECOVERING = "recovering"            # after a crash: probing {exit_id}-1, -2, ...
    RECOVERING_WAIT = "recovering-wait"  # ... a probe failed: waiting to probe again
    DONE = "done"                        # ExitEnded sent


# The retry ladder (DESIGN.md §3): what the next order of an exit is, after one that did not fill.
class Rung(StrEnum):
    INITIAL = "initial"          # the strategy's first price (initial_exit_price)
    WALK = "walk"                # the last price walked toward the market (walked_price)
    MARKETABLE = "marketable"    # the far side, immediate_or_cancel (marketable_price)


@dataclass(frozen=True, slots=True)
class Ladder:
    """Where an exit stands: the kind of its next order, walks made, marketable orders sent."""
    next: Rung = Rung.INITIAL
    walks: int = 0
    marketable_tries: int = 0


def climb(cfg: ExecutionConfig, ladder: Ladder, remaining: int) -> tuple[Ladder, str | None]:
    """One rung up after an order that left `remaining` unsold: (the ladder, None), or (the
    ladder, why it gave up) when the strategy is exhausted.
    immediate_market (and anything already marketable): marketable again, at most
    max_marketable_attempts in all; otherwise up to max_walks walks, then walk_then_market goes
    marketable and walk_price / walk_slowly give up."""
    if cfg.retry_strategy == "immediate_market" or ladder.next is Rung.MARKETABLE:
        tries = ladder.marketable_tries + 1
        if tries >= cfg.max_marketable_attempts:
            return replace(ladder, marketable_tries=tries), \
                f"{plural(tries, 'marketable attempt')} left {remaining} unsold"
        return replace(ladder, next=Rung.MARKETABLE, marketable_tries=tries), None
    if ladder.walks < cfg.max_walks:
        return replace(ladder, next=Rung.WALK, walks=ladder.walks + 1), None
    if cfg.retry_strategy == "walk_then_market":
        return replace(ladder, next=Rung.MARKETABLE), None
    return ladder, f"{plural(ladder.walks, 'walk')} left {remaining} unsold"


def exit_price(cfg: ExecutionConfig, exe: ExitExecutionConfig, ladder: Ladder, quote: Quote, side: Side,
               previous: Decimal | None, *, floor: Decimal | None = None) -> PricedOrder:
    """The price (and time in force) of the exit's next order at `ladder.next` (NoMarket: no bid)."""
    if ladder.next is Rung.MARKETABLE or cfg.order_type == "marketable":
        return marketable_price(quote, side, floor=floor)
    if ladder.next is Rung.WALK and previous is not None:
        return PricedOrder(walked_price(previous, ladder.walks, exe, quote, side, floor=floor), TimeInForce.GTC)
    return initial_exit_price(cfg, quote, side, floor=floor)
