"""kill -9 of a worker's DataNode in the middle of a smoke pipeline run (bench.yml
-e target=pipeline): the kit's supervisord restarts it, the run's HDFS audit still finds every
record Kafka acknowledged, and the report records the restart with its recovery time.

The lab is a parameter: `local` (every service on this machine, the default inventory) runs
now; `virtual` (inventory/virtual: master, worker1, worker2 over SSH, the DataNode to kill on
worker1) runs when BENCHLAB_TEST_VIRTUAL_LAB=1 and that lab is up.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from conftest import REPO, VENV_BIN, PlaybookRun, run_playbook
from pipeline_helpers import pipeline

__all__ = ["pipeline"]
SUPERVISORCTL = "supervisorctl -c /etc/benchlab/supervisor/supervisord.conf"
RESULTS_ON_LOADGEN = "/var/lib/benchlab/results"


@dataclass(frozen=True)
class LabSite:
    """Where the services run and how to reach a host of that lab."""

    inventory: str | None  # None: ansible.cfg's default inventory (local)
    datanode_host: str  # inventory name of the host whose DataNode is killed
    loadgen_host: str

    def inventory_args(self) -> list[str]:
        return ["-i", self.inventory] if self.inventory else []

    def shell(self, host: str, command: str, timeout: int = 60) -> str:
        """stdout of `command` (as root) on an inventory host."""
        if self.inventory is None:
            argv = ["bash", "-c", command]
        else:
            argv = [
                str(VENV_BIN / "ansible"), "-i", self.inventory, host, "--become", "-o",
                "-m", "ansible.builtin.shell", "-a", command,
            ]  # fmt: skip
        # Plain output whatever the caller's environment (molecule forces colour).
        env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"}
        done = subprocess.run(
            argv, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False, env=env
        )
        assert done.returncode == 0, f"{host}: {command}: {done.stdout}{done.stderr}"
        if self.inventory is None:
            return done.stdout
        # ansible -o: "<host> | CHANGED | rc=0 | (stdout) <text, \n escaped>[ (stderr) <text>]"
        out = done.stdout.split("(stdout) ", 1)[-1].split(" (stderr) ", 1)[0]
        return out.replace("\\n", "\n")

    def datanode_pid(self) -> str:
        return self.shell(self.datanode_host, f"{SUPERVISORCTL} pid hdfs-datanode").strip()


LABS = [
    pytest.param(LabSite(None, "localhost", "localhost"), id="local"),
    pytest.param(
        LabSite("inventory/virtual", "worker1", "master"),
        id="virtual",
        marks=pytest.mark.skipif(
            os.environ.get("BENCHLAB_TEST_VIRTUAL_LAB") != "1",
            reason="three-node virtual lab: set BENCHLAB_TEST_VIRTUAL_LAB=1 with it up",
        ),
    ),
]


def wait_for_rows_in_hdfs(site: LabSite, run_id: str, bench: Future[PlaybookRun]) -> None:
    """Until the run's streaming job has committed a micro-batch with rows to HDFS."""
    progress = f"{RESULTS_ON_LOADGEN}/{run_id}/streaming/pipeline/progress.jsonl"
    deadline = time.monotonic() + 900  # bench.yml first brings the lab up (idempotent)
    while time.monotonic() < deadline:
        assert not bench.done(), bench.result().stdout[-4000:]
        text = site.shell(site.loadgen_host, f"cat {progress} 2>/dev/null || true")
        if re.search(r'"num_input_rows": *[1-9]', text):
            return
        time.sleep(2)
    pytest.fail(f"no rows reached HDFS in run {run_id} within 900 s")


def bench_killing_datanode(site: LabSite, run_id: str, *extra: str) -> tuple[PlaybookRun, str]:
    """Run a smoke bench.yml on `site` and kill -9 its DataNode once rows reach HDFS.

    Returns the bench's outcome and the killed pid."""
    bench_args = [
        *site.inventory_args(), "bench.yml", "-e", "phase=smoke", "-e", "duration=60",
        "-e", f"benchlab_run_id={run_id}", *extra,
    ]  # fmt: skip
    with ThreadPoolExecutor(max_workers=1) as pool:
        bench = pool.submit(run_playbook, *bench_args, timeout=2400)
        wait_for_rows_in_hdfs(site, run_id, bench)
        killed = site.datanode_pid()
        assert killed.isdigit(), killed
        site.shell(site.datanode_host, f"kill -9 {killed}")
        return bench.result(), killed


@pytest.mark.parametrize("site", LABS)
def test_datanode_killed_mid_run_is_restarted_and_reported(
    site: LabSite, request: pytest.FixtureRequest
) -> None:
    if site.inventory is None:
        request.getfixturevalue("pipeline")  # the local lab, up
    run_id = f"it-dnkill-{uuid.uuid4().hex[:10]}"
    run, old_pid = bench_killing_datanode(site, run_id, "-e", "target=pipeline")

    new_pid = site.datanode_pid()
    assert new_pid.isdigit() and new_pid != old_pid, (old_pid, new_pid)
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    run_dir = REPO / "results" / run_id

    audit = json.loads((run_dir / "audit.json").read_text())["pipeline"]
    assert audit["acknowledged"] > 0, audit
    assert audit["lost"] == 0, audit

    doc = json.loads((run_dir / "restarts.json").read_text())
    killed = [
        r
        for r in doc["restarts"]
        if (r["host"], r["service"], r["exit_pid"])
        == (site.datanode_host, "hdfs-datanode", old_pid)
    ]
    assert len(killed) == 1, doc
    restart = killed[0]
    assert restart["running_pid"] == new_pid, restart
    assert restart["recovery_s"] > 0, restart
    assert restart["state"] == "in service" and restart["ready_s"] >= restart["recovery_s"], restart
    report = (run_dir / "report.md").read_text()
    section = report.split("## Restarts during the run", 1)[1].split("\n## ", 1)[0]
    row = (
        f"| {site.datanode_host} | hdfs-datanode | {restart['exit_time']} "
        f"| {restart['running_time']} | {restart['recovery_s']:.3f} |"
    )
    assert row in section, section
    run_json = json.loads((run_dir / "run.json").read_text())
    assert run_json["restarts"]["restarts"] == doc["restarts"]
