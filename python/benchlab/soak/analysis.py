"""The soak's figures from its series: pure functions, no I/O (tests/unit/test_soak.py).

Memory (per limited service and host): the working set's least-squares slope over the run
after the warm-up, in MiB/h, with R², the slope's standard error, the mean of the first and
the last quarter, and the slope of the last half alone. The leak rule (LeakRule, README
"Soak"): leak suspected when all of

1. the slope exceeds max(leak_min_slope_mib_per_h, leak_limit_pct_per_h % of the service's
   memory limit per hour);
2. R² >= leak_min_r2 (the growth is a trend, not a GC or checkpoint sawtooth);
3. the last quarter's mean is above the first quarter's;
4. the last half's slope is still at least leak_tail_share x that threshold (a leak keeps
   growing to the end; a cache that filled and levelled off does not).

Latency (per target, acknowledgement latency of successful batches by due time): p99 per
window, the least-squares slope of those p99s in ms/h with R², and the p99 of the first
quarter's batches against the last quarter's. Drifting when the last quarter's p99 is at least
drift_ratio x the first's and at least drift_min_ms more, and the windows' p99 rise as a trend
(slope > 0, R² >= drift_min_r2): one checkpoint's spike in the last quarter of a short soak
makes the quarters differ without any trend.

Neither is judged ("not judged", the figures still given) with fewer than min_points samples
or windows, or a measured span under min_span_s: a slope in MiB/h from two minutes of a store
still filling its caches says nothing about an hour.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from benchlab.stats import linear_fit, percentile

MIB = float(2**20)
HOUR = 3600.0

LEAK = "leak suspected"
NO_LEAK = "no leak"
NOT_JUDGED = "not judged"
DRIFTING = "drifting"
STEADY = "steady"


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class LeakRule:
    """The documented leak rule's thresholds (group_vars/all/soak.yml)."""

    min_slope_mib_per_h: float
    limit_pct_per_h: float
    min_r2: float
    tail_share: float
    min_points: int
    min_span_s: float = 0.0

    def threshold_mib_per_h(self, limit_bytes: float | None) -> float:
        """max(the floor, limit_pct_per_h % of the limit per hour); the floor without a limit."""
        share = (limit_bytes or 0.0) / MIB * self.limit_pct_per_h / 100.0
        return max(self.min_slope_mib_per_h, share)

    def text(self) -> str:
        return (
            f"slope > max({self.min_slope_mib_per_h:g} MiB/h, {self.limit_pct_per_h:g} % of the "
            f"memory limit per hour), R² >= {self.min_r2:g}, last quarter's mean above the "
            f"first's, and the last half's slope >= {self.tail_share:g} x that threshold"
        )


def memory_trend(
    points: Sequence[tuple[float, float]],
    start: float,
    end: float,
    limit_bytes: float | None,
    rule: LeakRule,
) -> dict[str, Any]:
    """The working-set trend of one service on one host over [start, end] (unix seconds):
    `points` are (unix time, bytes). The figures and the leak verdict (module docstring)."""
    pts = sorted((t, v) for t, v in points if start <= t <= end and math.isfinite(v))
    span = end - start
    out: dict[str, Any] = {
        "points": len(pts),
        "span_s": span,
        "limit_bytes": limit_bytes,
        "threshold_mib_per_h": rule.threshold_mib_per_h(limit_bytes),
        "slope_mib_per_h": None,
        "slope_stderr_mib_per_h": None,
        "r2": None,
        "tail_slope_mib_per_h": None,
        "first_quarter_mib": None,
        "last_quarter_mib": None,
        "start_mib": None,
        "end_mib": None,
        "peak_mib": None,
        "peak_pct_of_limit": None,
        "checks": {},
        "verdict": NOT_JUDGED,
        "reason": "",
    }
    if len(pts) < 3 or span <= 0:
        out["reason"] = f"{len(pts)} points after the warm-up: no trend; run longer"
        return out
    hours = [(t - start) / HOUR for t, _ in pts]
    mib = [v / MIB for _, v in pts]
    fit = linear_fit(hours, mib)
    quarter = span / 4.0
    first = [m for (t, _), m in zip(pts, mib, strict=True) if t < start + quarter]
    last = [m for (t, _), m in zip(pts, mib, strict=True) if t >= end - quarter]
    half = [(h, m) for (t, _), h, m in zip(pts, hours, mib, strict=True) if t >= start + span / 2]
    tail = linear_fit([h for h, _ in half], [m for _, m in half])
    peak = max(mib)
    out.update(
        start_mib=mib[0],
        end_mib=mib[-1],
        peak_mib=peak,
        peak_pct_of_limit=100.0 * peak * MIB / limit_bytes if limit_bytes else None,
        first_quarter_mib=_mean(first),
        last_quarter_mib=_mean(last),
    )
    if fit is None:
        out["reason"] = "all points at one time: no trend"
        return out
    out.update(
        slope_mib_per_h=fit.slope,
        slope_stderr_mib_per_h=fit.slope_stderr,
        r2=fit.r2,
        tail_slope_mib_per_h=tail.slope if tail is not None else None,
        intercept_mib=fit.intercept,
    )
    threshold = out["threshold_mib_per_h"]
    checks = {
        "slope_above_threshold": fit.slope > threshold,
        "r2_at_least_min": fit.r2 is not None and fit.r2 >= rule.min_r2,
        "last_quarter_above_first": (
            out["first_quarter_mib"] is not None
            and out["last_quarter_mib"] is not None
            and out["last_quarter_mib"] > out["first_quarter_mib"]
        ),
        "still_growing_at_end": tail is not None and tail.slope >= rule.tail_share * threshold,
    }
    out["checks"] = checks
    short = _too_short(len(pts), "points", span, rule.min_points, rule.min_span_s)
    if short:
        out["reason"] = short
        return out
    leak = all(checks.values())
    out["verdict"] = LEAK if leak else NO_LEAK
    failed = [name.replace("_", " ") for name, ok in checks.items() if not ok]
    out["reason"] = "every condition of the rule holds" if leak else "not: " + ", ".join(failed)
    return out


def _too_short(n: int, what: str, span: float, min_n: int, min_span_s: float) -> str:
    """Why a trend is not judged ("" when it is)."""
    if n < min_n:
        return f"{n} {what} after the warm-up, fewer than {min_n}: run longer"
    if span < min_span_s:
        return f"{span:.0f} s measured, under the {min_span_s:.0f} s the rule needs: run longer"
    return ""


@dataclass(frozen=True)
class DriftRule:
    ratio: float
    min_ms: float
    min_r2: float = 0.0

    def text(self) -> str:
        return (
            f"last quarter's p99 >= {self.ratio:g} x the first quarter's and at least "
            f"{self.min_ms:g} ms more, and the p99 per window rises as a trend (slope > 0, "
            f"R² >= {self.min_r2:g})"
        )


def latency_drift(
    batches: Sequence[tuple[float, float]],
    start_s: float,
    end_s: float,
    window_s: float,
    rule: DriftRule,
    min_points: int = 3,
    min_span_s: float = 0.0,
) -> dict[str, Any]:
    """p99 per window and its trend over [start_s, end_s) of due time (seconds after the
    load's start); `batches` are (due second, latency ms) of the successful batches."""
    inside = [(d, ms) for d, ms in batches if start_s <= d < end_s and math.isfinite(ms)]
    span = max(0.0, end_s - start_s)
    count = max(1, math.ceil(span / window_s - 1e-9)) if span > 0 else 0
    buckets: list[list[float]] = [[] for _ in range(count)]
    for due, ms in inside:
        buckets[min(count - 1, int((due - start_s) // window_s))].append(ms)
    windows = []
    for k, values in enumerate(buckets):
        lo = start_s + k * window_s
        hi = min(end_s, lo + window_s)
        windows.append(
            {
                "start_s": lo,
                "end_s": hi,
                "batches": len(values),
                "p50_ms": percentile(values, 50),
                "p99_ms": percentile(values, 99),
                "max_ms": max(values) if values else None,
            }
        )
    usable = [w for w in windows if w["p99_ms"] is not None]
    fit = (
        linear_fit(
            [((w["start_s"] + w["end_s"]) / 2 - start_s) / HOUR for w in usable],
            [float(w["p99_ms"]) for w in usable],
        )
        if len(usable) >= min_points
        else None
    )
    quarter = span / 4.0
    first = [ms for d, ms in inside if d < start_s + quarter]
    last = [ms for d, ms in inside if d >= end_s - quarter]
    p99_first = percentile(first, 99)
    p99_last = percentile(last, 99)
    out: dict[str, Any] = {
        "window_s": window_s,
        "windows": windows,
        "batches": len(inside),
        "p99_ms": percentile([ms for _, ms in inside], 99),
        "slope_ms_per_h": fit.slope if fit else None,
        "slope_stderr_ms_per_h": fit.slope_stderr if fit else None,
        "r2": fit.r2 if fit else None,
        "first_quarter_p99_ms": p99_first,
        "last_quarter_p99_ms": p99_last,
        "change_pct": (
            100.0 * (p99_last - p99_first) / p99_first
            if p99_first and p99_last is not None
            else None
        ),
        "verdict": NOT_JUDGED,
    }
    if p99_first is None or p99_last is None:
        out["reason"] = "no batch in the first or the last quarter: run longer"
        return out
    short = _too_short(len(usable), "windows", span, min_points, min_span_s)
    if short:
        out["reason"] = short
        return out
    checks = {
        "last_quarter_above_ratio": p99_last >= rule.ratio * p99_first,
        "last_quarter_above_min_ms": p99_last - p99_first >= rule.min_ms,
        "trend_up": fit is not None and fit.slope > 0 and (fit.r2 or 0.0) >= rule.min_r2,
    }
    out["checks"] = checks
    drifting = all(checks.values())
    out["verdict"] = DRIFTING if drifting else STEADY
    failed = [name.replace("_", " ") for name, ok in checks.items() if not ok]
    out["reason"] = "every condition holds" if drifting else "not: " + ", ".join(failed)
    return out


def leak_rule(settings: Any) -> LeakRule:
    """The LeakRule of a SoakSettings."""
    return LeakRule(
        min_slope_mib_per_h=settings.leak_min_slope_mib_per_h,
        limit_pct_per_h=settings.leak_limit_pct_per_h,
        min_r2=settings.leak_min_r2,
        tail_share=settings.leak_tail_share,
        min_points=settings.min_points,
        min_span_s=settings.min_span_s,
    )


def drift_rule(settings: Any) -> DriftRule:
    return DriftRule(
        ratio=settings.drift_ratio, min_ms=settings.drift_min_ms, min_r2=settings.drift_min_r2
    )


def rule_dict(rule: LeakRule | DriftRule) -> dict[str, Any]:
    return {**asdict(rule), "text": rule.text()}
