"""Strike: one ad-hoc ansible-runner call (module ansible.builtin.shell) on the victim host,
with the kit's ansible.cfg and the run's inventory, and what it printed."""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from benchlab.faults import actions
from benchlab.faults.catalogue import PARTITION, Fault

KIT_VARS = "group_vars/all/kit.yml"
PORTS_VARS = "group_vars/all/ports.yml"
POSTGRESQL_DEFAULTS = "roles/postgresql/defaults/main.yml"
INJECTED = re.compile(r"^injected_at=([0-9]+(?:\.[0-9]+)?)$", re.MULTILINE)
STRUCK = re.compile(r"^struck_at=([0-9]+(?:\.[0-9]+)?)$", re.MULTILINE)


@dataclass
class Injection:
    fault: str
    host: str
    started_wall: float  # when the controller launched the call
    injected_wall: float | None  # when the host struck (its own stamp); None: it did not
    rc: int | None
    output: str
    restored: str | None = None  # the restore command's outcome, when the fault has one

    @property
    def ok(self) -> bool:
        return self.rc == 0 and self.injected_wall is not None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# (repo, inventory, host pattern, shell command) -> (rc, stdout + stderr)
ShellRunner = Callable[[Path, Path, str, str], tuple[int | None, str]]


def supervisor_conf(repo: Path) -> str:
    """benchlab_supervisor_conf: the one definition, in group_vars/all/kit.yml."""
    data = yaml.safe_load((repo / KIT_VARS).read_text(encoding="utf-8"))
    return str(data["benchlab_supervisor_conf"])


def postgres_access(repo: Path) -> actions.PostgresAccess:
    """The kit's PostgreSQL socket, port, database and role: their one definitions (the role's
    defaults, the kit-wide port)."""
    role = yaml.safe_load((repo / POSTGRESQL_DEFAULTS).read_text(encoding="utf-8"))
    ports = yaml.safe_load((repo / PORTS_VARS).read_text(encoding="utf-8"))
    return actions.PostgresAccess(
        str(role["postgresql_socket_dir"]),
        int(ports["postgresql_port"]),
        str(role["postgresql_database"]),
        str(role["postgresql_user"]),
    )


def group_hosts(inventory: Path, group: str) -> list[str]:
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    manager = InventoryManager(loader=DataLoader(), sources=[str(inventory)])
    return list(manager.get_groups_dict().get(group, []))


def ansible_shell(repo: Path, inventory: Path, host: str, cmd: str) -> tuple[int | None, str]:
    """Run `cmd` with ansible.builtin.shell on `host` as root; (rc, stdout and stderr)."""
    import ansible_runner

    with tempfile.TemporaryDirectory(prefix="benchlab-fault-") as pdd:
        result = ansible_runner.run(
            private_data_dir=pdd,
            host_pattern=host,
            module="ansible.builtin.shell",
            module_args=cmd,
            inventory=str(inventory),
            cmdline="--become",
            quiet=True,
            envvars={"ANSIBLE_CONFIG": str(repo / "ansible.cfg")},
        )
        out: list[str] = []
        rc: int | None = None
        for event in result.events:
            if event.get("event") in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable"):
                res = event.get("event_data", {}).get("res", {})
                rc = res.get("rc", 4 if event["event"] == "runner_on_unreachable" else None)
                out += [str(res.get("stdout") or ""), str(res.get("stderr") or "")]
                if res.get("msg") and not res.get("stdout"):
                    out.append(str(res["msg"]))
        if rc is None:  # no host result: ansible itself failed (not found, bad inventory)
            rc = result.rc or None
            try:
                out.append(result.stdout.read()[-1000:])
            except (OSError, AttributeError):
                out.append(f"ansible-runner status {result.status}")
        return rc, "\n".join(x for x in out if x).strip()


def root_host(folder: Path) -> Path:
    """An inventory of the controller itself: where the virtual lab's veth links live."""
    path = folder / "hosts.ini"
    # modules run in the kit's venv, as on inventory/local: interpreter discovery may find a
    # broken shim first (a pyenv python3.13 without its version)
    path.write_text(
        "localhost ansible_connection=local "
        "ansible_python_interpreter='{{ ansible_playbook_python }}'\n",
        encoding="utf-8",
    )
    return path


def inject(
    fault: Fault,
    repo: Path,
    inventory: Path,
    host: str,
    run_id: str,
    *,
    shell: ShellRunner = ansible_shell,
) -> Injection:
    """Strike `fault` on `host` now; the kit's state is put back even when it fails."""
    cmd = actions.command(fault, run_id=run_id, supervisor_conf=supervisor_conf(repo), node=host)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="benchlab-fault-inv-") as folder:
        local = fault.kind == PARTITION
        where, pattern = (root_host(Path(folder)), "localhost") if local else (inventory, host)
        try:
            rc, out = shell(repo, where, pattern, cmd)
        finally:
            undo = actions.restore_command(fault)
            restored = None
            if undo is not None:
                urc, uout = shell(repo, where, pattern, undo)
                restored = f"rc {urc}: {uout}"[:300]
    # the moment the fault hit: an OOM strike's kill (struck_at), else the action's stamp
    found = (STRUCK.search(out) or INJECTED.search(out)) if rc == 0 else None
    return Injection(
        fault.name,
        host,
        started,
        float(found.group(1)) if found else None,
        rc,
        out[-2000:],
        restored,
    )


def prepare(
    fault: Fault, repo: Path, inventory: Path, host: str, *, shell: ShellRunner = ansible_shell
) -> tuple[bool, str]:
    """Make what `fault` needs before its run (ok, what the host printed); (True, "") when it
    needs nothing."""
    cmd = actions.prepare_command(fault, postgres_access(repo))
    if cmd is None:
        return True, ""
    rc, out = shell(repo, inventory, host, cmd)
    return rc == 0, out[-1000:]
