"""How long something lasted, written the way a trader reads it: 56s, 2m31s, 1h04m."""
from __future__ import annotations


def fmt_duration(seconds: int) -> str:
    """Whole seconds to "56s", "2m31s" or "1h04m" (seconds are dropped past an hour; never negative)."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"
