"""pytest-testinfra checks of every virtual node after converge (run by molecule verify).

Each service must run on the host the inventory puts it on and only there, listen on the
host's own address, sit in its kernel-enforced cgroup with the configured limits, and be
supervised by the kit's supervisord.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from benchlab.service_exporter import SUPERVISOR_CONFIG

ROOT = Path(__file__).resolve().parents[3]
SUPERVISORCTL = f"supervisorctl -c {SUPERVISOR_CONFIG}"
# Ports only open while a benchmark runs.
RUN_ONLY_PORTS = {"benchlab_loadgen_metrics_port"}


def _kit_vars() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for name in ("kit.yml", "ports.yml"):
        merged.update(yaml.safe_load((ROOT / "group_vars" / "all" / name).read_text()))
    return merged


def _host_facts(host: Any) -> dict[str, Any]:
    variables = host.ansible.get_variables()
    parent = host.ansible("ansible.builtin.debug", "var=resource_limits_cgroup_parent")
    # Listening TCP sockets as (address, port); Java binds IPv4-mapped IPv6 addresses.
    listening = set()
    for line in host.check_output("ss -Htln").splitlines():
        local = line.split()[3]
        address, _, port = local.rpartition(":")
        listening.add((address.strip("[]").removeprefix("::ffff:"), int(port)))
    return {
        "name": variables["inventory_hostname"],
        "listening": listening,
        "groups": set(variables["group_names"]),
        "variables": variables,
        "cgroup_parent": parent["resource_limits_cgroup_parent"],
        "address": host.interface("eth0").addresses[0],
    }


@pytest.fixture(scope="module")
def node(host: Any) -> dict[str, Any]:
    return _host_facts(host)


KIT = _kit_vars()


def test_hostname_is_the_inventory_name(host: Any, node: dict[str, Any]) -> None:
    assert host.check_output("hostname") == node["name"]


def test_kit_directories_are_private_to_the_node(host: Any, node: dict[str, Any]) -> None:
    for path in ("/etc/benchlab", "/var/lib/benchlab", "/var/log/benchlab"):
        source = host.check_output(f"findmnt -n -o SOURCE {path}")
        assert f"/benchlab-virtual/{node['name']}/" in source, f"{path} is not private: {source}"
    assert host.check_output("findmnt -n -o FSTYPE /run") == "tmpfs"


@pytest.mark.parametrize("group", sorted(KIT["benchlab_group_ports"]))
def test_group_ports_listen_only_where_the_inventory_says(
    host: Any, node: dict[str, Any], group: str
) -> None:
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
def test_limited_service_runs_supervised_in_its_cgroup(
    host: Any, node: dict[str, Any], service: str
) -> None:
    spec = KIT["benchlab_limited_services"][service]
    status = host.run(f"{SUPERVISORCTL} status {service}")
    if spec["group"] not in node["groups"]:
        assert "RUNNING" not in status.stdout, f"{service} runs on {node['name']}"
        return
    assert "RUNNING" in status.stdout, status.stdout + status.stderr
    pid = host.check_output(f"{SUPERVISORCTL} pid {service}")
    cpu_limit = float(node["variables"][spec["cpu"]])
    memory_mb = int(node["variables"][spec["memory_mb"]])
    cgroup = f"{node['cgroup_parent']}/{service}"
    if host.file("/sys/fs/cgroup/cgroup.controllers").exists:  # cgroup v2
        base = f"/sys/fs/cgroup/{cgroup}"
        quota, period = host.file(f"{base}/cpu.max").content_string.split()
        memory = host.file(f"{base}/memory.max").content_string.strip()
        procs = host.file(f"{base}/cgroup.procs").content_string.split()
    else:
        quota = host.file(f"/sys/fs/cgroup/cpu/{cgroup}/cpu.cfs_quota_us").content_string
        period = host.file(f"/sys/fs/cgroup/cpu/{cgroup}/cpu.cfs_period_us").content_string
        memory = host.file(f"/sys/fs/cgroup/memory/{cgroup}/memory.limit_in_bytes").content_string
        procs = host.file(f"/sys/fs/cgroup/cpu/{cgroup}/cgroup.procs").content_string.split()
    assert int(quota) == round(cpu_limit * int(period)), f"{cgroup}: quota {quota}/{period}"
    assert int(memory) == memory_mb * 1024 * 1024, f"{cgroup}: memory limit {memory}"
    # The supervised pid (or the wrapper's child) is inside the cgroup.
    tree = [*host.run(f"ps -o pid= --ppid {pid}").stdout.split(), pid]
    assert set(tree) & set(procs), f"{service} pid {pid} not in {cgroup} ({procs[:5]})"
