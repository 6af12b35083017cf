from __future__ import annotations

from benchlab.config import Criteria
from benchlab.criteria import FAIL, PASS, UNKNOWN, evaluate, overall

P2 = Criteria(min_success_rate=0.95, max_p99_ms=500, oom_allowed=False)


def by_name(results: list) -> dict[str, str]:
    return {r.name: r.status for r in results}


def test_all_pass() -> None:
    r = evaluate(P2, success_rate=0.999, p99_ms=120.0, oom_kills=0)
    assert by_name(r) == {"success rate": PASS, "p99 latency": PASS, "OOM kills": PASS}
    assert overall(r) == PASS
    assert r[1].measured == "120.0 ms" and r[1].threshold == "< 500 ms"


def test_thresholds_are_strict() -> None:
    r = evaluate(P2, success_rate=0.95, p99_ms=500.0, oom_kills=0)
    assert by_name(r)["success rate"] == FAIL
    assert by_name(r)["p99 latency"] == FAIL
    assert overall(r) == FAIL


def test_oom_fails_unless_allowed() -> None:
    assert by_name(evaluate(P2, success_rate=1.0, p99_ms=1, oom_kills=1))["OOM kills"] == FAIL
    p3 = Criteria(0.9, 2000, oom_allowed=True)
    assert by_name(evaluate(p3, success_rate=1.0, p99_ms=1, oom_kills=3))["OOM kills"] == PASS


def test_missing_measurements_are_unknown_not_pass() -> None:
    r = evaluate(P2, success_rate=1.0, p99_ms=10, oom_kills=None)
    assert by_name(r)["OOM kills"] == UNKNOWN
    assert overall(r) == UNKNOWN
    assert evaluate(None, success_rate=1.0, p99_ms=1, oom_kills=0) == []
