from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from benchlab.config import ConfigError, load_config, parse_config, redact

GOOD: dict[str, Any] = {
    "run_id": "20261122T160102Z-p2-postgresql-3f9a",
    "phase": "2",
    "inventory": "local",
    "load": {
        "batch_size": 1000,
        "interval_s": 0.6,
        "duration_s": 600,
        "record_bytes": 300,
        "processes": 0,
    },
    "lab": {"groups": {"postgresql": ["127.0.0.1"], "kafka": []}},
    "targets": [
        {
            "name": "postgresql",
            "sink": {
                "method": "copy",
                "host": "{postgresql}",
                "port": 5432,
                "dbname": "benchlab",
                "user": "benchlab",
                "password_file": "/etc/benchlab/secrets/postgresql_benchlab.password",
                "table": "events",
                "connect_timeout_s": 5,
                "statement_timeout_ms": 10000,
            },
            "criteria": {"min_success_rate": 0.95, "max_p99_ms": 500, "oom_allowed": False},
            "hypothesis": {"throughput_per_s": 1500, "latency_ms": "< 200"},
        }
    ],
    "prometheus_url": "http://127.0.0.1:9090",
    "loadgen_metrics_port": 9105,
    "services": {
        "postgresql": {
            "host": "localhost",
            "cpu_limit": 1.0,
            "memory_limit_bytes": 2147483648,
        }
    },
    "host_facts": {"localhost": {"cores": 2}},
    "versions": {"postgresql": "15.18"},
}


def with_change(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    node = data
    *parents, last = path.split(".")
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return data


def test_architecture_example_parses() -> None:
    cfg = parse_config(GOOD)
    assert cfg.load.rate_per_s == pytest.approx(1000 / 0.6)
    assert cfg.load.batch_count == 1000
    (target,) = cfg.targets
    assert target.name == target.type == "postgresql"
    assert target.sink.config.method == "copy"
    assert target.sink.config.host == "127.0.0.1"  # {postgresql}: the group's first address
    assert target.criteria is not None and target.criteria.max_p99_ms == 500
    assert target.services == ("postgresql",)


def test_several_targets_and_two_of_one_type() -> None:
    data = copy.deepcopy(GOOD)
    pg = data["targets"][0]
    insert = {**pg, "name": "pg-insert", "type": "postgresql"}
    insert["sink"] = {**pg["sink"], "method": "insert"}
    data["targets"] += [insert, {"name": "null"}]
    cfg = parse_config(data)
    assert [(t.name, t.type) for t in cfg.targets] == [
        ("postgresql", "postgresql"), ("pg-insert", "postgresql"), ("null", "null"),
    ]  # fmt: skip
    assert cfg.target("pg-insert").sink.config.method == "insert"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"type": "mongodb"}, "targets[0].type", "no target package 'mongodb'"),
        ({"name": "kafka-x", "type": "pipeline"}, "targets[0].sink.host", "group 'kafka'"),
        ({"streaming": {}}, "targets[0].streaming", "not a field of a postgresql target"),
        ({"sink": {"host": "h", "password_file": "/p", "colour": 1}}, "targets[0].sink.colour",
         "not a known field"),
    ],
)  # fmt: skip
def test_target_entries_are_checked_by_their_package(
    change: dict[str, Any], field: str, words: str
) -> None:
    data = copy.deepcopy(GOOD)
    data["targets"][0].update(change)
    if change.get("type") == "pipeline":
        data["targets"][0]["sink"] = {"host": "{kafka}"}
        data["targets"][0]["streaming"] = {"master": "spark://a:1", "namenode": "hdfs://b:2"}
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert err.value.field == field
    assert words in str(err.value)


def test_the_old_single_target_shape_is_refused() -> None:
    data = copy.deepcopy(GOOD)
    data["target"] = "postgresql"
    data["sink"] = data["targets"].pop()["sink"]
    del data["targets"]
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert err.value.field == "targets"


@pytest.mark.parametrize(
    ("path", "value", "field", "words"),
    [
        ("load.batch_size", -5, "load.batch_size", "at least 1"),
        ("load.batch_size", "many", "load.batch_size", "not a number"),
        ("load.batch_size", 2.5, "load.batch_size", "whole number"),
        ("load.interval_s", 0, "load.interval_s", "at least"),
        ("load.duration_s", True, "load.duration_s", "not a number"),
        ("load.duration_s", KeyError, "load.duration_s", "missing"),
        ("load.processes", -1, "load.processes", "at least 0"),
        ("load.record_bytes", 10, "load.record_bytes", "at least 120"),
        ("load", KeyError, "load", "missing"),
        ("targets.0.name", "a b", "targets[0].name", "plain name"),
        ("targets.0.sink.method", "upsert", "targets[0].sink.method", "copy"),
        ("targets.0.sink.port", 70000, "targets[0].sink.port", "at most 65535"),
        ("targets.0.sink.table", "events; drop", "targets[0].sink.table", "plain table"),
        ("targets.0.sink.password_file", KeyError, "targets[0].sink.password_file", "missing"),
        ("targets.0.sink.password", "hunter2", "targets[0].sink.password", "never"),
        (
            "targets.0.criteria.min_success_rate",
            1.5,
            "targets[0].criteria.min_success_rate",
            "at most 1",
        ),
        (
            "targets.0.criteria.oom_allowed",
            "maybe",
            "targets[0].criteria.oom_allowed",
            "true or false",
        ),
        ("run_id", "../../etc", "run_id", "letters"),
        ("prometheus_url", "localhost:9090", "prometheus_url", "http"),
        (
            "services.postgresql.cpu_limit",
            -1,
            "services.postgresql.cpu_limit",
            "greater than 0",
        ),
    ],
)
def test_bad_values_name_the_field_and_the_fix(
    path: str, value: Any, field: str, words: str
) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(with_change(path, value))
    assert err.value.field == field
    assert words in str(err.value)
    assert "fix:" in str(err.value)


def test_load_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(bad)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GOOD))
    assert load_config(good).run_id == GOOD["run_id"]


def test_password_file_unreadable_is_a_config_error(tmp_path: Path) -> None:
    cfg = parse_config(with_change("targets.0.sink.password_file", str(tmp_path / "nope")))
    with pytest.raises(ConfigError) as err:
        cfg.targets[0].sink.config.read_password()
    assert err.value.field == "sink.password_file"


def test_public_dict_has_no_secret() -> None:
    cfg = parse_config(GOOD)
    assert set(cfg.public_dict()["targets"][0]["sink"]) == set(GOOD["targets"][0]["sink"])
    assert redact({"a": [{"password": "hunter2", "user": "u"}]}) == {
        "a": [{"password": "<redacted>", "user": "u"}]
    }
