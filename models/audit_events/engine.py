"""Audit events of the engine itself: supervision, the venue, the breaker, start-up, the operator
(models/audit_events/base.py: the shape)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping

from models.audit_events.base import AuditEvent, console
from models.market import Side


@dataclass(frozen=True, kw_only=True)
class Alert(AuditEvent):
    """Something a person should look at. Its text is its content, written where it is raised (a
    sentence per situation, starting "ALERT" but for an exit waiting on the venue); the fields are
    those the situations carry."""

    EVENT = "ALERT"
    WHEN = "something a person should look at (sent to the alert channels)"
    LEVEL = "WARNING"
    ALERT = True

    actor: str | None = None
    key: str | None = None
    message_type: str | None = None
    signal_id: str | None = None
    exit_id: str | None = None
    position_id: str | None = None
    market: str | None = None
    client_order_id: str | None = None
    side: Side | None = None
    method: str | None = None
    venue: int | None = None               # contracts the venue holds (reconciliation)
    database: int | None = None            # contracts the database holds (reconciliation)
    restarts_in_window: int | None = None
    failed_tries: int | None = None
    retry_in_secs: float | None = None
    reason: str | None = None
    detail: str | None = None
    error: str | None = None
    age_secs: int | None = None            # a market without a current quote: how old its last one is
    markets: tuple[str, ...] | None = None  # ... several markets at once
    positions: tuple[str, ...] | None = None
    said: str = console("")

    def _text(self) -> str:
        return self.said


@dataclass(frozen=True, kw_only=True)
class ActorCrashed(AuditEvent):
    EVENT = "ACTOR_CRASHED"
    WHEN = "an actor failed on a message (dropped, the actor restarted), or a child actor crashed"
    LEVEL = "WARNING"

    actor: str
    key: str | None = None
    message_type: str | None = None        # None: reported by the actor's supervisor
    error: str

    def _text(self) -> str:
        if self.message_type is None:
            return f"{self.actor} {self.key} crashed: {self.error}"
        return (f"ALERT {self.actor} crashed on a {self.message_type} ({self.error}); that message is dropped, "
                "the actor is restarted")


@dataclass(frozen=True, kw_only=True)
class ActorRestarted(AuditEvent):
    EVENT = "ACTOR_RESTARTED"
    WHEN = "a core actor, a position (from the database) or an exit's executor was restarted"

    actor: str | None = None
    exit_id: str | None = None
    position_id: str | None = None
    market: str | None = None
    contracts: int | None = None
    reason: str | None = None
    resent: int | None = None
    restarts_in_window: int | None = None
    error: str | None = None
    restarts: int | None = None

    def _text(self) -> str:
        if self.exit_id is not None:
            return f"exit {self.exit_id} restarted after: {self.error}"
        if self.position_id is not None:
            return f"position {self.position_id} restarted from the database after: {self.error}"
        return f"{self.actor} restarted after: {self.reason}; {self.resent} messages sent to it again"


@dataclass(frozen=True, kw_only=True)
class RateLimited(AuditEvent):
    EVENT = "RATE_LIMITED"
    WHEN = "the venue said too many requests; the call is retried after a back-off"

    method: str
    request_id: str
    retry: int
    delay_secs: float = console(0.0)

    def _text(self) -> str:
        return f"venue said too many requests; {self.method} retried in {self.delay_secs:.1f}s"


BUDGET_EXHAUSTED = "BudgetExhausted: "


@dataclass(frozen=True, kw_only=True)
class VenueError(AuditEvent):
    EVENT = "VENUE_ERROR"
    WHEN = "a venue call failed for good (after its retries, or larger than a minute's budget)"

    method: str
    request_id: str
    error: str                             # "<error type>: <what the venue said>"

    def _text(self) -> str:
        return f"{self.method} failed: {self.error.removeprefix(BUDGET_EXHAUSTED)}"


@dataclass(frozen=True, kw_only=True)
class CircuitBreakerTripped(AuditEvent):
    EVENT = "CIRCUIT_BREAKER_TRIPPED"
    WHEN = "a breaker tripped (an alert): every position is closed, entries halt"
    LEVEL = "WARNING"
    ALERT = True

    reason: str
    kind: str                              # daily_loss / api_failures
    day: str
    realized_pnl: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    day_pnl: Decimal | None = None
    calls: int | None = None
    failures: int | None = None

    def _text(self) -> str:
        return f"CIRCUIT BREAKER: {self.reason}; closing every position, entries halted"


@dataclass(frozen=True, kw_only=True)
class CircuitBreakerRestored(AuditEvent):
    EVENT = "CIRCUIT_BREAKER_RESTORED"
    WHEN = "at start, a trip of the same trading day is still in force"

    reason: str
    kind: str
    day: str
    tripped_at: datetime | None = None
    realized_pnl: Decimal | None = None
    unrealized_pnl: Decimal | None = None

    def _text(self) -> str:
        return (f"CIRCUIT BREAKER still tripped today ({self.day}): {self.reason}; entries halted until the day "
                "ends or `python run.py breaker reset --yes`")


@dataclass(frozen=True, kw_only=True)
class CircuitBreakerReset(AuditEvent):
    EVENT = "CIRCUIT_BREAKER_RESET"
    WHEN = "the trading day ended, or an operator ran `breaker reset --yes`"

    reason: str
    kind: str | None = None
    day: str
    tripped_at: datetime | None = None
    by: str                                # day_end / operator
    why: str | None = console()            # the day that ended, for by day_end

    def _key_order(self) -> tuple[str, ...]:
        return ("reason", "by", "day") if self.by == "day_end" else ()     # as the RiskManager always wrote it

    def _text(self) -> str:
        if self.by == "operator":
            return f"CIRCUIT BREAKER reset by the operator: {self.reason}"
        return f"CIRCUIT BREAKER reset: {self.why}; entries resume"


@dataclass(frozen=True, kw_only=True)
class EngineStartup(AuditEvent):
    EVENT = "ENGINE_STARTUP"
    WHEN = "each step of start-up: reconcile, start the actors, resume the open positions"

    mode: str
    step: str                              # reconcile / start / resume
    orders_checked: int | None = None
    orders_canceled: int | None = None
    fills_recorded: int | None = None
    alerts: int | None = None
    unconfirmed_positions: int | None = None
    unconfirmed_entries: int | None = None
    platform: str | None = None
    retry_seed: int | None = None
    resumed: int | None = None
    entries_held: int | None = None
    not_resumed: int | None = None
    said: str = console("")

    def _text(self) -> str:
        return f"start-up ({self.mode}) {self.step}: {self.said}"


@dataclass(frozen=True, kw_only=True)
class EngineFailedSafe(AuditEvent):
    EVENT = "ENGINE_FAILED_SAFE"
    WHEN = "supervision gave up on a core actor: entries halt, every position is exited CRITICAL, the engine stops"

    reason: str

    def _text(self) -> str:
        return (f"ALERT engine failing safe: {self.reason}; entries halted, every position exited CRITICAL, "
                "the engine stops")


@dataclass(frozen=True, kw_only=True)
class PositionsAdopted(AuditEvent):
    EVENT = "POSITIONS_ADOPTED"
    WHEN = "a restarted supervisor took over the running position actors"

    adopted: int
    started: int

    def _text(self) -> str:
        return (f"restarted supervisor took over {self.adopted} position actors and started {self.started} "
                "from the database")


@dataclass(frozen=True, kw_only=True)
class ExitsAdopted(AuditEvent):
    EVENT = "EXITS_ADOPTED"
    WHEN = "a restarted exit router took over the exits in flight"

    exit_ids: tuple[str, ...]

    def _text(self) -> str:
        return f"restarted exit router took over {len(self.exit_ids)} exits in flight"


@dataclass(frozen=True, kw_only=True)
class Heartbeat(AuditEvent):
    EVENT = "HEARTBEAT"
    WHEN = "every 30 s of the engine's clock, and once when it stops"
    LEVEL = "DEBUG"

    state: str                             # running / stopped
    pid: int
    clock: str                             # wall / virtual
    interval_secs: int | None = None
    calls_per_minute: int | None = None
    breaker: str | None = None             # the trip's reason, "" when none
    calls_last_minute: int | None = None
    open_positions: int | None = None
    marks: tuple[Mapping[str, Any], ...] | None = None   # position_id, mark, contracts, trailing_stop, model_probability
    alerts: Mapping[str, Any] | None = None               # per alert channel: sent, failed, dropped, queued ...
    entries_paused: str | None = None     # when the operator paused entries, "" when not
    market_data: Mapping[str, Any] | None = None          # the market-data stream's state (adapters/kalshi/stream.py)
    quote_ages: Mapping[str, int] | None = None           # per open position's market: s since Arbees knew its book
    quotes_stale: Mapping[str, str] | None = None         # the markets past monitoring.quote_stale_alert_secs: why

    def _text(self) -> str:
        return f"heartbeat: engine {self.state}, {self.open_positions if self.open_positions is not None else '?'} open"


@dataclass(frozen=True, kw_only=True)
class ControlCommand(AuditEvent):
    EVENT = "CONTROL_COMMAND"
    WHEN = "a person's `exit` / `entries` command to the running engine, and its answer"

    command: str
    request: Mapping[str, Any]
    ok: bool
    answer: str
    positions: tuple[str, ...] | None = None
    position_id: Any = None                # as the person sent it (an exit command's)
    still_paused: str | None = console()   # the pause's stamp, said again after a restart

    def _text(self) -> str:
        if self.still_paused is not None:
            return f"CONTROL entries still paused after the restart ({self.still_paused})"
        r = self.request
        what = r.get("action") or r.get("position_id") or ("--all" if r.get("all") else "")
        return f"CONTROL {self.command} {what}: {'done' if self.ok else 'refused'}: {self.answer}"
