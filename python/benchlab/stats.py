"""Small statistics the judges share."""

from __future__ import annotations

from collections.abc import Sequence


def slope(points: Sequence[tuple[float, float]], min_points: int = 2) -> float | None:
    """Least-squares slope of value over time; None with fewer points or no time spread."""
    if len(points) < max(2, min_points):
        return None
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    sxx = sum((t - mx) ** 2 for t, _ in points)
    if sxx <= 0:
        return None
    return sum((t - mx) * (v - my) for t, v in points) / sxx
