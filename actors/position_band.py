"""The PositionActor's side of the quiet bands (issue 14, models/exit_band.py).

With streamed quotes, a quiet position hands the PriceCache its band after each evaluation and
is then sent only the quotes that leave it. Anything else that reaches the position while the
cache holds its band (a wake-up, a model update, a breaker, a fill, a settlement, ...) waits
until the cache has answered a ReleaseBand with the last quote it forwarded: `_catch_up` does
what evaluating the quotes kept from the position would have done (nothing fired: they were
inside the band; the mark, the P&L told to the RiskManager, the book and the time of the last
evaluation moved), so every decision is taken on the same state as without bands
(tests/models/test_exit_band.py, tests/actors/test_quiet_bands_engine.py). The mark the position
reports to the RiskManager (_report_mark) is here too: with a band it carries the band's floor.
Time bands (models/time_band.py): a banded position also sleeps through its cadence ticks until a
time-only input (the close window, a model estimate going stale, the recent volume running dry)
can change a verdict, at most QUIET_MAX; `_catch_up` then also moves the time of the last
evaluation to the last tick it slept through (and saves the mark if it moved).
"""
from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal
from typing import Any

from models.exit_band import quiet_band
from models.time_band import last_tick_before, quiet_until, time_band_wake
from models.commands import BandChanged, ReleaseBand
from models.events import BandReleased, PositionMarked, QuoteUpdated
from models.money import ZERO
from models.position import PositionStatus, mark_moved
from models.pnl import mark_position


class QuietBandMixin:
    """Mixed into PositionActor (it owns every attribute used here)."""

    def _init_bands(self, rt, state) -> None:  # type: ignore[no-untyped-def]
        """While the PriceCache holds our band it sends us only the quotes that leave it; anything
        else first catches up (ReleaseBand) so it is handled exactly as if every quote had been
        evaluated (see _catch_up)."""
        self._bands_on = self.streamed and getattr(rt, "quiet_bands", False)
        self._banded = False
        self._stash: list | None = None          # messages held until the cache's BandReleased
        self._pushed_ts = None                    # ts of the last quote the cache pushed to us
        self._marks_needed = False                # the RiskManager wants every quote and exact marks
        self._floor_pnl: Decimal | None = None    # unrealized P&L at the band's floor, as last reported
        self._cooling: set[str] = set()           # conditions whose exit gave up, until CooldownOver
        self._hot_until = None                    # restored: the router may hold cooldowns we do not know
        self.ticks_slept = 0                      # catch-ups that skipped at least one tick (time bands)
        if state.last_update is not None or state.status is not PositionStatus.OPEN:
            self._hot_until = rt.clock.now() + timedelta(minutes=2)

    def handle(self, message: Any) -> None:
        """The gate in front of the position's own handler (_handle): a message that arrives while
        the cache holds our band waits for the cache's BandReleased (catching up first)."""
        if self._stash is not None:                 # catching up: in order, after the cache's answer
            if isinstance(message, BandReleased):
                self._on_released(message)
            else:
                self._stash.append(message)
            return
        if isinstance(message, QuoteUpdated) and not message.request_id:
            self._banded = False                    # the cache dropped our band to send it
            self._pushed_ts = message.quote.ts if message.quote is not None else None
        elif isinstance(message, BandReleased):
            return                                  # an answer we no longer wait for
        elif self._banded:
            self._banded = False
            self._stash = [message]
            self.send(self.refs.price_cache, ReleaseBand(self.state.ticker, self.key, self.actor_ref))
            return
        self._handle(message)

    def _update_band(self, triggers, now) -> None:  # type: ignore[no-untyped-def]
        """After an evaluation: hand the cache our band when we are quiet (models/exit_band.py),
        and tell the RiskManager the least our P&L can be while quotes are filtered."""
        band = None
        if not (triggers or self._marks_needed or self.manual is not None or self._settlement is not None
                or self._offers or self._rebalance_for is not None or self._cooling
                or self.context.liquidity_breach_since is not None   # a breach lasting: liquidity_dried_up is due
                or (self._hot_until is not None and now < self._hot_until)):
            band = quiet_band(self.state, self.quote, now, self.config, self.context)
        floor = None if band is None else (band.floor - self.state.entry_price) * self.state.contracts
        if floor != self._floor_pnl:
            self._floor_pnl = floor
            self._report_mark(force=True)           # before the band: the RiskManager counts the floor first
        if band is not None:
            self._banded = True
            self.send(self.refs.price_cache, BandChanged(self.state.ticker, self.key, band))
            # Time band (models/time_band.py): sleep through the ticks that cannot change anything.
            until = quiet_until(self.state, self.quote, now, self.config, self.context)
            wake = time_band_wake(self._last_eval, self._interval(), until) if self.rt.time_bands else None
            if wake is not None and (self._next_wake is None or wake > self._next_wake):
                self._schedule(wake)

    def _on_released(self, released: BandReleased) -> None:
        stash, self._stash = self._stash or [], None
        self._catch_up(released)
        for i, message in enumerate(stash):
            self.handle(message)
            if self._stash is not None:             # it banded again and the next one needs a catch-up
                self._stash.extend(stash[i + 1:])
                return

    def _catch_up(self, released: BandReleased) -> None:
        """Do what evaluating the quotes the band kept from us would have done: the last one
        was evaluated when it was forwarded; nothing fired (it was inside the band), the mark,
        the P&L told to the RiskManager, the book seen and the time of the last evaluation moved.
        Then the ticks the time band slept through: they ran on the grid from the last evaluation,
        fired nothing and saved the mark (models/time_band.py)."""
        self._catch_up_quote(released)
        if self._last_eval is None:
            return
        tick = last_tick_before(self._last_eval, self._interval(), self.rt.clock.now())
        if tick > self._last_eval:
            self._last_eval = tick
            self.ticks_slept += 1
            if mark_moved(self._saved, self.state):
                self._save()

    def _catch_up_quote(self, released: BandReleased) -> None:
        q, at = released.quote, released.forwarded_at
        if q is None or at is None or (self._last_eval is not None and at <= self._last_eval):
            return
        if self.quote is not None and q.ts < self.quote.ts:
            return
        self.quote = dataclasses.replace(q, ts=at) if q.ts < at else q
        self._last_eval = at
        self.evaluations += 1
        self.state = mark_position(self.state, self.quote, at, self.config)
        self._floor_pnl = None                      # hearing every quote until the next band
        self._report_mark(force=True)
        book = (self.quote.bid(self.state.side), self.quote.bid_size(self.state.side))
        if book != self._book:
            self._book = book
            self.book_changes += 1

    def _report_mark(self, force: bool = False) -> None:
        """Tell the RiskManager the unrealized P&L of what is held, at the mark, when it changed
        (the daily loss limit counts it; 0 once nothing is held). While our side has no bid the
        mark is unknown and the last known one is kept: a loss does not vanish with the bid.
        With a quiet band the report carries its floor (`force`: sent even when unchanged)."""
        s = self.state
        if s.current_price is not None:
            self._last_price = s.current_price
        price = self._last_price if s.current_price is None else s.current_price
        u = (price - s.entry_price) * s.contracts if price is not None and s.contracts else ZERO
        if u != self._marked or force:
            self._marked = u
            self.send(self.refs.risk_manager, PositionMarked(self.key, u, self._floor_pnl))
