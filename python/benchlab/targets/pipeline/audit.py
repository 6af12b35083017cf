"""Audit of the distributed path: records of a run in HDFS Parquet vs what Kafka acknowledged.

Reads ``hdfs://<namenode>/benchlab/<run-id>/`` with pyspark (local mode: the audit needs no
cluster, only pyspark's bundled HDFS client; no pyarrow/libhdfs), counts rows and distinct
seq numbers, finds duplicates by seq, and compares with the acknowledged seq ranges the
same way :func:`benchlab.audit.audit_postgres` does, returning the same
:class:`benchlab.audit.AuditResult`. Only the Parquet files the file sink committed (its
``_spark_metadata`` log) are read, so files of an aborted batch never count.
"""

from __future__ import annotations

from typing import Any

from benchlab.audit import AuditResult
from benchlab.seqranges import RangeSet

EXAMPLES = 10


def local_spark(app: str = "benchlab-hdfs-audit", master: str = "local[1]") -> Any:
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master(master)
        .appName(app)
        .config("spark.ui.enabled", "false")
        # Local mode talks to itself only: its RPC and block manager stay on loopback.
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "512m")
        .getOrCreate()
    )


def audit_frame(target: str, df: Any, acked: RangeSet, run_id: str | None = None) -> AuditResult:
    """Audit a DataFrame with a ``seq`` column (and ``run_id`` when given) against acked ranges."""
    from pyspark.sql import functions as F

    spark = df.sparkSession
    if run_id is not None:
        df = df.where(F.col("run_id") == F.lit(run_id))
    counts = df.groupBy("seq").count().cache()
    totals = counts.agg(F.sum("count").alias("rows"), F.count("*").alias("distinct")).first()
    rows_found = int(totals["rows"] or 0)
    distinct_found = int(totals["distinct"] or 0)
    ranges = acked.ranges()
    acked_found = 0
    lost_examples: list[int] = []
    if ranges:
        rdf = spark.createDataFrame([(a, a + n - 1) for a, n in ranges], "lo long, hi long")
        hits = counts.join(
            F.broadcast(rdf), (counts.seq >= rdf.lo) & (counts.seq <= rdf.hi)
        ).select("seq", "lo", "hi")
        per_range = {
            (r["lo"], r["hi"]): int(r["n"])
            for r in hits.groupBy("lo", "hi").agg(F.count("*").alias("n")).collect()
        }
        acked_found = sum(per_range.values())
        for a, n in ranges:
            lo, hi = a, a + n - 1
            if per_range.get((lo, hi), 0) < n and len(lost_examples) < EXAMPLES:
                present = counts.where((counts.seq >= lo) & (counts.seq <= hi)).select("seq")
                missing = (
                    spark.range(lo, hi + 1)
                    .withColumnRenamed("id", "seq")
                    .join(present, "seq", "left_anti")
                    .orderBy("seq")
                    .limit(EXAMPLES - len(lost_examples))
                    .collect()
                )
                lost_examples.extend(int(r["seq"]) for r in missing)
    duplicated = counts.where(F.col("count") > 1)
    duplicated_seqs = int(duplicated.count()) if rows_found != distinct_found else 0
    duplicate_examples = [
        int(r["seq"]) for r in duplicated.orderBy("seq").limit(EXAMPLES).collect()
    ]
    counts.unpersist()
    return AuditResult(
        target=target,
        acknowledged=acked.total(),
        rows_found=rows_found,
        distinct_found=distinct_found,
        acked_found=acked_found,
        lost_examples=lost_examples,
        duplicate_examples=duplicate_examples,
        duplicated_seqs=duplicated_seqs,
    )


def audit_hdfs(
    target: str, path: str, run_id: str, acked: RangeSet, *, spark: Any = None
) -> AuditResult:
    """Audit the run's Parquet output at ``path`` (hdfs://<namenode>:<port>/benchlab/<run-id>)."""
    own = spark is None
    spark = spark or local_spark()
    try:
        jvm_path = spark._jvm.org.apache.hadoop.fs.Path(path)
        fs = jvm_path.getFileSystem(spark._jsc.hadoopConfiguration())
        if not fs.exists(jvm_path):
            return AuditResult(target, acked.total(), 0, 0, 0, note=f"{path} does not exist")
        df = spark.read.parquet(path)
        return audit_frame(target, df, acked, run_id)
    finally:
        if own:
            spark.stop()
