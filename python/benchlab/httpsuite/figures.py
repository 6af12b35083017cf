"""Per-request results of one measured window -> the figures the report compares.

Latency is taken two ways: as vegeta reports it (from the moment the request was sent) and
from the moment the constant-rate schedule made it due (t0 + seq / rate), which adds any
time the request waited for a free worker: the coordinated-omission-free figure the verdict
and the search judge. A request is late when it was sent more than ``late_after_ms`` after
it was due; requests due in the window that were never sent are dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from benchlab.httpsuite.vegeta import Row
from benchlab.stats import percentile

LATE_AFTER_MS = 10.0


def _ms(values: Sequence[float], q: float) -> float | None:
    v = percentile(values, q)
    return None if v is None else v * 1000.0


def analyse(
    rows: Sequence[Row], rate: float, duration_s: float, late_after_ms: float = LATE_AFTER_MS
) -> dict[str, Any]:
    due = round(rate * duration_s)
    sent = len(rows)
    ok = [r for r in rows if 200 <= r.code < 400 and not r.error]
    t0 = rows[0].sent - rows[0].seq / rate if rows else 0.0
    lag = [max(0.0, r.sent - (t0 + r.seq / rate)) for r in rows]
    late = sum(1 for x in lag if x * 1000.0 > late_after_ms)
    service = sorted(r.latency_s for r in ok)
    from_schedule = sorted(
        r.latency_s + lag[i] for i, r in enumerate(rows) if 200 <= r.code < 400 and not r.error
    )
    end = max((r.sent + r.latency_s for r in rows), default=t0)
    span = max(duration_s, end - t0) if rows else duration_s
    codes = Counter(str(r.code) for r in rows)
    errors = Counter(_error_kind(r) for r in rows if r.error or not 200 <= r.code < 400)
    return {
        "offered_rate": rate,
        "duration_s": duration_s,
        "due": due,
        "sent": sent,
        "ok": len(ok),
        "failed": sent - len(ok),
        "dropped": max(0, due - sent),
        "late": late,
        "late_ratio": late / sent if sent else None,
        "success_ratio": len(ok) / due if due else None,
        # successful responses per second over the window (until the last response came in)
        "throughput_per_s": len(ok) / span if span > 0 else None,
        "latency_ms": {
            "p50": _ms(service, 50),
            "p95": _ms(service, 95),
            "p99": _ms(service, 99),
            "max": service[-1] * 1000.0 if service else None,
            "mean": sum(service) / len(service) * 1000.0 if service else None,
        },
        "latency_from_schedule_ms": {
            "p50": _ms(from_schedule, 50),
            "p95": _ms(from_schedule, 95),
            "p99": _ms(from_schedule, 99),
            "max": from_schedule[-1] * 1000.0 if from_schedule else None,
        },
        "schedule_lag_ms": {"p99": _ms(sorted(lag), 99), "max": max(lag) * 1000.0 if lag else None},
        "status_codes": dict(sorted(codes.items())),
        "errors": dict(errors.most_common(10)),
    }


def _error_kind(row: Row) -> str:
    if row.error:
        text = row.error
        for marker in (
            "timeout",
            "connection refused",
            "connection reset",
            "EOF",
            "too many open files",
        ):
            if marker.lower() in text.lower():
                return marker
        return text[:80]
    return f"HTTP {row.code}"


def judge(
    figures: dict[str, Any],
    max_p99_ms: float,
    min_success_rate: float,
    max_late_ratio: float = 0.01,
    min_throughput_ratio: float = 0.98,
) -> tuple[bool, list[str]]:
    """Whether a window held its rate: (ok, reasons it did not)."""
    why = []
    p99 = figures["latency_from_schedule_ms"]["p99"]
    if p99 is None or p99 > max_p99_ms:
        why.append(f"p99 from schedule {_fmt(p99)} ms > {max_p99_ms:g} ms")
    success = figures["success_ratio"]
    if success is None or success < min_success_rate:
        why.append(
            f"success {_fmt(None if success is None else success * 100)} % "
            f"< {min_success_rate * 100:g} %"
        )
    late = figures["late_ratio"]
    if late is not None and late > max_late_ratio:
        why.append(f"{late * 100:.1f} % of requests sent late")
    thr = figures["throughput_per_s"]
    if thr is None or thr < min_throughput_ratio * figures["offered_rate"]:
        why.append(
            f"throughput {_fmt(thr)}/s < {min_throughput_ratio * 100:g} % "
            f"of {figures['offered_rate']:g}/s"
        )
    return (not why, why)


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.1f}"


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, None when either is missing or b is 0."""
    if a is None or b is None or b == 0:
        return None
    return a / b
