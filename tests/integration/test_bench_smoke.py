"""One local smoke bench as a user runs it, disturbed on purpose; CI pays for one run.

`ansible-playbook bench.yml -e phase=smoke -e workers=1` (target=all: PostgreSQL, then the
Kafka -> Spark -> HDFS pipeline). Once rows reach HDFS, the DataNode is killed with SIGKILL.
Checked on that run: results/<run_id>/ holds a report with both systems and an audit that lost
nothing on either; the kit's supervisord restarted the DataNode and the report records the
restart with its recovery time; `-e workers=1` (every worker of the local lab) changes nothing
but the run and is recorded.

Marked `long` (make test-long): CI proves the same bench, kill and audits once, where they mean
most, on the three-node virtual lab (molecule/virtual/tests/test_smoke_bench.py).
"""

from __future__ import annotations

import re
import uuid

import pytest
from conftest import REPO, Lab
from lab_sites import LOCAL, RUN_PLAY, KilledBench, bench_killing_datanode, changed_tasks

pytestmark = pytest.mark.long


@pytest.fixture(scope="module")
def smoke(lab: Lab) -> KilledBench:
    run_id = f"it-smoke-{uuid.uuid4().hex[:10]}"
    assert not (REPO / "results" / run_id).exists()
    return bench_killing_datanode(LOCAL, run_id, "-e", "workers=1")  # target=all


def test_smoke_bench_produces_report_with_no_loss(smoke: KilledBench) -> None:
    run = smoke.run
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    match = re.search(r"report: (\S+)/results/(\S+)/report\.md", run.stdout)
    assert match and match.group(2) == smoke.run_dir.name, run.stdout[-3000:]
    assert smoke.json("run.json")
    smoke.assert_audits_clean(("postgresql", "pipeline", "kafka"))
    smoke.assert_pipeline_drained()


def test_killed_datanode_is_restarted_and_reported(smoke: KilledBench) -> None:
    smoke.assert_restart_reported("localhost")


def test_one_worker_bench_changes_only_the_run(smoke: KilledBench) -> None:
    """With one worker in the local lab, `-e workers=1` is every worker: the worker-set play
    changes nothing, and the run records its worker count (1 vs 2 needs inventory/virtual)."""
    stdout = smoke.run.stdout
    assert "workers 1 of 1: DataNodes localhost; Spark workers localhost" in stdout
    outside = {entry for entry in changed_tasks(stdout) if entry[0] != RUN_PLAY}
    assert not outside, outside
    config = smoke.json("run.json")["config"]
    assert config["workers"] == {
        "count": 1,
        "of": 1,
        "hosts": {"hdfs_datanodes": ["localhost"], "spark_workers": ["localhost"]},
    }
    assert config["services"]["spark-worker"]["instances"] == 1
    report = (smoke.run_dir / "report.md").read_text()
    assert "| workers | 1 of 1; hdfs_datanodes: localhost; spark_workers: localhost |" in report


def test_kit_sockets_listen_on_loopback_only_mid_run(smoke: KilledBench) -> None:
    smoke.assert_sockets_placed(LOCAL)


def test_password_is_in_no_output_result_or_log(smoke: KilledBench) -> None:
    smoke.assert_password_not_leaked(LOCAL)
