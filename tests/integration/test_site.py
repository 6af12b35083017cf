"""site.yml on the local inventory: PostgreSQL in its cgroup, check mode, root group_vars,
supervisord restarts counted by the exporter. (Idempotence: molecule/virtual's bench.)"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from conftest import SUPERVISOR_CONFIG, VENV_BIN, Lab, run_playbook

CG = Path("/sys/fs/cgroup")
SUPERVISOR = ["supervisorctl", "-c", SUPERVISOR_CONFIG]


def metrics() -> str:
    with urllib.request.urlopen("http://127.0.0.1:9106/metrics", timeout=10) as response:
        return response.read().decode()


def sample(text: str, name: str, service: str) -> float:
    match = re.search(rf'^{name}{{host="[^"]+",service="{service}"}} (\S+)$', text, re.MULTILINE)
    assert match, f"{name} for {service} not exported"
    return float(match.group(1))


def program_pid(name: str) -> int:
    out = subprocess.run(
        [*SUPERVISOR, "pid", name], check=False, capture_output=True, text=True
    ).stdout
    return int(out.strip())


def test_postgresql_runs_inside_its_limited_cgroup(lab: Lab) -> None:
    if (CG / "cgroup.controllers").exists():  # v2
        group = CG / "benchlab" / "postgresql"
        assert (group / "cpu.max").read_text().split() == ["100000", "100000"]
        assert int((group / "memory.max").read_text()) == 2048 * 1024 * 1024
        procs = (group / "cgroup.procs").read_text().split()
    else:
        cpu = CG / "cpu" / "benchlab" / "postgresql"
        mem = CG / "memory" / "benchlab" / "postgresql"
        assert int((cpu / "cpu.cfs_period_us").read_text()) == 100000
        assert int((cpu / "cpu.cfs_quota_us").read_text()) == 100000  # 1.0 CPU (local)
        assert int((mem / "memory.limit_in_bytes").read_text()) == 2048 * 1024 * 1024
        assert int((mem / "memory.swappiness").read_text()) == 0
        procs = (mem / "cgroup.procs").read_text().split()
        assert str(program_pid("postgresql")) in (cpu / "tasks").read_text().split()
    postmaster = program_pid("postgresql")
    assert str(postmaster) in procs
    assert Path(f"/proc/{postmaster}/cmdline").read_bytes().startswith(b"/usr/lib/postgresql/")


def test_check_mode_on_built_lab_changes_nothing(lab: Lab) -> None:
    run = run_playbook("site.yml", "--check")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    for host, counters in run.recap().items():
        assert counters["changed"] == 0, f"{host}: --check predicts changes:\n{run.stdout[-4000:]}"


def test_root_group_vars_load_for_the_inventory() -> None:
    done = subprocess.run(
        [str(VENV_BIN / "ansible"), "localhost", "-m", "ansible.builtin.debug",
         "-a", "var=benchlab_phases['2']['batch_size']"],
        cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, check=False,
        env={**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "1000" in done.stdout, done.stdout
    # ...and in a playbook imported from playbooks/ (preflight reads them).
    run = run_playbook("playbooks/preflight.yml", "-e", "phase=1")
    assert run.returncode == 0, run.stdout[-3000:]


def test_supervisord_restarts_a_killed_service_and_the_exporter_counts_it(
    lab: Lab,
) -> None:
    before = sample(metrics(), "benchlab_service_restarts_total", "node_exporter")
    old = program_pid("node_exporter")
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 30
    new = old
    while time.monotonic() < deadline:
        try:
            new = program_pid("node_exporter")
        except ValueError:
            new = old
        if new not in (0, old):
            break
        time.sleep(0.5)
    assert new not in (0, old), "supervisord did not restart node_exporter"
    assert sample(metrics(), "benchlab_service_restarts_total", "node_exporter") == before + 1
    assert sample(metrics(), "benchlab_service_up", "postgresql") == 1.0
