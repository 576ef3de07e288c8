"""A position's side of a rebalance: its current edge, answered from a fresh quote, and the
rebalance exit it runs when the EntryManager picks it (see actors/entry_rebalance.py).
"""
from __future__ import annotations

import dataclasses
from decimal import Decimal
from models.durations import seconds
from models.exit_rules import current_edge
from models.commands import GetQuote
from models.events import RebalanceEdge, RebalanceEnded
from models.position import PositionStatus


class PositionRebalance:
    """Part of the PositionActor (mixed into it; it runs on the position's state): its answers to a
    rebalance offer and the rebalance exit."""

    # rebalance -------------------------------------------------------------------------
    def _on_rebalance_offer(self, signal_id: str) -> None:
        """Answer with our current edge, from a fresh quote: a stale one is refreshed first
        (polling), never answered from and never dropped."""
        self._offers.append(signal_id)
        now = self.rt.clock.now()
        fresh = self.quote is not None and self.quote.is_fresh(now, seconds(self.config.monitoring.price_cache_ttl_secs))
        if self.streamed or fresh:
            self._answer_offers()
        else:
            self.send(self.refs.price_cache, GetQuote(self.state.ticker, self.actor_ref, "rebalance"))

    def _answer_offers(self) -> None:
        now = self.rt.clock.now()
        quote = self.quote
        if self.streamed and quote is not None and quote.ts < now:
            quote = dataclasses.replace(quote, ts=now)      # the stream says: unchanged since
        edge = None
        if self.state.status is PositionStatus.OPEN and self._settlement is None:
            edge = current_edge(self.state, quote, now, self.config, self.context)
        offers, self._offers = self._offers, []
        for sid in offers:
            self.send(self.refs.entry_manager, RebalanceEdge(sid, self.key, edge))

    def _on_rebalance_exit(self, signal_id: str, edge: Decimal) -> None:
        self.context = dataclasses.replace(self.context, rebalance_edge=edge)
        triggers = self._evaluate()
        self.context = dataclasses.replace(self.context, rebalance_edge=None)
        if any(t.condition == "rebalance" for t in triggers or ()) and self._settlement is None:
            self._rebalance_for = signal_id
        else:   # the market moved since the answer: the margin is no longer there
            self.send(self.refs.entry_manager, RebalanceEnded(self.key, 0))

