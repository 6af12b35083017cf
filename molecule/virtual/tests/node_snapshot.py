"""Runs ON a virtual node: prints, as JSON, everything test_services.py checks there.

Argument: base64 of a JSON request {supervisor_config, cgroup_parent, services, private_dirs,
secret_files, pg: {host, port, probes: [[user, database], ...]}}. Standard library only (it
runs with the node's python3, outside the kit's venv), plus tests/integration/exposure.py,
copied beside it.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from benchlab_exposure import pg_first_reply

CGROUP_ROOT = Path("/sys/fs/cgroup")


def run(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()


def listening() -> list[tuple[str, int]]:
    """Listening TCP sockets as (address, port); Java binds IPv4-mapped IPv6 addresses."""
    out = []
    for line in run("ss", "-Htln").splitlines():
        address, _, port = line.split()[3].rpartition(":")
        out.append((address.strip("[]").removeprefix("::ffff:"), int(port)))
    return out


def file_mode(path: str) -> str | None:
    """Octal mode and owner of a file ("0600 root"), None when absent."""
    file = Path(path)
    if not file.exists():
        return None
    return f"{file.stat().st_mode & 0o7777:04o} {file.owner()}"


def pg_replies(pg: dict[str, Any]) -> dict[str, str]:
    """PostgreSQL's first reply to this node, per "user@database" probed."""
    out = {}
    for user, database in pg["probes"]:
        try:
            out[f"{user}@{database}"] = pg_first_reply(pg["host"], pg["port"], user, database)
        except OSError as exc:
            out[f"{user}@{database}"] = f"unreachable: {exc}"
    return out


def read(path: Path) -> str:
    return path.read_text().strip() if path.exists() else ""


def cgroup_limits(group: str) -> dict[str, Any]:
    if (CGROUP_ROOT / "cgroup.controllers").exists():  # v2
        base = CGROUP_ROOT / group
        quota, _, period = read(base / "cpu.max").partition(" ")
        memory = read(base / "memory.max")
        procs = read(base / "cgroup.procs").split()
    else:
        quota = read(CGROUP_ROOT / "cpu" / group / "cpu.cfs_quota_us")
        period = read(CGROUP_ROOT / "cpu" / group / "cpu.cfs_period_us")
        memory = read(CGROUP_ROOT / "memory" / group / "memory.limit_in_bytes")
        procs = read(CGROUP_ROOT / "cpu" / group / "cgroup.procs").split()
    number = re.compile(r"^\d+$")
    return {
        "cpu_quota_us": int(quota) if number.match(quota) else None,
        "cpu_period_us": int(period) if number.match(period) else None,
        "memory_limit_bytes": int(memory) if number.match(memory) else None,
        "procs": procs,
    }


def service(request: dict[str, Any], name: str) -> dict[str, Any]:
    supervisorctl = ["supervisorctl", "-c", request["supervisor_config"]]
    status = run(*supervisorctl, "status", name).split()
    state = status[1] if len(status) > 1 else "ABSENT"
    pid = run(*supervisorctl, "pid", name) if state == "RUNNING" else ""
    children = run("ps", "-o", "pid=", "--ppid", pid).split() if pid.isdigit() else []
    return {
        "state": state,
        "pid": pid,
        "children": children,
        **cgroup_limits(f"{request['cgroup_parent']}/{name}"),
    }


def main() -> None:
    request = json.loads(base64.b64decode(sys.argv[1]))
    addresses = run("ip", "-o", "-4", "addr", "show", "eth0").split()
    snapshot = {
        "hostname": socket.gethostname(),
        "mount_sources": {
            path: run("findmnt", "-n", "-o", "SOURCE", path) for path in request["private_dirs"]
        },
        "run_fstype": run("findmnt", "-n", "-o", "FSTYPE", "/run"),
        "address": addresses[3].split("/")[0] if len(addresses) > 3 else "",
        "listening": listening(),
        "services": {name: service(request, name) for name in request["services"]},
        "secret_files": {path: file_mode(path) for path in request["secret_files"]},
        "pg": pg_replies(request["pg"]),
    }
    print(json.dumps(snapshot))


if __name__ == "__main__":
    main()
