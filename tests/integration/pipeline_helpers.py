"""Shared fixture of the pipeline integration tests: Kafka, HDFS and Spark up on this machine.

`pipeline` is the session's `lab` (site.yml imports playbooks/pipeline.yml, run twice: the
second run must change nothing). BENCHLAB_TEST_REUSE_LAB=1 skips the runs on a lab that is up.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from conftest import Lab, PlaybookRun

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
def pipeline(lab: Lab) -> Pipeline:
    return Pipeline(lab.first_run, lab.second_run)
