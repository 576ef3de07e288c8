"""The PriceCache's watch over what Arbees knows of each open position's market (review6 S3).

A position is judged on the last quote the cache holds. When the venue's batch read comes back
without the market, reads fail, or nothing reads it, that quote only grows older: the stop loss
and every other rule act on a book that may be long gone. The cache knows when it last had
current knowledge of each market with a subscriber (an open position):
- a polled market: the time of its last quote (a read's answer or a push), or of the first
  subscription when it has none;
- a market the stream serves (its lease alive), or any market when the quotes are streamed (a
  replay): now. An unchanged book on the stream is a quiet market, not a stale one: the stream's
  health checks re-snapshot a silent book and hand the market back to polling when they cannot
  (docs/kalshi.md, "States and transitions").

Past `monitoring.quote_stale_alert_secs` without it, ONE ALERT per episode names the market, its
positions, the age of its last quote and why (missing from the venue's answers, reads failing,
a read waiting for its answer, the stream silent, nobody asked). One kind of trouble ALERTs at
once, then at most once per ALERT_HOLD (60 s) naming every market that joined it meanwhile: a venue
outage over 50 markets is two ALERTs, not fifty.
When knowledge returns, one QUOTES_BACK line says after how long. Every market the venue's answer
leaves out is counted (`missing_from_answers`) and said once per run of misses in the log; it is
read again at its position's next wake-up like any stale market. The sweep runs on the cache's
own traffic (at most every SWEEP_EVERY) and on the heartbeat's `quote_ages` read (every 30 s),
so it needs no timer.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from loguru import logger

from models import audit_events as ae
from models.durations import seconds

SWEEP_EVERY = timedelta(seconds=5)
ALERT_HOLD = timedelta(seconds=60)    # one kind of trouble (an outage) ALERTs at most once a minute
FEED_LEASE = timedelta(seconds=45)    # the stream's lease (actors/price_cache.py): past it it serves nothing
LISTED = 10                           # markets named in one ALERT's text (all are in its fields)


class QuoteWatchMixin:
    """Mixed into PriceCache (it owns `_subs`, `_quotes`, `_live`, `_in_flight`, `_feed_heard`,
    `streamed`, `rt`)."""

    def _init_watch(self, stale_after_secs: Any) -> None:
        self.stale_after = None if stale_after_secs is None else seconds(stale_after_secs)
        self._subscribed_at: dict[str, Any] = {}
        self._trouble: dict[str, tuple[str, str, int]] = {}  # ticker -> (what the last reads said, detail, in a row)
        self._stale: dict[str, tuple[Any, str, bool]] = {}  # ticker -> (last known at, why, announced): past the limit
        self._pending: dict[str, list[str]] = defaultdict(list)   # kind of trouble -> stale markets not yet said
        self._alerted_at: dict[str, Any] = {}               # kind of trouble -> its last ALERT
        self._back: list[str] = []                          # stale markets known again, said by _say_back
        self._swept: Any = None
        self.missing_from_answers = 0                       # markets asked for that an answer left out

    def _watch_subscribed(self, ticker: str) -> None:
        self._subscribed_at.setdefault(ticker, self.rt.clock.now())

    def _watch_unsubscribed(self, ticker: str) -> None:
        for d in (self._subscribed_at, self._trouble, self._stale):
            d.pop(ticker, None)   # type: ignore[attr-defined]

    def _watch_known(self, ticker: str) -> None:
        """Knowledge of `ticker` came (a quote stored, or the stream serves it); it ends a stale
        episode when it is current (a quote itself older than the limit does not)."""
        episode = self._stale.get(ticker)
        if episode is not None and ticker not in self._back:
            now = self.rt.clock.now()
            if now - self._known_at(ticker, now) >= self.stale_after:
                return
            known, _, announced = episode               # its back line says why as it stood at the end
            self._stale[ticker] = (known, self._why_stale(ticker, now)[1], announced)
            self._back.append(ticker)
        self._trouble.pop(ticker, None)

    def _known_again(self, tickers: Any) -> None:
        """The stream serves these markets (again)."""
        for t in tickers:
            if t in self._subs:
                self._watch_known(t)
        self._say_back()

    def _watch_read(self, tickers: tuple[str, ...], quotes: dict, error: Exception | None) -> None:
        """A read's answer: count the watched markets it left out, or that it failed for."""
        left_out = []
        for t in tickers:
            if t in quotes or t not in self._subs:
                continue
            if error is None:
                self.missing_from_answers += 1
                if self._note_trouble(t, "missing", "") == 1:
                    left_out.append(t)
            else:
                self._note_trouble(t, "failing", f"{type(error).__name__}: {error}")
        if left_out:
            logger.warning("price cache: the venue answered a read of {} market(s) without {}: its last quote "
                           "is kept and it is read again at its next wake-up", len(tickers), ", ".join(left_out))

    def _watch_refused(self, ticker: str, problem: str) -> None:
        """A quote of `ticker` was dropped as untrustworthy (actors/price_cache.py quote_problem)."""
        if ticker in self._subs:
            self._note_trouble(ticker, "refused", problem)

    def _note_trouble(self, ticker: str, kind: str, detail: str) -> int:
        """Record what the last read said of `ticker`; returns how many in a row said that kind."""
        was, _, n = self._trouble.get(ticker, ("", "", 0))
        n = n + 1 if was == kind else 1
        self._trouble[ticker] = (kind, detail, n)
        return n

    def _known_at(self, ticker: str, now: Any) -> Any:
        if self.streamed or (ticker in self._live and self._feed_heard is not None
                             and now - self._feed_heard <= FEED_LEASE):
            return now
        q = self._quotes.get(ticker)
        return q.ts if q is not None else self._subscribed_at.get(ticker, now)

    def _why_stale(self, ticker: str, now: Any) -> tuple[str, str]:
        """(the kind of trouble, shared by the markets an outage hits; the sentence for this market)."""
        kind, detail, n = self._trouble.get(ticker, ("", "", 0))
        if kind == "missing":
            return "missing from the venue's answers", f"missing from the venue's answer to the last {n} read(s)"
        if kind == "failing":
            return f"reads failing ({detail.split(':')[0]})", f"reads failing ({detail}; {n} in a row)"
        if kind == "refused":
            why = "its quotes refused as untrustworthy"
            return why, f"{why} ({detail}; {n} in a row)"
        if ticker in self._in_flight:
            why = "a read was sent and is not answered yet (waiting for the call budget?)"
            return why, why
        if ticker in self._live:
            why = "the market-data stream is silent"
            return why, f"{why} ({int((now - self._feed_heard).total_seconds())} s)"
        return "not read: nothing asked for it", "not read: nothing asked for it"

    def _sweep(self, force: bool = False) -> None:
        """Markets past the limit since the last sweep wait in `_pending` under their kind of trouble;
        a kind is said at once, then at most every ALERT_HOLD with all that joined it meanwhile."""
        self._say_back()
        if self.stale_after is None or self.streamed or not self._subs:
            return
        now = self.rt.clock.now()
        if not force and self._swept is not None and now - self._swept < SWEEP_EVERY:
            return
        self._swept = now
        for t in self._subs:
            if t not in self._stale:
                known = self._known_at(t, now)
                if now - known >= self.stale_after:
                    kind, why = self._why_stale(t, now)
                    self._stale[t] = (known, why, False)
                    self._pending[kind].append(t)
        for kind in list(self._pending):
            last = self._alerted_at.get(kind)
            if last is not None and now - last < ALERT_HOLD:
                continue
            markets = [t for t in dict.fromkeys(self._pending.pop(kind)) if t in self._stale]
            if markets:
                self._alerted_at[kind] = now
                self._alert_stale(kind, markets, now)

    def _alert_stale(self, kind: str, markets: list[str], now: Any) -> None:
        ages = {t: int((now - self._stale[t][0]).total_seconds()) for t in markets}
        for t in markets:
            self._stale[t] = (*self._stale[t][:2], True)        # announced: its return is said too
        positions = tuple(k for t in markets for k in self._subs.get(t, {}))
        age = max(ages.values())
        limit = int(self.stale_after.total_seconds())
        if len(markets) == 1:
            (t,) = markets
            why = self._stale[t][1]
            held = f"position {positions[0]} is" if len(positions) == 1 else f"positions {', '.join(positions)} are"
            said = (f"ALERT {t}: no current quote for {age} s (limit {limit} s): {why}; {held} judged on "
                    f"that old quote: its stop cannot see the market until quotes return")
            self.rt.audit.emit(ae.Alert(said=said, market=t, position_id=positions[0] if len(positions) == 1 else None,
                                        positions=positions, age_secs=age, reason=why))
            return
        listed = ", ".join(f"{t} ({ages[t]} s)" for t in markets[:LISTED])
        more = f" and {len(markets) - LISTED} more" if len(markets) > LISTED else ""
        said = (f"ALERT {len(markets)} markets ({len(positions)} positions) have no current quote for {limit} s or "
                f"more: {kind}: {listed}{more}")
        self.rt.audit.emit(ae.Alert(said=said, markets=tuple(markets), positions=positions, age_secs=age, reason=kind))

    def _say_back(self) -> None:
        """One QUOTES_BACK line for the announced stale markets known again since the last call (one
        not yet announced ends its episode silently)."""
        if not self._back:
            return
        back, self._back = self._back, []
        now = self.rt.clock.now()
        episodes = {t: e for t in back if (e := self._stale.pop(t, None)) is not None and e[2]}
        if not episodes:
            return
        self.rt.audit.emit(ae.QuotesBack(
            markets=tuple(episodes), positions=tuple(k for t in episodes for k in self._subs.get(t, {})),
            blind_secs=max(int((now - known).total_seconds()) for known, _, _ in episodes.values()),
            reason="; ".join(dict.fromkeys(why for _, why, _ in episodes.values()))))

    def quote_ages(self) -> tuple[dict[str, int], dict[str, str]]:
        """For the heartbeat (through the proxy): each open position's market's quote age in whole
        seconds, and why for those past the limit. Sweeps first."""
        self._sweep(force=True)
        now = self.rt.clock.now()
        ages = {t: max(0, int((now - self._known_at(t, now)).total_seconds())) for t in sorted(self._subs)}
        return ages, {t: self._why_stale(t, now)[1] for t in sorted(self._stale)}
