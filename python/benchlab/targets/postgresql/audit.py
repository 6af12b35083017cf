"""PostgreSQL's audit: the comparison runs in the database.

The acknowledged ranges go into a temporary table and each range becomes one index range
scan on (run_id, seq), so 5M records need no client memory beyond the ranges.
"""

from __future__ import annotations

from benchlab.audit import AuditResult
from benchlab.seqranges import RangeSet
from benchlab.sinks.postgres import PostgresSinkConfig


def audit_postgres(
    target: str,
    sink: PostgresSinkConfig,
    run_id: str,
    acked: RangeSet,
    *,
    timeout_ms: int = 600_000,
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
