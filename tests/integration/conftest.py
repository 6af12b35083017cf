"""Integration fixtures: the real lab on this machine, brought up by the kit's own site.yml.

The `lab` fixture runs `ansible-playbook site.yml` once per session. Idempotence (a second
run changes nothing) is proved on the three-node virtual lab (molecule/virtual: its bench
re-runs every site.yml play over SSH), check mode here (test_site.py). Developers with a lab
already up can set BENCHLAB_TEST_REUSE_LAB=1 to skip the run; CI never sets it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
# The kit supervisord's config: its one definition, benchlab_supervisor_conf.
SUPERVISOR_CONFIG: str = yaml.safe_load((REPO / "group_vars/all/kit.yml").read_text())[
    "benchlab_supervisor_conf"
]
VENV_BIN = Path(sys.executable).parent


# Files that run after all others: test_dashboards.py reads the series the suite's benches
# left in Prometheus (pytest's own order is by file name).
RUN_LAST = ("test_dashboards.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name in RUN_LAST)  # stable: the rest keep their order


@dataclass(frozen=True)
class PlaybookRun:
    """Outcome of one ansible-playbook run, with the recap parsed."""

    returncode: int
    stdout: str
    stderr: str

    def recap(self) -> dict[str, dict[str, int]]:
        """Per-host PLAY RECAP counters, e.g. {'localhost': {'ok': 12, 'changed': 0, ...}}."""
        hosts: dict[str, dict[str, int]] = {}
        in_recap = False
        for line in self.stdout.splitlines():
            if line.startswith("PLAY RECAP"):
                in_recap = True
                continue
            if in_recap and ":" in line and "=" in line:
                host, _, counters = line.partition(":")
                hosts[host.strip()] = {
                    key: int(value) for key, value in (item.split("=") for item in counters.split())
                }
        return hosts


# Throw-away inventories of the tests (bad input, preflight, the grafana role): the kit's
# groups, and this machine as a local host.
KIT_GROUPS = [
    "benchlab",
    "prometheus",
    "loadgen",
    "postgresql",
    "kafka",
    "hdfs_namenode",
    "hdfs_datanodes",
    "spark_master",
    "spark_workers",
]
LOCAL = {
    "ansible_connection": "local",
    "ansible_python_interpreter": "{{ ansible_playbook_python }}",
}


def run_playbook(*args: str, timeout: int = 1800) -> PlaybookRun:
    """Run ansible-playbook from the repo root with the kit's venv, loopback inventory only."""
    command = [str(VENV_BIN / "ansible-playbook"), *args]
    env = {
        **os.environ,
        "ANSIBLE_FORCE_COLOR": "0",
        # the kit's own settings (its stdout and interrupt callbacks), as a user runs it, also
        # under molecule verify, which points ANSIBLE_CONFIG at molecule's ansible.cfg
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
    }
    done = subprocess.run(
        command,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    return PlaybookRun(done.returncode, done.stdout, done.stderr)


@dataclass(frozen=True)
class Lab:
    site_run: PlaybookRun | None  # None: an existing lab reused


@pytest.fixture(scope="session")
def lab() -> Lab:
    """The local lab, up. Fails the session loudly if site.yml fails."""
    if os.environ.get("BENCHLAB_TEST_REUSE_LAB") == "1":
        return Lab(None)
    run = run_playbook("site.yml")
    assert run.returncode == 0, f"site.yml failed:\n{run.stdout[-6000:]}\n{run.stderr[-3000:]}"
    return Lab(run)


@pytest.fixture(scope="session")
def postgres_sink_config(lab: Lab) -> dict[str, object]:
    """The run configuration's `sink` section for the lab's PostgreSQL (docs/architecture.md)."""
    override = os.environ.get("BENCHLAB_TEST_PG_SINK")
    if override:
        return json.loads(override)
    return {
        "method": "copy",
        "host": "127.0.0.1",
        "port": 5432,
        "dbname": "benchlab",
        "user": "benchlab",
        "password_file": "/etc/benchlab/secrets/postgresql_benchlab.password",
        "table": "events",
        "connect_timeout_s": 5,
        "statement_timeout_ms": 10000,
    }
