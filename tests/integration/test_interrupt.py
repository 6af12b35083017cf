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
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import REPO, VENV_BIN, Lab
from lab_sites import RESULTS_ON_LOADGEN

from benchlab.interrupt import marker_path

# About 2 minutes (bench.yml's lab plays before the load): outside CI's 30-minute budget,
# in `make test-long`; the unit tests of benchlab.interrupt and the plugin run in CI.
pytestmark = pytest.mark.long

# bench.yml first brings the lab up (idempotent plays) before its load starts
START_TIMEOUT_S = 900
# from SIGINT to the playbook's exit: the current batch, the audit, the report, the fetch
STOP_BOUND_S = 90


def process_of(run_id: str) -> str:
    """The run's `benchlab run` processes on this host (pgrep -a), '' when none."""
    done = subprocess.run(
        ["pgrep", "-a", "-f", f"benchlab (run|search) --config /etc/benchlab/runs/{run_id}.json"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def interrupted(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    run_id = f"it-interrupt-{uuid.uuid4().hex[:10]}"
    log = tmp_path_factory.mktemp("interrupt") / "bench.log"
    env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
    argv = [
        str(VENV_BIN / "ansible-playbook"), "bench.yml", "-e", "phase=smoke",
        "-e", "target=postgresql", "-e", "duration=60", "-e", f"benchlab_run_id={run_id}",
    ]  # fmt: skip
    host_run = Path(RESULTS_ON_LOADGEN) / run_id / "run.json"
    with log.open("w") as out:
        # its own process group, as a shell runs a foreground job
        bench = subprocess.Popen(
            argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not host_run.exists():
                assert bench.poll() is None, log.read_text()[-4000:]
                assert time.monotonic() < deadline, f"no load within {START_TIMEOUT_S} s"
                time.sleep(0.5)
            time.sleep(4)  # a few seconds of load, acknowledged batches
            assert process_of(run_id), "benchlab run is not running"
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
        "left": process_of(run_id),
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
    interrupted: dict[str, object], tmp_path: Path
) -> None:
    """Nothing of the interrupted run holds the generator (its process, the metrics port)."""
    config = json.loads(Path(f"/etc/benchlab/runs/{interrupted['run_id']}.json").read_text())
    config["run_id"] = f"{interrupted['run_id']}-next"
    config["load"]["duration_s"] = 3
    path = tmp_path / "next.json"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [sys.executable, "-m", "benchlab.cli", "run", "--config", str(path),
         "--results-root", str(tmp_path), "--quiet", "--no-report"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    run = json.loads((tmp_path / config["run_id"] / "run.json").read_text())
    assert run["status"] == "complete" and run["audit"]["postgresql"]["lost"] == 0
