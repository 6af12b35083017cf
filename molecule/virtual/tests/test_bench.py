"""Multi-node bench on the virtual lab (run by molecule verify after converge).

One smoke bench with target=all, so CI pays for one run: the generator on master writes to
PostgreSQL on worker1, and through Kafka on master to the HDFS DataNodes on worker1 and
worker2. While the pipeline part runs, worker1's DataNode is killed with SIGKILL. Checked:
both audits lose nothing, both DataNodes stored the run's data, the kit's supervisord
restarted the DataNode and the report records the restart with its recovery time.
"""

from __future__ import annotations

import json
import sys
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from lab_sites import KilledBench, LabSite, bench_killing_datanode  # noqa: E402

VIRTUAL = LabSite("inventory/virtual", "worker1", "master")
NAMENODE_INFO = "http://10.213.77.10:9870/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo"


def datanode_used_bytes() -> dict[str, int]:
    """Bytes each live DataNode stores, by hostname, from the NameNode on master."""
    # The lab's addresses are direct: no HTTP proxy from the environment applies to them.
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with direct.open(NAMENODE_INFO, timeout=30) as answer:
        live = json.loads(json.load(answer)["beans"][0]["LiveNodes"])
    return {name.split(":")[0]: int(node["usedSpace"]) for name, node in live.items()}


@dataclass(frozen=True)
class SmokeRun(KilledBench):
    """The bench, plus the bytes each DataNode stored before and after it."""

    stored_before: dict[str, int]
    stored_after: dict[str, int]


@pytest.fixture(scope="module")
def smoke() -> SmokeRun:
    run_id = f"it-virtual-{uuid.uuid4().hex[:10]}"
    stored_before = datanode_used_bytes()
    bench = bench_killing_datanode(VIRTUAL, run_id)  # target=all
    return SmokeRun(**vars(bench), stored_before=stored_before, stored_after=datanode_used_bytes())


def test_bench_succeeds(smoke: SmokeRun) -> None:
    assert smoke.run.returncode == 0, smoke.run.stdout[-5000:] + smoke.run.stderr[-2000:]
    assert (smoke.run_dir / "report.md").stat().st_size > 0


def test_both_systems_lose_nothing(smoke: SmokeRun) -> None:
    audit = smoke.json("audit.json")
    for target in ("postgresql", "pipeline"):
        assert audit[target]["acknowledged"] > 0, audit
        assert audit[target]["lost"] == 0, audit
        assert audit[target]["duplicates"] == 0, audit


def test_records_crossed_hosts(smoke: SmokeRun) -> None:
    """The generator on master wrote to PostgreSQL on worker1, and the DataNodes on both
    workers store more bytes after the run than before it."""
    assert "10.213.77.11" in json.dumps(smoke.json("run.json"))
    assert set(smoke.stored_after) == {"worker1", "worker2"}, smoke.stored_after
    for worker in ("worker1", "worker2"):
        grew = smoke.stored_after[worker] > smoke.stored_before.get(worker, 0)
        assert grew, (smoke.stored_before, smoke.stored_after)


def test_killed_datanode_restarted_and_reported(smoke: SmokeRun) -> None:
    assert smoke.pid_after.isdigit() and smoke.pid_after != smoke.killed_pid
    restarts = smoke.json("restarts.json")["restarts"]
    wanted = ("worker1", "hdfs-datanode", smoke.killed_pid)
    killed = [r for r in restarts if (r["host"], r["service"], r["exit_pid"]) == wanted]
    assert len(killed) == 1, restarts
    assert killed[0]["recovery_s"] > 0, killed[0]
    report = (smoke.run_dir / "report.md").read_text()
    section = report.split("## Restarts during the run", 1)[1].split("\n## ", 1)[0]
    assert f"| worker1 | hdfs-datanode | {killed[0]['exit_time']} " in section, section
