"""Audit results: what a store holds for a run against what the generator saw acknowledged.

Each target's package does its own audit (benchlab.targets.<name>.audit) and returns an
:class:`AuditResult`; the acknowledged seq numbers travel as merged (first, count) ranges.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from benchlab.seqranges import RangeSet


@dataclass(frozen=True)
class AuditResult:
    target: str
    acknowledged: int  # distinct seq numbers acknowledged
    rows_found: int  # rows in the sink for the run id
    distinct_found: int  # distinct seq numbers among them
    acked_found: int  # acknowledged seq numbers present at least once
    lost_examples: list[int] = field(default_factory=list)
    duplicate_examples: list[int] = field(default_factory=list)
    note: str | None = None
    duplicated_seqs: int = 0  # distinct seq numbers held more than once

    @property
    def exactly_once(self) -> int:
        """Seq numbers held exactly once: the records the success rate counts."""
        return self.distinct_found - self.duplicated_seqs

    @property
    def lost(self) -> int:
        """Acknowledged but missing."""
        return self.acknowledged - self.acked_found

    @property
    def duplicates(self) -> int:
        """Extra copies: rows beyond one per seq number."""
        return self.rows_found - self.distinct_found

    @property
    def unacknowledged_present(self) -> int:
        """Written although never acknowledged (e.g. the commit landed, its reply did not)."""
        return self.distinct_found - self.acked_found

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicates == 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            lost=self.lost,
            duplicates=self.duplicates,
            unacknowledged_present=self.unacknowledged_present,
            found=self.rows_found,
            exactly_once=self.exactly_once,
            ok=self.ok,
        )
        return data


def audit_in_memory(target: str, acked: RangeSet, found_seqs: Iterable[int]) -> AuditResult:
    """Reference implementation (tests, small sinks): same arithmetic, all in Python."""
    counts = Counter(found_seqs)
    ranges = acked.ranges()

    def is_acked(seq: int) -> bool:
        import bisect

        i = bisect.bisect_right(ranges, (seq, float("inf"))) - 1
        return i >= 0 and ranges[i][0] <= seq < ranges[i][0] + ranges[i][1]

    acked_found = sum(1 for s in counts if is_acked(s))
    lost_examples: list[int] = []
    for first, n in ranges:
        for s in range(first, first + n):
            if s not in counts:
                lost_examples.append(s)
                if len(lost_examples) >= 10:
                    break
        if len(lost_examples) >= 10:
            break
    return AuditResult(
        target=target,
        acknowledged=acked.total(),
        rows_found=sum(counts.values()),
        distinct_found=len(counts),
        acked_found=acked_found,
        lost_examples=lost_examples,
        duplicate_examples=sorted(s for s, c in counts.items() if c > 1)[:10],
        duplicated_seqs=sum(1 for c in counts.values() if c > 1),
    )
