"""The configuration as frozen dataclasses. Units are in the names (_secs, _pct, _cents, _dollars).

Percentages are whole percents (12 means 12%). Every field is required in the defaults
file; a user's --config file overrides any subset of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

PRIORITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
EXIT_CONDITIONS = (
    "stop_loss", "circuit_breaker",
    "trailing_stop", "time_based_urgent", "liquidity_dried_up",
    "profit_target", "partial_exit_target",
    "early_exit", "edge_disappeared", "rebalance",
)
ORDER_TYPES = ("marketable", "limit")
PRICE_STRATEGIES = ("far_side", "best_bid", "mid", "near_ask")
RETRY_STRATEGIES = ("immediate_market", "walk_then_market", "walk_price", "walk_slowly")


@dataclass(frozen=True, slots=True)
class MonitoringConfig:
    normal_interval_secs: Decimal
    urgent_interval_secs: Decimal
    urgent_threshold_pct: Decimal
    price_cache_ttl_secs: Decimal
    quote_stale_alert_secs: Decimal
    max_api_calls_per_minute: int
    reserved_for_orders_pct: Decimal


@dataclass(frozen=True, slots=True)
class ExecutionConfig:
    order_type: str
    price_strategy: str
    timeout_secs: Decimal
    retry_strategy: str
    max_walks: int
    max_marketable_attempts: int


@dataclass(frozen=True, slots=True)
class ExitExecutionConfig:
    walk_step_cents: Decimal
    aggressiveness_step: Decimal
    CRITICAL: ExecutionConfig
    HIGH: ExecutionConfig
    MEDIUM: ExecutionConfig
    LOW: ExecutionConfig

    def for_priority(self, priority: str) -> ExecutionConfig:
        return getattr(self, priority)


@dataclass(frozen=True, slots=True)
class PartialStage:
    profit_pct: Decimal
    sell_fraction_pct: Decimal


@dataclass(frozen=True, slots=True)
class PartialExitsConfig:
    enabled: bool
    stages: tuple[PartialStage, ...]


@dataclass(frozen=True, slots=True)
class LiquidityConfig:
    max_spread_cents: Decimal
    min_volume: int                 # contracts traded within volume_window_secs
    volume_window_secs: Decimal
    breach_for_secs: Decimal        # liquidity_dried_up fires once a breach has lasted this long (0: at once)


@dataclass(frozen=True, slots=True)
class TimeBasedConfig:
    minutes_before_close: Decimal


@dataclass(frozen=True, slots=True)
class EdgeExitConfig:
    early_exit_edge_pct: Decimal
    edge_disappeared_edge_pct: Decimal
    max_model_age_secs: dict[str, Decimal]     # by sport, with "default": older drives no edge exit


@dataclass(frozen=True, slots=True)
class RebalanceConfig:
    enabled: bool
    edge_margin_pct: Decimal


@dataclass(frozen=True, slots=True)
class TrailingStopConfig:
    activation_pct: Decimal
    distance_cents: Decimal


@dataclass(frozen=True, slots=True)
class SignalTypeConfig:
    stop_loss_pct: Decimal
    profit_target_pct: Decimal
    trailing_stop: TrailingStopConfig


@dataclass(frozen=True, slots=True)
class ConfidenceConfig:
    enabled: bool
    full_confidence_edge_pct: Decimal
    min_multiplier: Decimal


@dataclass(frozen=True, slots=True)
class SizingConfig:
    bankroll_dollars: Decimal
    min_edge_pct: Decimal
    max_contracts_per_order: int
    kelly_fraction: dict[str, Decimal]
    confidence_adjustment: ConfidenceConfig


@dataclass(frozen=True, slots=True)
class ExposureConfig:
    per_market_dollars: Decimal
    per_game_dollars: Decimal
    portfolio_dollars: Decimal


@dataclass(frozen=True, slots=True)
class CircuitBreakerConfig:
    daily_loss_limit_dollars: Decimal
    day_timezone: str
    api_failure_rate_pct: Decimal
    api_failure_min_calls: int
    api_failure_window_secs: Decimal


@dataclass(frozen=True, slots=True)
class SignalsConfig:
    """Guards on incoming signals (issue 9 §2): age per source, clock skew, slippage, and no
    re-entry of a market and side stopped out within reentry_after_stop_secs (0: off)."""
    max_age_secs: dict[str, Decimal]
    max_clock_skew_secs: Decimal
    max_slippage_cents: Decimal
    reentry_after_stop_secs: Decimal

    def max_age_for(self, source: str) -> Decimal:
        return self.max_age_secs.get(source, self.max_age_secs["default"])


@dataclass(frozen=True, slots=True)
class StorageConfig:
    database_path: str
    audit_path: str


# --- alerts (issue 12): channels that reach a person; secrets are named env vars, never values ---
@dataclass(frozen=True, slots=True)
class AlertsConfig:
    queue_size: int                 # per channel; a full queue drops the alert (counted)
    max_retries: int
    backoff_base_secs: Decimal
    timeout_secs: Decimal
    channels: tuple[dict[str, str], ...]   # checked by config/loader.py _validate_alerts


@dataclass(frozen=True, slots=True)
class StallLimits:
    """Per core actor: seconds a handler may run, or a heartbeat go unanswered, before it is stuck."""
    store: Decimal
    supervisor: Decimal
    risk_manager: Decimal
    rate_limiter: Decimal
    price_cache: Decimal
    exit_router: Decimal
    entry_manager: Decimal
    game_feed: Decimal


@dataclass(frozen=True, slots=True)
class SupervisionConfig:
    """The Watchdog's limits (actors/watchdog.py)."""
    heartbeat_secs: Decimal
    max_restarts: int                    # core restarts within restart_window_secs before failing safe
    restart_window_secs: Decimal
    backlog_limit: int                   # messages waiting for a core actor before it counts as stuck
    stall_limit_secs: StallLimits


@dataclass(frozen=True, slots=True)
class Config:
    monitoring: MonitoringConfig
    exit_priorities: dict[str, tuple[str, ...]]
    exit_execution: ExitExecutionConfig
    partial_exits: PartialExitsConfig
    liquidity: LiquidityConfig
    time_based_urgent: TimeBasedConfig
    edge_exits: EdgeExitConfig
    rebalance: RebalanceConfig
    signal_types: dict[str, SignalTypeConfig]
    sizing: SizingConfig
    exposure_limits: ExposureConfig
    circuit_breaker: CircuitBreakerConfig
    storage: StorageConfig
    signals: SignalsConfig
    supervision: SupervisionConfig
    alerts: AlertsConfig

    def signal_type(self, name: str) -> SignalTypeConfig:
        """Thresholds for a signal type; types without a section use `default`."""
        return self.signal_types.get(name) or self.signal_types["default"]

    def max_model_age_secs(self, sport: str) -> Decimal:
        """How old a model probability may be and still drive an edge exit, for `sport`."""
        ages = self.edge_exits.max_model_age_secs
        return ages.get(sport.lower()) or ages["default"]

    def kelly_fraction(self, sport: str) -> Decimal:
        return self.sizing.kelly_fraction.get(sport.lower()) or self.sizing.kelly_fraction["default"]

    def priority_of(self, condition: str) -> str:
        for priority, conditions in self.exit_priorities.items():
            if condition in conditions:
                return priority
        raise KeyError(condition)

    def condition_rank(self, condition: str) -> tuple[int, int]:
        """Sort key: (priority level, position in config order). Lower runs first."""
        priority = self.priority_of(condition)
        return PRIORITIES.index(priority), self.exit_priorities[priority].index(condition)
