"""Small numeric helpers shared by the win-probability models (floats inside, no I/O)."""
from __future__ import annotations

import math

SQRT2 = math.sqrt(2.0)


def normal_cdf(z: float) -> float:
    """Standard normal CDF through erf; exact enough (1e-15) for probabilities we trade on."""
    return 0.5 * (1.0 + math.erf(z / SQRT2))


def clamp01(p: float) -> float:
    """Keep a probability inside [0, 1] (guards against rounding just outside)."""
    if p < 0.0:
        return 0.0
    if p > 1.0:
        return 1.0
    return p


def poisson_pmf_table(mean: float, max_k: int) -> list[float]:
    """P(N = k) for k = 0..max_k, N ~ Poisson(mean); the tail above max_k goes into the last cell
    so the table always sums to 1."""
    if mean < 0:
        raise ValueError(f"a Poisson mean must be >= 0, got {mean}")
    table = [0.0] * (max_k + 1)
    p = math.exp(-mean)
    total = 0.0
    for k in range(max_k + 1):
        table[k] = p
        total += p
        p = p * mean / (k + 1)
    table[max_k] += max(0.0, 1.0 - total)
    return table

