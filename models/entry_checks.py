"""Entry refusals: a signal whose quote would trigger an exit the moment it filled, pure.

Buying at the ask of a quote that already breaches an exit rule opens a position only to pay
the spread back at once (the Phase 5 warning: "your exit monitor might be closing positions
immediately"). `exit_at_once` names the first such reason, with the numbers, or None:
- no bid for our side: nothing to sell into, so no mark and no way out;
- our side's bid already at or past the signal type's stop loss measured from the ask we would
  pay: the spread alone costs the whole stop budget (the stop itself is measured from the
  entry-time bid, models/exit_rules.stop_price; this check bounds what a stop-out can cost:
  less than twice the stop);
- the liquidity limits already breached (the same test liquidity_dried_up fires on,
  models/liquidity.py; a recent volume still unknown refuses nothing).
A smaller order cures none of these (each is about prices, not size), so nothing is resized.
"""
from __future__ import annotations

from config.schema import Config
from models.liquidity import liquidity_breach
from models.market import Quote, Side
from models.money import fmt_price
from models.pnl import price_at_pct


def exit_at_once(quote: Quote, side: Side, signal_type: str, config: Config) -> str | None:
    bid, ask = quote.bid(side), quote.ask(side)
    if bid is None or bid <= 0:
        return f"no {side.value} bid: a position could not be marked or sold (exit at once)"
    if ask is not None:
        pct = config.signal_type(signal_type).stop_loss_pct
        stop = price_at_pct(ask, -pct)
        if bid <= stop:
            return (f"the {side.value} bid {fmt_price(bid)} is already at or past the {signal_type} stop loss "
                    f"{fmt_price(stop)} ({pct}% below the ask {fmt_price(ask)}): the spread alone would stop it out")
    breach = liquidity_breach(quote, side, config.liquidity)
    if breach is not None:
        return f"liquidity already breached: {breach.detail} (liquidity_dried_up would fire at once)"
    return None
