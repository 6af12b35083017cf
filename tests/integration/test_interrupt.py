"""Ctrl-C on `ansible-playbook bench.yml` while the load runs (README, "Interrupts").

The load runs on the host as an Ansible async job, which outlives the playbook. Sent SIGINT
like a terminal sends it (to the playbook's process group) a few seconds into a 60 s
PostgreSQL load, the playbook must, within a bounded time: stop the load on the host
(no `benchlab run` of the run left), and leave on the controller results/<run id>/ with
PARTIAL, run.json status partial, an audit that lost none of what was acknowledged, and
report.md; the run's in-progress marker is gone. The load generator is then free for the
next run (a short `benchlab run` on it, with the same configuration under a new run id).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
import uuid

import pytest
from conftest import REPO, VENV_BIN
from lab_sites import LOCAL, RESULTS_ON_LOADGEN, VIRTUAL, LabSite, virtual_lab_is_up

from benchlab.interrupt import marker_path

# About 2 minutes per inventory (bench.yml's lab plays before the load): outside CI's
# 30-minute budget, in `make test-long`; the unit tests of benchlab.interrupt and the plugin
# run in CI. The virtual lab's case needs the lab built (molecule create + converge).
pytestmark = pytest.mark.long

# bench.yml first brings the lab up (idempotent plays) before its load starts
START_TIMEOUT_S = 900
# from SIGINT to the playbook's exit: the current batch, the audit, the report, the fetch
STOP_BOUND_S = 90
# The kit's venv on a host that is not the controller (roles/benchlab benchlab_venv)
HOST_BENCHLAB = "/opt/benchlab/venv/bin/benchlab"


def process_of(site: LabSite, run_id: str) -> str:
    """The run's `benchlab run` processes on the load generator (pgrep -a), '' when none."""
    pattern = f"benchlab (run|search) --config /etc/benchlab/runs/{run_id}.json"
    return site.shell(site.loadgen_host, f"pgrep -a -f {shlex.quote(pattern)} || true").strip()


@pytest.fixture(scope="module", params=["local", "virtual"])
def site(request: pytest.FixtureRequest) -> LabSite:
    if request.param == "virtual":
        if not virtual_lab_is_up():
            pytest.skip("the virtual lab is not up (molecule create + converge -s virtual)")
        return VIRTUAL
    request.getfixturevalue("lab")  # the local lab, built by site.yml
    return LOCAL


@pytest.fixture(scope="module")
def interrupted(site: LabSite, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    run_id = f"it-interrupt-{uuid.uuid4().hex[:10]}"
    log = tmp_path_factory.mktemp("interrupt") / "bench.log"
    env = {
        **os.environ,
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
    }
    argv = [
        str(VENV_BIN / "ansible-playbook"), *site.inventory_args(), "bench.yml",
        "-e", "phase=smoke", "-e", "target=postgresql", "-e", "duration=60",
        "-e", f"benchlab_run_id={run_id}",
    ]  # fmt: skip
    host_run = f"{RESULTS_ON_LOADGEN}/{run_id}/run.json"
    with log.open("w") as out:
        # its own process group, as a shell runs a foreground job
        bench = subprocess.Popen(
            argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not site.shell(site.loadgen_host, f"ls {host_run} 2>/dev/null || true").strip():
                assert bench.poll() is None, log.read_text()[-4000:]
                assert time.monotonic() < deadline, f"no load within {START_TIMEOUT_S} s"
                time.sleep(0.5)
            time.sleep(4)  # a few seconds of load, acknowledged batches
            assert process_of(site, run_id), "benchlab run is not running"
            os.killpg(bench.pid, signal.SIGINT)  # Ctrl-C
            sent = time.monotonic()
            rc = bench.wait(timeout=STOP_BOUND_S)
            stopped_s = time.monotonic() - sent
        finally:
            if bench.poll() is None:
                os.killpg(bench.pid, signal.SIGKILL)
    return {
        "run_id": run_id,
        "rc": rc,
        "stopped_s": stopped_s,
        "output": log.read_text(),
        "left": process_of(site, run_id),
    }


def test_ctrl_c_stops_the_load_and_fetches_a_partial_result(
    interrupted: dict[str, object],
) -> None:
    run_id, output = str(interrupted["run_id"]), str(interrupted["output"])
    assert interrupted["rc"] != 0, output[-3000:]
    assert f"benchlab: interrupted: stopping run {run_id}" in output, output[-3000:]
    assert interrupted["left"] == "", interrupted["left"]
    assert float(interrupted["stopped_s"]) < STOP_BOUND_S  # type: ignore[arg-type]
    run_dir = REPO / "results" / run_id
    assert (run_dir / "PARTIAL").is_file(), sorted(p.name for p in run_dir.glob("*"))
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "partial"
    load = run["load"]["postgresql"]
    # stopped early: due counts the batches up to the stop; 60 s of smoke would be 15,000
    assert load["stop_reason"] == "interrupted", load
    assert 0 < load["records_acked"] <= load["records_due"] < 250 * 60, load
    audit = json.loads((run_dir / "audit.json").read_text())["postgresql"]
    assert audit["acknowledged"] == load["records_acked"] > 0, audit
    assert audit["lost"] == 0 and audit["duplicates"] == 0, audit
    assert "PARTIAL RESULT" in (run_dir / "report.md").read_text()
    assert not marker_path(REPO / "results", run_id).exists()


def test_the_next_run_on_the_load_generator_works(
    site: LabSite, interrupted: dict[str, object]
) -> None:
    """Nothing of the interrupted run holds the generator (its process, the metrics port):
    the same configuration, under a new run id, runs 3 s on the load generator."""
    run_id = str(interrupted["run_id"])
    config = json.loads(site.shell(site.loadgen_host, f"cat /etc/benchlab/runs/{run_id}.json"))
    config["run_id"] = f"{run_id}-next"
    config["load"]["duration_s"] = 3
    path, results = f"/tmp/{run_id}-next.json", f"/tmp/{run_id}-next-results"
    benchlab = str(VENV_BIN / "benchlab") if site is LOCAL else HOST_BENCHLAB
    site.shell(
        site.loadgen_host,
        f"echo {shlex.quote(json.dumps(config))} > {path} && "
        f"{benchlab} run --config {path} --results-root {results} --quiet --no-report",
        timeout=180,
    )
    run = json.loads(site.shell(site.loadgen_host, f"cat {results}/{run_id}-next/run.json"))
    assert run["status"] == "complete" and run["audit"]["postgresql"]["lost"] == 0
    site.shell(site.loadgen_host, f"rm -rf {path} {results}")
