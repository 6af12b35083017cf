"""Preflight checks every host and the inventory's shape before any change (SPEC.md section 10).

Each bad inventory or host stops playbooks/preflight.yml with a non-zero exit, one message
naming the host (or inventory), the problem and the fix, and nothing changed. The temporary
inventories hold only loopback hosts: aliases of this machine with `ansible_connection: local`,
and for the unreachable case 127.0.0.1 on a closed port over ssh.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import KIT_GROUPS, LOCAL, REPO, PlaybookRun, run_playbook

# Nothing listens on port 1 of the loopback address: ssh gets "connection refused".
UNREACHABLE = {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "ssh"}


def write_inventory(
    tmp_path: Path,
    groups: dict[str, list[str]],
    hosts: dict[str, dict[str, object]] | None = None,
    limits: bool = True,
) -> Path:
    """hosts.yml (JSON is YAML) with the given group members; localhost is every group's.

    `limits` copies inventory/local/group_vars (the services' limits) next to it.
    """
    hosts = {"localhost": LOCAL, **(hosts or {})}
    members = {group: ["localhost"] for group in KIT_GROUPS}
    for group, names in groups.items():
        members[group] = names
    children: dict[str, object] = {}
    for group, names in members.items():
        if names:
            children[group] = {"hosts": {name: None for name in names}}
    # Host variables once, in the first group that lists the host.
    for name, variables in hosts.items():
        for group in members:
            if name in members[group]:
                children[group]["hosts"][name] = variables  # type: ignore[index]
                break
        else:
            children.setdefault("ungrouped", {"hosts": {}})["hosts"][name] = variables  # type: ignore[index]
    (tmp_path / "hosts.yml").write_text(json.dumps({"all": {"children": children}}, indent=1))
    if limits:
        shutil.copytree(REPO / "inventory" / "local" / "group_vars", tmp_path / "group_vars")
    return tmp_path / "hosts.yml"


def preflight(inventory: Path | None, *args: str) -> PlaybookRun:
    chosen = ["-i", str(inventory)] if inventory else []
    return run_playbook("playbooks/preflight.yml", *chosen, *args, timeout=300)


def assert_stopped(run: PlaybookRun, message: str) -> None:
    """Non-zero exit, the message on one line of the output, no host changed."""
    assert run.returncode != 0, run.stdout[-3000:]
    assert any(message in line for line in run.stdout.splitlines()), run.stdout[-3000:]
    recap = run.recap()
    assert recap, run.stdout[-3000:]
    for host, counters in recap.items():
        assert counters["changed"] == 0, host


@pytest.fixture
def two_workers(tmp_path: Path) -> Path:
    """The local lab plus a second DataNode/Spark worker host (an alias of this machine)."""
    return write_inventory(
        tmp_path,
        {
            "benchlab": ["localhost", "worker2"],
            "hdfs_datanodes": ["localhost", "worker2"],
            "spark_workers": ["localhost", "worker2"],
        },
        {"worker2": LOCAL},
    )


def test_a_good_inventory_passes(two_workers: Path) -> None:
    # Skew limit 0: the host's clock (this machine's) always reads between the controller's
    # two readings, so only a real difference can fail; -e workers=2 is every worker.
    run = preflight(two_workers, "-e", "workers=2", "-e", "benchlab_preflight_max_clock_skew_s=0")
    assert run.returncode == 0, run.stdout[-4000:]
    recap = run.recap()
    assert set(recap) == {"localhost", "worker2"}
    assert all(c["changed"] == 0 and c["failed"] == 0 for c in recap.values()), recap


@pytest.mark.parametrize(
    ("workers", "message"),
    [
        ("0", "-e workers=0 is not a positive integer"),
        ("-1", "-e workers=-1 is not a positive integer"),
        ("abc", "-e workers=abc is not a positive integer"),
        (
            "3",
            "-e workers=3 is more than this inventory has (hdfs_datanodes has 2 hosts,"
            " spark_workers 2); pass -e workers=1..2",
        ),
    ],
)
def test_workers_out_of_range(two_workers: Path, workers: str, message: str) -> None:
    assert_stopped(preflight(two_workers, "-e", f"workers={workers}"), message)


def test_two_hosts_claiming_the_namenode(tmp_path: Path) -> None:
    inventory = write_inventory(
        tmp_path,
        {"benchlab": ["localhost", "nn2"], "hdfs_namenode": ["localhost", "nn2"]},
        {"nn2": LOCAL},
    )
    assert_stopped(
        preflight(inventory),
        "group 'hdfs_namenode' has 2 hosts (localhost, nn2); the kit runs one NameNode; keep one",
    )


def test_host_missing_from_the_benchlab_group(tmp_path: Path) -> None:
    inventory = write_inventory(
        tmp_path,
        {"hdfs_datanodes": ["localhost", "worker2"], "spark_workers": ["localhost", "worker2"]},
        {"worker2": LOCAL},
    )
    assert_stopped(
        preflight(inventory),
        "host 'worker2' is in hdfs_datanodes, spark_workers but not in 'benchlab'",
    )


def test_group_the_pipeline_needs_is_missing(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path, {"spark_workers": []})
    assert_stopped(
        preflight(inventory, "-e", "target=pipeline"),
        "group 'spark_workers' is missing or empty; add at least one host",
    )


def test_limits_not_set_for_a_service(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path, {}, limits=False)
    assert_stopped(
        preflight(inventory),
        "localhost: postgresql needs its CPU limit postgresql_cpu_limit (now 'unset'",
    )


def test_sum_of_limits_above_the_host() -> None:
    # Each limit equals the host's cores (each fits alone); together they do not.
    cores = os.cpu_count() or 1
    run = preflight(
        None,
        "-e",
        f"postgresql_cpu_limit={cores}",
        "-e",
        f"hdfs_datanode_cpu_limit={cores}",
    )
    assert_stopped(run, f"localhost: the limits of its services postgresql {float(cores)} CPU")
    assert_stopped(run, f"hdfs-datanode {float(cores)} CPU / 1024 MiB + spark-worker")
    assert_stopped(run, f"add up to {2 * cores + 0.5} CPU")
    assert "is larger than the host" not in run.stdout


def test_unreachable_host_is_reported_not_dropped(tmp_path: Path) -> None:
    inventory = write_inventory(
        tmp_path,
        {
            "benchlab": ["localhost", "ghost"],
            "hdfs_datanodes": ["localhost", "ghost"],
            "spark_workers": ["localhost", "ghost"],
        },
        {"ghost": UNREACHABLE},
    )
    # Through bench.yml: the run stops in preflight, before the lab plays change anything.
    run = run_playbook(
        "bench.yml",
        "-i",
        str(inventory),
        "-e",
        "benchlab_preflight_connect_timeout_s=3",
        timeout=300,
    )
    assert_stopped(run, "host ghost (127.0.0.1:1): unreachable over ssh as ")
    assert_stopped(run, "Connection refused; fix: check ansible_host/ansible_port")
    assert run.recap()["ghost"]["failed"] == 1
    # Only the host that did not answer is blamed, and no host got past the reachability play.
    assert "host localhost (" not in run.stdout
    assert "Check the operating system is supported" not in run.stdout
    assert "PLAY [Common OS preparation" not in run.stdout


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("date -d '+30 sec' +%s.%N", "localhost: clock is ahead of the controller's by at least 2"),
        ("echo 1000000000", "localhost: clock is behind the controller's by at least"),
        ("echo not-a-clock", "localhost: could not read its clock with 'echo not-a-clock'"),
    ],
    ids=["ahead", "behind", "unreadable"],
)
def test_clock_skew(command: str, message: str) -> None:
    # The host's clock is faked by the command preflight reads it with.
    run = preflight(None, "-e", json.dumps({"benchlab_preflight_clock_command": command}))
    assert_stopped(run, message)
    if "ahead" in message:
        assert_stopped(run, "(allowed 1.0 s, benchlab_preflight_max_clock_skew_s)")
        assert_stopped(run, "fix: sync this host and the controller")


def test_java_missing_and_not_installable() -> None:
    run = preflight(
        None,
        "-e",
        "benchlab_preflight_java_command=/nonexistent/java",
        "-e",
        "benchlab_preflight_java_package=benchlab-no-such-jre",
    )
    assert_stopped(
        run,
        "localhost: Java not found ('/nonexistent/java -version'), Kafka/HDFS/Spark need 17+,"
        " and apt has no candidate for benchlab-no-such-jre",
    )


def test_java_missing_but_installable_passes() -> None:
    # openjdk-17-jre-headless has an apt candidate on Debian 12 (the common role installs it).
    run = preflight(None, "-e", "benchlab_preflight_java_command=/nonexistent/java")
    assert run.returncode == 0, run.stdout[-3000:]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            {"benchlab_preflight_supported_os": {"Slackware": "15"}},
            "is not supported; the kit runs on Slackware 15+ on x86_64 or aarch64; use such a host",
        ),
        ({"benchlab_preflight_supported_os": {"Debian": "99", "Ubuntu": "99"}}, "Debian 99+"),
        ({"benchlab_preflight_supported_arch": ["riscv64"]}, "is not supported"),
    ],
    ids=["distribution", "version", "architecture"],
)
def test_unsupported_operating_system(setting: dict[str, object], message: str) -> None:
    # The supported list is narrowed so this (supported) machine falls outside it.
    assert_stopped(preflight(None, "-e", json.dumps(setting)), message)
