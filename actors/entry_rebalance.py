"""The EntryManager's rebalance (models/rebalance.py): a signal blocked by the exposure caps asks
the positions that would free room for their current edge, exits the weakest when the signal beats
it by the margin, and enters with what that exit freed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from actors.entry_orders import _Pending
from models import audit_events as ae
from models.durations import seconds
from models.commands import ForwardToPosition, GetQuote, RebalanceExit, RebalanceOffer
from models.rebalance import pick_weakest, rebalance_candidates
from models.signal import TradingSignal
from models.sizing import fee_per_contract


@dataclass
class _Rebalance:
    """A signal blocked by the caps, waiting for the candidates' current edges, then for the
    weakest one's exit to free its capital."""
    signal: TradingSignal
    edge: Decimal
    asked: frozenset[str]
    reason: str
    edges: dict[str, Decimal | None] = field(default_factory=dict)
    exiting: str | None = None


REBALANCE_ANSWER_SECS = 5   # how long a rebalance waits for the candidates' current edges


REBALANCE_EXIT_SECS = 1200  # ... and for the chosen exit (LOW walks slowly: 10 walks a minute apart)


@dataclass(frozen=True, slots=True)
class RebalanceDecide:
    """EntryManager's timer: decide a rebalance with the answers received so far, or (expire)
    give up a rebalance whose exit never reported its end (a restarted position forgets it)."""
    signal_id: str
    expire: bool = False


class EntryRebalance:
    """Part of the EntryManager (mixed into it; it runs on its state): a rebalance from the offer to
    the entry it makes room for."""

    # rebalance (models/rebalance.py) ---------------------------------------------------------
    def _offer_rebalance(self, sig: TradingSignal, edge: Decimal, ask: Decimal, reason: str) -> bool:
        """Ask every position whose exit frees room under the blocking caps for its current edge;
        True when a rebalance started (the signal waits for it)."""
        if not self.config.rebalance.enabled:
            return False
        candidates = rebalance_candidates(sig.ticker, sig.game_id, self._book.view(sig.ticker, sig.game_id),
                                          ask + fee_per_contract(ask), self._holdings.values(), self.config)
        if not candidates:
            return False
        self._rebalances[sig.signal_id] = _Rebalance(sig, edge, frozenset(candidates), reason)
        self.rt.audit.emit(ae.Rebalance(signal_id=sig.signal_id, market=sig.ticker, side=sig.side, step="asked",
                                        edge=edge, reason=reason, positions=",".join(candidates)))
        for pid in candidates:
            self.send(self.refs.supervisor, ForwardToPosition(pid, RebalanceOffer(sig.signal_id)))
        # Answers come at once from fresh quotes; a stale one is refreshed first (a venue read).
        self.rt.scheduler.call_later(seconds(REBALANCE_ANSWER_SECS), self.me, RebalanceDecide(sig.signal_id))
        return True

    def _on_rebalance_edge(self, sid: str, pid: str, edge: Decimal | None) -> None:
        r = self._rebalances.get(sid)
        if r is None or r.exiting is not None or pid not in r.asked:
            return
        r.edges[pid] = edge
        if set(r.edges) == r.asked:
            self._decide_rebalance(sid)

    def _decide_rebalance(self, sid: str) -> None:
        r = self._rebalances.get(sid)
        if r is None or r.exiting is not None:
            return
        sig = r.signal
        weakest = pick_weakest({p: r.edges.get(p) for p in r.asked if p in self._holdings}, r.edge, self.config)
        if weakest is None:
            del self._rebalances[sid]
            known = {p: e for p, e in r.edges.items() if e is not None}
            why = (f"no position's current edge is beaten by {self.config.rebalance.edge_margin_pct} points "
                   f"(weakest {min(known.values()):.2f})" if known else "no candidate's current edge is known")
            self._release(sig)
            self._reject(sig, f"{r.reason}; rebalance: {why}")
            return
        r.exiting = weakest
        self.rt.audit.emit(ae.Rebalance(signal_id=sid, market=sig.ticker, side=sig.side, step="exit",
                                        position_id=weakest, position_edge=r.edges[weakest], edge=r.edge))
        self.send(self.refs.supervisor, ForwardToPosition(weakest, RebalanceExit(sid, r.edge)))
        self.rt.scheduler.call_later(seconds(REBALANCE_EXIT_SECS), self.me, RebalanceDecide(sid, expire=True))

    def _expire_rebalance(self, sid: str) -> None:
        r = self._rebalances.pop(sid, None)
        if r is None:
            return
        self._release(r.signal)
        self._reject(r.signal, f"{r.reason}; rebalance: the exit of {r.exiting} did not end within "
                               f"{REBALANCE_EXIT_SECS // 60} min")

    def _rebalance_freed(self, pid: str, sold: int | None) -> None:
        """The weakest position's rebalance exit ended (`sold`) or the position closed (None):
        enter the waiting signal with what was freed, or give it up when nothing was."""
        sid = next((k for k, r in self._rebalances.items() if r.exiting == pid), None)
        if sid is None:
            return
        r = self._rebalances.pop(sid)
        sig = r.signal
        if sold == 0:
            self._release(sig)
            self._reject(sig, f"{r.reason}; rebalance: the exit of {pid} sold nothing")
            return
        self._pending[sid] = _Pending(sig, rebalanced=True)
        self.send(self.refs.price_cache, GetQuote(sig.ticker, self.me, sid))

