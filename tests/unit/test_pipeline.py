"""Progress summary of the streaming job: stored rate, batch durations, backlog, drain."""

from __future__ import annotations

import json

import pytest

from benchlab.config import ConfigError, parse_config
from benchlab.targets.pipeline.streaming_job import (
    DrainResult,
    _percentile,
    acked_before,
    summarize_progress,
)

T0 = 1_795_000_000.0


def batch(batch_id: int, rows: int, commit: float, avg_s: float, max_s: float, ms: float):
    return {
        "batch_id": batch_id,
        "num_input_rows": rows,
        "commit_epoch_s": commit,
        "batch_duration_ms": ms,
        "freshness": {"min_s": 0.1, "avg_s": avg_s, "max_s": max_s},
        "sources": [
            {
                "end_offset": json.dumps({"t": {"0": 100 * batch_id, "1": 100 * batch_id}}),
                "latest_offset": json.dumps({"t": {"0": 100 * batch_id + 7, "1": 100 * batch_id}}),
            }
        ],
    }


def test_summary_rates_from_load_start() -> None:
    progress = [
        {"batch_id": 0, "num_input_rows": 0, "commit_epoch_s": T0 + 1},  # idle batch ignored
        batch(1, 900, T0 + 5, 2.0, 4.0, 800),
        batch(2, 100, T0 + 10, 9.0, 12.0, 1200),
    ]
    progress[1]["committed_rows_total"], progress[2]["committed_rows_total"] = 900, 1000
    drain = DrainResult(True, 1000, 1000, 3.5)
    # Kafka acknowledged 100 records in each of the first 10 seconds.
    s = summarize_progress(progress, T0, drain, {second: 100 for second in range(10)})
    assert s["batches"] == 2
    assert s["rows_committed"] == 1000
    assert s["stored_per_s"] == pytest.approx(100.0)  # 1000 rows over 10 s from load start
    assert s["batch_duration_ms"]["max"] == 1200
    # at T0+5: 500 acked, 900 committed -> 0 owed; at T0+10: 1000 acked, 1000 committed -> 0
    assert s["backlog_peak"] == 0
    assert (s["drained"], s["drain_s"]) == (True, 3.5)


def test_summary_of_a_job_that_committed_nothing() -> None:
    s = summarize_progress([], T0, DrainResult(False, 0, 500, None))
    assert s["stored_per_s"] is None
    assert s["drained"] is False


def test_weighted_percentile_and_backlog() -> None:
    assert _percentile([(1.0, 1), (2.0, 98), (3.0, 1)], 0.5) == 2.0
    assert _percentile([], 0.5) is None
    per_second = {0: 100, 1: 100, 2: 100}
    assert acked_before(per_second, T0, T0 + 2.5) == 200  # seconds 0 and 1 are over
    commit = {"num_input_rows": 50, "commit_epoch_s": T0 + 3.2, "committed_rows_total": 50}
    assert summarize_progress([commit], T0, None, per_second)["backlog_peak"] == 250


def test_kafka_target_needs_its_streaming_section() -> None:
    config = {
        "run_id": "r1",
        "load": {"batch_size": 10, "interval_s": 1, "duration_s": 5},
        "targets": [{"name": "pipeline", "sink": {"host": "h", "port": 9092}}],
    }
    with pytest.raises(ConfigError, match="streaming"):
        parse_config(config)
    config["targets"][0]["streaming"] = {"master": "http://x", "namenode": "hdfs://h:8020"}
    with pytest.raises(ConfigError, match="spark://"):
        parse_config(config)
    config["targets"][0]["streaming"]["master"] = "spark://127.0.0.1:7077"
    target = parse_config(config).targets[0]
    assert target.settings.trigger_s == 5.0
