"""The Phase 5 design's position_management.yaml, rewritten in Arbees's names and units.

Users arrive with the design hand-off's file: fractions for percentages (0.15 = 15%), seconds
without a unit suffix, dollars for spreads (0.03 = 3 cents), "market" orders and
aggressive / fair / conservative prices. `migrate_phase5(data)` returns the same settings in our
keys (units in the names, whole percents) plus one note per conversion; keys already in our
names pass through untouched, and the result is then checked by the ordinary strict loader
(`python run.py check-config --migrate FILE` prints it).

| theirs                                       | ours                                             |
|----------------------------------------------|--------------------------------------------------|
| monitoring.normal_frequency (s)              | monitoring.normal_interval_secs                  |
| monitoring.urgent_frequency (s)              | monitoring.urgent_interval_secs                  |
| monitoring.urgent_conditions.near_*_pct (fr.)| monitoring.urgent_threshold_pct (x100; the widest)|
| monitoring.price_cache_ttl_seconds           | monitoring.price_cache_ttl_secs                  |
| exit_execution.*.timeout_seconds             | exit_execution.*.timeout_secs                    |
| exit_execution.*.order_type: market          | order_type: marketable, price_strategy: far_side |
| price_strategy aggressive / fair / conservative | best_bid / mid / near_ask                     |
| partial_exits.stages[].profit_threshold (fr.)| partial_exits.stages[].profit_pct (x100)         |
| partial_exits.stages[].exit_percentage (%)   | partial_exits.stages[].sell_fraction_pct         |
| partial_exits.stages[].name                  | dropped (stages are identified by their order)   |
| liquidity.max_spread (dollars)               | liquidity.max_spread_cents (x100)                |

This engine has one "near a threshold" distance for the urgent cadence where the design has one
per threshold; when theirs differ the widest is taken (the urgent cadence starts sooner, never
later) and the note says so.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from models.money import to_decimal

HUNDRED = Decimal(100)
PHASE5_KEYS = frozenset({
    "normal_frequency", "urgent_frequency", "urgent_conditions", "price_cache_ttl_seconds", "timeout_seconds",
    "profit_threshold", "exit_percentage", "max_spread",
})
_RENAMED_SECS = {"normal_frequency": "normal_interval_secs", "urgent_frequency": "urgent_interval_secs",
                 "price_cache_ttl_seconds": "price_cache_ttl_secs"}
_PRICE_STRATEGIES = {"aggressive": "best_bid", "fair": "mid", "conservative": "near_ask"}


class MigrationError(ValueError):
    """A Phase 5 value that cannot be converted; the message names the key."""


@dataclass
class Migration:
    data: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def note(self, theirs: str, value: Any, ours: str, converted: Any, how: str) -> None:
        self.notes.append(f"{theirs}: {value} -> {ours}: {plain(converted)} ({how})")


def plain(value: Any) -> Any:
    """A Decimal as YAML will print it: an int when whole, else its digits."""
    if isinstance(value, Decimal):
        value = value.normalize()
        return int(value) if value == value.to_integral_value() else float(format(value, "f"))
    return value


def _number(value: Any, key: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MigrationError(f"{key}: expected a number, found {type(value).__name__} {value!r}")
    return to_decimal(value, key)


def migrate_phase5(data: dict[str, Any]) -> Migration:
    """The settings of a Phase 5 file (already parsed) in Arbees's names and units."""
    out = Migration({})
    for section, body in data.items():
        if section == "monitoring" and isinstance(body, dict):
            out.data[section] = _monitoring(body, out)
        elif section == "exit_execution" and isinstance(body, dict):
            out.data[section] = {level: _execution(level, x, out) if isinstance(x, dict) else x
                                 for level, x in body.items()}
        elif section == "partial_exits" and isinstance(body, dict):
            out.data[section] = _partial_exits(body, out)
        elif section == "liquidity" and isinstance(body, dict):
            out.data[section] = _liquidity(body, out)
        else:
            out.data[section] = body
    return out


def _monitoring(body: dict[str, Any], out: Migration) -> dict[str, Any]:
    ours: dict[str, Any] = {}
    for key, value in body.items():
        if key in _RENAMED_SECS:
            ours[_RENAMED_SECS[key]] = value
            out.note(f"monitoring.{key}", value, f"monitoring.{_RENAMED_SECS[key]}", value, "seconds")
        elif key == "urgent_conditions" and isinstance(value, dict) and value:
            fractions = {k: _number(v, f"monitoring.urgent_conditions.{k}") for k, v in value.items()}
            widest = max(fractions.values())
            pct = widest * HUNDRED
            ours["urgent_threshold_pct"] = plain(pct)
            names = ", ".join(f"{k}: {plain(v)}" for k, v in fractions.items())
            how = "a fraction, as a whole percent"
            if len(set(fractions.values())) > 1:
                how += "; this engine has one distance for every threshold: the widest is taken"
            out.note(f"monitoring.urgent_conditions ({names})", plain(widest), "monitoring.urgent_threshold_pct",
                     pct, how)
        else:
            ours[key] = value
    return ours


def _execution(level: str, body: dict[str, Any], out: Migration) -> dict[str, Any]:
    ours: dict[str, Any] = {}
    where = f"exit_execution.{level}"
    for key, value in body.items():
        if key == "timeout_seconds":
            ours["timeout_secs"] = value
            out.note(f"{where}.timeout_seconds", value, f"{where}.timeout_secs", value, "seconds")
        elif key == "order_type" and value == "market":
            ours["order_type"] = "marketable"
            out.note(f"{where}.order_type", value, f"{where}.order_type", "marketable",
                     "Kalshi has no market orders: a limit at the far side, immediate-or-cancel")
            if "price_strategy" not in body:
                ours["price_strategy"] = "far_side"
        elif key == "price_strategy" and value in _PRICE_STRATEGIES:
            ours[key] = _PRICE_STRATEGIES[value]
            out.note(f"{where}.price_strategy", value, f"{where}.price_strategy", ours[key], "the same price rule")
        else:
            ours[key] = value
    return ours


def _partial_exits(body: dict[str, Any], out: Migration) -> dict[str, Any]:
    ours = dict(body)
    stages = body.get("stages")
    if not isinstance(stages, list):
        return ours
    converted = []
    for i, stage in enumerate(stages):
        where = f"partial_exits.stages[{i}]"
        if not isinstance(stage, dict):
            converted.append(stage)
            continue
        new: dict[str, Any] = {}
        for key, value in stage.items():
            if key == "name":
                out.notes.append(f"{where}.name: {value!r} dropped (stages are identified by their order)")
            elif key == "profit_threshold":
                pct = _number(value, f"{where}.profit_threshold") * HUNDRED
                new["profit_pct"] = plain(pct)
                out.note(f"{where}.profit_threshold", value, f"{where}.profit_pct", pct, "a fraction, as a whole percent")
            elif key == "exit_percentage":
                new["sell_fraction_pct"] = value
                out.note(f"{where}.exit_percentage", value, f"{where}.sell_fraction_pct", value,
                         "already a whole percent of the contracts held")
            else:
                new[key] = value
        converted.append(new)
    ours["stages"] = converted
    return ours


def _liquidity(body: dict[str, Any], out: Migration) -> dict[str, Any]:
    ours: dict[str, Any] = {}
    for key, value in body.items():
        if key == "max_spread":
            cents = _number(value, "liquidity.max_spread") * HUNDRED
            ours["max_spread_cents"] = plain(cents)
            out.note("liquidity.max_spread", value, "liquidity.max_spread_cents", cents, "dollars, as cents")
        else:
            ours[key] = value
    return ours


def render(migration: Migration, source: str) -> str:
    """The migrated file: a header saying what was converted, then the YAML."""
    import yaml

    lines = [f"# {source} in Arbees's names and units (python run.py check-config --migrate {source}).",
             "# Percentages are whole percents (12 = 12%), times in seconds (_secs), spreads in cents.",
             "# Keys not listed here keep the defaults of config/position_management.yaml.",
             "# Converted:"]
    lines += [f"#   {n}" for n in migration.notes] or ["#   nothing: the file already uses Arbees's names"]
    body = yaml.safe_dump(migration.data, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return "\n".join(lines) + "\n" + body


def migrate_file(path: str) -> str:
    """The Phase 5 file at `path` as an Arbees file, checked by the strict loader. Raises
    ConfigError naming the file and key when it cannot be read, converted or loaded."""
    from pathlib import Path

    from config.loader import ConfigError, load_config, read_yaml

    source = Path(path)
    try:
        migration = migrate_phase5(read_yaml(source))
    except MigrationError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    load_config(source, overrides=migration.data)     # the result must load: unknown keys, ranges
    return render(migration, str(source))
