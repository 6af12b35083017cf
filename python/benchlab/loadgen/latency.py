"""HDR histograms of latency (microsecond resolution, 1 us .. 1 h, 3 significant digits)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT = 3
PERCENTILES = (50.0, 95.0, 99.0, 99.9)


@dataclass(frozen=True)
class LatencySummary:
    count: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    p999_ms: float | None
    max_ms: float | None
    mean_ms: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "count": self.count,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "p999_ms": self.p999_ms,
            "max_ms": self.max_ms,
            "mean_ms": self.mean_ms,
        }


class LatencyHistogram:
    """A thin wrapper over hdrhistogram that takes seconds and reports milliseconds."""

    def __init__(self) -> None:
        self.hist = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT)

    def record_s(self, seconds: float, count: int = 1) -> None:
        us = min(HIGHEST_US, max(LOWEST_US, round(seconds * 1_000_000)))
        self.hist.record_value(us, count)

    @property
    def count(self) -> int:
        return int(self.hist.get_total_count())

    def percentile_ms(self, pct: float) -> float | None:
        if self.count == 0:
            return None
        return self.hist.get_value_at_percentile(pct) / 1000.0

    def summary(self) -> LatencySummary:
        if self.count == 0:
            return LatencySummary(0, None, None, None, None, None, None)
        p = {q: self.hist.get_value_at_percentile(q) / 1000.0 for q in PERCENTILES}
        return LatencySummary(
            count=self.count,
            p50_ms=p[50.0],
            p95_ms=p[95.0],
            p99_ms=p[99.0],
            p999_ms=p[99.9],
            max_ms=self.hist.get_max_value() / 1000.0,
            mean_ms=self.hist.get_mean_value() / 1000.0,
        )

    def merge(self, other: LatencyHistogram) -> None:
        self.hist.add(other.hist)

    def encode(self) -> bytes:
        """Compressed, base64 HdrHistogram encoding (interoperable with other HDR tools)."""
        return self.hist.encode()

    @classmethod
    def decode(cls, encoded: bytes | str) -> LatencyHistogram:
        h = cls()
        h.hist = HdrHistogram.decode(encoded)
        return h

    def percentile_distribution(self) -> str:
        """The classic .hgrm text (values in milliseconds)."""
        if self.count == 0:
            return "# no values recorded\n"
        out = io.BytesIO()
        self.hist.output_percentile_distribution(out, 1000.0)
        return out.getvalue().decode()
