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
    "target": "postgresql",
    "inventory": "local",
    "load": {
        "batch_size": 1000,
        "interval_s": 0.6,
        "duration_s": 600,
        "record_bytes": 300,
        "processes": 0,
    },
    "sink": {
        "kind": "postgresql",
        "method": "copy",
        "host": "127.0.0.1",
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
        node = node[p]
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
    assert target.name == "postgresql"
    assert target.sink.method == "copy"
    assert target.criteria is not None and target.criteria.max_p99_ms == 500
    assert target.services == ("postgresql",)


def test_several_targets() -> None:
    data = copy.deepcopy(GOOD)
    for key in ("target", "sink", "criteria", "hypothesis"):
        data.pop(key)
    data["targets"] = [
        {"target": "postgresql", "sink": GOOD["sink"], "criteria": GOOD["criteria"]},
        {"target": "null", "sink": {"kind": "null"}},
    ]
    cfg = parse_config(data)
    assert [t.name for t in cfg.targets] == ["postgresql", "null"]


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
        ("sink.kind", "mongodb", "sink.kind", "postgresql"),
        ("sink.method", "upsert", "sink.method", "copy"),
        ("sink.port", 70000, "sink.port", "at most 65535"),
        ("sink.table", "events; drop table x", "sink.table", "plain table name"),
        ("sink.password_file", KeyError, "sink.password_file", "missing"),
        ("sink.password", "hunter2", "sink.password", "never"),
        ("criteria.min_success_rate", 1.5, "criteria.min_success_rate", "at most 1"),
        ("criteria.oom_allowed", "maybe", "criteria.oom_allowed", "true or false"),
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
    cfg = parse_config(with_change("sink.password_file", str(tmp_path / "nope")))
    with pytest.raises(ConfigError) as err:
        cfg.targets[0].sink.read_password()
    assert err.value.field == "sink.password_file"


def test_public_dict_has_no_secret() -> None:
    cfg = parse_config(GOOD)
    assert set(cfg.public_dict()["sink"]) == set(GOOD["sink"])
    assert redact({"a": [{"password": "hunter2", "user": "u"}]}) == {
        "a": [{"password": "<redacted>", "user": "u"}]
    }
