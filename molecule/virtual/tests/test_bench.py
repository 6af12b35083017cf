"""Multi-node bench checks on the virtual lab (run by molecule verify after converge).

- Smoke bench with target=all: the generator on master writes to PostgreSQL on worker1 and
  through Kafka on master to HDFS DataNodes on worker1 and worker2; both audits lose nothing.
- kill -9 of worker1's DataNode mid-run (the integration test of the local lab, run here
  against inventory/virtual).
"""

from __future__ import annotations

import json
import re
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

import test_datanode_kill as datanode_kill  # noqa: E402
from conftest import REPO, run_playbook  # noqa: E402

INVENTORY = "inventory/virtual"
VIRTUAL = datanode_kill.LabSite(INVENTORY, "worker1", "master")


NAMENODE_INFO = "http://10.213.77.10:9870/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo"


def datanode_used_bytes() -> dict[str, int]:
    """Bytes each live DataNode stores, by hostname, from the NameNode on master."""
    with urllib.request.urlopen(NAMENODE_INFO, timeout=10) as answer:
        live = json.loads(json.load(answer)["beans"][0]["LiveNodes"])
    return {name.split(":")[0]: int(node["usedSpace"]) for name, node in live.items()}


@pytest.fixture(scope="module")
def smoke_run() -> tuple[Path, dict[str, int], dict[str, int]]:
    before = {p.name for p in (REPO / "results").iterdir()}
    stored_before = datanode_used_bytes()
    run = run_playbook("-i", INVENTORY, "bench.yml", "-e", "phase=smoke", timeout=2400)
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    match = re.search(r"report: (\S+)/results/(\S+)/report\.md", run.stdout)
    assert match, run.stdout[-3000:]
    run_dir = REPO / "results" / match.group(2)
    assert run_dir.name not in before
    return run_dir, stored_before, datanode_used_bytes()


def _json(run_dir: Path, name: str) -> Any:
    return json.loads((run_dir / name).read_text())


def test_smoke_on_three_nodes_loses_nothing_on_either_system(
    smoke_run: tuple[Path, dict[str, int], dict[str, int]],
) -> None:
    audit = _json(smoke_run[0], "audit.json")
    for target in ("postgresql", "pipeline"):
        assert audit[target]["acknowledged"] > 0, audit
        assert audit[target]["lost"] == 0, audit
        assert audit[target]["duplicates"] == 0, audit


def test_records_crossed_hosts(smoke_run: tuple[Path, dict[str, int], dict[str, int]]) -> None:
    """The generator ran on master against PostgreSQL on worker1, and the DataNodes on both
    workers stored more bytes after the run than before it."""
    run_dir, stored_before, stored_after = smoke_run
    config = json.dumps(_json(run_dir, "run.json"))
    assert "10.213.77.11" in config, config[:2000]  # PostgreSQL on worker1, from master
    assert set(stored_after) == {"worker1", "worker2"}, stored_after
    for worker in ("worker1", "worker2"):
        assert stored_after[worker] > stored_before.get(worker, 0), (stored_before, stored_after)


def test_datanode_killed_mid_run_on_a_worker(request: pytest.FixtureRequest) -> None:
    datanode_kill.test_datanode_killed_mid_run_is_restarted_and_reported(VIRTUAL, request)
