"""The kafka target: its entry, its verdict rule and its audit's arithmetic (no broker)."""

from __future__ import annotations

from typing import Any

import pytest

from benchlab import targets
from benchlab.config import parse_config
from benchlab.fields import ConfigError
from benchlab.seqranges import RangeSet
from benchlab.sinks.kafka import KafkaSink
from benchlab.targets.kafka import audit as kafka_audit


def config(**sink: Any) -> dict[str, Any]:
    return {
        "run_id": "r1",
        "load": {"batch_size": 10, "interval_s": 1, "duration_s": 5},
        "lab": {"groups": {"kafka": ["10.0.0.7"]}},
        "targets": [{"name": "kafka", "sink": {"host": "{kafka}", "port": 9092, **sink}}],
    }


def test_entry_parses_to_the_kafka_sink_at_the_groups_address() -> None:
    (target,) = parse_config(config(topic="t")).targets
    assert target.type == "kafka" and target.sink.sink_class is KafkaSink
    assert target.sink.config.bootstrap == "10.0.0.7:9092" and target.sink.config.topic == "t"
    assert targets.get("kafka").exactly_once


def test_a_pipeline_setting_is_not_a_kafka_field() -> None:
    data = config()
    data["targets"][0]["streaming"] = {"master": "spark://a:1", "namenode": "hdfs://b:2"}
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert err.value.field == "targets[0].streaming"


def test_audit_counts_lost_duplicated_and_unacknowledged(monkeypatch: pytest.MonkeyPatch) -> None:
    # the topic holds 0..7 once, 8 twice, 20 (never acknowledged); 9 is missing
    held = {**{s: 1 for s in range(8)}, 8: 2, 20: 1}
    monkeypatch.setattr(kafka_audit, "read_run_seqs", lambda *a, **k: (held, 11))
    acked = RangeSet()
    acked.add(0, 10)
    sink = parse_config(config()).targets[0].sink.config
    result = kafka_audit.audit_kafka("kafka", sink, "r1", acked, since_wall=0.0)
    assert (result.lost, result.lost_examples) == (1, [9])
    assert (result.duplicates, result.duplicate_examples) == (1, [8])
    assert result.unacknowledged_present == 1 and result.exactly_once == 9
