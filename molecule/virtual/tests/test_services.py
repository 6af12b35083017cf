"""pytest-testinfra checks of every virtual node after converge (run by molecule verify).

Each service must run on the host the inventory puts it on and only there, listen on the
host's own address, sit in its kernel-enforced cgroup with the configured limits, and be
supervised by the kit's supervisord.

Each check goes through Ansible (the inventory's addresses are templated), and one Ansible
run costs seconds on a busy 2-core box, so everything a node is checked on is read in ONE
run per host: `node_snapshot.py` prints a JSON snapshot that the tests below assert on.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SNAPSHOT_SCRIPT = Path(__file__).with_name("node_snapshot.py")
# Ports only open while a benchmark runs.
RUN_ONLY_PORTS = {"benchlab_loadgen_metrics_port"}
PRIVATE_DIRS = ("/etc/benchlab", "/var/lib/benchlab", "/var/log/benchlab")


def _kit_vars() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for name in ("kit.yml", "ports.yml"):
        merged.update(yaml.safe_load((ROOT / "group_vars" / "all" / name).read_text()))
    return merged


KIT = _kit_vars()


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
    }
    script = base64.b64encode(SNAPSHOT_SCRIPT.read_bytes()).decode()
    argument = base64.b64encode(json.dumps(request).encode()).decode()
    out = host.check_output(f"echo {script} | base64 -d > /tmp/benchlab-node-snapshot.py && "
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
        listening = bool(
            {(node["address"], port), ("0.0.0.0", port), ("*", port), ("::", port)}
            & node["listening"]
        )
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
