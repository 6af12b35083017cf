from __future__ import annotations

import pytest

from benchlab.loadgen.latency import LatencyHistogram


def test_percentiles_in_milliseconds() -> None:
    h = LatencyHistogram()
    for ms in range(1, 1001):
        h.record_s(ms / 1000.0)
    s = h.summary()
    assert s.count == 1000
    assert s.p50_ms == pytest.approx(500, rel=0.01)
    assert s.p95_ms == pytest.approx(950, rel=0.01)
    assert s.p99_ms == pytest.approx(990, rel=0.01)
    assert s.max_ms == pytest.approx(1000, rel=0.01)


def test_empty_histogram_has_no_percentiles() -> None:
    s = LatencyHistogram().summary()
    assert s.count == 0 and s.p99_ms is None and s.max_ms is None


def test_encode_decode_and_merge() -> None:
    a, b = LatencyHistogram(), LatencyHistogram()
    for _ in range(99):
        a.record_s(0.010)
    b.record_s(2.0)
    decoded = LatencyHistogram.decode(a.encode())
    assert decoded.count == 99
    assert decoded.summary().p99_ms == pytest.approx(10, rel=0.01)
    decoded.merge(b)
    assert decoded.count == 100
    assert decoded.summary().max_ms == pytest.approx(2000, rel=0.01)
    assert decoded.summary().p50_ms == pytest.approx(10, rel=0.01)


def test_percentile_distribution_text() -> None:
    h = LatencyHistogram()
    h.record_s(0.005, count=10)
    text = h.percentile_distribution()
    assert "Percentile" in text and "5.00" in text
