"""A streaming job that dies before its drain is over is started again from its checkpoint
(StreamingJob.wait_drained), a limited number of times, and its rows count across restarts,
each micro-batch (batch id) once."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from benchlab.sinks.kafka import KafkaSinkConfig
from benchlab.targets.pipeline.settings import StreamingConfig
from benchlab.targets.pipeline.streaming_job import StreamingJob, steady_stored, summarize_progress

SINK = KafkaSinkConfig(host="127.0.0.1", port=9092, topic="t")
STREAMING = StreamingConfig(master="spark://127.0.0.1:7077", namenode="hdfs://127.0.0.1:8020")


def make_job(tmp_path: Path) -> StreamingJob:
    job = StreamingJob("r1", SINK, STREAMING, tmp_path)
    job.restart_backoff_s = 0.0
    job.starting_offsets = {"0": 0}
    return job


def commit(job: StreamingJob, rows: int, total_in_this_process: int) -> None:
    with job.progress_file.open("a", encoding="utf-8") as fh:
        record = {"num_input_rows": rows, "commit_epoch_s": time.time(),
                  "committed_rows_total": total_in_this_process}  # fmt: skip
        fh.write(json.dumps(record) + "\n")


def dead_process(code: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"])
    proc.wait()
    return proc


def test_progress_totals_span_the_restarted_jobs(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    commit(job, 100, 100)
    commit(job, 100, 200)  # first job dies here
    commit(job, 0, 0)  # the restarted job counts from 0 again
    commit(job, 50, 50)
    assert job.committed_rows() == 250
    assert [p["committed_rows_total"] for p in job.progress()] == [100, 200, 200, 250]


def test_a_dead_job_is_started_again_and_the_drain_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = make_job(tmp_path)
    commit(job, 100, 100)
    job.process = dead_process(1)  # its query failed: the DataNode went away mid-write
    alive: list[subprocess.Popen[bytes]] = []

    def start(should_stop: object = None) -> None:
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        alive.append(proc)
        job.process = proc
        commit(job, 200, 200)  # the restarted job commits what was missing

    monkeypatch.setattr(job, "start", start)
    try:
        drain = job.wait_drained(300, time.time(), lambda: False)
    finally:
        for proc in alive:
            proc.kill()
            proc.wait()
    assert drain.drained and drain.committed_rows == 300
    (restart,) = job.restarts
    assert restart["exit_code"] == 1 and restart["error"] is None
    assert restart["running_wall"] >= restart["noticed_wall"]


def test_restarts_are_limited_and_the_run_is_not_drained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = make_job(tmp_path)
    job.process = dead_process(1)

    def start(should_stop: object = None) -> None:
        job.process = dead_process(1)  # dies at once every time

    monkeypatch.setattr(job, "start", start)
    drain = job.wait_drained(10, time.time(), lambda: False)
    assert not drain.drained
    assert len(job.restarts) == job.max_restarts


def test_no_restart_once_the_run_is_stopped(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    job.process = dead_process(1)
    assert job.wait_drained(10, time.time(), lambda: True).drained is False
    assert job.restarts == []


def write_progress(job: StreamingJob, lines: list[dict[str, Any]]) -> None:
    with job.progress_file.open("a", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line) + "\n")


def test_a_batch_reported_again_after_a_restart_counts_once(tmp_path: Path) -> None:
    t0 = 1_795_000_000.0
    job = make_job(tmp_path)
    write_progress(
        job,
        [
            {"batch_id": 1, "num_input_rows": 400, "commit_epoch_s": t0 + 5},
            {"batch_id": 2, "num_input_rows": 400, "commit_epoch_s": t0 + 10},
            # the job dies; the restarted job resumes from the checkpoint and runs batch 2 again
            {"batch_id": 2, "num_input_rows": 400, "commit_epoch_s": t0 + 20},
        ],
    )
    assert job.committed_rows() == 800
    s = summarize_progress(job.progress(), t0, None)
    assert s["rows_committed"] == 800 and s["batches"] == 2 and s["repeated_batches"] == 1
    assert s["stored_per_s"] == pytest.approx(800 / 10)  # the repeat adds no rows and no time
    # 1,000 records acknowledged: the summed rows (1,200) would say drained, distinct do not
    job.streaming = StreamingConfig(
        master="spark://127.0.0.1:7077", namenode="hdfs://127.0.0.1:8020", drain_timeout_s=0.0
    )
    drain = job.wait_drained(1000, t0 + 10, lambda: False)
    assert not drain.drained and drain.committed_rows == 800
    write_progress(job, [{"batch_id": 3, "num_input_rows": 200, "commit_epoch_s": t0 + 25}])
    drain = job.wait_drained(1000, t0 + 10, lambda: False)
    assert drain.drained and drain.drain_s == pytest.approx(15.0)


def test_warm_up_batches_count_for_nothing_and_the_steady_rate_follows_the_backlog(
    tmp_path: Path,
) -> None:
    """The warm-up's micro-batches (before the load) add no rows, time or backlog; in the
    steady window, stored = acknowledged - the backlog's growth."""
    t0 = 1_795_000_000.0
    job = make_job(tmp_path)
    write_progress(job, [{"batch_id": 0, "num_input_rows": 200, "commit_epoch_s": t0 - 1}])
    job.warmup_through_batch = 0
    batches = [  # 1,000 acknowledged per second; HDFS falls behind by 100 records a second
        {"batch_id": k, "num_input_rows": 900 * 5, "commit_epoch_s": t0 + 5 * k}
        for k in range(1, 7)
    ]
    write_progress(job, batches)
    progress = job.progress()
    assert progress[0]["warmup_batch"] is True and job.committed_rows() == 6 * 4500
    acked = {s: 1000 for s in range(40)}
    s = summarize_progress(progress, t0, None, acked)
    assert s["batches"] == 6 and s["rows_committed"] == 27_000
    steady = steady_stored(progress, t0, (10.0, 31.0), acked)
    assert steady["commits"] == 5  # at 10, 15, 20, 25, 30 s
    assert steady["stored_per_s"] == pytest.approx(900.0)
    assert [b for _, b in steady["backlog"]] == [1000, 1500, 2000, 2500, 3000]
