"""pytest-testinfra checks of every virtual node after converge (run by molecule verify).

Each service must run on the host the inventory puts it on and only there, listen on the
host's own address (never on a wildcard address; docs/security.md), sit in its
kernel-enforced cgroup with the configured limits, and be supervised by the kit's supervisord.
PostgreSQL admits the benchmark role from the load generators only, with SCRAM, and the
generated password sits 0600 on exactly the hosts that need it.

Each check goes through Ansible (the inventory's addresses are templated), and one Ansible
run costs seconds on a busy 2-core box, so everything a node is checked on is read in ONE
run per host: `node_snapshot.py` prints a JSON snapshot that the tests below assert on.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from exposure import Listener, kit_ports, loopback_ports, misplaced  # noqa: E402

SNAPSHOT_SCRIPT = Path(__file__).with_name("node_snapshot.py")
EXPOSURE_MODULE = ROOT / "tests" / "integration" / "exposure.py"
PASSWORD_FILE = yaml.safe_load((ROOT / "roles/postgresql/defaults/main.yml").read_text())[
    "postgresql_password_file"
]
# Ports only open while a benchmark runs.
RUN_ONLY_PORTS = {"benchlab_loadgen_metrics_port"}
PRIVATE_DIRS = ("/etc/benchlab", "/var/lib/benchlab", "/var/log/benchlab")


def _kit_vars() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for name in ("kit.yml", "ports.yml"):
        merged.update(yaml.safe_load((ROOT / "group_vars" / "all" / name).read_text()))
    return merged


KIT = _kit_vars()
KIT_PORTS = kit_ports(KIT)
LOOPBACK_PORTS = loopback_ports(KIT)


@pytest.fixture(scope="module")
def node(host: Any) -> dict[str, Any]:
    """The node's inventory view plus its snapshot (two Ansible runs in all)."""
    variables = host.ansible.get_variables()
    parent = host.ansible("ansible.builtin.debug", "var=resource_limits_cgroup_parent")
    request = {
        "supervisor_config": KIT["benchlab_supervisor_conf"],
        "cgroup_parent": parent["resource_limits_cgroup_parent"],
        "services": sorted(KIT["benchlab_limited_services"]),
        "private_dirs": list(PRIVATE_DIRS),
        "secret_files": [PASSWORD_FILE],
        # The PostgreSQL host by name (the nodes' /etc/hosts): what pg_hba.conf says to this node.
        "pg": {
            "host": variables["groups"]["postgresql"][0],
            "port": KIT["postgresql_port"],
            "probes": [
                ["benchlab", "benchlab"],
                ["postgres", "postgres"],
                ["benchlab", "postgres"],
            ],
        },
    }
    script = base64.b64encode(SNAPSHOT_SCRIPT.read_bytes()).decode()
    module = base64.b64encode(EXPOSURE_MODULE.read_bytes()).decode()
    argument = base64.b64encode(json.dumps(request).encode()).decode()
    out = host.check_output(f"echo {module} | base64 -d > /tmp/benchlab_exposure.py && "
                            f"echo {script} | base64 -d > /tmp/benchlab-node-snapshot.py && "
                            f"python3 /tmp/benchlab-node-snapshot.py {argument}")  # fmt: skip
    snapshot = json.loads(out)
    return {
        **snapshot,
        "name": variables["inventory_hostname"],
        "groups": set(variables["group_names"]),
        "variables": variables,
        "cgroup_parent": request["cgroup_parent"],
        "listening": {(address, port) for address, port in snapshot["listening"]},
    }


def test_hostname_is_the_inventory_name(node: dict[str, Any]) -> None:
    assert node["hostname"] == node["name"]


def test_kit_directories_are_private_to_the_node(node: dict[str, Any]) -> None:
    for path in PRIVATE_DIRS:
        source = node["mount_sources"][path]
        assert f"/benchlab-virtual/{node['name']}/" in source, f"{path} is not private: {source}"
    assert node["run_fstype"] == "tmpfs"


@pytest.mark.parametrize("group", sorted(KIT["benchlab_group_ports"]))
def test_group_ports_listen_only_where_the_inventory_says(node: dict[str, Any], group: str) -> None:
    for port_var in KIT["benchlab_group_ports"][group]:
        if port_var in RUN_ONLY_PORTS:
            continue
        port = KIT[port_var]
        address = "127.0.0.1" if port in LOOPBACK_PORTS else node["address"]
        listening = (address, port) in node["listening"]
        if group in node["groups"]:
            assert listening, f"{node['name']}: {port_var} {port} of {group} not listening"
        else:
            assert not listening, f"{node['name']}: {port_var} {port} open but not in {group}"


@pytest.mark.parametrize("service", sorted(KIT["benchlab_limited_services"]))
def test_limited_service_runs_supervised_in_its_cgroup(node: dict[str, Any], service: str) -> None:
    spec = KIT["benchlab_limited_services"][service]
    seen = node["services"][service]
    if spec["group"] not in node["groups"]:
        assert seen["state"] != "RUNNING", f"{service} runs on {node['name']}"
        return
    assert seen["state"] == "RUNNING", seen
    cpu_limit = float(node["variables"][spec["cpu"]])
    memory_mb = int(node["variables"][spec["memory_mb"]])
    cgroup = f"{node['cgroup_parent']}/{service}"
    quota, period = seen["cpu_quota_us"], seen["cpu_period_us"]
    assert quota == round(cpu_limit * period), f"{cgroup}: quota {quota}/{period}"
    assert seen["memory_limit_bytes"] == memory_mb * 1024 * 1024, f"{cgroup}: {seen}"
    # The supervised pid (or the wrapper's child) is inside the cgroup.
    tree = {seen["pid"], *seen["children"]}
    assert tree & set(seen["procs"]), f"{service} pid {seen['pid']} not in {cgroup}: {seen}"


def test_no_socket_listens_on_a_wildcard_or_foreign_address(node: dict[str, Any]) -> None:
    """Every socket in the node (the kit's and sshd's) is on the node's address or loopback,
    and benchlab_loopback_ports on loopback only (docs/security.md)."""
    listeners = [Listener(address, port) for address, port in node["listening"]]
    problems = misplaced(
        listeners, kit_ports=KIT_PORTS, loopback_ports=LOOPBACK_PORTS,
        host_address=node["address"], kit_pids=None,
    )  # fmt: skip
    assert not problems, f"{node['name']}: " + "; ".join(problems)


def test_postgresql_admits_the_benchmark_role_from_load_generators_only(
    node: dict[str, Any],
) -> None:
    replies = node["pg"]
    if "loadgen" in node["groups"]:
        assert replies["benchlab@benchlab"] == "scram-sha-256", replies
    else:
        assert replies["benchlab@benchlab"].startswith("rejected: no pg_hba.conf entry"), replies
    # the superuser never over TCP; the benchmark role only into its own database
    assert replies["postgres@postgres"].startswith("rejected: no pg_hba.conf entry"), replies
    assert replies["benchlab@postgres"].startswith("rejected: no pg_hba.conf entry"), replies


def test_password_file_is_private_and_only_where_needed(node: dict[str, Any]) -> None:
    mode = node["secret_files"][PASSWORD_FILE]
    if node["groups"] & {"postgresql", "loadgen"}:
        assert mode == "0600 root", f"{node['name']}: {PASSWORD_FILE} is {mode}"
    else:
        assert mode is None, f"{node['name']}: {PASSWORD_FILE} exists ({mode}) but is not needed"
