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
    min_volume: int


@dataclass(frozen=True, slots=True)
class TimeBasedConfig:
    minutes_before_close: Decimal


@dataclass(frozen=True, slots=True)
class EdgeExitConfig:
    early_exit_edge_pct: Decimal
    edge_disappeared_edge_pct: Decimal


@dataclass(frozen=True, slots=True)
class RebalanceConfig:
    enabled: bool
    edge_margin_pct: Decimal
    min_free_capital_dollars: Decimal


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
    api_failure_limit: int
    api_failure_window_secs: Decimal


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
    alerts: AlertsConfig

    def signal_type(self, name: str) -> SignalTypeConfig:
        """Thresholds for a signal type; types without a section use `default`."""
        return self.signal_types.get(name) or self.signal_types["default"]

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
