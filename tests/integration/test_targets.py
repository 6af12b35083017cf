"""Targets as plugins against the real local lab.

- `-e target=pipeline` runs on an inventory that has no `postgresql` group: nothing of the
  kit reads PostgreSQL unless the target needs it (bench_run.yml, preflight, the template).
  The same run is CI's broker kill: the fault matrix's kafka_kill, struck mid-load by its
  own injection and read by its own analysis.
- The kafka target (benchlab.targets.kafka) stores what the broker acknowledged, and its
  audit reads the topic back: lost 0 on a clean run, and every record it was told of but
  never saw is counted lost.

The run skips bench.yml's lab plays (`--skip-tags lab`): the session's lab is up as site.yml
left it, and site.yml's second pass is checked by check mode here and by the virtual lab's
bench (idempotence); preflight, the worker-set play and the run itself read the inventory
without `postgresql`.
"""

from __future__ import annotations

import json
import shutil
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, Lab
from lab_sites import LOCAL, bench_with_fault, count, progress_lines
from pipeline_helpers import produce

from benchlab.cli import main
from benchlab.config import load_config
from benchlab.seqranges import RangeSet
from benchlab.targets.kafka.audit import audit_kafka


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- kafka alone ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kafka_run(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, Path]:
    tmp = tmp_path_factory.mktemp("kafka-target")
    run_id = f"it-kafka-{uuid.uuid4().hex[:10]}"
    config = {
        "run_id": run_id,
        "phase": "smoke",
        "load": {"batch_size": 200, "interval_s": 0.1, "duration_s": 5, "processes": 0},
        "lab": {"groups": {"kafka": ["127.0.0.1"]}},
        "targets": [
            {
                "name": "kafka",
                "sink": {"host": "{kafka}", "port": 9092, "topic": "benchlab-events"},
                "criteria": {"min_success_rate": 0.99, "max_p99_ms": 1000, "oom_allowed": False},
            }
        ],
        "loadgen_metrics_port": free_port(),
        "loadgen_metrics_addr": "127.0.0.1",
    }
    path = tmp / "run-config.json"
    path.write_text(json.dumps(config))
    # a target before it in the same run (the pipeline) wrote the same run id's seqs to the
    # topic: the kafka target's audit must not read them (CI found 7,500 "duplicates")
    produce(run_id, 0, 10_000)
    root = tmp / "results"
    rc = main(["run", "--config", str(path), "--results-root", str(root), "--quiet",
               "--skip-metrics"])  # fmt: skip
    return root / run_id, rc, path


def test_kafka_target_run_audits_every_acknowledged_record(
    kafka_run: tuple[Path, int, Path],
) -> None:
    run_dir, rc, _ = kafka_run
    assert rc == 0
    audit: dict[str, Any] = json.loads((run_dir / "audit.json").read_text())["kafka"]
    load = json.loads((run_dir / "load.json").read_text())["kafka"]
    assert load["records_acked"] == load["records_due"] == 10_000
    assert audit["acknowledged"] == 10_000
    assert (audit["lost"], audit["duplicates"], audit["exactly_once"]) == (0, 0, 10_000)
    run = json.loads((run_dir / "run.json").read_text())
    assert run["data_verdict"]["kafka"]["status"] == "PASS"
    assert "kafka (Kafka): acknowledgement = the broker's" in (run_dir / "report.md").read_text()


def test_kafka_audit_counts_what_the_topic_does_not_hold(
    kafka_run: tuple[Path, int, Path],
) -> None:
    """The same run's records, audited against acknowledgements for 50 seqs never sent."""
    run_dir, _, config_path = kafka_run
    (target,) = load_config(config_path).targets
    run = json.loads((run_dir / "run.json").read_text())
    acked = RangeSet()
    acked.add(0, 10_000)
    acked.add(1_000_000, 50)
    result = audit_kafka("kafka", target.sink.config, run["run_id"], acked,
                         run["window"]["kafka"]["start"])  # fmt: skip
    assert result.lost == 50 and result.lost_examples[:2] == [1_000_000, 1_000_001]
    assert result.acked_found == 10_000


# -- the pipeline on an inventory without PostgreSQL ----------------------------------------
@pytest.fixture(scope="module")
def inventory_without_postgresql(tmp_path_factory: pytest.TempPathFactory) -> Path:
    local = REPO / "inventory" / "local"
    hosts = yaml.safe_load((local / "hosts.yml").read_text())
    del hosts["all"]["children"]["postgresql"]
    inventory = tmp_path_factory.mktemp("inventory") / "nopg"
    inventory.mkdir()
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    shutil.copytree(local / "group_vars", inventory / "group_vars")
    return inventory


def test_pipeline_runs_on_an_inventory_without_postgresql_through_a_broker_kill(
    lab: Lab, inventory_without_postgresql: Path
) -> None:
    """The fault matrix's kafka_kill, struck 10 s into a 30 s smoke load: the producer's
    retries and the broker's restart by the kit's supervisord lose nothing acknowledged."""
    run_id = f"it-nopg-{uuid.uuid4().hex[:10]}"
    faulted = bench_with_fault(
        LOCAL, run_id, "kafka_kill", 10, "-e", "target=pipeline", "-e", "phase=smoke",
        "-e", "duration=30", "--skip-tags", "lab", inventory=inventory_without_postgresql,
    )  # fmt: skip
    run = faulted.run
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    assert faulted.injection.ok, faulted.injection
    row = faulted.row
    assert row.verdict == "PASS" and row.lost == 0 and row.duplicates == 0, row
    assert row.acknowledged == row.found and row.acknowledged > 0, row
    assert row.restarted_by and row.restarted_by.startswith("supervisord"), row
    assert row.first_write_s is not None, row
    # the live progress line, polled every 10 s while the job ran: the pipeline's figures,
    # with records acknowledged by Kafka and stored in HDFS once its load has run
    lines = [p for p in progress_lines(run.stdout) if p["target"] == "pipeline"]
    assert any(count(p["acked"]) > 0 and p["stored"] != "n/a" for p in lines), run.stdout[-5000:]
    assert "ASYNC POLL" not in run.stdout and "FAILED - RETRYING" not in run.stdout
    data = faulted.json("run.json")
    assert data["targets"] == ["pipeline"]
    assert "postgresql" not in data["config"]["lab"]["groups"]
    assert "postgresql" not in data["config"]["services"]
    assert "postgresql" not in data["versions"]
    audit = data["audit"]["pipeline"]
    assert audit["lost"] == 0 and audit["acknowledged"] > 0
    assert data["data_verdict"]["pipeline"]["status"] == "PASS"
    # judged on what reached HDFS: a latency per stored record, each with its commit
    load = data["load"]["pipeline"]
    assert load["latency_ms"]["count"] == audit["rows_found"], load
    assert load["records_without_commit"] == 0, load
    assert load["latency_ms"]["p99_ms"] > load["ack_latency_ms"]["p99_ms"], load
