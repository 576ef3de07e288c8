"""Strict configuration loader.

`load_config(path=None)` reads config/position_management.yaml (the defaults), deep-merges
the user's file over it, converts the result into the frozen dataclasses of config/schema.py
and checks ranges and cross-field consistency. Every problem raises ConfigError naming the
file, the key path, what was expected and what was found; nothing else is touched first.
"""
from __future__ import annotations

import dataclasses
import typing
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from config.schema import (
    EXIT_CONDITIONS,
    ORDER_TYPES,
    PRICE_STRATEGIES,
    PRIORITIES,
    RETRY_STRATEGIES,
    Config,
)
from models.money import to_decimal

DEFAULTS_PATH = Path(__file__).with_name("position_management.yaml")


class ConfigError(Exception):
    """The configuration is unusable; the message says file, key, expected and found."""


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level, found {type(data).__name__}")
    return data


def _merge(base: dict, override: dict, path: str, origin: dict[str, Path], source: Path) -> dict:
    out = dict(base)
    for key, value in override.items():
        key_path = f"{path}.{key}" if path else str(key)
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = _merge(base[key], value, key_path, origin, source)
        else:
            out[key] = value
            origin[key_path] = source
    return out


class _Converter:
    def __init__(self, origin: dict[str, Path], default_source: Path) -> None:
        self.origin = origin
        self.default_source = default_source

    def source(self, path: str, *related: str) -> Path:
        # The override file that set `path` (or a key above or below it, or one of the `related`
        # keys a cross-field check compared it with), else the defaults file.
        for key in (path, *related):
            probe = key
            while probe:
                if probe in self.origin:
                    return self.origin[probe]
                probe = probe[:probe.rindex("[")] if probe.endswith("]") else probe.rpartition(".")[0]
            for set_key, src in self.origin.items():
                if key and set_key.startswith((key + ".", key + "[")):
                    return src
        return self.default_source

    def fail(self, path: str, expected: str, found: Any) -> typing.NoReturn:
        shown = f"{type(found).__name__} {found!r}" if found is not None else "nothing (null)"
        raise ConfigError(f"{self.source(path)}: {path}: expected {expected}, found {shown}")

    def convert(self, tp: Any, value: Any, path: str) -> Any:
        origin = typing.get_origin(tp)
        if dataclasses.is_dataclass(tp):
            return self.dataclass(tp, value, path)
        if origin is dict:
            key_tp, val_tp = typing.get_args(tp)
            if not isinstance(value, dict):
                self.fail(path, "a mapping", value)
            return {str(k): self.convert(val_tp, v, f"{path}.{k}") for k, v in value.items()}
        if origin is tuple:
            (item_tp, _ellipsis) = typing.get_args(tp)
            if not isinstance(value, list):
                self.fail(path, "a list", value)
            return tuple(self.convert(item_tp, v, f"{path}[{i}]") for i, v in enumerate(value))
        if tp is bool:
            if not isinstance(value, bool):
                self.fail(path, "true or false", value)
            return value
        if tp is int:
            if isinstance(value, bool) or not isinstance(value, int):
                self.fail(path, "a whole number", value)
            return value
        if tp is Decimal:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                self.fail(path, "a number", value)
            try:
                return to_decimal(value, path)
            except ValueError:
                self.fail(path, "a number", value)
        if tp is str:
            if not isinstance(value, str) or not value:
                self.fail(path, "a non-empty string", value)
            return value
        raise TypeError(f"unsupported config type {tp!r} at {path}")

    def dataclass(self, cls: Any, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            self.fail(path or "(top level)", f"a mapping with keys {sorted(f.name for f in dataclasses.fields(cls))}", value)
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        for key in value:
            if key not in names:
                key_path = f"{path}.{key}" if path else str(key)
                raise ConfigError(
                    f"{self.source(key_path)}: {key_path}: unknown key (expected one of {', '.join(names)}); "
                    "check the spelling")
        kwargs = {}
        for name in names:
            key_path = f"{path}.{name}" if path else name
            if name not in value:
                raise ConfigError(f"{self.source(path)}: {key_path}: missing (expected {_describe(hints[name])})")
            kwargs[name] = self.convert(hints[name], value[name], key_path)
        return cls(**kwargs)


def _describe(tp: Any) -> str:
    if dataclasses.is_dataclass(tp):
        return "a mapping with keys " + ", ".join(f.name for f in dataclasses.fields(tp))
    return {Decimal: "a number", int: "a whole number", bool: "true or false", str: "a string"}.get(
        tp, "a mapping" if typing.get_origin(tp) is dict else "a list")


def load_config(path: str | Path | None = None, *, defaults_path: Path = DEFAULTS_PATH) -> Config:
    """Load the defaults, overlay `path` if given, convert and validate."""
    defaults_path = Path(defaults_path)
    merged = read_yaml(defaults_path)
    origin: dict[str, Path] = {}
    if path is not None:
        user_path = Path(path)
        merged = _merge(merged, read_yaml(user_path), "", origin, user_path)
    conv = _Converter(origin, defaults_path)
    config = conv.dataclass(Config, merged, "")
    _validate(config, conv)
    return config


def _validate(c: Config, conv: _Converter) -> None:
    def check(ok: bool, path: str, expected: str, found: Any, *related: str) -> None:
        if not ok:
            raise ConfigError(f"{conv.source(path, *related)}: {path}: expected {expected}, found {found}")

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
    pct(m.urgent_threshold_pct, "monitoring.urgent_threshold_pct")
    positive(m.price_cache_ttl_secs, "monitoring.price_cache_ttl_secs")
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
    positive(c.time_based_urgent.minutes_before_close, "time_based_urgent.minutes_before_close")
    check(c.edge_exits.edge_disappeared_edge_pct <= c.edge_exits.early_exit_edge_pct,
          "edge_exits.edge_disappeared_edge_pct", "at most edge_exits.early_exit_edge_pct",
          c.edge_exits.edge_disappeared_edge_pct, "edge_exits.early_exit_edge_pct")
    check(c.rebalance.min_free_capital_dollars >= 0, "rebalance.min_free_capital_dollars", "0 or more",
          c.rebalance.min_free_capital_dollars)
    check(c.rebalance.edge_margin_pct >= 0, "rebalance.edge_margin_pct", "0 or more", c.rebalance.edge_margin_pct)

    check("default" in c.signal_types, "signal_types", "a 'default' section for signal types without their own",
          sorted(c.signal_types))
    for name, st in c.signal_types.items():
        p = f"signal_types.{name}"
        pct(st.stop_loss_pct, f"{p}.stop_loss_pct")
        pct(st.profit_target_pct, f"{p}.profit_target_pct", high=Decimal(10000))
        pct(st.trailing_stop.activation_pct, f"{p}.trailing_stop.activation_pct", high=Decimal(10000))
        positive(st.trailing_stop.distance_cents, f"{p}.trailing_stop.distance_cents")

    s = c.sizing
    positive(s.bankroll_dollars, "sizing.bankroll_dollars")
    check(s.min_edge_pct >= 0, "sizing.min_edge_pct", "0 or more", s.min_edge_pct)
    positive(s.max_contracts_per_order, "sizing.max_contracts_per_order")
    check("default" in s.kelly_fraction, "sizing.kelly_fraction", "a 'default' entry", sorted(s.kelly_fraction))
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

    _validate_alerts(c, check, positive)

    cb = c.circuit_breaker
    positive(cb.daily_loss_limit_dollars, "circuit_breaker.daily_loss_limit_dollars")
    positive(cb.api_failure_limit, "circuit_breaker.api_failure_limit")
    positive(cb.api_failure_window_secs, "circuit_breaker.api_failure_window_secs")


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
