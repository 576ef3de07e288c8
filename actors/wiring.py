"""The references actors hand each other, built once by run.py (the composition root)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Refs:
    store: Any
    supervisor: Any
    risk_manager: Any
    rate_limiter: Any
    price_cache: Any
    exit_router: Any
    entry_manager: Any


@dataclass(frozen=True, slots=True)
class Wired:
    """Sent once to the supervisor (and the router) when every core actor exists."""
    refs: Refs
