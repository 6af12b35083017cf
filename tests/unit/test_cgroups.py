"""Parsers of python/benchlab/cgroups.py on captured kernel files (fixtures/cgroup_v*)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchlab import cgroups
from benchlab.service_exporter import count_restarts, parse_supervisor_status

FIXTURES = Path(__file__).parent / "fixtures"
V1 = FIXTURES / "cgroup_v1" / "sys" / "fs" / "cgroup"
V2 = FIXTURES / "cgroup_v2" / "sys" / "fs" / "cgroup"


def test_v1_service_read_from_kernel_files() -> None:
    layout = cgroups.CgroupLayout(version=1, v1_root=V1, parent="benchlab")
    stats = cgroups.read_service(layout, "postgresql")
    assert stats.version == 1
    assert stats.cpu_limit_cores == pytest.approx(1.0)  # 100000 / 100000
    assert stats.cpu_periods == 1523
    assert stats.cpu_throttled_periods == 310
    assert stats.cpu_throttled_seconds == pytest.approx(48.211934561)
    assert stats.cpu_usage_seconds is not None and stats.cpu_usage_seconds > 0
    assert stats.memory_limit_bytes == 2 * 1024**3
    assert stats.memory_usage_bytes is not None and stats.memory_usage_bytes > 0
    # usage_in_bytes minus total_inactive_file from memory.stat
    assert stats.memory_working_set_bytes == stats.memory_usage_bytes - 16777216
    assert stats.oom_kills == 3
    assert len(stats.pids) >= 1


def test_v1_services_listed_from_memory_hierarchy() -> None:
    layout = cgroups.CgroupLayout(version=1, v1_root=V1, parent="benchlab")
    assert layout.services() == ["postgresql", "unlimited"]


def test_v1_unlimited_values() -> None:
    assert cgroups.parse_v1_limit_bytes("9223372036854771712\n") is None
    assert cgroups.parse_v1_cpu_limit("-1\n", "100000\n") is None
    assert cgroups.parse_v1_cpu_limit("150000\n", "100000\n") == pytest.approx(1.5)
    stats = cgroups.read_v1(
        "unlimited",
        V1 / "cpu/none",
        V1 / "cpuacct/none",
        V1 / "memory/benchlab/unlimited",
    )
    assert stats.memory_limit_bytes is None
    assert stats.cpu_usage_seconds is None


def test_v2_service_read_from_kernel_files() -> None:
    layout = cgroups.CgroupLayout(version=2, v2_base=V2 / "benchlab")
    stats = cgroups.read_service(layout, "postgresql")
    assert stats.version == 2
    assert stats.cpu_usage_seconds == pytest.approx(8.123456)
    assert stats.cpu_limit_cores == pytest.approx(2.0)
    assert stats.cpu_periods == 420
    assert stats.cpu_throttled_periods == 37
    assert stats.cpu_throttled_seconds == pytest.approx(2.5)
    assert stats.memory_usage_bytes == 734003200
    # memory.current minus inactive_file from memory.stat
    assert stats.memory_working_set_bytes == 734003200 - 134217728
    assert stats.memory_limit_bytes == 2147483648
    assert stats.oom_kills == 2
    assert stats.pids == (812, 813)


def test_v2_unlimited_values() -> None:
    assert cgroups.parse_v2_cpu_max("max 100000\n") is None
    assert cgroups.parse_v2_limit_bytes("max\n") is None


def test_detect_version() -> None:
    assert cgroups.detect_version(V2) == 2
    assert cgroups.detect_version(V1) == 1


def test_layout_from_env(tmp_path: Path) -> None:
    env = tmp_path / "cgroup.env"
    env.write_text(
        "# Ansible managed\nCGROUP_VERSION=2\nCGROUP_V1_ROOT=/sys/fs/cgroup\n"
        "CGROUP_PARENT=benchlab\nCGROUP_V2_BASE=/sys/fs/cgroup/system.slice/x.service/benchlab\n"
    )
    layout = cgroups.layout_from_env(env)
    assert layout.version == 2
    assert layout.service_dirs("pg") == {
        "unified": Path("/sys/fs/cgroup/system.slice/x.service/benchlab/pg")
    }


def test_restart_log_and_supervisor_status() -> None:
    log = [
        "2026-11-22T16:00:00Z service=postgresql group=postgresql pid=12 from_state=RUNNING\n",
        "2026-11-22T16:01:00Z service=node_exporter group=node_exporter pid=13"
        " from_state=RUNNING\n",
        "2026-11-22T16:02:00Z service=postgresql group=postgresql pid=14 from_state=STARTING\n",
        "garbage\n",
    ]
    assert count_restarts(log) == {"postgresql": 2, "node_exporter": 1}
    status = (
        "benchlab_restart_listener        RUNNING   pid 6443, uptime 0:02:07\n"
        "postgresql                       BACKOFF   Exited too quickly\n"
        "node_exporter                    RUNNING   pid 9633, uptime 0:00:09\n"
    )
    assert parse_supervisor_status(status) == {
        "benchlab_restart_listener": "RUNNING",
        "postgresql": "BACKOFF",
        "node_exporter": "RUNNING",
    }


def test_working_set_never_negative_and_unknown_without_usage() -> None:
    assert cgroups.working_set(100, 300) == 0
    assert cgroups.working_set(None, 10) is None
    assert cgroups.working_set(100, None) == 100
