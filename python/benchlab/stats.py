"""Small statistics the judges and analyses share: the least-squares line, a percentile."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Fit:
    """y = intercept + slope * x by least squares."""

    n: int
    slope: float
    intercept: float
    # share of y's variance the line explains; None when y does not vary at all
    r2: float | None
    # standard error of the slope; None with fewer than 3 points
    slope_stderr: float | None


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> Fit | None:
    """The least-squares line through (xs, ys); None with fewer than 2 points or one x."""
    n = len(xs)
    if n != len(ys) or n < 2:
        return None
    mx = sum(xs) / n
    my = sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx <= 0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    syy = sum((y - my) ** 2 for y in ys)
    slope = sxy / sxx
    intercept = my - slope * mx
    sse = max(0.0, syy - slope * sxy)
    r2 = None if syy <= 0 else max(0.0, min(1.0, 1.0 - sse / syy))
    stderr = math.sqrt(sse / (n - 2) / sxx) if n > 2 else None
    return Fit(n, slope, intercept, r2, stderr)


def slope(points: Sequence[tuple[float, float]], min_points: int = 2) -> float | None:
    """Least-squares slope of value over time; None with fewer points or no time spread."""
    if len(points) < max(2, min_points):
        return None
    fit = linear_fit([t for t, _ in points], [v for _, v in points])
    return fit.slope if fit is not None else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank q-th percentile (q in 0..100) of values; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]
