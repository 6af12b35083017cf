"""Success criteria (SPEC.md section 6) from the run configuration -> PASS/FAIL per criterion."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from benchlab import fields

PASS, FAIL, UNKNOWN = "PASS", "FAIL", "UNKNOWN"


@dataclass(frozen=True)
class Criteria:
    """A target's thresholds for one phase (group_vars/all/targets.yml `criteria`)."""

    min_success_rate: float
    max_p99_ms: float
    oom_allowed: bool

    @classmethod
    def parse(cls, data: dict[str, Any] | None, prefix: str) -> Criteria | None:
        if not data:
            return None
        fields.refuse_unknown(data, prefix, ("min_success_rate", "max_p99_ms", "oom_allowed"))
        return cls(
            min_success_rate=fields.number(data, prefix, "min_success_rate", minimum=0, maximum=1),
            max_p99_ms=fields.number(data, prefix, "max_p99_ms", minimum=0, exclusive_min=True),
            oom_allowed=fields.boolean(data, prefix, "oom_allowed", False),
        )


@dataclass(frozen=True)
class CriterionResult:
    name: str
    threshold: str
    measured: str
    status: str  # PASS, FAIL or UNKNOWN (no measurement)
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pct(x: float) -> str:
    return f"{x * 100:.2f} %"


def evaluate(
    criteria: Criteria | None,
    *,
    success_rate: float | None,
    p99_ms: float | None,
    oom_kills: float | None,
    success_note: str | None = None,
) -> list[CriterionResult]:
    """Success rate must exceed the minimum and p99 stay under the maximum (strict, as in
    SPEC.md's '> 95 %' and '< 500 ms'); OOM kills must be zero unless allowed.

    The success rate is the audit's (records found exactly once / records due,
    benchlab.verdict); success_note says why it is missing when it is None.
    """
    if criteria is None:
        return []
    out: list[CriterionResult] = []
    threshold = f"> {_pct(criteria.min_success_rate)}"
    if success_rate is None:
        note = success_note or "nothing was due"
        out.append(CriterionResult("success rate", threshold, "n/a", UNKNOWN, note))
    else:
        ok = success_rate > criteria.min_success_rate or success_rate == 1.0
        out.append(
            CriterionResult("success rate", threshold, _pct(success_rate), PASS if ok else FAIL)
        )
    threshold = f"< {criteria.max_p99_ms:g} ms"
    if p99_ms is None:
        out.append(CriterionResult("p99 latency", threshold, "n/a", UNKNOWN, "no acknowledgements"))
    else:
        ok = p99_ms < criteria.max_p99_ms
        out.append(
            CriterionResult("p99 latency", threshold, f"{p99_ms:.1f} ms", PASS if ok else FAIL)
        )
    threshold = "allowed" if criteria.oom_allowed else "none"
    if criteria.oom_allowed:
        measured = "n/a" if oom_kills is None else f"{oom_kills:g}"
        out.append(CriterionResult("OOM kills", threshold, measured, PASS))
    elif oom_kills is None:
        out.append(
            CriterionResult(
                "OOM kills", threshold, "n/a", UNKNOWN, "no Prometheus data for OOM kills"
            )
        )
    else:
        status = PASS if oom_kills == 0 else FAIL
        out.append(CriterionResult("OOM kills", threshold, f"{oom_kills:g}", status))
    return out


def overall(results: list[CriterionResult]) -> str:
    if not results:
        return UNKNOWN
    if any(r.status == FAIL for r in results):
        return FAIL
    if any(r.status == UNKNOWN for r in results):
        return UNKNOWN
    return PASS
