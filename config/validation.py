"""Checks of a converted configuration: ranges, cross-field consistency, known sports, alert
channels. config/loader.py converts the YAML into config/schema.py's dataclasses, then calls
`validate`; every problem raises ConfigError naming the file, the key, what was expected and found.
"""
from __future__ import annotations

import dataclasses
import typing
from decimal import Decimal
from pathlib import Path
from typing import Any

from config.errors import ConfigError
from config.schema import EXIT_CONDITIONS, ORDER_TYPES, PRICE_STRATEGIES, PRIORITIES, RETRY_STRATEGIES, Config
from models.winprob import SPORT_KEYS

QUOTE_STALE_MAX_SECS = Decimal(600)   # monitoring.quote_stale_alert_secs: a blind position speaks within 10 min
EDGE_PCT_MAX = Decimal(50)   # an edge (probability points) above 50 is a typo, not a setting
KELLY_SPORTS: tuple[str, ...] = (*SPORT_KEYS, "default")
# Limits past which a value switches protection off while looking like a setting.
MAX_CADENCE_SECS = Decimal(300)
MAX_QUOTE_TTL_SECS = Decimal(60)
MAX_ORDER_TIMEOUT_SECS: dict[str, Decimal] = {"CRITICAL": Decimal(30), "HIGH": Decimal(60), "MEDIUM": Decimal(300),
                                              "LOW": Decimal(600)}


def check_kelly_sports(fractions: dict[str, Decimal], source_of: typing.Callable[[str], Path]) -> None:
    """Every sport under sizing.kelly_fraction is one the engine knows: a misspelt one would
    silently fall back to the default fraction."""
    import difflib

    for sport in fractions:
        if sport not in KELLY_SPORTS:
            close = difflib.get_close_matches(sport.lower(), KELLY_SPORTS, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{source_of(f'sizing.kelly_fraction.{sport}')}: sizing.kelly_fraction.{sport}: unknown sport (expected one of "
                              f"{', '.join(KELLY_SPORTS)}){hint}")


def validate(c: Config, source: typing.Callable[..., str]) -> None:
    """Ranges and cross-field consistency of a converted Config; `source(path, *related)` names the
    file a key came from. The first problem raises ConfigError."""
    def check(ok: bool, path: str, expected: str, found: Any, *related: str) -> None:
        if not ok:
            raise ConfigError(f"{source(path, *related)}: {path}: expected {expected}, found {found}")

    def positive(value: Decimal | int, path: str) -> None:
        check(value > 0, path, "a value above 0", value)

    def pct(value: Decimal, path: str, low: Decimal = Decimal(0), high: Decimal = Decimal(100)) -> None:
        check(low < value <= high, path, f"a percentage above {low} and at most {high}", value)

    m = c.monitoring
    positive(m.normal_interval_secs, "monitoring.normal_interval_secs")
    positive(m.urgent_interval_secs, "monitoring.urgent_interval_secs")
    check(m.urgent_interval_secs <= m.normal_interval_secs, "monitoring.urgent_interval_secs",
          f"at most monitoring.normal_interval_secs ({m.normal_interval_secs}): the urgent cadence must not be slower",
          m.urgent_interval_secs, "monitoring.normal_interval_secs")
    check(m.normal_interval_secs <= MAX_CADENCE_SECS, "monitoring.normal_interval_secs",
          f"at most {MAX_CADENCE_SECS} (a position checked less often than every 5 minutes is not monitored)",
          m.normal_interval_secs)
    window = c.time_based_urgent.minutes_before_close
    check(m.normal_interval_secs <= window * 60, "monitoring.normal_interval_secs",
          f"at most time_based_urgent.minutes_before_close ({window} min): a slower cadence can miss the time exit's "
          "window", m.normal_interval_secs, "time_based_urgent.minutes_before_close")
    pct(m.urgent_threshold_pct, "monitoring.urgent_threshold_pct")
    positive(m.price_cache_ttl_secs, "monitoring.price_cache_ttl_secs")
    check(m.price_cache_ttl_secs <= MAX_QUOTE_TTL_SECS, "monitoring.price_cache_ttl_secs",
          f"at most {MAX_QUOTE_TTL_SECS} (a quote a minute old must not count as fresh)", m.price_cache_ttl_secs)
    # A healthy polled market is read once per cadence (or per TTL when that is longer): a shorter limit
    # would alert on every quiet position between two reads; past QUOTE_STALE_MAX_SECS a blind position
    # says nothing for too long.
    usual = max(m.normal_interval_secs, m.price_cache_ttl_secs)
    check(usual < m.quote_stale_alert_secs <= QUOTE_STALE_MAX_SECS, "monitoring.quote_stale_alert_secs",
          f"above monitoring.normal_interval_secs and monitoring.price_cache_ttl_secs ({usual}: a healthy polled "
          f"market is read that often) and at most {QUOTE_STALE_MAX_SECS}", m.quote_stale_alert_secs,
          "monitoring.normal_interval_secs", "monitoring.price_cache_ttl_secs")
    positive(m.max_api_calls_per_minute, "monitoring.max_api_calls_per_minute")
    check(0 <= m.reserved_for_orders_pct < 100, "monitoring.reserved_for_orders_pct",
          "a percentage from 0 to below 100", m.reserved_for_orders_pct)

    check(set(c.exit_priorities) == set(PRIORITIES), "exit_priorities",
          f"exactly the levels {', '.join(PRIORITIES)}", sorted(c.exit_priorities))
    seen: list[str] = []
    for level, conditions in c.exit_priorities.items():
        for cond in conditions:
            check(cond in EXIT_CONDITIONS, f"exit_priorities.{level}",
                  f"exit conditions from {', '.join(EXIT_CONDITIONS)}", repr(cond))
            check(cond not in seen, f"exit_priorities.{level}", "each condition listed once", f"{cond!r} twice")
            seen.append(cond)
    missing = [x for x in EXIT_CONDITIONS if x not in seen]
    check(not missing, "exit_priorities", "every exit condition under one level", f"{', '.join(missing)} missing")

    e = c.exit_execution
    positive(e.walk_step_cents, "exit_execution.walk_step_cents")
    check(e.aggressiveness_step >= 0, "exit_execution.aggressiveness_step", "a value of 0 or more", e.aggressiveness_step)
    for level in PRIORITIES:
        x = e.for_priority(level)
        p = f"exit_execution.{level}"
        check(x.order_type in ORDER_TYPES, f"{p}.order_type", f"one of {', '.join(ORDER_TYPES)}", repr(x.order_type))
        check(x.price_strategy in PRICE_STRATEGIES, f"{p}.price_strategy", f"one of {', '.join(PRICE_STRATEGIES)}",
              repr(x.price_strategy))
        check(x.retry_strategy in RETRY_STRATEGIES, f"{p}.retry_strategy", f"one of {', '.join(RETRY_STRATEGIES)}",
              repr(x.retry_strategy))
        positive(x.timeout_secs, f"{p}.timeout_secs")
        check(x.timeout_secs <= MAX_ORDER_TIMEOUT_SECS[level], f"{p}.timeout_secs",
              f"at most {MAX_ORDER_TIMEOUT_SECS[level]} (a {level} exit's order must not rest longer)", x.timeout_secs)
        check(x.max_walks >= 0, f"{p}.max_walks", "0 or more", x.max_walks)
        positive(x.max_marketable_attempts, f"{p}.max_marketable_attempts")
        check(x.order_type != "marketable" or x.price_strategy == "far_side", f"{p}.price_strategy",
              "far_side for a marketable order", repr(x.price_strategy), f"{p}.order_type")

    pe = c.partial_exits
    total = Decimal(0)
    last = Decimal(0)
    for i, stage in enumerate(pe.stages):
        p = f"partial_exits.stages[{i}]"
        pct(stage.profit_pct, f"{p}.profit_pct", high=Decimal(10000))
        check(stage.profit_pct > last, f"{p}.profit_pct", f"above the previous stage's {last}", stage.profit_pct,
              f"partial_exits.stages[{i - 1}]")
        last = stage.profit_pct
        pct(stage.sell_fraction_pct, f"{p}.sell_fraction_pct")
        total += stage.sell_fraction_pct
    check(total < 100, "partial_exits.stages", "sell fractions that add up to less than 100% (the rest rides the "
          "trailing stop)", f"{total}%")

    check(c.liquidity.max_spread_cents > 0, "liquidity.max_spread_cents", "a value above 0", c.liquidity.max_spread_cents)
    check(c.liquidity.min_volume >= 0, "liquidity.min_volume", "0 or more", c.liquidity.min_volume)
    positive(c.liquidity.volume_window_secs, "liquidity.volume_window_secs")
    check(0 <= c.liquidity.breach_for_secs <= 300, "liquidity.breach_for_secs", "0 (at once) or more and at most 300",
          c.liquidity.breach_for_secs)
    positive(c.time_based_urgent.minutes_before_close, "time_based_urgent.minutes_before_close")
    check(c.edge_exits.early_exit_edge_pct <= EDGE_PCT_MAX, "edge_exits.early_exit_edge_pct",
          f"at most {EDGE_PCT_MAX}", c.edge_exits.early_exit_edge_pct)
    check(c.edge_exits.edge_disappeared_edge_pct <= c.edge_exits.early_exit_edge_pct,
          "edge_exits.edge_disappeared_edge_pct", "at most edge_exits.early_exit_edge_pct",
          c.edge_exits.edge_disappeared_edge_pct, "edge_exits.early_exit_edge_pct")
    ages = c.edge_exits.max_model_age_secs
    check("default" in ages, "edge_exits.max_model_age_secs", "a 'default' entry", sorted(ages))
    for sport, age in ages.items():
        positive(age, f"edge_exits.max_model_age_secs.{sport}")
    check(0 <= c.rebalance.edge_margin_pct <= EDGE_PCT_MAX, "rebalance.edge_margin_pct",
          f"0 or more and at most {EDGE_PCT_MAX}", c.rebalance.edge_margin_pct)

    check("default" in c.signal_types, "signal_types", "a 'default' section for signal types without their own",
          sorted(c.signal_types))
    for name, st in c.signal_types.items():
        p = f"signal_types.{name}"
        check(0 < st.stop_loss_pct < 100, f"{p}.stop_loss_pct",
              "a percentage above 0 and below 100 (a 100% stop sits at 0 and never fires)", st.stop_loss_pct)
        pct(st.profit_target_pct, f"{p}.profit_target_pct", high=Decimal(10000))
        pct(st.trailing_stop.activation_pct, f"{p}.trailing_stop.activation_pct", high=Decimal(10000))
        positive(st.trailing_stop.distance_cents, f"{p}.trailing_stop.distance_cents")

    s = c.sizing
    positive(s.bankroll_dollars, "sizing.bankroll_dollars")
    check(0 <= s.min_edge_pct <= EDGE_PCT_MAX, "sizing.min_edge_pct", f"0 or more and at most {EDGE_PCT_MAX}",
          s.min_edge_pct)
    positive(s.max_contracts_per_order, "sizing.max_contracts_per_order")
    check("default" in s.kelly_fraction, "sizing.kelly_fraction", "a 'default' entry", sorted(s.kelly_fraction))
    check_kelly_sports(s.kelly_fraction, source)
    for sport, frac in s.kelly_fraction.items():
        check(0 < frac <= 1, f"sizing.kelly_fraction.{sport}", "a fraction above 0 and at most 1", frac)
    ca = s.confidence_adjustment
    positive(ca.full_confidence_edge_pct, "sizing.confidence_adjustment.full_confidence_edge_pct")
    check(0 < ca.min_multiplier <= 1, "sizing.confidence_adjustment.min_multiplier", "above 0 and at most 1",
          ca.min_multiplier)

    x = c.exposure_limits
    for name in ("per_market_dollars", "per_game_dollars", "portfolio_dollars"):
        positive(getattr(x, name), f"exposure_limits.{name}")
    check(x.per_market_dollars <= x.per_game_dollars, "exposure_limits.per_market_dollars",
          f"at most exposure_limits.per_game_dollars ({x.per_game_dollars})", x.per_market_dollars,
          "exposure_limits.per_game_dollars")
    check(x.per_game_dollars <= x.portfolio_dollars, "exposure_limits.per_game_dollars",
          f"at most exposure_limits.portfolio_dollars ({x.portfolio_dollars})", x.per_game_dollars,
          "exposure_limits.portfolio_dollars")

    _validate_risk_guards(c, check, positive, pct)
    _validate_alerts(c, check, positive)


def _validate_risk_guards(c: Config, check, positive, pct) -> None:  # type: ignore[no-untyped-def]
    """The circuit breaker and the signal guards (issue 9 §1, §2)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    cb = c.circuit_breaker
    positive(cb.daily_loss_limit_dollars, "circuit_breaker.daily_loss_limit_dollars")
    try:
        ZoneInfo(cb.day_timezone)
        known = True
    except (ZoneInfoNotFoundError, ValueError):
        known = False
    check(known, "circuit_breaker.day_timezone", "an IANA time zone name such as UTC or America/New_York",
          repr(cb.day_timezone))
    pct(cb.api_failure_rate_pct, "circuit_breaker.api_failure_rate_pct")
    positive(cb.api_failure_min_calls, "circuit_breaker.api_failure_min_calls")
    positive(cb.api_failure_window_secs, "circuit_breaker.api_failure_window_secs")

    sg = c.signals
    check("default" in sg.max_age_secs, "signals.max_age_secs", "a 'default' entry (sources without their own)",
          sorted(sg.max_age_secs))
    for source, age in sg.max_age_secs.items():
        positive(age, f"signals.max_age_secs.{source}")
    check(sg.max_clock_skew_secs >= 0, "signals.max_clock_skew_secs", "0 or more", sg.max_clock_skew_secs)
    check(0 <= sg.max_slippage_cents < 100, "signals.max_slippage_cents", "0 or more and below 100",
          sg.max_slippage_cents)
    check(0 <= sg.reentry_after_stop_secs <= 86400, "signals.reentry_after_stop_secs",
          "0 (off) or more and at most 86400 (a day)", sg.reentry_after_stop_secs)
    sv = c.supervision
    positive(sv.heartbeat_secs, "supervision.heartbeat_secs")
    positive(sv.max_restarts, "supervision.max_restarts")
    positive(sv.restart_window_secs, "supervision.restart_window_secs")
    positive(sv.backlog_limit, "supervision.backlog_limit")
    for f in dataclasses.fields(sv.stall_limit_secs):
        positive(getattr(sv.stall_limit_secs, f.name), f"supervision.stall_limit_secs.{f.name}")

# --- alerts (issue 12) ---------------------------------------------------------------------------
# Keys each channel type takes: (required, optional). Secrets are given as the NAME of an
# environment variable (`*_env`); the value is read when the engine starts, never from YAML.
ALERT_CHANNEL_KEYS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "webhook": (frozenset({"url_env"}), frozenset({"bearer_token_env"})),
    "telegram": (frozenset({"bot_token_env", "chat_id"}), frozenset({"api_base"})),
    "slack": (frozenset({"webhook_url_env"}), frozenset()),
    "discord": (frozenset({"webhook_url_env"}), frozenset({"username"})),
    "ntfy": (frozenset({"topic_env"}), frozenset({"server", "token_env"})),
}


def _validate_alerts(c: Config, check: Any, positive: Any) -> None:
    import re

    a = c.alerts
    positive(a.queue_size, "alerts.queue_size")
    check(a.max_retries >= 0, "alerts.max_retries", "0 or more", a.max_retries)
    positive(a.backoff_base_secs, "alerts.backoff_base_secs")
    positive(a.timeout_secs, "alerts.timeout_secs")
    names: set[str] = set()
    for i, ch in enumerate(a.channels):
        p = f"alerts.channels[{i}]"
        kind = ch.get("type")
        check(kind in ALERT_CHANNEL_KEYS, f"{p}.type", f"one of {', '.join(ALERT_CHANNEL_KEYS)}", repr(kind))
        required, optional = ALERT_CHANNEL_KEYS[kind]
        allowed = required | optional | {"type", "name"}
        for key in ch:
            check(key in allowed, f"{p}.{key}", f"a key of a {kind} channel ({', '.join(sorted(allowed))}); "
                                                "secrets go in environment variables named by *_env keys", "unknown key")
        for key in sorted(required):
            check(key in ch, f"{p}.{key}", f"present for a {kind} channel", "nothing")
        for key, value in ch.items():
            if key.endswith("_env"):
                check(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value) is not None, f"{p}.{key}",
                      "the NAME of an environment variable (letters, digits, _), not the secret itself", "another text")
        name = ch.get("name", f"{kind}-{i + 1}")
        check(name not in names, f"{p}.name", "a name no other channel has", repr(name))
        names.add(name)
