"""Targets as plugins against the real local lab.

- `-e target=pipeline` runs on an inventory that has no `postgresql` group: nothing of the
  kit reads PostgreSQL unless the target needs it (bench_run.yml, preflight, the template).

Runs last in the local suite (file order): the inventory without `postgresql` leaves
Prometheus without the postgres job until the next site.yml.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
import yaml
from conftest import REPO, Lab, run_playbook


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


def test_pipeline_runs_on_an_inventory_without_postgresql(
    lab: Lab, inventory_without_postgresql: Path
) -> None:
    run_id = f"it-nopg-{uuid.uuid4().hex[:10]}"
    run = run_playbook(
        "-i", str(inventory_without_postgresql), "bench.yml", "-e", "target=pipeline",
        "-e", "duration=10", "-e", f"benchlab_run_id={run_id}",
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    run_dir = REPO / "results" / run_id
    data = json.loads((run_dir / "run.json").read_text())
    assert data["targets"] == ["pipeline"]
    assert "postgresql" not in data["config"]["lab"]["groups"]
    assert "postgresql" not in data["config"]["services"]
    assert "postgresql" not in data["versions"]
    audit = data["audit"]["pipeline"]
    assert audit["lost"] == 0 and audit["acknowledged"] > 0
    assert data["data_verdict"]["pipeline"]["status"] == "PASS"
