"""Shared fixture of the pipeline integration tests: Kafka, HDFS and Spark up on this machine.

`pipeline` is the session's `lab` (site.yml imports playbooks/pipeline.yml).
BENCHLAB_TEST_REUSE_LAB=1 skips the run on a lab that is up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from conftest import Lab, PlaybookRun

from benchlab.records import RecordFactory
from benchlab.seqranges import RangeSet
from benchlab.sinks.base import Ack, Batch
from benchlab.sinks.kafka import KafkaSink, KafkaSinkConfig

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
    site_run: PlaybookRun | None


@pytest.fixture(scope="session")
def pipeline(lab: Lab) -> Pipeline:
    return Pipeline(lab.site_run)


def produce(run_id: str, first: int, n: int, batch: int = 500) -> RangeSet:
    """Write seq numbers first..first+n-1 of run_id through the kit's Kafka sink; acked ranges."""
    sink = KafkaSink(KafkaSinkConfig(host="127.0.0.1", port=9092, topic=TOPIC))
    acked = RangeSet()

    def on_ack(ack: Ack) -> None:
        for start, count in ack.ranges():
            acked.add(start, count)

    sink.open()
    factory = RecordFactory(run_id, 300)
    for i in range(first, first + n, batch):
        rows = factory.rows(i, min(batch, first + n - i), datetime.now(UTC))
        sink.submit(Batch(i // batch, i, rows, sink.prepare(rows)), on_ack)
        sink.poll(0)
    assert sink.flush(60) == 0
    sink.close()
    return acked
