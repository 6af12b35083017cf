"""Unit tests: spark-submit command building, progress records, the Kafka wire format."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from benchlab.records import RecordFactory
from benchlab.sinks.kafka import decode_value, encode_row, seqs_to_ranges
from benchlab.streaming.job import QUERY_NAME, progress_record
from benchlab.streaming.submit import JOB_FILE, SubmitSpec, build_command, connector_jars

JAR_NAMES = (
    "spark-sql-kafka-0-10_2.13-4.0.0.jar",
    "spark-token-provider-kafka-0-10_2.13-4.0.0.jar",
    "kafka-clients-3.9.0.jar",
    "commons-pool2-2.12.0.jar",
)


def make_jars(tmp_path: Path) -> Path:
    for name in JAR_NAMES:
        (tmp_path / name).write_bytes(b"")
    return tmp_path


def test_connector_jars_finds_the_four_in_order(tmp_path: Path) -> None:
    jars = connector_jars(make_jars(tmp_path))
    assert [Path(j).name for j in jars] == [
        "spark-sql-kafka-0-10_2.13-4.0.0.jar",
        "spark-token-provider-kafka-0-10_2.13-4.0.0.jar",
        "kafka-clients-3.9.0.jar",
        "commons-pool2-2.12.0.jar",
    ]


def test_connector_jars_missing_one_is_a_clear_error(tmp_path: Path) -> None:
    make_jars(tmp_path)
    (tmp_path / "commons-pool2-2.12.0.jar").unlink()
    with pytest.raises(FileNotFoundError, match="commons-pool2"):
        connector_jars(tmp_path)


def test_build_command(tmp_path: Path) -> None:
    jars = connector_jars(make_jars(tmp_path))
    spec = SubmitSpec(
        run_id="r1",
        jars=jars,
        spark_home="/sh",
        progress_file="/tmp/p.jsonl",
        job_args=["--expect-rows", "10"],
    )
    cmd = build_command(spec)
    assert cmd[0] == "/sh/bin/spark-submit"
    assert cmd[cmd.index("--master") + 1] == "spark://127.0.0.1:7077"
    assert cmd[cmd.index("--deploy-mode") + 1] == "client"
    assert cmd[cmd.index("--jars") + 1].split(",") == jars
    assert "spark.driver.host=127.0.0.1" in cmd
    # no driver web UI (docs/security.md): Spark would bind it to every interface
    assert "spark.ui.enabled=false" in cmd
    job = cmd.index(str(JOB_FILE))
    tail = cmd[job + 1 :]
    assert tail[tail.index("--output") + 1] == "hdfs://127.0.0.1:8020/benchlab/r1"
    assert tail[tail.index("--checkpoint") + 1] == "hdfs://127.0.0.1:8020/benchlab/_checkpoints/r1"
    assert tail[-2:] == ["--expect-rows", "10"]


def test_build_command_needs_jars() -> None:
    with pytest.raises(ValueError, match="jars"):
        build_command(SubmitSpec(run_id="r1", spark_home="/sh"))


def test_progress_record_freshness() -> None:
    progress = {
        "name": QUERY_NAME,
        "batchId": 3,
        "timestamp": "2026-11-22T16:00:10.000Z",
        "numInputRows": 100,
        "inputRowsPerSecond": 20.0,
        "processedRowsPerSecond": 50.0,
        "durationMs": {"triggerExecution": 2000, "addBatch": 1500},
        "eventTime": {
            "min": "2026-11-22T16:00:02.000Z",
            "avg": "2026-11-22T16:00:05.000Z",
            "max": "2026-11-22T16:00:08.000Z",
        },
        "sources": [{"endOffset": {"t": {"0": 5}}, "latestOffset": {"t": {"0": 5}}}],
    }
    rec = progress_record(progress)
    assert rec["batch_id"] == 3
    assert rec["num_input_rows"] == 100
    assert rec["batch_duration_ms"] == 2000
    assert rec["freshness"] == {"min_s": 4.0, "avg_s": 7.0, "max_s": 10.0}


def test_progress_record_empty_batch_has_no_freshness() -> None:
    rec = progress_record({"timestamp": "2026-11-22T16:00:10.000Z", "numInputRows": 0})
    assert rec["freshness"] == {"min_s": None, "avg_s": None, "max_s": None}


def test_wire_format_round_trip() -> None:
    t = datetime(2026, 11, 22, 16, 1, 2, 123456, tzinfo=UTC)
    row = RecordFactory("run-1", 300).rows(41, 1, t)[0]
    decoded = decode_value(encode_row(row))
    assert decoded[0] == "run-1"
    assert decoded[1] == 41
    assert decoded[2] == int(t.timestamp() * 1_000_000)
    assert decoded[3:] == row[3:]


def test_seqs_to_ranges() -> None:
    assert seqs_to_ranges([5, 1, 2, 3, 7, 8, 8]) == ((1, 3), (5, 1), (7, 2))
    assert seqs_to_ranges([]) == ()
