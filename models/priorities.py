"""Exit priorities: four levels, CRITICAL first."""
from __future__ import annotations

import enum


class Priority(enum.IntEnum):
    """Lower value = more urgent, so sorting puts the most urgent first."""

    CRITICAL = 0
    HIGH = 1
    MEDIUM = 2
    LOW = 3

    @classmethod
    def parse(cls, name: str) -> "Priority":
        return cls[name.upper()]
