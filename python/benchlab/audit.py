"""Audit: compare what the sink holds for a run with what the generator saw acknowledged.

The acknowledged seq numbers travel as merged (first, count) ranges. PostgreSQL does the
comparison: the ranges go into a temporary table and each range becomes one index range scan
on (run_id, seq), so 5M records need no client memory beyond the ranges.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from benchlab.config import SinkConfig
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


def audit_postgres(
    target: str, sink: SinkConfig, run_id: str, acked: RangeSet, *, timeout_ms: int = 600_000
) -> AuditResult:
    """Count the run's rows in PostgreSQL and compare them with the acknowledged ranges."""
    import psycopg
    from psycopg import sql

    from benchlab.sinks.postgres import PostgresSink

    table = sql.SQL(".").join(sql.Identifier(p) for p in sink.table.split("."))
    kwargs = PostgresSink(sink, name=f"{target}-audit").connect_kwargs()
    kwargs["options"] = f"-c statement_timeout={timeout_ms}"
    with psycopg.connect(**kwargs) as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE benchlab_acked (lo bigint, hi bigint) ON COMMIT DROP")
        with cur.copy("COPY benchlab_acked (lo, hi) FROM STDIN") as copy:
            for first, n in acked.ranges():
                copy.write_row((first, first + n - 1))
        cur.execute("ANALYZE benchlab_acked")
        cur.execute(
            sql.SQL("SELECT count(*), count(DISTINCT seq) FROM {} WHERE run_id = %s").format(table),
            (run_id,),
        )
        rows_found, distinct_found = cur.fetchone()  # type: ignore[misc]
        # one index range scan per acked range; distinct per range, ranges are disjoint
        cur.execute(
            sql.SQL(
                "SELECT a.lo, a.hi, f.n FROM benchlab_acked a CROSS JOIN LATERAL ("
                " SELECT count(DISTINCT e.seq) AS n FROM {} e"
                " WHERE e.run_id = %s AND e.seq BETWEEN a.lo AND a.hi) f"
            ).format(table),
            (run_id,),
        )
        per_range = cur.fetchall()
        acked_found = sum(int(n) for _, _, n in per_range)
        lost_examples: list[int] = []
        for lo, hi, n in per_range:
            if n < hi - lo + 1 and len(lost_examples) < 10:
                cur.execute(
                    sql.SQL(
                        "SELECT s FROM generate_series(%s::bigint, %s::bigint) s WHERE NOT EXISTS"
                        " (SELECT 1 FROM {} e WHERE e.run_id = %s AND e.seq = s)"
                        " ORDER BY s LIMIT %s"
                    ).format(table),
                    (lo, hi, run_id, 10 - len(lost_examples)),
                )
                lost_examples.extend(int(r[0]) for r in cur.fetchall())
        duplicate_examples: list[int] = []
        duplicated_seqs = 0
        if rows_found != distinct_found:
            duplicated = sql.SQL(
                "SELECT seq FROM {} WHERE run_id = %s GROUP BY seq HAVING count(*) > 1"
            ).format(table)
            cur.execute(sql.SQL("SELECT count(*) FROM ({}) d").format(duplicated), (run_id,))
            duplicated_seqs = int(cur.fetchone()[0])  # type: ignore[index]
            cur.execute(sql.SQL("{} ORDER BY seq LIMIT 10").format(duplicated), (run_id,))
            duplicate_examples = [int(r[0]) for r in cur.fetchall()]
        conn.rollback()
    return AuditResult(
        target=target,
        acknowledged=acked.total(),
        rows_found=int(rows_found),
        distinct_found=int(distinct_found),
        acked_found=acked_found,
        lost_examples=lost_examples,
        duplicate_examples=duplicate_examples,
        duplicated_seqs=duplicated_seqs,
    )
