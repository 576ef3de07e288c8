"""Was every position past its stop protected? Judged after a session from what the venue's
book really was (the scenario), the positions in the database and the audit log.

A position is past its stop when the best bid of its side is at or below its stop-loss price
(entry x (1 - stop_loss_pct), the exit rule's own threshold for its signal type). It is
protected while an exit of its is in flight: from EXIT_ROUTED to that exit's EXIT_COMPLETED or
EXIT_GAVE_UP (an exit a process restart cut off ends at the restart). An unprotected episode
starts at a book change that leaves an open position past its stop with no exit in flight, and
ends at the first of: an exit routed, the book back above the stop, the position closed, the
session's end. `stop_protected` fails an episode longer than PROTECTION_BOUND, or, for one that
starts when an exit gave up (nothing to sell into for its whole budget of attempts: the router
then holds that condition back for its cooldown, README "How it works"), longer than
PROTECTION_BOUND + GIVE_UP_COOLDOWN.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable, Sequence

from models.market import Side
from models.pnl import price_at_pct

# Longest a position may sit past its stop with no exit in flight. A position polls every 30 s
# (5 s near a threshold) and quotes live 10 s in the cache; a read may wait for the call budget
# (as low as 6 a minute in some seeds); a dead core actor is found by the next message or the
# 5 s heartbeat. 90 s covers the worst of these together with room to spare.
PROTECTION_BOUND = timedelta(seconds=90)
GIVE_UP_COOLDOWN = timedelta(seconds=120)     # the ExitRouter's give_up_cooldown_secs


@dataclass(frozen=True, slots=True)
class Episode:
    position_id: str
    ticker: str
    start: datetime
    end: datetime
    ended_by: str            # exit_routed | recovered | closed | session_end
    after_give_up: bool = False

    @property
    def bound(self) -> timedelta:
        return PROTECTION_BOUND + (GIVE_UP_COOLDOWN if self.after_give_up else timedelta(0))

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def books_by_ticker(events: Iterable[tuple[datetime, Any]]) -> dict[str, list[tuple[datetime, Decimal | None,
                                                                                    Decimal | None]]]:
    """(ts, best YES bid, best YES ask) per market, in time order, from the scenario's BookUpdates."""
    out: dict[str, list] = {}
    for ts, payload in events:
        if hasattr(payload, "yes_bids") and hasattr(payload, "ticker"):
            bid = payload.yes_bids[0][0] if payload.yes_bids else None
            ask = payload.yes_asks[0][0] if payload.yes_asks else None
            out.setdefault(payload.ticker, []).append((ts, bid, ask))
    return out


def _bid(side: Side, yes_bid: Decimal | None, yes_ask: Decimal | None) -> Decimal | None:
    if side is Side.YES:
        return yes_bid
    return None if yes_ask is None else 1 - yes_ask


def _exit_windows(audit: Sequence[dict[str, Any]], restarts: Sequence[datetime], end: datetime,
                  gave_up: set[tuple[str, datetime]]) -> dict[str, list[tuple[datetime, datetime]]]:
    routed: dict[str, tuple[str, datetime]] = {}
    ended: dict[str, datetime] = {}
    for e in audit:
        if e.get("event") == "EXIT_ROUTED" and e.get("exit_id"):
            routed[e["exit_id"]] = (e.get("position_id", ""), datetime.fromisoformat(e["ts"]))
        elif e.get("event") in ("EXIT_COMPLETED", "EXIT_GAVE_UP") and e.get("exit_id"):
            ended.setdefault(e["exit_id"], datetime.fromisoformat(e["ts"]))
            if e.get("event") == "EXIT_GAVE_UP":
                gave_up.add((e.get("position_id", ""), datetime.fromisoformat(e["ts"])))
    out: dict[str, list[tuple[datetime, datetime]]] = {}
    for exit_id, (pid, start) in routed.items():
        stop = ended.get(exit_id)
        if stop is None:       # cut off by a process restart, or still going at the end
            stop = next((r for r in sorted(restarts) if r >= start), end)
        out.setdefault(pid, []).append((start, stop))
    return out


def past_stop_at(p: Any, config: Any, books: dict[str, list], t: datetime) -> bool:
    """Was open position `p` past its stop at `t` (the book as of t, or the change made at t)?"""
    if t < p.opened_at or (p.closed_at is not None and t > p.closed_at):
        return False
    book = books.get(p.ticker, [])
    i = bisect_right([b[0] for b in book], t) - 1
    if i < 0:
        return False
    bid = _bid(p.side, book[i][1], book[i][2])
    return bid is not None and bid <= price_at_pct(p.entry_price, -config.signal_type(p.signal_type).stop_loss_pct)


def unprotected_episodes(positions: Iterable[Any], config: Any, books: dict[str, list], audit: Sequence[dict[str, Any]],
                         restarts: Sequence[datetime], end: datetime) -> list[Episode]:
    gave_up: set[tuple[str, datetime]] = set()
    windows = _exit_windows(audit, restarts, end, gave_up)
    out: list[Episode] = []
    for p in positions:
        stop_price = price_at_pct(p.entry_price, -config.signal_type(p.signal_type).stop_loss_pct)
        closed = p.closed_at or end
        book = books.get(p.ticker, [])
        times = [b[0] for b in book]
        # The book at the moment it opened, then every change while it was open.
        first = max(bisect_right(times, p.opened_at) - 1, 0)
        points = [(max(ts, p.opened_at), bid, ask) for ts, bid, ask in book[first:] if ts < closed]
        mine = sorted(windows.get(p.position_id, []))

        def protected(t: datetime) -> datetime | None:
            """The end of the exit in flight at t, if any."""
            for a, b in mine:
                if a <= t < b:
                    return b
            return None

        def next_routed(t: datetime) -> datetime | None:
            return next((a for a, _ in mine if a >= t), None)

        start: datetime | None = None

        def episode(a: datetime, b: datetime, why: str) -> Episode:
            return Episode(p.position_id, p.ticker, a, b, why, (p.position_id, a) in gave_up)

        for i, (ts, yes_bid, yes_ask) in enumerate(points):
            bid = _bid(p.side, yes_bid, yes_ask)
            past = bid is not None and bid <= stop_price
            if start is not None:
                routed = next_routed(start)
                if routed is not None and routed <= ts:
                    out.append(episode(start, routed, "exit_routed"))
                    start = None
                elif not past:
                    out.append(episode(start, ts, "recovered"))
                    start = None
            if start is None and past:
                until = protected(ts)
                while until is not None and until < (points[i + 1][0] if i + 1 < len(points) else closed):
                    nxt = protected(until)      # exits back to back
                    if nxt is None:
                        break
                    until = nxt
                if until is None:
                    start = ts
                elif until < (points[i + 1][0] if i + 1 < len(points) else closed):
                    start = until                # its exit ended while still past the stop
        if start is not None:
            routed = next_routed(start)
            if routed is not None and routed <= closed:
                out.append(episode(start, routed, "exit_routed"))
            else:
                out.append(episode(start, closed, "closed" if p.closed_at is not None else "session_end"))
    return out
