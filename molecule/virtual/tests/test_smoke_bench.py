"""Multi-node bench on the virtual lab (run by molecule verify after converge).

One smoke bench of the two systems (target=postgresql,pipeline), as a user runs it, so CI
pays for one run: the generator on
master writes to PostgreSQL on worker1, and through Kafka on master to the HDFS DataNodes on
worker1 and worker2. Two faults strike it (lab_sites.bench_killing_datanode_then_partitioning):
worker1's DataNode killed with SIGKILL during PostgreSQL's load, and, once the pipeline's rows
reach HDFS, the fault matrix's partition: worker1's link down for 30 s, then up.
Checked on that run:
- bench.yml's lab plays (all of site.yml, run again after converge) change nothing on any
  host: this is the scenario's idempotence check;
- the report holds both systems and both audits lose nothing and duplicate nothing;
- both DataNodes stored the run's data, records crossed hosts;
- the kit's supervisord restarted the DataNode and the report records the restart with its
  recovery time;
- the partition struck and healed, and the matrix's analysis of the pipeline finds nothing
  acknowledged lost;
- the run records its worker set (every worker by default).
"""

from __future__ import annotations

import json
import re
import sys
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from lab_sites import (  # noqa: E402
    RUN_PLAY,
    VIRTUAL,
    VIRTUAL_BENCH_TARGETS,
    PartitionedBench,
    bench_killing_datanode_then_partitioning,
    changed_tasks,
    count,
    progress_lines,
)

NAMENODE_INFO = "http://10.213.77.10:9870/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo"


def datanode_used_bytes() -> dict[str, int]:
    """Bytes each live DataNode stores, by hostname, from the NameNode on master."""
    # The lab's addresses are direct: no HTTP proxy from the environment applies to them.
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with direct.open(NAMENODE_INFO, timeout=30) as answer:
        live = json.loads(json.load(answer)["beans"][0]["LiveNodes"])
    return {name.split(":")[0]: int(node["usedSpace"]) for name, node in live.items()}


@dataclass(frozen=True)
class SmokeRun(PartitionedBench):
    """The bench, plus the bytes each DataNode stored before and after it."""

    stored_before: dict[str, int]
    stored_after: dict[str, int]


@pytest.fixture(scope="module")
def smoke() -> SmokeRun:
    run_id = f"it-virtual-{uuid.uuid4().hex[:10]}"
    stored_before = datanode_used_bytes()
    bench = bench_killing_datanode_then_partitioning(VIRTUAL, run_id)
    return SmokeRun(**vars(bench), stored_before=stored_before, stored_after=datanode_used_bytes())


def test_bench_succeeds_with_a_report_of_both_systems(smoke: SmokeRun) -> None:
    run = smoke.run
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    match = re.search(r"report: (\S+)/results/(\S+)/report\.md", run.stdout)
    assert match and match.group(2) == smoke.run_dir.name, run.stdout[-3000:]
    assert smoke.report()


def test_progress_lines_show_each_target_loading(smoke: SmokeRun) -> None:
    """While the load runs, bench.yml prints a line of figures every 10 s (the stdout
    callback): each target is seen loading, from master, with records acknowledged."""
    lines = progress_lines(smoke.run.stdout)
    loading = {p["target"] for p in lines if p["stage"] == "load" and count(p["acked"]) > 0}
    targets = set(smoke.json("run.json")["targets"])  # target=postgresql,pipeline
    assert targets == set(VIRTUAL_BENCH_TARGETS), targets
    assert loading == targets, smoke.run.stdout[-5000:]
    assert {p["host"] for p in lines} == {"master"}
    assert "ASYNC POLL" not in smoke.run.stdout


def test_lab_plays_change_nothing_the_second_time(smoke: SmokeRun) -> None:
    """Idempotence: bench.yml re-runs preflight, the lab and the pipeline plays of site.yml
    (plus the worker-set play) on the converged lab; only the run's own play may change."""
    recap = smoke.run.recap()
    assert set(recap) == {"master", "worker1", "worker2"}, recap
    outside = {entry for entry in changed_tasks(smoke.run.stdout) if entry[0] != RUN_PLAY}
    assert not outside, f"changed on the second site.yml pass: {sorted(outside)}"


def test_pipeline_drained_and_latency_measured_per_record(smoke: SmokeRun) -> None:
    smoke.assert_pipeline_drained()


def test_run_records_its_worker_set(smoke: SmokeRun) -> None:
    workers = smoke.json("run.json")["config"]["workers"]
    both = ["worker1", "worker2"]
    assert workers == {
        "count": 2,
        "of": 2,
        "hosts": {"hdfs_datanodes": both, "spark_workers": both},
    }, workers


def test_both_systems_lose_nothing(smoke: SmokeRun) -> None:
    smoke.assert_audits_clean(VIRTUAL_BENCH_TARGETS)


def test_records_crossed_hosts(smoke: SmokeRun) -> None:
    """The generator on master wrote to PostgreSQL on worker1, and the DataNodes on both
    workers store more bytes after the run than before it."""
    assert "10.213.77.11" in json.dumps(smoke.json("run.json"))
    assert set(smoke.stored_after) == {"worker1", "worker2"}, smoke.stored_after
    for worker in ("worker1", "worker2"):
        grew = smoke.stored_after[worker] > smoke.stored_before.get(worker, 0)
        assert grew, (smoke.stored_before, smoke.stored_after)


def test_killed_datanode_restarted_and_reported(smoke: SmokeRun) -> None:
    smoke.assert_restart_reported("worker1")


def test_a_partition_of_worker1_loses_nothing_the_pipeline_acknowledged(smoke: SmokeRun) -> None:
    """CI's partition of the fault matrix: the link went down and came back (the strike's own
    output), and the matrix's row for the pipeline is PASS: every record Kafka acknowledged
    is in HDFS exactly once; the generator on master kept writing through it."""
    assert smoke.partition.ok, smoke.partition
    assert "bv-worker1 up at" in smoke.partition.output, smoke.partition.output
    row = smoke.partition_row
    assert row.verdict == "PASS", row
    assert row.lost == 0 and row.duplicates == 0, row
    assert row.acknowledged == row.found and row.acknowledged > 0, row
    assert row.first_write_s is not None and row.first_write_s < 5, row


def test_every_socket_listens_on_its_node_address_or_loopback_mid_run(smoke: SmokeRun) -> None:
    """Taken while the load ran: the generator, the streaming driver on master and the
    executors on the workers included (test_services.py checks the idle lab)."""
    smoke.assert_sockets_placed(VIRTUAL)


def test_password_is_in_no_output_result_or_log(smoke: SmokeRun) -> None:
    smoke.assert_password_not_leaked(VIRTUAL)
