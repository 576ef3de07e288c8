"""Heartbeat: proof of life in the audit log, read by `status`, `timeline`, `report` and the dashboard.

Every `interval` (30 s) of the engine's clock it emits one HEARTBEAT audit event: the process
id, which clock runs the engine (wall or virtual), the circuit breaker, venue calls made in the
last minute against the budget, the open positions, the alert delivery counters, whether new
entries are paused, and the mark of every open position whose mark, trailing stop or model
probability changed since the previous beat (so `timeline` and the report's price charts can
draw the price path between decisions without a MARK event per quote), and the quote age of every
open position's market (`quote_ages`: seconds since Arbees last knew its book, 0 for a market the
stream serves) with `quotes_stale` (why, for the markets past monitoring.quote_stale_alert_secs;
actors/price_cache_watch.py). When the actor stops (the engine shut down in order) it emits a last
HEARTBEAT with state "stopped".

It only reads: the database (through the Repository), two attributes of the RiskManager and the
RateLimiter and the PriceCache's `quote_ages()`, asked through pykka proxies with a short timeout
(none of them ever asks back, so there is no cycle). A failed read leaves that field out; it never stops the beat.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from loguru import logger

from actors.base import ArbeesActor
from actors.clock import VirtualClock
from models import audit_events as ae
from models.budget import WINDOW

HEARTBEAT_SECS = 30
READ_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class Beat:
    """Scheduler timer: emit the next HEARTBEAT."""
    generation: int


class Heartbeat(ArbeesActor):
    """Proof of life in the audit log (see the module docstring).

    Receives: its own timer Beat.

    Sends: Beat to itself through the scheduler.

    Asks: the RiskManager's `tripped`, the RateLimiter's `call_log` and the PriceCache's
    `quote_ages()` through their proxies, within READ_TIMEOUT_S (2 s); a read that fails leaves the
    field out.
    """

    kind = "heartbeat"
    survives_errors = True

    def __init__(self, rt, config, refs, repository, *, interval_secs: int = HEARTBEAT_SECS) -> None:
        super().__init__(rt, "heartbeat")
        self.config = config
        self.refs = refs
        self.repository = repository
        self.interval = timedelta(seconds=interval_secs)
        self.interval_secs = interval_secs
        self._gen = 0
        self._timer = None
        self._last_marks: dict[str, tuple[Any, ...]] = {}
        self._proxies: dict[str, Any] = {}           # actor urn -> its pykka proxy
        self.beats = 0
        # Read by the heartbeat, set by the control channel (adapters/operator/control.py) and the alert
        # dispatcher (adapters/operator/alerts.py) through `extra`: a callable returning more fields.
        self.extra = getattr(rt.audit, "heartbeat_fields", None)

    def on_start(self) -> None:
        self._beat("running")

    def on_stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        try:
            self._beat("stopped", schedule=False)
        except Exception as exc:  # noqa: BLE001 - stopping must not fail on a last log line
            logger.warning("last heartbeat not written: {}", type(exc).__name__)

    def handle(self, message: Any) -> None:
        match message:
            case Beat(generation=g):
                if g == self._gen:
                    self._beat("running")
            case _:
                self.unknown(message)

    def _beat(self, state: str, *, schedule: bool = True) -> None:
        now = self.rt.clock.now()
        fields: dict[str, Any] = {
            "state": state, "pid": os.getpid(),
            "clock": "virtual" if isinstance(self.rt.clock, VirtualClock) else "wall",
            "interval_secs": self.interval_secs,
            "calls_per_minute": self.config.monitoring.max_api_calls_per_minute,
        }
        breaker = self._read(self.refs.risk_manager, "tripped")
        if breaker is not _MISSING:
            fields["breaker"] = breaker or ""
        log = self._read(self.refs.rate_limiter, "call_log")
        if log is not _MISSING and log is not None:
            since = now - WINDOW
            fields["calls_last_minute"] = sum(1 for t, _ in list(log) if t > since)
        quotes = self._read(self.refs.price_cache, "quote_ages", call=True)
        if quotes is not _MISSING and quotes is not None:
            fields["quote_ages"], stale = quotes
            if stale:
                fields["quotes_stale"] = stale
        try:
            open_positions = self.repository.open_marks()
        except Exception as exc:  # noqa: BLE001 - a busy database skips one beat's marks
            logger.warning("heartbeat could not read open positions: {}", type(exc).__name__)
            open_positions = None
        if open_positions is not None:
            fields["open_positions"] = len(open_positions)
            fields["marks"] = self._changed_marks(open_positions)
        if callable(self.extra):
            fields.update(self.extra())
        self.beats += 1
        self.rt.audit.emit(ae.Heartbeat(**fields))
        if schedule:
            self._gen += 1
            self._timer = self.rt.scheduler.call_at(now + self.interval, self.actor_ref, Beat(self._gen))

    def _read(self, ref: Any, name: str, *, call: bool = False) -> Any:
        if ref is None:
            return _MISSING
        try:
            # One proxy per actor (a handle's actor changes on a restart): building a pykka proxy
            # introspects every attribute of the actor, which cost more than the beat itself.
            urn = getattr(ref, "target", ref).actor_urn
            proxy = self._proxies.get(urn)
            if proxy is None:
                proxy = self._proxies[urn] = ref.proxy()
            value = getattr(proxy, name)
            return (value() if call else value).get(timeout=READ_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - renamed, busy or dead: this field is left out
            return _MISSING

    def _changed_marks(self, positions: tuple[tuple, ...]) -> list[dict[str, Any]]:
        """`positions` as Repository.open_marks gives them."""
        out = []
        seen = set()
        for pid, price, trail, probability, contracts, as_of in positions:
            seen.add(pid)
            key = (price, trail, probability, contracts)
            if price is None or self._last_marks.get(pid) == key:
                continue
            self._last_marks[pid] = key
            out.append({"position_id": pid, "mark": price, "contracts": contracts,
                        "trailing_stop": trail, "model_probability": probability, "as_of": as_of})
        for pid in [k for k in self._last_marks if k not in seen]:
            del self._last_marks[pid]
        return out


_MISSING = object()
