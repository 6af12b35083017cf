"""The figures of a run's steady window: what is stored after the warm-up, and its latency.

One reading for the phase report and the search's judge. A store that acknowledges on
commit is stored when acknowledged: the runner's `steady` figures. A target whose store lags
its acknowledgement (the pipeline) sets its own `stored_steady` (records reached the store
per second, latency per record to the store, the backlog at its commits).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StoredView:
    """What was stored in the steady window (after load.warmup_s)."""

    stored_per_s: float
    latency_ms: dict[str, Any]  # LatencySummary.as_dict of the stored latency
    latency: str  # what the latency measures
    backlog: list[tuple[float, float]]  # (seconds from the load's start, value)
    backlog_unit: str  # "records" owed, or "ms" of due-to-commit latency
    warmup_s: float = 0.0
    window_s: float | None = None

    @property
    def p99_ms(self) -> float | None:
        return self.latency_ms.get("p99_ms")

    @property
    def p50_ms(self) -> float | None:
        return self.latency_ms.get("p50_ms")


ACK_LATENCY = "acknowledgement (commit) from the scheduled time"


def stored_view(figures: Mapping[str, Any]) -> StoredView:
    """The stored side of a target's load figures (load.json[target]) after the warm-up."""
    steady = figures.get("steady") or {}
    warmup = float(steady.get("warmup_s") or 0.0)
    window = steady.get("window_s")
    own = figures.get("stored_steady")
    if own:
        latency = dict(own.get("latency_ms") or {})
        # results written before per-record latency carried only the p99 (still readable)
        if not latency and own.get("latency_p99_ms") is not None:
            latency = {"p99_ms": own.get("latency_p99_ms")}
        return StoredView(
            stored_per_s=float(own.get("stored_per_s") or 0.0),
            latency_ms=latency,
            latency=str(own.get("latency", "stored")),
            backlog=[(float(t), float(v)) for t, v in own.get("backlog") or []],
            backlog_unit=str(own.get("backlog_unit", "records")),
            warmup_s=warmup,
            window_s=window,
        )
    return StoredView(
        stored_per_s=float(steady.get("acked_per_s") or 0.0),
        latency_ms=dict(steady.get("latency_ms") or {}),
        latency=ACK_LATENCY,
        backlog=[(float(t), float(v)) for t, v in steady.get("latency_max_ms_by_s") or []],
        backlog_unit="ms",
        warmup_s=warmup,
        window_s=window,
    )
