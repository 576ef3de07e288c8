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

from config.schema import Config
from config.errors import ConfigError
from config.phase5 import PHASE5_KEYS
from config.validation import validate
from models.money import to_decimal

DEFAULTS_PATH = Path(__file__).with_name("position_management.yaml")


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
                self.fail(path, "a whole number" + _unquote_hint(value), value)
            return value
        if tp is Decimal:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.fail(path, "a number" + _unquote_hint(value), value)
            try:
                number = to_decimal(value, path)
            except ValueError:
                self.fail(path, "a number", value)
            if path.rpartition(".")[2].endswith("_pct"):
                self.check_whole_percent(path, number)
            return number
        if tp is str:
            if not isinstance(value, str) or not value:
                self.fail(path, "a non-empty string", value)
            return value
        raise TypeError(f"unsupported config type {tp!r} at {path}")

    def check_whole_percent(self, path: str, value: Decimal) -> None:
        """A `_pct` key holds a whole percent (12 = 12%). A value below the key's floor that is
        plainly a fraction (0.12 for 12%) is refused with the fix, not read as 0.12%."""
        floor = percent_floor(path)
        if value != 0 and abs(value) < floor:
            whole = format((value * 100).normalize(), "f")
            hint = (f"{format(value.normalize(), 'f')} looks like a fraction: write {whole} for {whole}%"
                    if abs(value * 100) >= floor else f"a whole percent of at least {floor} (12 means 12%)")
            raise ConfigError(f"{self.source(path)}: {path}: expected a whole percent (12 means 12%), "
                              f"found {value}; {hint}")

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
                    + _unknown_key_hint(str(key)))
        kwargs = {}
        for name in names:
            key_path = f"{path}.{name}" if path else name
            if name not in value:
                raise ConfigError(f"{self.source(path)}: {key_path}: missing (expected {_describe(hints[name])})")
            kwargs[name] = self.convert(hints[name], value[name], key_path)
        return cls(**kwargs)


# --- units and names a user could misread (issue 9 §3) --------------------------------------------

# The smallest sane whole percent per `_pct` key (fnmatch patterns on the key path; stage
# indexes read as [*]). A non-zero value below it is refused: below 1 it is almost always a
# fraction (0.12 meant as 12%). Edges are finer: half a point of edge is a real setting.
PERCENT_FLOORS: tuple[tuple[str, Decimal], ...] = (
    ("*edge_pct", Decimal("0.5")),
    ("rebalance.edge_margin_pct", Decimal("0.5")),
    ("monitoring.urgent_threshold_pct", Decimal("0.5")),
    ("*", Decimal(1)),
)


def percent_floor(path: str) -> Decimal:
    import fnmatch
    import re

    pattern_path = re.sub(r"\[\d+\]", "[*]", path)
    return next(floor for pattern, floor in PERCENT_FLOORS if fnmatch.fnmatchcase(pattern_path, pattern))


def _unquote_hint(value: Any) -> str:
    """For "30" where 30 was meant: say so (a quoted number is a string in YAML)."""
    if isinstance(value, str):
        try:
            Decimal(value.strip())
            return " (without quotes: a quoted number is text)"
        except ArithmeticError:
            return ""
    return ""


def _unknown_key_hint(key: str) -> str:
    if key in PHASE5_KEYS:
        return ("this is the Phase 5 design's name; `python run.py check-config --migrate FILE` prints the file "
                "in Arbees's names and units")
    return "check the spelling"


def _describe(tp: Any) -> str:
    if dataclasses.is_dataclass(tp):
        return "a mapping with keys " + ", ".join(f.name for f in dataclasses.fields(tp))
    return {Decimal: "a number", int: "a whole number", bool: "true or false", str: "a string"}.get(
        tp, "a mapping" if typing.get_origin(tp) is dict else "a list")


def load_config(path: str | Path | None = None, *, defaults_path: Path = DEFAULTS_PATH,
                overrides: dict[str, Any] | None = None) -> Config:
    """Load the defaults, overlay `path` if given, convert and validate. `overrides`, when
    given, is used instead of reading `path` (errors still name `path`)."""
    defaults_path = Path(defaults_path)
    merged = read_yaml(defaults_path)
    origin: dict[str, Path] = {}
    if path is not None:
        user_path = Path(path)
        merged = _merge(merged, read_yaml(user_path) if overrides is None else overrides, "", origin, user_path)
    conv = _Converter(origin, defaults_path)
    config = conv.dataclass(Config, merged, "")
    validate(config, conv.source)
    return config
