"""RiskManager: the circuit breakers.

- Daily loss: realized P&L of the (UTC, clock) day; at or below -daily_loss_limit it trips.
- API failures: venue call failures within a sliding window; at the limit it trips.
A trip is audited once, halts entries, and sends circuit_breaker (a CRITICAL exit) to every
open position through the supervisor. It stays tripped until the process is restarted by a
person who has looked (documented in the README).

Restart (actors/watchdog.py): `Rebuild` re-adds the day's realized P&L from the database (see
`_rebuild_day_pnl`); the API-failure window starts empty. A breaker already tripped stays in
force elsewhere (the Supervisor and the EntryManager keep it); when either of them is restarted
this actor re-announces a breaker it tripped (`on_peer_restarted`).
"""
from __future__ import annotations

from collections import deque
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from actors.base import ArbeesActor
from config.schema import Config
from models.durations import seconds
from models.messages import (
    ApiCallFailed,
    CircuitBreakerTripped,
    HaltEntries,
    PnlRealized,
    Rebuild,
)
from models.money import ZERO, fmt_money


class RiskManager(ArbeesActor):
    kind = "risk_manager"
    survives_errors = True

    def __init__(self, rt, config: Config, supervisor, *, repository=None, handle=None) -> None:
        super().__init__(rt, "risk", supervisor, handle=handle)
        self.repository = repository          # read-only, for a restart
        self.cfg = config.circuit_breaker
        self.daily: dict[date, Decimal] = {}
        self.failures: deque[datetime] = deque()
        self.tripped: str | None = None

    def handle(self, message: Any) -> None:
        match message:
            case PnlRealized(amount=amount, ts=ts):
                day = ts.date()
                self.daily[day] = self.daily.get(day, ZERO) + amount
                if self.daily[day] <= -self.cfg.daily_loss_limit_dollars:
                    self._trip(f"daily loss {fmt_money(self.daily[day])} reached the limit "
                               f"-${self.cfg.daily_loss_limit_dollars}")
            case ApiCallFailed(ts=ts, method=method, error=error):
                window = seconds(self.cfg.api_failure_window_secs)
                self.failures.append(ts)
                while self.failures and self.failures[0] <= ts - window:
                    self.failures.popleft()
                if len(self.failures) >= self.cfg.api_failure_limit:
                    self._trip(f"{len(self.failures)} venue call failures within {self.cfg.api_failure_window_secs}s "
                               f"(last: {method} {error})")
            case Rebuild():
                self._rebuild_day_pnl()
            case _:
                self.unknown(message)

    def _rebuild_day_pnl(self) -> None:
        """Today's realized P&L as the database knows it: every position closed today, and the
        realized part (partial exits) of those still open. Approximate where an open position's
        partial exits were on an earlier day (they count today: the conservative side)."""
        if self.repository is None:
            return
        today = self.rt.clock.now().date()
        total = ZERO
        for p in self.repository.all_positions():
            if p.closed_at is None or p.closed_at.date() == today:
                total += p.realized_pnl
        self.daily[today] = total
        if total <= -self.cfg.daily_loss_limit_dollars:
            self._trip(f"daily loss {fmt_money(total)} reached the limit -${self.cfg.daily_loss_limit_dollars} "
                       "(rebuilt from the database after a restart)")

    def on_peer_restarted(self, name: str) -> None:
        if self.tripped and name in ("supervisor", "entry_manager"):
            now = self.rt.clock.now()
            self.send(self.supervisor, HaltEntries(self.tripped))
            self.send(self.supervisor, CircuitBreakerTripped(self.tripped, now))

    def _trip(self, reason: str) -> None:
        if self.tripped:
            return
        self.tripped = reason
        now = self.rt.clock.now()
        self.rt.audit.emit("CIRCUIT_BREAKER_TRIPPED", f"CIRCUIT BREAKER: {reason}; closing every position, entries halted",
                           reason=reason)
        self.send(self.supervisor, HaltEntries(reason))
        self.send(self.supervisor, CircuitBreakerTripped(reason, now))
