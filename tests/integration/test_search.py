"""A short sustainable-throughput search against the real PostgreSQL, pipeline and Kafka.

Trial lengths scaled down (2 s warm-up, 6 s measured; one rate per target, for CI's time
budget): what is checked is that trials run against the real services with the lab up, are
judged and audited, and that the conclusion, the crossover and the plot are filled in. The
rates found with such short trials are not the lab's answer (docs/architecture.md).
"""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import Lab
from pipeline_helpers import KAFKA, NAMENODE, TOPIC, Pipeline, pipeline

from benchlab.cli import main

__all__ = ["pipeline"]
PASSWORD_FILE = "/etc/benchlab/secrets/postgresql_benchlab.password"
CRITERIA = {"min_success_rate": 0.99, "max_p99_ms": 60_000, "oom_allowed": False}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def searched(
    lab: Lab, pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory
) -> tuple[int, Path]:
    tmp = tmp_path_factory.mktemp("search")
    run_id = f"it-search-{uuid.uuid4().hex[:8]}"
    host, port = KAFKA.split(":")
    config = {
        "run_id": run_id,
        "phase": "search",
        "load": {"batch_size": 100, "interval_s": 0.1, "duration_s": 8},
        "lab": {"groups": {"postgresql": ["127.0.0.1"], "kafka": [host]}},
        "targets": [
            {
                "name": "postgresql",
                "criteria": CRITERIA,
                "services": ["postgresql"],
                "hypothesis": {"throughput_per_s": 5000, "latency_ms": "> 1000"},
                "sink": {"host": "{postgresql}", "password_file": PASSWORD_FILE},
            },
            {
                "name": "pipeline",
                "criteria": CRITERIA,
                "services": ["hdfs-datanode", "spark-worker"],
                "sink": {"host": "{kafka}", "port": int(port), "topic": TOPIC},
                "streaming": {
                    "master": "spark://127.0.0.1:7077",
                    "namenode": NAMENODE,
                    "trigger_s": 2,
                },
            },
            {
                "name": "kafka",
                "criteria": CRITERIA,
                "sink": {"host": "{kafka}", "port": int(port), "topic": TOPIC},
            },
        ],
        "prometheus_url": "http://127.0.0.1:9090",
        "services": {
            "postgresql": {"host": "localhost", "cpu_limit": 1.0, "memory_limit_bytes": 2**31},
            "hdfs-datanode": {"host": "localhost", "cpu_limit": 0.5, "memory_limit_bytes": 2**30},
            "spark-worker": {"host": "localhost", "cpu_limit": 0.5, "memory_limit_bytes": 2**30},
        },
        "loadgen_metrics_port": free_port(),
        "loadgen_metrics_addr": "127.0.0.1",
        "search": {
            "start_rate": 1000,
            "factor": 4,
            "max_rate": 4000,
            "reruns": 1,
            "max_trials": 1,
            # the pipeline's 6 s verdict is noise (below): confirming it is CI time for nothing
            "confirm_failures": 0,
            "warmup_s": 2,
            "measure_s": 6,
            "interval_s": 0.1,
        },
    }
    path = tmp / "search.json"
    path.write_text(json.dumps(config))
    root = tmp / "results"
    rc = main(["search", "--config", str(path), "--results-root", str(root), "--quiet"])
    return rc, root / run_id


def test_search_runs_audited_trials_and_fills_the_conclusion(searched: tuple[int, Path]) -> None:
    rc, search_dir = searched
    doc: dict[str, Any] = json.loads((search_dir / "search.json").read_text())
    assert rc == 0, doc
    assert doc["status"] == "complete"
    trials = doc["trials"]
    assert {t["target"] for t in trials} == {"postgresql", "pipeline", "kafka"}
    assert all(t["verdict"]["lost"] == 0 for t in trials), trials
    for t in trials:  # each trial is a whole run: audited, with its raw results
        assert json.loads((search_dir / "trials" / t["run_id"] / "audit.json").read_text())
    systems = {r["target"]: r for r in doc["conclusion"]["systems"]}
    assert set(systems) == {"postgresql", "pipeline", "kafka"}
    # 1,000 records/s is far below what PostgreSQL and Kafka take on this lab; the pipeline's
    # verdict on 6 s with 2 s micro-batches is noise, but what reached HDFS is measured: on a
    # busy 2-core host the first micro-batches may hold a few hundred records only (166/s seen)
    assert systems["postgresql"]["sustainable_per_s"] == 1000, systems
    assert systems["kafka"]["sustainable_per_s"] == 1000, systems
    pipeline_trial = next(t for t in trials if t["target"] == "pipeline")
    assert pipeline_trial["verdict"]["stored_per_s"] > 0, pipeline_trial
    assert systems["postgresql"]["per_core"] == systems["postgresql"]["sustainable_per_s"]
    report = (search_dir / "report.md").read_text()
    assert "## Conclusion" in report and doc["conclusion"]["crossover"]["text"] in report
    assert "| postgresql | throughput_per_s | 5000 |" in report
    assert (search_dir / "search.png").stat().st_size > 10_000
