"""Rebalance, pure: which open positions may give their capital to a better signal.

A signal refused because the exposure caps leave less than one contract (market, game or
portfolio) can take the place of an open position whose *current* edge it beats by
`rebalance.edge_margin_pct` points. Only positions whose exit frees room under every cap that
blocked the signal are candidates: a position in the same game when the game cap blocked, in
the same market when the market cap blocked, any position for the portfolio cap. The weakest
current edge among the candidates that answered is exited (LOW), and the signal is entered
with the capital it frees.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Mapping

from config.schema import Config
from models.money import HUNDRED
from models.sizing import Exposure


@dataclass(frozen=True, slots=True)
class Holding:
    """What the EntryManager knows of one open position: where its cost counts."""
    position_id: str
    ticker: str
    game_id: str | None
    cost: Decimal


def blocking_caps(exposure: Exposure, unit_cost: Decimal, config: Config) -> frozenset[str]:
    """The caps ("market", "game", "portfolio") that leave less than one contract at `unit_cost`."""
    x = config.exposure_limits
    room = {"market": x.per_market_dollars - exposure.market, "game": x.per_game_dollars - exposure.game,
            "portfolio": x.portfolio_dollars - exposure.portfolio}
    return frozenset(cap for cap, free in room.items() if free < unit_cost)


def rebalance_candidates(ticker: str, game_id: str | None, exposure: Exposure, unit_cost: Decimal,
                         holdings: Iterable[Holding], config: Config) -> tuple[str, ...]:
    """Positions whose exit would leave room for at least one contract under every blocking cap."""
    blocked = blocking_caps(exposure, unit_cost, config)
    if not blocked:
        return ()
    x = config.exposure_limits
    room = {"market": x.per_market_dollars - exposure.market, "game": x.per_game_dollars - exposure.game,
            "portfolio": x.portfolio_dollars - exposure.portfolio}
    out = []
    for h in holdings:
        under = {"market": h.ticker == ticker, "game": game_id is not None and h.game_id == game_id,
                 "portfolio": True}
        if all(under[cap] and room[cap] + h.cost >= unit_cost for cap in blocked):
            out.append(h.position_id)
    return tuple(sorted(out))


def pick_weakest(edges: Mapping[str, Decimal | None], new_edge: Decimal, config: Config) -> str | None:
    """The position with the weakest current edge (points) that `new_edge` (a fraction) beats by
    the margin; positions whose edge is unknown (stale model or quote, no bid) are skipped."""
    known = [(edge, pid) for pid, edge in edges.items() if edge is not None]
    if not known:
        return None
    edge, pid = min(known)
    return pid if new_edge * HUNDRED - edge >= config.rebalance.edge_margin_pct else None
