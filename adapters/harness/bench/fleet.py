"""Opening many positions directly, for benchmarks.

The EntryManager allows one position per market and side, so a benchmark that needs 1,000 of
them opens them the way a restart would see them: the contracts are bought on the PaperVenue
(one order per market and side, so exits are never rejected as oversells), each PositionState
is written through the Repository in one transaction, and the Supervisor is sent StartPosition.
Nothing in the engine is bypassed after that: quotes, wake-ups, exits and fills run as live.
"""
from __future__ import annotations

import math
import resource
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Sequence

from models.market import Quote, Side
from models.commands import StartPosition
from models.money import CENT, ONE
from models.orders import Action, OrderRequest, TimeInForce
from models.position import PositionState
from adapters.storage.tables import OPEN_POSITION_INDEX, database_proxy


@dataclass(frozen=True, slots=True)
class Spec:
    """One position to open: what it holds and at what price it entered."""

    position_id: str
    ticker: str
    side: Side
    entry_price: Decimal
    contracts: int = 10
    signal_type: str = "default"


DEEP_VOLUME = 1_000_000


def read_attr(refs: Iterable[Any], name: str, timeout_s: float) -> list[Any]:
    """Attribute `name` of every actor in `refs`, asked of all at once (pykka's ProxyGetAttr:
    a pykka proxy per actor would introspect every attribute of each, which costs more than the
    positions' own work being measured)."""
    from pykka.messages import ProxyGetAttr

    futures = [ref.ask(ProxyGetAttr(attr_path=(name,)), block=False) for ref in refs]
    return [f.get(timeout=timeout_s) for f in futures]


def quote(ticker: str, ts: datetime, bid: str, ask: str) -> Quote:
    """A top-of-book quote with unlimited size (so exits fill in full) and a traded volume far
    above the liquidity floor (so liquidity_dried_up stays quiet)."""
    return Quote(ticker=ticker, ts=ts, yes_bid=Decimal(bid), yes_ask=Decimal(ask), volume=DEEP_VOLUME)


def buy_holdings(venue: Any, specs: Iterable[Spec], tag: str) -> None:
    """Buy on the venue what the positions hold: one IOC at the far side per market and side.
    The venue must already have a quote for every market."""
    need: dict[tuple[str, Side], int] = defaultdict(int)
    for s in specs:
        need[(s.ticker, s.side)] += s.contracts
    for n, ((ticker, side), count) in enumerate(sorted(need.items())):
        req = OrderRequest(f"bench-{tag}-buy-{n}", ticker, side, Action.BUY, count, ONE - CENT,
                           TimeInForce.IOC)
        snap = venue.place_order(req)
        if snap.filled_count != count:
            raise RuntimeError(f"bench: could not buy {count} {side.value} of {ticker} "
                               f"(filled {snap.filled_count}); does the venue have a quote?")


def state_of(spec: Spec, now: datetime) -> PositionState:
    return PositionState(
        position_id=spec.position_id, ticker=spec.ticker, side=spec.side, signal_type=spec.signal_type,
        sport="nba", game_id=None, entry_price=spec.entry_price, initial_contracts=spec.contracts,
        contracts=spec.contracts, entry_fees=Decimal("0.00"), opened_at=now)


def save_states(repository: Any, states: Sequence[PositionState]) -> None:
    # Benchmarks stack several positions on one market and side to measure fan-out, which the
    # engine itself never does (one open position per market and side, a unique index); their
    # scratch database drops that index.
    database_proxy.execute_sql(f"DROP INDEX IF EXISTS {OPEN_POSITION_INDEX}")
    with repository.atomic():
        for s in states:
            repository.upsert_position(s)


def open_positions(engine: Any, specs: Sequence[Spec], *, tag: str, buy: bool = True) -> list[PositionState]:
    """Buy, persist and start `specs`; returns once every new actor is idle (subscribed, first
    wake-up scheduled)."""
    if buy:
        buy_holdings(engine.venue, specs, tag)
    now = engine.clock.now()
    states = [state_of(s, now) for s in specs]
    save_states(engine.repository, states)
    system = engine.system
    for state in states:
        system.rt.send(system.refs.supervisor, StartPosition(state))
    settle(engine)
    return states


def settle(engine: Any, timeout_s: float = 120.0) -> None:
    if not engine.system.rt.activity.wait_idle(timeout_s):
        raise RuntimeError("bench: the actors did not go idle")


def rss_kib() -> int:
    """Resident set size of this process now, in KiB (Linux /proc/self/status VmRSS)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # peak, a fallback only


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[k]


class Stopwatch:
    """Wall seconds since it was made (benchmarks only)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start
