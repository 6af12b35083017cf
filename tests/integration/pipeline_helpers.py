"""Shared fixture of the pipeline integration tests: Kafka, HDFS and Spark up on this machine.

`pipeline` runs `ansible-playbook playbooks/pipeline.yml` twice per session (the second run
must change nothing). BENCHLAB_TEST_REUSE_LAB=1 skips the runs on a lab that is already up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from conftest import PlaybookRun, run_playbook

KAFKA = "127.0.0.1:9092"
TOPIC = "benchlab-events"
NAMENODE = "hdfs://127.0.0.1:8020"
SPARK_MASTER_UI = "http://127.0.0.1:8080/json/"
HADOOP_CP = "/etc/benchlab/hdfs:/opt/benchlab/jars/hadoop/*"
HADOOP_TOOL = [
    "java", "-Xmx256m", "-Dlog4j.configuration=file:/etc/benchlab/hdfs/log4j.properties",
    "-Dhadoop.root.logger=WARN,console", "-cp", HADOOP_CP,
]  # fmt: skip


@dataclass(frozen=True)
class Pipeline:
    first_run: PlaybookRun | None
    second_run: PlaybookRun | None


@pytest.fixture(scope="session")
def pipeline() -> Pipeline:
    if os.environ.get("BENCHLAB_TEST_REUSE_LAB") == "1":
        return Pipeline(None, None)
    first = run_playbook("playbooks/pipeline.yml")
    assert first.returncode == 0, (
        f"pipeline.yml failed:\n{first.stdout[-6000:]}\n{first.stderr[-3000:]}"
    )
    second = run_playbook("playbooks/pipeline.yml")
    return Pipeline(first, second)
