"""PySpark Structured Streaming job: Kafka topic -> Parquet files on HDFS (exactly-once file sink).

Reads the benchmark topic, keeps the records of one run id (and its warm-up), parses the
wire format written by :mod:`benchlab.sinks.kafka` (tab-separated, event time in epoch
microseconds), and appends
Parquet files under ``<output>`` (``hdfs://<namenode>/benchlab/<run-id>/``), partitioned by
event hour, with its checkpoint on HDFS: the file sink's metadata log plus the checkpoint
make a restarted query neither lose nor duplicate records.

Progress: every micro-batch's progress is appended as one JSON line to ``--progress-file``
(input and processed rows per second, batch duration, numInputRows) together with the
end-to-end freshness of that batch: commit time (trigger start + batch duration) minus
the event times of its records (min / avg / max from the query's event-time statistics).

Run through spark-submit (see :mod:`benchlab.streaming.submit`); it imports only pyspark and
the standard library so spark-submit can ship it as a plain file.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

QUERY_NAME = "benchlab_hdfs_sink"
# Records of `<run id><WARMUP_SUFFIX>` warm the job up before the load (the first micro-batch
# pays for the HDFS writer's start); they are written beside the run's and the audit, which
# keeps one run id, never counts them (benchlab.targets.pipeline).
WARMUP_SUFFIX = ".warmup"
FIELDS = 9  # benchlab.records.COLUMNS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchlab-streaming-job", description=__doc__.split("\n")[0])
    p.add_argument("--run-id", required=True)
    p.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap servers")
    p.add_argument("--topic", default="benchlab-events")
    p.add_argument("--output", required=True, help="hdfs://<namenode>:<port>/benchlab/<run-id>")
    p.add_argument("--checkpoint", required=True, help="checkpoint directory (on HDFS)")
    p.add_argument("--progress-file", required=True, help="JSON lines, one per micro-batch")
    p.add_argument("--trigger-s", type=float, default=5.0, help="micro-batch interval")
    p.add_argument("--starting-offsets", default="earliest")
    p.add_argument("--max-offsets-per-trigger", type=int, default=0)
    p.add_argument("--expect-rows", type=int, default=0, help="stop at N committed rows")
    p.add_argument("--max-duration-s", type=float, default=0.0, help="0: never")
    p.add_argument("--idle-stop-s", type=float, default=0.0,
                   help="stop when no rows came for this long")  # fmt: skip
    p.add_argument("--ready-file", default="", help="created once the query has started")
    p.add_argument("--stop-file", default="", help="stop gracefully once this file exists")
    return p.parse_args(argv)


def _epoch_s(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def progress_record(progress: dict[str, Any]) -> dict[str, Any]:
    """One JSON-lines record from a StreamingQueryProgress (as its JSON dict)."""
    durations = progress.get("durationMs") or {}
    batch_ms = durations.get("triggerExecution")
    start = _epoch_s(progress.get("timestamp"))
    commit = start + batch_ms / 1000.0 if start is not None and batch_ms is not None else None
    event_time = progress.get("eventTime") or {}
    rows = int(progress.get("numInputRows") or 0)
    fresh: dict[str, float | None] = {"min_s": None, "avg_s": None, "max_s": None}
    if commit is not None and rows > 0:
        newest, oldest, avg = (_epoch_s(event_time.get(k)) for k in ("max", "min", "avg"))
        fresh = {
            "min_s": None if newest is None else round(commit - newest, 6),
            "avg_s": None if avg is None else round(commit - avg, 6),
            "max_s": None if oldest is None else round(commit - oldest, 6),
        }
    return {
        "query": progress.get("name"),
        "batch_id": progress.get("batchId"),
        "timestamp": progress.get("timestamp"),
        "commit_epoch_s": commit,
        "num_input_rows": rows,
        "input_rows_per_second": progress.get("inputRowsPerSecond"),
        "processed_rows_per_second": progress.get("processedRowsPerSecond"),
        "batch_duration_ms": batch_ms,
        "duration_ms": durations,
        "event_time": event_time,
        "freshness": fresh,
        "sources": [
            {"end_offset": s.get("endOffset"), "latest_offset": s.get("latestOffset")}
            for s in progress.get("sources") or []
        ],
    }


def build_query(spark: Any, args: argparse.Namespace) -> Any:
    from pyspark.sql import functions as F

    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", args.bootstrap)
        .option("subscribe", args.topic)
        .option("startingOffsets", args.starting_offsets)
        .option("failOnDataLoss", "false")
    )
    if args.max_offsets_per_trigger > 0:
        reader = reader.option("maxOffsetsPerTrigger", str(args.max_offsets_per_trigger))
    raw = reader.load()
    parts = F.split(F.col("value").cast("string"), "\t", FIELDS)
    parsed = raw.select(
        parts.getItem(0).alias("run_id"),
        parts.getItem(1).cast("bigint").alias("seq"),
        F.timestamp_micros(parts.getItem(2).cast("bigint")).alias("event_time"),
        parts.getItem(3).alias("service"),
        parts.getItem(4).alias("level"),
        parts.getItem(5).alias("host"),
        parts.getItem(6).cast("bigint").alias("user_id"),
        parts.getItem(7).cast("double").alias("latency_ms"),
        parts.getItem(8).alias("message"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
    ).where(F.col("run_id").isin(args.run_id, args.run_id + WARMUP_SUFFIX))
    out = parsed.withColumn("event_hour", F.date_format("event_time", "yyyyMMddHH")).withWatermark(
        "event_time", "10 minutes"
    )  # watermark only to get event-time statistics in the progress (no stateful operator)
    return (
        out.writeStream.format("parquet")
        .queryName(QUERY_NAME)
        .outputMode("append")
        .option("path", args.output)
        .option("checkpointLocation", args.checkpoint)
        .partitionBy("event_hour")
        .trigger(processingTime=f"{args.trigger_s} seconds")
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from pyspark.sql import SparkSession
    from pyspark.sql.streaming import StreamingQueryListener

    spark = SparkSession.builder.appName(f"benchlab-streaming-{args.run_id}").getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    progress_path = Path(args.progress_file)
    progress_path.parent.mkdir(parents=True, exist_ok=True)
    state = {"rows": 0, "last_rows_mono": None, "lock": threading.Lock()}

    class Recorder(StreamingQueryListener):
        def onQueryStarted(self, event: Any) -> None:
            if args.ready_file:
                Path(args.ready_file).write_text(f"{time.time()}\n", encoding="utf-8")

        def onQueryProgress(self, event: Any) -> None:
            record = progress_record(json.loads(event.progress.json))
            with state["lock"]:
                if record["num_input_rows"]:
                    state["rows"] += record["num_input_rows"]
                    state["last_rows_mono"] = time.monotonic()
                record["committed_rows_total"] = state["rows"]
                with progress_path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record, sort_keys=True) + "\n")

        def onQueryIdle(self, event: Any) -> None:
            pass

        def onQueryTerminated(self, event: Any) -> None:
            pass

    spark.streams.addListener(Recorder())
    query = build_query(spark, args).start()
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started = time.monotonic()
    try:
        while query.isActive and not stop.is_set():
            time.sleep(0.5)
            with state["lock"]:
                rows, last = state["rows"], state["last_rows_mono"]
            if args.expect_rows and rows >= args.expect_rows:
                break
            if args.max_duration_s and time.monotonic() - started > args.max_duration_s:
                break
            if args.idle_stop_s and last is not None and time.monotonic() - last > args.idle_stop_s:
                break
            if args.stop_file and Path(args.stop_file).exists():
                break
    finally:
        if query.isActive:
            query.stop()  # waits for the running batch to finish or abort; the checkpoint holds
        exc = query.exception()
        spark.stop()
    if exc is not None:
        print(f"streaming query failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
