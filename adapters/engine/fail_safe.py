"""The engine's last resort, after the Watchdog failed it safe (actors/watchdog.py).

The actors are stopped by then; nothing here goes through them (the failure may be any of
them). `flatten` works on the venue and the database directly, like start-up reconciliation:
1. reconcile: every order that may be live is looked up, a resting one canceled, fills booked;
2. every open position is sold with one marketable order (immediate_or_cancel) for all it holds,
   limited FLATTEN_SLIPPAGE below the best bid of its side (an emergency accepts a few cents to
   get out; it never sells at any price), written down in `orders` before it is sent;
3. reconcile again: the fills are booked and positions closed or reduced from the ledger.
What is still held afterwards is alerted by name. The caller exits non-zero.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from loguru import logger

from adapters.engine.reconcile import reconcile
from models import audit_events as ae
from models.venue import VenueError
from models.market import Side
from models.orders import Action, OrderRequest, TimeInForce

FLATTEN_SLIPPAGE = Decimal("0.05")
MIN_PRICE = Decimal("0.01")
EXIT_CODE = 3


class EngineFailedSafe(RuntimeError):
    """Raised where the engine is driven (a session loop) once the Watchdog failed it safe."""


def check(system) -> None:  # type: ignore[no-untyped-def]
    failure = getattr(system, "failure", None)
    if failure is not None and failure.reason:
        raise EngineFailedSafe(failure.reason)


@dataclass
class FlattenReport:
    sent: list[str] = field(default_factory=list)
    still_held: list[str] = field(default_factory=list)


def flatten(venue, repository, audit, clock) -> FlattenReport:  # type: ignore[no-untyped-def]
    report = FlattenReport()
    reconcile(venue, repository, audit, clock)
    for p in repository.load_open_positions():
        if p.contracts <= 0:
            continue
        try:
            quote = venue.get_quotes((p.ticker,)).get(p.ticker)
        except VenueError as exc:
            audit.emit(ae.Alert(said=f"ALERT fail-safe: no quote for {p.ticker} ({type(exc).__name__}); "
                                     f"{p.contracts} {p.side.value} not sold", position_id=p.position_id,
                                market=p.ticker))
            continue
        bid = None if quote is None else (quote.yes_bid if p.side is Side.YES else
                                          (None if quote.yes_ask is None else 1 - quote.yes_ask))
        if bid is None or bid < MIN_PRICE:
            audit.emit(ae.Alert(said=f"ALERT fail-safe: no bid for {p.ticker} {p.side.value}; {p.contracts} not sold",
                                position_id=p.position_id, market=p.ticker))
            continue
        limit = max(bid - FLATTEN_SLIPPAGE, MIN_PRICE)
        exit_id = f"{p.position_id}-failsafe"
        n = 1 + sum(1 for o in repository.orders_for(p.position_id) if o.exit_id == exit_id)
        request = OrderRequest(f"{exit_id}-{n}", p.ticker, p.side, Action.SELL, p.contracts, limit,
                               TimeInForce.IOC)
        repository.record_order_pending(request, p.position_id, exit_id)
        audit.emit(ae.OrderPlaced(position_id=p.position_id, market=p.ticker, exit_id=exit_id,
                                  client_order_id=request.client_order_id, price=limit, contracts=p.contracts,
                                  condition="fail_safe", priority="CRITICAL", held=p.side))
        try:
            venue.place_order(request)
            report.sent.append(request.client_order_id)
        except VenueError as exc:      # reconciliation below looks it up by client_order_id
            logger.error("fail-safe: {} failed: {}", request.client_order_id, type(exc).__name__)
    reconcile(venue, repository, audit, clock)
    for p in repository.load_open_positions():
        if p.contracts > 0:
            report.still_held.append(f"{p.position_id}: {p.contracts} {p.side.value} {p.ticker}")
            audit.emit(ae.Alert(said=f"ALERT fail-safe: {p.contracts} {p.side.value} {p.ticker} still held after the "
                                     "flattening; sell by hand", position_id=p.position_id, market=p.ticker))
    return report
