"""The PositionActor's side of the quiet bands (issue 14, models/exit_band.py).

With streamed quotes, a quiet position hands the PriceCache its band after each evaluation and
is then sent only the quotes that leave it. Anything else that reaches the position while the
cache holds its band (a wake-up, a model update, a breaker, a fill, a settlement, ...) waits
until the cache has answered a ReleaseBand with the last quote it forwarded: `_catch_up` does
what evaluating the quotes kept from the position would have done (nothing fired: they were
inside the band; the mark, the P&L told to the RiskManager, the book and the time of the last
evaluation moved), so every decision is taken on the same state as without bands
(tests/test_exit_band.py, tests/test_quiet_bands_engine.py).
"""
from __future__ import annotations

import dataclasses

from models.exit_band import quiet_band
from models.messages import BandChanged, BandReleased
from models.pnl import mark_position


class QuietBandMixin:
    """Mixed into PositionActor (it owns every attribute used here)."""

    def _update_band(self, triggers, now) -> None:  # type: ignore[no-untyped-def]
        """After an evaluation: hand the cache our band when we are quiet (models/exit_band.py),
        and tell the RiskManager the least our P&L can be while quotes are filtered."""
        band = None
        if not (triggers or self._marks_needed or self.manual is not None or self._settlement is not None
                or self._offers or self._rebalance_for is not None or self._cooling
                or (self._hot_until is not None and now < self._hot_until)):
            band = quiet_band(self.state, self.quote, now, self.config, self.context)
        floor = None if band is None else (band.floor - self.state.entry_price) * self.state.contracts
        if floor != self._floor_pnl:
            self._floor_pnl = floor
            self._report_mark(force=True)           # before the band: the RiskManager counts the floor first
        if band is not None:
            self._banded = True
            self.send(self.refs.price_cache, BandChanged(self.state.ticker, self.key, band))

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
        the P&L told to the RiskManager, the book seen and the time of the last evaluation moved."""
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
