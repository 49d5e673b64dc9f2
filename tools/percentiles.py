"""Latency percentiles as the demo, the soak and the benchmarks report them (nearest rank)."""

from __future__ import annotations


def percentile(values: list[float], pct: float) -> float:
    """The value at ``pct`` percent of the sorted values (0.0 when there are none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]
