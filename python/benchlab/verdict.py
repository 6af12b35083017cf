"""The data verdict of a target: did the sink keep every record it was given, exactly once?

A target FAILs its data verdict when its audit (each package's, benchlab.targets.<name>):
- found acknowledged records missing (lost > 0);
- found duplicates on a store that promises each record once (Target.exactly_once):
  PostgreSQL (one commit per batch, acknowledged on commit), the pipeline's Spark file sink
  with its checkpoint;
- did not complete: it errored, or there is no audit for a target that was loaded.

This verdict, unlike the criteria of SPEC.md section 6 (benchlab.criteria), changes the exit
code of `benchlab run`, `benchlab bench` and bench.yml (benchlab.exitcodes.EXIT_DATA_FAILED).
A sink that keeps nothing to audit (kind null) has no data verdict.

The audit also gives the success rate the criteria judge: records found exactly once over
records due (not acknowledgements, which a sink can give for records it then loses).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from benchlab import targets
from benchlab.targets import TargetConfig

PASS, FAIL, NONE = "PASS", "FAIL", "n/a"


@dataclass(frozen=True)
class DataVerdict:
    target: str
    status: str  # PASS, FAIL, or n/a (the sink keeps nothing to audit)
    reasons: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def line(self) -> str:
        """One line for a terminal or a failing Ansible task."""
        if self.status == FAIL:
            return f"{self.target}: " + "; ".join(self.reasons)
        return f"{self.target}: {self.status}" + (f" ({self.reasons[0]})" if self.reasons else "")

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reasons": list(self.reasons), "line": self.line()}


def exactly_once_sink(target: TargetConfig) -> bool:
    """Whether the target's store promises each record once (its package says)."""
    return targets.get(target.type).exactly_once


def data_verdict(
    target: str, audit: Mapping[str, Any] | None, *, exactly_once: bool
) -> DataVerdict:
    if not audit:
        return DataVerdict(target, FAIL, ("the audit did not run",))
    if audit.get("error"):
        return DataVerdict(target, FAIL, (f"the audit did not complete: {audit['error']}",))
    if audit.get("skipped"):
        return DataVerdict(target, NONE, (str(audit["skipped"]),))
    if audit.get("lost") is None or audit.get("duplicates") is None:
        return DataVerdict(target, FAIL, ("the audit did not complete: it holds no counts",))
    reasons: list[str] = []
    lost, duplicates = int(audit["lost"]), int(audit["duplicates"])
    if lost > 0:
        examples = audit.get("lost_examples") or []
        reasons.append(
            f"lost {lost:,} acknowledged records"
            + (f" (first seq {', '.join(str(s) for s in examples[:3])})" if examples else "")
        )
    if duplicates > 0 and exactly_once:
        reasons.append(f"{duplicates:,} duplicate rows on an exactly-once sink")
    return DataVerdict(target, FAIL if reasons else PASS, tuple(reasons))


def exactly_once_found(audit: Mapping[str, Any] | None) -> int | None:
    """Distinct seq numbers the sink holds exactly once (None without audit counts).

    Older audits have no `exactly_once`: distinct seqs minus extra copies is then a lower
    bound (it is exact when no seq has more than two copies).
    """
    if not audit or audit.get("error") or audit.get("skipped"):
        return None
    if audit.get("exactly_once") is not None:
        return int(audit["exactly_once"])
    distinct = audit.get("distinct_found", audit.get("found"))
    if distinct is None:
        return None
    return max(0, int(distinct) - int(audit.get("duplicates") or 0))


def audited_success_rate(audit: Mapping[str, Any] | None, records_due: int | None) -> float | None:
    """Records found exactly once / records due; None when either is unknown."""
    found = exactly_once_found(audit)
    if found is None or not records_due:
        return None
    return min(1.0, found / records_due)


def run_verdicts(
    targets: Mapping[str, TargetConfig], audits: Mapping[str, Mapping[str, Any]]
) -> dict[str, DataVerdict]:
    """The data verdict of every target named in `targets` (those that were loaded)."""
    return {
        name: data_verdict(name, audits.get(name), exactly_once=exactly_once_sink(target))
        for name, target in targets.items()
    }


__all__ = [
    "DataVerdict",
    "audited_success_rate",
    "data_verdict",
    "exactly_once_found",
    "exactly_once_sink",
    "run_verdicts",
]
