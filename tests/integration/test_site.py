"""site.yml on the local inventory: PostgreSQL in its cgroup, check mode, root group_vars,
supervisord restarts counted by the exporter, what the lab exposes (docs/security.md: loopback
only, PostgreSQL's door, the password's files). (Idempotence: molecule/virtual's bench.)"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import yaml
from conftest import REPO, SUPERVISOR_CONFIG, VENV_BIN, Lab, run_playbook
from exposure import kit_pids, kit_ports, loopback_ports, misplaced, parse_ss, pg_first_reply

CG = Path("/sys/fs/cgroup")
SUPERVISOR = ["supervisorctl", "-c", SUPERVISOR_CONFIG]
KIT = {
    **yaml.safe_load((REPO / "group_vars/all/kit.yml").read_text()),
    **yaml.safe_load((REPO / "group_vars/all/ports.yml").read_text()),
}
SUPERVISOR_PIDFILE = Path(
    yaml.safe_load((REPO / "roles/resource_limits/defaults/main.yml").read_text())[
        "resource_limits_supervisor_pidfile"
    ]
)
PG_DEFAULTS = yaml.safe_load((REPO / "roles/postgresql/defaults/main.yml").read_text())


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


def test_every_kit_socket_listens_on_loopback_only(lab: Lab) -> None:
    """The local inventory's benchlab_host_address is 127.0.0.1: every port of ports.yml, and
    every socket of a kit process, listens there (or on ::1), none on a wildcard address."""
    ss = subprocess.run(["ss", "-Htlnp"], capture_output=True, text=True, check=True).stdout
    listeners = parse_ss(ss)
    ports = kit_ports(KIT)
    problems = misplaced(
        listeners, kit_ports=ports, loopback_ports=loopback_ports(KIT),
        host_address="127.0.0.1", kit_pids=kit_pids(SUPERVISOR_PIDFILE),
    )  # fmt: skip
    assert not problems, "; ".join(problems) + "\n" + ss
    # Not vacuous: the lab's services were there to be judged (the generator's port is open
    # only during a run; the local inventory has no grafana group).
    seen = {sock.port for sock in listeners}
    missing = {name for port, name in ports.items() if port not in seen}
    # the backend suite's apps listen only once backend.yml deployed them (not site.yml)
    backends = {p for p in missing if p.startswith("backend_") and p.endswith("_port")}
    assert missing - backends <= {"benchlab_loadgen_metrics_port", "grafana_port"}, missing


def test_postgresql_admits_only_the_benchmark_role_with_scram(lab: Lab) -> None:
    """pg_hba.conf: the benchmark role into its database from the load generator (here
    127.0.0.1) with SCRAM; the superuser only over the local socket; nothing else."""
    port = KIT["postgresql_port"]
    user, database = PG_DEFAULTS["postgresql_user"], PG_DEFAULTS["postgresql_database"]
    assert pg_first_reply("127.0.0.1", port, user, database) == "scram-sha-256"
    for who, db in (("postgres", "postgres"), (user, "postgres"), ("nobody", database)):
        reply = pg_first_reply("127.0.0.1", port, who, db)
        assert reply.startswith("rejected: no pg_hba.conf entry"), (who, db, reply)


def test_generated_password_is_kept_private(lab: Lab) -> None:
    """0600 files in 0700 directories, on the controller (secrets/) and on the hosts."""
    secrets_dir = REPO / "secrets"
    host_file = Path(PG_DEFAULTS["postgresql_password_file"])
    for path, mode in (
        (secrets_dir, 0o700),
        (secrets_dir / host_file.name, 0o600),
        (host_file.parent, 0o700),
        (host_file, 0o600),
    ):
        actual = path.stat().st_mode & 0o7777
        assert actual == mode, f"{path}: mode {actual:04o}, expected {mode:04o}"
    assert host_file.stat().st_uid == 0, f"{host_file} is not root's"
