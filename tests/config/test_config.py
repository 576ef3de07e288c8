"""Configuration: the defaults, --config overrides, and errors that name file, key, expected and found.

The second half is a generated set of malformed configs (issue 4 §5): mutations of the default
YAML (each required key dropped, each value given a wrong type, negatives, unknown keys, broken
YAML, out-of-range values), each its own test id, each asserting a ConfigError that names the
file and the key path.
"""
from __future__ import annotations

import copy
import dataclasses
import re
from decimal import Decimal as D
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from adapters.cli import app
from config.loader import DEFAULTS_PATH, ConfigError, load_config
from config.schema import EXIT_CONDITIONS

DEFAULT_DATA: dict[str, Any] = yaml.safe_load(DEFAULTS_PATH.read_text(encoding="utf-8"))
DEFAULT_TEXT = DEFAULTS_PATH.read_text(encoding="utf-8")


def write(tmp_path: Path, text: str, name: str = "user.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path | None = None, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, **kwargs)
    return str(info.value)


# --- the defaults -------------------------------------------------------------------------------

def test_the_defaults_load_with_the_design_values() -> None:
    c = load_config()
    m = c.monitoring
    assert (m.normal_interval_secs, m.urgent_interval_secs, m.urgent_threshold_pct, m.price_cache_ttl_secs,
            m.max_api_calls_per_minute) == (30, 5, 2, 10, 60)
    assert m.quote_stale_alert_secs == 90          # three cadences without a current quote: ALERT
    assert c.exit_priorities == {
        "CRITICAL": ("stop_loss", "circuit_breaker"),
        "HIGH": ("trailing_stop", "time_based_urgent", "liquidity_dried_up"),
        "MEDIUM": ("profit_target", "partial_exit_target"),
        "LOW": ("early_exit", "edge_disappeared", "rebalance"),
    }
    e = c.exit_execution
    assert [(x.order_type, x.price_strategy, x.timeout_secs, x.retry_strategy, x.max_walks)
            for x in (e.CRITICAL, e.HIGH, e.MEDIUM, e.LOW)] == [
        ("marketable", "far_side", 5, "immediate_market", 0),
        ("limit", "best_bid", 10, "walk_then_market", 2),
        ("limit", "mid", 30, "walk_price", 5),
        ("limit", "near_ask", 60, "walk_slowly", 10)]
    assert (e.walk_step_cents, e.aggressiveness_step) == (1, D("0.5"))
    assert c.partial_exits.enabled
    assert [(s.profit_pct, s.sell_fraction_pct) for s in c.partial_exits.stages] == [(15, 50), (25, 25)]
    assert (c.liquidity.max_spread_cents, c.liquidity.min_volume) == (3, 50)
    assert c.time_based_urgent.minutes_before_close == 5
    assert (c.edge_exits.early_exit_edge_pct, c.edge_exits.edge_disappeared_edge_pct) == (2, 0)
    for st in c.signal_types.values():
        assert 10 <= st.stop_loss_pct <= 15 and 15 <= st.profit_target_pct <= 25
    assert [c.kelly_fraction(s) for s in ("nfl", "nba", "tennis")] == [D("0.25"), D("0.22"), D("0.18")]
    x = c.exposure_limits
    assert x.per_market_dollars <= x.per_game_dollars <= x.portfolio_dollars
    assert c.circuit_breaker.daily_loss_limit_dollars > 0 and c.circuit_breaker.api_failure_min_calls > 0


def test_money_and_thresholds_are_decimals_and_the_config_is_frozen() -> None:
    c = load_config()
    assert isinstance(c.sizing.kelly_fraction["nfl"], D) and c.sizing.kelly_fraction["nfl"] == D("0.25")
    assert isinstance(c.exposure_limits.per_market_dollars, D)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.monitoring.normal_interval_secs = D(1)  # type: ignore[misc]


def test_every_condition_has_one_priority_and_a_rank() -> None:
    c = load_config()
    ranks = sorted((c.condition_rank(name), name) for name in EXIT_CONDITIONS)
    assert [name for _rank, name in ranks] == [n for level in ("CRITICAL", "HIGH", "MEDIUM", "LOW")
                                               for n in c.exit_priorities[level]]


def test_signal_types_without_a_section_use_default() -> None:
    c = load_config()
    assert c.signal_type("no_such_type") == c.signal_types["default"]
    assert c.signal_type("momentum").stop_loss_pct == 10


# --- --config overrides -------------------------------------------------------------------------

def test_an_override_changes_only_the_keys_it_names(tmp_path: Path) -> None:
    c = load_config(write(tmp_path, "monitoring:\n  normal_interval_secs: 20\n"))
    d = load_config()
    assert c.monitoring.normal_interval_secs == 20
    assert dataclasses.replace(c.monitoring, normal_interval_secs=d.monitoring.normal_interval_secs) == d.monitoring
    assert c.sizing == d.sizing and c.exit_execution == d.exit_execution


def test_a_nested_override_keeps_its_siblings(tmp_path: Path) -> None:
    c = load_config(write(tmp_path, "signal_types:\n  default:\n    trailing_stop:\n      distance_cents: 7\n"))
    ts = c.signal_types["default"].trailing_stop
    assert (ts.distance_cents, ts.activation_pct) == (7, 10)
    assert c.signal_types["default"].stop_loss_pct == 12
    assert set(c.signal_types) == {"default", "momentum", "model_edge"}


def test_an_override_can_add_a_signal_type_and_a_sport(tmp_path: Path) -> None:
    c = load_config(write(tmp_path, (
        "signal_types:\n  late_game:\n    stop_loss_pct: 11\n    profit_target_pct: 18\n"
        "    trailing_stop: {activation_pct: 9, distance_cents: 3}\n"
        "sizing:\n  kelly_fraction:\n    nhl: 0.15\n")))
    assert c.signal_type("late_game").stop_loss_pct == 11
    assert c.kelly_fraction("nhl") == D("0.15") and c.kelly_fraction("nfl") == D("0.25")


def test_a_list_in_an_override_replaces_the_default_list(tmp_path: Path) -> None:
    c = load_config(write(tmp_path, "partial_exits:\n  stages:\n    - {profit_pct: 30, sell_fraction_pct: 40}\n"))
    assert [(s.profit_pct, s.sell_fraction_pct) for s in c.partial_exits.stages] == [(30, 40)]
    p = load_config(write(tmp_path, "exit_priorities:\n  CRITICAL: [circuit_breaker, stop_loss]\n", "p.yaml"))
    assert p.exit_priorities["CRITICAL"] == ("circuit_breaker", "stop_loss")
    assert p.exit_priorities["LOW"] == ("early_exit", "edge_disappeared", "rebalance")


def test_an_empty_override_is_the_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "# nothing to change\n")) == load_config()


def test_a_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    msg = error_of(tmp_path / "nope.yaml")
    assert "nope.yaml" in msg and "cannot read" in msg


# --- errors: file, key path, expected, found ----------------------------------------------------

# (id, override text, fragments the message must contain; the override's file name is checked too)
ERRORS = [
    ("unknown key (typo)", "monitoring:\n  normal_intervl_secs: 30\n",
     ["monitoring.normal_intervl_secs", "unknown key", "normal_interval_secs", "spelling"]),
    ("unknown section", "monitorin:\n  normal_interval_secs: 30\n", ["monitorin:", "unknown key", "monitoring"]),
    ("wrong type", "monitoring:\n  normal_interval_secs: fast\n",
     ["monitoring.normal_interval_secs", "expected a number", "found str 'fast'"]),
    ("float for a count", "monitoring:\n  max_api_calls_per_minute: 60.5\n",
     ["monitoring.max_api_calls_per_minute", "expected a whole number", "found float 60.5"]),
    ("boolean for a number", "liquidity:\n  max_spread_cents: yes\n",
     ["liquidity.max_spread_cents", "expected a number", "found bool True"]),
    ("null value", "monitoring:\n  price_cache_ttl_secs:\n", ["monitoring.price_cache_ttl_secs", "found nothing"]),
    ("out of range", "monitoring:\n  urgent_threshold_pct: 150\n",
     ["monitoring.urgent_threshold_pct", "at most 100", "found 150"]),
    ("negative", "circuit_breaker:\n  daily_loss_limit_dollars: -5\n",
     ["circuit_breaker.daily_loss_limit_dollars", "above 0", "found -5"]),
    ("missing key in a new signal type", "signal_types:\n  foo:\n    stop_loss_pct: 10\n",
     ["signal_types.foo.profit_target_pct", "missing", "expected a number"]),
    ("missing key in a replaced stage list", "partial_exits:\n  stages:\n    - {profit_pct: 15}\n",
     ["partial_exits.stages[0].sell_fraction_pct", "missing"]),
    ("partial stages sum to 100%", ("partial_exits:\n  stages:\n    - {profit_pct: 15, sell_fraction_pct: 60}\n"
                                    "    - {profit_pct: 25, sell_fraction_pct: 40}\n"),
     ["partial_exits.stages", "less than 100%", "found 100%"]),
    ("partial stages sum over 100%", ("partial_exits:\n  stages:\n    - {profit_pct: 15, sell_fraction_pct: 70}\n"
                                      "    - {profit_pct: 25, sell_fraction_pct: 40}\n"),
     ["partial_exits.stages", "found 110%"]),
    ("partial stages out of order", ("partial_exits:\n  stages:\n    - {profit_pct: 30, sell_fraction_pct: 50}\n"
                                     "    - {profit_pct: 25, sell_fraction_pct: 25}\n"),
     ["partial_exits.stages[1].profit_pct", "above the previous stage's 30", "found 25"]),
    ("urgent cadence slower than normal", "monitoring:\n  urgent_interval_secs: 60\n",
     ["monitoring.urgent_interval_secs", "at most monitoring.normal_interval_secs (30)", "found 60"]),
    ("normal cadence faster than urgent", "monitoring:\n  normal_interval_secs: 3\n",
     ["monitoring.urgent_interval_secs", "normal_interval_secs (3)", "found 5"]),
    ("stale-quote alert within the cadence", "monitoring:\n  quote_stale_alert_secs: 20\n",
     ["monitoring.quote_stale_alert_secs", "above monitoring.normal_interval_secs", "(30", "found 20"]),
    ("cadence raised past the stale-quote alert", "monitoring:\n  normal_interval_secs: 120\n",
     ["monitoring.quote_stale_alert_secs", "(120", "found 90"]),
    ("stale-quote alert past ten minutes", "monitoring:\n  quote_stale_alert_secs: 3600\n",
     ["monitoring.quote_stale_alert_secs", "at most 600", "found 3600"]),
    ("priorities missing a condition", "exit_priorities:\n  LOW: [early_exit, edge_disappeared]\n",
     ["exit_priorities", "every exit condition", "rebalance missing"]),
    ("priorities listing a condition twice", "exit_priorities:\n  LOW: [early_exit, edge_disappeared, rebalance, stop_loss]\n",
     ["exit_priorities.LOW", "each condition listed once", "'stop_loss' twice"]),
    ("priorities with an unknown condition", "exit_priorities:\n  LOW: [early_exit, edge_disappeared, rebalance, panic]\n",
     ["exit_priorities.LOW", "exit conditions from", "'panic'"]),
    ("priorities with an unknown level", "exit_priorities:\n  URGENT: [stop_loss]\n",
     ["exit_priorities", "exactly the levels CRITICAL, HIGH, MEDIUM, LOW", "URGENT"]),
    ("kelly fraction above 1", "sizing:\n  kelly_fraction:\n    nfl: 1.5\n",
     ["sizing.kelly_fraction.nfl", "at most 1", "found 1.5"]),
    ("marketable order without far_side", "exit_execution:\n  CRITICAL:\n    price_strategy: mid\n",
     ["exit_execution.CRITICAL.price_strategy", "far_side for a marketable order", "'mid'"]),
    ("limit made marketable keeps best_bid", "exit_execution:\n  HIGH:\n    order_type: marketable\n",
     ["exit_execution.HIGH.price_strategy", "far_side", "'best_bid'"]),
    ("unknown retry strategy", "exit_execution:\n  LOW:\n    retry_strategy: walk_fast\n",
     ["exit_execution.LOW.retry_strategy", "walk_slowly", "'walk_fast'"]),
    ("exposure per market above per game", "exposure_limits:\n  per_market_dollars: 200\n",
     ["exposure_limits.per_market_dollars", "at most exposure_limits.per_game_dollars (150)", "found 200"]),
    ("exposure per game lowered below per market", "exposure_limits:\n  per_game_dollars: 50\n",
     ["exposure_limits.per_market_dollars", "per_game_dollars (50)", "found 100"]),
    ("exposure per game above the portfolio", "exposure_limits:\n  portfolio_dollars: 120\n",
     ["exposure_limits.per_game_dollars", "portfolio_dollars (120)", "found 150"]),
    ("edge_disappeared above early_exit", "edge_exits:\n  early_exit_edge_pct: -1\n",
     ["edge_exits.edge_disappeared_edge_pct", "at most edge_exits.early_exit_edge_pct", "found 0"]),
    ("the retired rebalance key", "rebalance:\n  min_free_capital_dollars: 50\n",
     ["rebalance.min_free_capital_dollars", "unknown key"]),
    # limits that would switch protection off while looking like settings (outside review, session 6)
    ("quote cache fresher than the cadence for hours", "monitoring:\n  price_cache_ttl_secs: 100000\n",
     ["monitoring.price_cache_ttl_secs", "at most 60", "found 100000"]),
    ("a cadence of two hours", "monitoring:\n  normal_interval_secs: 7200\n",
     ["monitoring.normal_interval_secs", "at most 300", "found 7200"]),
    ("a cadence slower than the time exit's window", ("monitoring:\n  normal_interval_secs: 240\n"
                                                      "time_based_urgent:\n  minutes_before_close: 3\n"),
     ["monitoring.normal_interval_secs", "time_based_urgent.minutes_before_close (3 min)", "found 240"]),
    ("a stop loss at zero", "signal_types:\n  default:\n    stop_loss_pct: 100\n",
     ["signal_types.default.stop_loss_pct", "below 100", "found 100"]),
    ("a CRITICAL order resting an hour", "exit_execution:\n  CRITICAL:\n    timeout_secs: 3600\n",
     ["exit_execution.CRITICAL.timeout_secs", "at most 30", "found 3600"]),
    ("a LOW order resting an hour", "exit_execution:\n  LOW:\n    timeout_secs: 3600\n",
     ["exit_execution.LOW.timeout_secs", "at most 600", "found 3600"]),
    ("top level not a mapping", "- monitoring\n- sizing\n", ["expected a mapping of sections", "found list"]),
    ("a section that is not a mapping", "monitoring: 30\n", ["monitoring:", "expected a mapping", "found int 30"]),
]


@pytest.mark.parametrize("text", [
    "monitoring:\n  normal_interval_secs: 5\n",                           # faster than the 10 s cache TTL
    "monitoring:\n  normal_interval_secs: 120\n  quote_stale_alert_secs: 400\n",
], ids=["a 5 s cadence", "a 2 min cadence with its stale limit raised"])
def test_reasonable_cadences_are_accepted(tmp_path: Path, text: str) -> None:
    load_config(write(tmp_path, text, "ok.yaml"))


@pytest.mark.parametrize("text,fragments", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors_name_file_key_expected_and_found(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = write(tmp_path, text, "my-settings.yaml")
    msg = error_of(path)
    assert msg.startswith(f"{path}: "), msg      # the user's file, not the defaults it was merged over
    for fragment in fragments:
        assert fragment in msg, (fragment, msg)


def test_broken_yaml_gives_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "monitoring:\n  normal_interval_secs: 30\n  urgent_interval_secs: [5\n  x: 1\n", "bad.yaml")
    msg = error_of(path)
    assert msg.startswith(f"{path}: not valid YAML at line 4, column 4"), msg


def test_a_tab_in_the_indentation_is_reported_where_it_is(tmp_path: Path) -> None:
    msg = error_of(write(tmp_path, "monitoring:\n\tnormal_interval_secs: 30\n", "tab.yaml"))
    assert "tab.yaml: not valid YAML at line 2, column 1" in msg


def test_a_broken_defaults_file_is_named_as_such(tmp_path: Path) -> None:
    broken = write(tmp_path, re.sub(r"  min_volume: 50.*\n", "", DEFAULT_TEXT), "defaults.yaml")
    msg = error_of(defaults_path=broken)
    assert msg.startswith(f"{broken}: liquidity.min_volume: missing"), msg


def test_an_override_error_deep_in_a_merged_section_names_the_override(tmp_path: Path) -> None:
    path = write(tmp_path, "signal_types:\n  default:\n    trailing_stop: {distance_cents: 0}\n", "o.yaml")
    assert error_of(path).startswith(f"{path}: signal_types.default.trailing_stop.distance_cents: expected a value above 0")


# --- generated malformed configs (issue 4 §5) ---------------------------------------------------

def leaves(data: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    """Every scalar (and every list of condition names) in the defaults, with its path."""
    if isinstance(data, dict):
        return [leaf for k, v in data.items() for leaf in leaves(v, path + (k,))]
    if isinstance(data, list) and not all(isinstance(x, str) for x in data):
        return [leaf for i, v in enumerate(data) for leaf in leaves(v, path + (i,))]
    return [(path, data)]


def mappings(data: Any, path: tuple = ()) -> list[tuple]:
    """Paths of every mapping that is a fixed set of keys (not a free-form name -> value map)."""
    free_form = {("exit_priorities",), ("signal_types",), ("sizing", "kelly_fraction"), ("signals", "max_age_secs"),
                 ("edge_exits", "max_model_age_secs")}
    out = [] if path in free_form else [path]
    if isinstance(data, dict):
        for k, v in data.items():
            if isinstance(v, (dict, list)):
                out += mappings(v, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            if isinstance(v, dict):
                out += mappings(v, path + (i,))
        out = [p for p in out if p != path]
    return out


def key_path(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def get(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


Change = Callable[[Any], None]
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclasses.dataclass(frozen=True)
class Mutation:
    id: str
    change: Change            # applied to a copy of the defaults; the test writes the result out
    key: str                  # the key path the message must name
    as_defaults: bool = False  # dropped keys only show when the file is the defaults file

    @property
    def text(self) -> str:
        """The whole mutated defaults file."""
        data = copy.deepcopy(DEFAULT_DATA)
        self.change(data)
        return yaml.dump(data, Dumper=_DUMPER, sort_keys=False)

    @property
    def sections_text(self) -> str:
        """Only the top-level sections the mutation touched: a typical small --config file."""
        data = copy.deepcopy(DEFAULT_DATA)
        self.change(data)
        changed = {k: v for k, v in data.items() if DEFAULT_DATA.get(k) != v}
        return yaml.dump(changed, Dumper=_DUMPER, sort_keys=False)


def _set(path: tuple, value: Any) -> Change:
    def change(data: Any) -> None:
        get(data, path[:-1])[path[-1]] = value
    return change


def _drop(path: tuple) -> Change:
    def change(data: Any) -> None:
        del get(data, path[:-1])[path[-1]]
    return change


def _add_unknown(path: tuple) -> Change:
    def change(data: Any) -> None:
        get(data, path)["stop_loss_pcnt"] = 12
    return change


# Negative values that are allowed, and cross-field checks that report a neighbouring key.
NEGATIVE_OK = {"edge_exits.edge_disappeared_edge_pct"}
NEGATIVE_REPORTED_AT = {"edge_exits.early_exit_edge_pct": "edge_exits.edge_disappeared_edge_pct"}
OPTIONAL = {"sizing.kelly_fraction.nfl", "sizing.kelly_fraction.ncaaf", "sizing.kelly_fraction.nba",
            "sizing.kelly_fraction.ncaab", "sizing.kelly_fraction.tennis",
            *(f"edge_exits.max_model_age_secs.{s}" for s in ("nba", "ncaab", "nhl", "nfl", "ncaaf"))}
DROP_REPORTED_AT = {"sizing.kelly_fraction.default": "sizing.kelly_fraction",
                    "signals.max_age_secs.default": "signals.max_age_secs",
                    "edge_exits.max_model_age_secs.default": "edge_exits.max_model_age_secs",
                    **{f"exit_priorities.{level}": "exit_priorities" for level in ("CRITICAL", "HIGH", "MEDIUM", "LOW")}}


def generate() -> list[Mutation]:
    out: list[Mutation] = []
    for index, (path, value) in enumerate(leaves(DEFAULT_DATA)):
        kp = key_path(path)
        # wrong types
        if isinstance(value, list):
            out.append(Mutation(f"type:{kp}=string", _set(path, "stop_loss"), kp))
        elif isinstance(value, bool):
            out.append(Mutation(f"type:{kp}=string", _set(path, "sometimes"), kp))
        elif isinstance(value, str):
            out.append(Mutation(f"type:{kp}=number", _set(path, 17), kp))
            if kp.endswith(("order_type", "price_strategy", "retry_strategy")):
                out.append(Mutation(f"enum:{kp}=bogus", _set(path, "bogus"), kp))
        else:
            if index % 2:   # alternate the wrong type to keep the file fast: every leaf gets one
                out.append(Mutation(f"type:{kp}=string", _set(path, "lots"), kp))
            else:
                out.append(Mutation(f"type:{kp}=list", _set(path, [value]), kp))
            if kp not in NEGATIVE_OK:
                out.append(Mutation(f"negative:{kp}", _set(path, -abs(value) - 1),
                                    NEGATIVE_REPORTED_AT.get(kp, kp)))
        # dropped keys (a --config file cannot remove a default, so the mutated file is the defaults file)
        if kp not in OPTIONAL and not isinstance(path[-1], int):
            out.append(Mutation(f"drop:{kp}", _drop(path), DROP_REPORTED_AT.get(kp, kp), as_defaults=True))
    for section in DEFAULT_DATA:
        out.append(Mutation(f"drop-section:{section}", _drop((section,)), section, as_defaults=True))
    for name in ("default", "momentum"):
        out.append(Mutation(f"drop-section:signal_types.{name}.trailing_stop",
                            _drop(("signal_types", name, "trailing_stop")),
                            f"signal_types.{name}.trailing_stop", as_defaults=True))
    out.append(Mutation("drop:signal_types.default", _drop(("signal_types", "default")), "signal_types",
                        as_defaults=True))
    for path in mappings(DEFAULT_DATA):
        kp = key_path(path)
        out.append(Mutation(f"unknown-key:{kp or '(top)'}", _add_unknown(path),
                            f"{kp}.stop_loss_pcnt" if kp else "stop_loss_pcnt"))
    out.append(Mutation("unknown-level:exit_priorities.URGENT",
                        _set(("exit_priorities", "URGENT"), ["stop_loss"]), "exit_priorities"))
    for pct_path in (("monitoring", "urgent_threshold_pct"), ("signal_types", "default", "stop_loss_pct"),
                     ("partial_exits", "stages", 0, "sell_fraction_pct"),
                     ("sizing", "confidence_adjustment", "min_multiplier"), ("sizing", "kelly_fraction", "nba")):
        out.append(Mutation(f"out-of-range:{key_path(pct_path)}", _set(pct_path, 150), key_path(pct_path)))
    return out


LINES = DEFAULT_TEXT.splitlines(keepends=True)


def _line_no(fragment: str) -> int:
    return next(i for i, line in enumerate(LINES) if fragment in line)


def broken(fragment: str, replacement: str) -> str:
    i = _line_no(fragment)
    return "".join(LINES[:i] + [replacement] + LINES[i + 1:])


BROKEN_YAML = [
    ("unclosed-bracket", broken("CRITICAL: [stop_loss", "  CRITICAL: [stop_loss, circuit_breaker\n")),
    ("unclosed-brace", broken("- {profit_pct: 15", "    - {profit_pct: 15, sell_fraction_pct: 50\n")),
    ("tab-indent", broken("normal_interval_secs", "\tnormal_interval_secs: 30\n")),
    ("bad-indent", broken("urgent_interval_secs", "   urgent_interval_secs: 5\n")),
    ("unclosed-quote", broken("database_path", '  database_path: "arbees.db\n')),
    ("two-colons", broken("max_spread_cents", "  max_spread_cents: 3: 4\n")),
    ("stray-at", broken("min_volume", "  @min_volume: 50\n")),
    ("undefined-alias", broken("minutes_before_close", "  minutes_before_close: *five\n")),
]

MUTATIONS = generate()


def test_at_least_fifty_malformed_configs_are_generated() -> None:
    assert len(MUTATIONS) + len(BROKEN_YAML) >= 50
    assert len({m.id for m in MUTATIONS}) == len(MUTATIONS)


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.id for m in MUTATIONS])
def test_a_malformed_config_names_its_file_and_key(tmp_path: Path, mutation: Mutation) -> None:
    path = write(tmp_path, mutation.text, "mutant.yaml")
    msg = error_of(defaults_path=path) if mutation.as_defaults else error_of(path)
    assert msg.startswith(f"{path}: "), msg
    assert f"{mutation.key}:" in msg or f"{mutation.key} " in msg, (mutation.key, msg)
    assert "expected" in msg, msg


OVERRIDABLE = [m for m in MUTATIONS if not m.as_defaults]


@pytest.mark.parametrize("mutation", OVERRIDABLE, ids=[m.id for m in OVERRIDABLE])
def test_a_malformed_section_merged_over_the_defaults_names_the_override(tmp_path: Path, mutation: Mutation) -> None:
    path = write(tmp_path, mutation.sections_text, "small.yaml")
    msg = error_of(path)
    assert msg.startswith(f"{path}: "), msg
    assert f"{mutation.key}:" in msg or f"{mutation.key} " in msg, (mutation.key, msg)


@pytest.mark.parametrize("text", [b[1] for b in BROKEN_YAML], ids=[b[0] for b in BROKEN_YAML])
def test_broken_yaml_names_the_file_line_and_column(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text, "mutant.yaml")
    for msg in (error_of(path), error_of(defaults_path=path)):
        assert msg.startswith(f"{path}: not valid YAML at line "), msg
        assert ", column " in msg


# --- python run.py check-config -----------------------------------------------------------------

def test_check_config_accepts_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert app.main(["check-config"]) == 0
    out, err = capsys.readouterr()
    assert "OK" in out and err == ""


def test_check_config_accepts_a_good_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "monitoring:\n  normal_interval_secs: 20\n")
    assert app.main(["check-config", str(path)]) == 0
    assert f"{path}: OK" in capsys.readouterr().out


@pytest.mark.parametrize("argv_of", [lambda p: ["check-config", p], lambda p: ["check-config", "--config", p]],
                         ids=["positional", "--config"])
def test_check_config_rejects_a_bad_file_with_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       argv_of) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "sizing:\n  kelly_fraction:\n    nfl: 1.5\n", "bad.yaml")
    assert app.main(argv_of(str(path))) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "configuration error" in err and str(path) in err and "sizing.kelly_fraction.nfl" in err


def test_check_config_rejects_broken_yaml_with_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, BROKEN_YAML[0][1], "broken.yaml")
    assert app.main(["check-config", str(path)]) == 2
    assert "not valid YAML at line" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["replay", "events.jsonl"]], ids=["paper", "replay"])
def test_a_bad_config_stops_a_run_before_it_touches_the_database(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                 command: list[str]) -> None:
    bad = write(tmp_path, "monitoring:\n  urgent_interval_secs: 60\n", "bad.yaml")
    db = tmp_path / "run.db"
    audit = tmp_path / "audit.jsonl"
    argv = [*command[:1], "--config", str(bad), "--db", str(db), "--audit", str(audit), *command[1:]]
    assert app.main(argv) == 2
    assert "monitoring.urgent_interval_secs" in capsys.readouterr().err
    assert not db.exists() and not audit.exists()


def test_the_liquidity_window_must_be_positive(tmp_path: Path) -> None:
    path = write(tmp_path, "liquidity:\n  volume_window_secs: 0\n")
    assert error_of(path).startswith(f"{path}: liquidity.volume_window_secs: expected a value above 0")
