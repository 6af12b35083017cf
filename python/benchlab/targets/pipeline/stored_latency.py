"""The pipeline's latency per record: its event time (the batch's scheduled time) to the
commit of the micro-batch that wrote its Parquet file to HDFS.

A file's micro-batch is the first one that committed at or after the file's modification
time: the NameNode stamps a file when its writer closes it, inside the batch, and the
streaming job runs one batch at a time, so the next commit after a file closed is its own.
A batch's commit time is the end of its trigger (the job's progress: trigger start + trigger
duration, which covers the file sink's `_spark_metadata` commit).

The records are read back with the audit's local Spark session: one aggregation per run,
latencies counted per millisecond, then HDR percentiles as for every other latency.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from typing import Any

from benchlab.loadgen.latency import LatencyHistogram

# Progress times and HDFS modification times are whole milliseconds.
COMMIT_SLACK_S = 0.002
BASIS = "per record: event time (scheduled) to the HDFS commit of the micro-batch that wrote it"


def commit_of(closed_s: float, commits: list[float]) -> float | None:
    """The first commit (sorted epoch seconds) at or after a file closed; None: none seen."""
    i = bisect_left(commits, closed_s - COMMIT_SLACK_S)
    return commits[i] if i < len(commits) else None


def file_commits(closed: Mapping[str, float], commits: Iterable[float]) -> dict[str, float]:
    """File name -> the commit time of the micro-batch that wrote it (files closed after the
    last commit seen are left out: they are not committed as far as the progress knows)."""
    ordered = sorted(commits)
    out: dict[str, float] = {}
    for name, closed_s in closed.items():
        commit = commit_of(closed_s, ordered)
        if commit is not None:
            out[name] = commit
    return out


def parquet_files(spark: Any, path: str) -> dict[str, float]:
    """Parquet file name -> HDFS modification time (epoch s) under `path`, recursively."""
    jvm_path = spark._jvm.org.apache.hadoop.fs.Path(path)
    fs = jvm_path.getFileSystem(spark._jsc.hadoopConfiguration())
    if not fs.exists(jvm_path):
        return {}
    out: dict[str, float] = {}
    files = fs.listFiles(jvm_path, True)
    while files.hasNext():
        status = files.next()
        name = status.getPath().getName()
        if name.endswith(".parquet"):
            out[name] = status.getModificationTime() / 1000.0
    return out


def histograms(
    counts: Iterable[tuple[bool, int, int]],
) -> tuple[LatencyHistogram, LatencyHistogram]:
    """(in the steady window, latency ms, records) rows -> histograms of all and of steady."""
    everything, steady = LatencyHistogram(), LatencyHistogram()
    for in_window, ms, n in counts:
        everything.record_s(ms / 1000.0, n)
        if in_window:
            steady.record_s(ms / 1000.0, n)
    return everything, steady


def stored_latency(
    spark: Any,
    path: str,
    run_id: str,
    commits: Iterable[float],
    window_wall: tuple[float, float],
) -> dict[str, Any]:
    """Latency of every stored record of `run_id` under `path`, and of those whose event
    time is in `window_wall` ([start, end) epoch s: the steady window)."""
    from pyspark.sql import functions as F

    by_file = file_commits(parquet_files(spark, path), commits)
    if not by_file:
        return {"error": f"no committed Parquet file under {path}", "basis": BASIS}
    files = spark.createDataFrame(list(by_file.items()), "file string, commit_s double")
    lo, hi = window_wall
    records = (
        spark.read.parquet(path)
        .where(F.col("run_id") == F.lit(run_id))
        .select(
            F.element_at(F.split(F.input_file_name(), "/"), -1).alias("file"),
            F.col("event_time").cast("double").alias("event_s"),
        )
        .join(F.broadcast(files), "file", "left")
    )
    rows = (
        records.select(
            ((F.col("event_s") >= lo) & (F.col("event_s") < hi)).alias("steady"),
            F.ceil((F.col("commit_s") - F.col("event_s")) * 1000.0).alias("ms"),
        )
        .groupBy("steady", "ms")
        .count()
        .collect()
    )
    unmatched = sum(int(r["count"]) for r in rows if r["ms"] is None)
    everything, steady = histograms(
        (bool(r["steady"]), int(r["ms"]), int(r["count"])) for r in rows if r["ms"] is not None
    )
    return {
        "basis": BASIS,
        "all": everything.summary().as_dict(),
        "steady": steady.summary().as_dict(),
        "records_without_commit": unmatched,
    }
