"""Kafka, HDFS and Spark brought up by playbooks/pipeline.yml, each checked through its own
protocol, the limited services' cgroup files, and a streaming smoke (Kafka -> Spark -> HDFS,
audited: nothing lost, nothing duplicated)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml
from conftest import SUPERVISOR_CONFIG
from pipeline_helpers import (
    HADOOP_TOOL,
    KAFKA,
    NAMENODE,
    SPARK_MASTER_UI,
    TOPIC,
    Pipeline,
    pipeline,
    produce,
)

from benchlab.sinks.kafka import KafkaSinkConfig
from benchlab.streaming.submit import SubmitSpec, build_command, connector_jars, submit_env
from benchlab.targets.pipeline.audit import audit_hdfs
from benchlab.targets.pipeline.settings import StreamingConfig
from benchlab.targets.pipeline.streaming_job import StreamingJob, topic_end_offsets

__all__ = ["pipeline"]
SUPERVISOR = ["supervisorctl", "-c", SUPERVISOR_CONFIG]


def test_kafka_topic_metadata(pipeline: Pipeline) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": KAFKA})
    meta = admin.list_topics(TOPIC, timeout=10)
    topic = meta.topics[TOPIC]
    assert topic.error is None
    assert len(topic.partitions) == 2  # inventory/local/group_vars/kafka.yml
    for part in topic.partitions.values():
        assert len(part.replicas) == 1 and part.leader == 1
    assert len(meta.brokers) == 1


def test_hdfs_live_datanodes(pipeline: Pipeline) -> None:
    out = subprocess.run(
        [*HADOOP_TOOL, "org.apache.hadoop.hdfs.tools.DFSAdmin", "-report", "-live"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    assert re.search(r"Live datanodes \(1\)", out), out
    listing = subprocess.run(
        [*HADOOP_TOOL, "org.apache.hadoop.fs.FsShell", "-test", "-d", "/benchlab"], timeout=120
    )
    assert listing.returncode == 0


def test_spark_master_lists_the_worker(pipeline: Pipeline) -> None:
    with urllib.request.urlopen(SPARK_MASTER_UI, timeout=10) as resp:
        state = json.load(resp)
    assert state["status"] == "ALIVE"
    alive = [w for w in state["workers"] if w["state"] == "ALIVE"]
    assert len(alive) == 1
    assert alive[0]["cores"] == 1  # ceil(spark_worker_cpu_limit 1.0)
    assert alive[0]["memory"] == 1536 - 192 - 768


LOCAL_GROUP_VARS = Path(__file__).resolve().parents[2] / "inventory" / "local" / "group_vars"


def local_limits(group_file: str, prefix: str) -> tuple[int, int]:
    """(CFS quota at a 100 ms period, memory MiB) from the local inventory's group_vars."""
    data = yaml.safe_load((LOCAL_GROUP_VARS / group_file).read_text())
    return round(float(data[f"{prefix}_cpu_limit"]) * 100000), int(
        data[f"{prefix}_memory_limit_mb"]
    )


@pytest.mark.parametrize(
    ("program", "group", "quota", "limit_mb"),
    [
        ("hdfs-datanode", "hdfs-datanode", *local_limits("hdfs_datanodes.yml", "hdfs_datanode")),
        ("spark-worker", "spark-worker", *local_limits("spark_workers.yml", "spark_worker")),
    ],
)
def test_limited_services_run_in_their_cgroup(
    pipeline: Pipeline, program: str, group: str, quota: int, limit_mb: int
) -> None:
    pid = subprocess.run(
        [*SUPERVISOR, "pid", program], capture_output=True, text=True
    ).stdout.strip()
    assert pid.isdigit(), f"{program} not running: {pid}"
    cgroups = Path(f"/proc/{pid}/cgroup").read_text()
    assert f"/benchlab/{group}" in cgroups
    if Path("/sys/fs/cgroup/cgroup.controllers").exists():
        base = Path(f"/sys/fs/cgroup/benchlab/{group}")
        assert (base / "cpu.max").read_text().split()[0] == str(quota)
        assert int((base / "memory.max").read_text()) == limit_mb * 1048576
    else:
        cpu = Path(f"/sys/fs/cgroup/cpu/benchlab/{group}")
        mem = Path(f"/sys/fs/cgroup/memory/benchlab/{group}")
        assert int((cpu / "cpu.cfs_quota_us").read_text()) == quota
        assert int((mem / "memory.limit_in_bytes").read_text()) == limit_mb * 1048576
        assert pid in (mem / "cgroup.procs").read_text().split()


@pytest.mark.long  # CI: the virtual lab's bench audits the same path (and with a DataNode killed)
def test_streaming_smoke_nothing_lost_or_duplicated(pipeline: Pipeline, tmp_path: Path) -> None:
    run_id = f"it-pipe-{uuid.uuid4().hex[:10]}"
    n = 3000
    offsets = json.dumps({TOPIC: topic_end_offsets(KAFKA, TOPIC)})  # skip earlier runs' records
    acked = produce(run_id, 0, n)
    assert acked.total() == n
    progress = tmp_path / "progress.jsonl"
    spec = SubmitSpec(
        run_id=run_id, jars=connector_jars("/opt/benchlab/jars/spark-kafka"),
        progress_file=str(progress), trigger_s=2.0,
        job_args=["--idle-stop-s", "8", "--max-duration-s", "240", "--starting-offsets", offsets],
    )  # fmt: skip
    done = subprocess.run(build_command(spec), env=submit_env(spec), capture_output=True,
                          text=True, timeout=400)  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    records = [json.loads(line) for line in progress.read_text().splitlines()]
    assert records and all(r["query"] == "benchlab_hdfs_sink" for r in records)
    with_rows = [r for r in records if r["num_input_rows"]]
    assert with_rows and with_rows[0]["freshness"]["max_s"] is not None
    result = audit_hdfs("pipeline", f"{NAMENODE}/benchlab/{run_id}", run_id, acked)
    assert result.rows_found == n, result.as_dict()
    assert result.lost == 0 and result.duplicates == 0, result.as_dict()


def test_killed_streaming_job_resumes_from_its_checkpoint(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    """kill -9 of the job mid-run, records produced while it is down, a restart through the
    kit's StreamingJob: the checkpoint and the file sink's log lose and duplicate nothing."""
    run_id = f"it-restart-{uuid.uuid4().hex[:10]}"
    sink = KafkaSinkConfig(host="127.0.0.1", port=9092, topic=TOPIC)
    streaming = StreamingConfig(master="spark://127.0.0.1:7077", namenode=NAMENODE, trigger_s=2.0)
    job = StreamingJob(run_id, sink, streaming, tmp_path / "job")
    job.start()
    acked = produce(run_id, 0, 4000)
    deadline = time.monotonic() + 180
    while job.committed_rows() == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert job.committed_rows() > 0, (tmp_path / "job" / "spark-submit.log").read_text()[-3000:]
    job.kill()
    for first, count in produce(run_id, 4000, 4000).ranges():  # written while no job runs
        acked.add(first, count)

    restarted = StreamingJob(run_id, sink, streaming, tmp_path / "job")
    restarted.start()
    result = None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        time.sleep(4)
        result = audit_hdfs("pipeline", restarted.output, run_id, acked)
        if result.acked_found == acked.total():
            break
    assert restarted.stop() == 0
    assert result is not None
    assert result.lost == 0 and result.duplicates == 0, result.as_dict()
    assert result.rows_found == 8000, result.as_dict()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))
