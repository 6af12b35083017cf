"""Read the kit's per-service cgroups (docs/architecture.md "Resource limits").

Both hierarchies are supported:

* cgroup v1: ``<root>/{cpu,cpuacct,memory}/<parent>/<service>`` with ``cpuacct.usage``
  (ns), ``cpu.cfs_quota_us``/``cpu.cfs_period_us``, ``cpu.stat`` (nr_periods,
  nr_throttled, throttled_time in ns), ``memory.usage_in_bytes``,
  ``memory.limit_in_bytes`` and ``memory.oom_control`` (``oom_kill N``).
* cgroup v2: ``<base>/<service>`` with ``cpu.stat`` (usage_usec, nr_periods,
  nr_throttled, throttled_usec), ``cpu.max`` ("quota period" or "max period"),
  ``memory.current``, ``memory.max`` and ``memory.events`` (``oom_kill N``).

Parsers take file *text* so they can be tested on captured kernel output.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# The kernel reports "no limit" in v1 as a huge page-aligned number.
V1_UNLIMITED_THRESHOLD = 1 << 62


@dataclass(frozen=True)
class CgroupStats:
    """One service cgroup's counters; None where the kernel does not provide a value."""

    service: str
    version: int
    cpu_usage_seconds: float | None = None
    cpu_limit_cores: float | None = None  # None = unlimited
    cpu_periods: int | None = None
    cpu_throttled_periods: int | None = None
    cpu_throttled_seconds: float | None = None
    memory_usage_bytes: int | None = None
    # usage minus inactive page cache (cAdvisor's and the kubelet's working set): the part
    # the kernel cannot simply drop under pressure, so the figure to compare with a limit.
    memory_working_set_bytes: int | None = None
    memory_limit_bytes: int | None = None  # None = unlimited
    oom_kills: int | None = None
    pids: tuple[int, ...] = ()


@dataclass(frozen=True)
class CgroupLayout:
    """Where the kit's groups live; mirrors /etc/benchlab/cgroup.env."""

    version: int = 1
    v1_root: Path = Path("/sys/fs/cgroup")
    parent: str = "benchlab"
    v2_base: Path = Path("/sys/fs/cgroup/benchlab")

    def service_dirs(self, service: str) -> dict[str, Path]:
        if self.version == 1:
            return {
                c: self.v1_root / c / self.parent / service for c in ("cpu", "cpuacct", "memory")
            }
        return {"unified": self.v2_base / service}

    def services(self) -> list[str]:
        """Names of the kit service groups that exist right now."""
        base = self.v1_root / "memory" / self.parent if self.version == 1 else self.v2_base
        try:
            return sorted(p.name for p in base.iterdir() if p.is_dir())
        except OSError:
            return []


def parse_env_file(text: str) -> dict[str, str]:
    """Parse a shell KEY=VALUE file such as /etc/benchlab/cgroup.env."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def layout_from_env(path: str | os.PathLike[str] = "/etc/benchlab/cgroup.env") -> CgroupLayout:
    """Build the layout from the env file resource_limits writes; detect if it is absent."""
    try:
        env = parse_env_file(Path(path).read_text())
    except OSError:
        env = {}
    version = int(env.get("CGROUP_VERSION") or detect_version())
    parent = env.get("CGROUP_PARENT", "benchlab")
    return CgroupLayout(
        version=version,
        v1_root=Path(env.get("CGROUP_V1_ROOT", "/sys/fs/cgroup")),
        parent=parent,
        v2_base=Path(env.get("CGROUP_V2_BASE", f"/sys/fs/cgroup/{parent}")),
    )


def detect_version(root: str | os.PathLike[str] = "/sys/fs/cgroup") -> int:
    """2 when the unified hierarchy is mounted at root, else 1."""
    return 2 if (Path(root) / "cgroup.controllers").exists() else 1


def parse_flat_keyed(text: str) -> dict[str, int]:
    """Parse 'key value' lines (cpu.stat, memory.events, memory.oom_control)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def parse_v1_limit_bytes(text: str) -> int | None:
    value = int(text.strip())
    return None if value >= V1_UNLIMITED_THRESHOLD else value


def parse_v1_cpu_limit(quota_text: str, period_text: str) -> float | None:
    quota, period = int(quota_text.strip()), int(period_text.strip())
    if quota <= 0 or period <= 0:
        return None
    return quota / period


def parse_v2_cpu_max(text: str) -> float | None:
    """'100000 100000' -> 1.0; 'max 100000' -> None."""
    quota, _, period = text.strip().partition(" ")
    if quota == "max" or not period:
        return None
    return int(quota) / int(period)


def parse_v2_limit_bytes(text: str) -> int | None:
    value = text.strip()
    return None if value == "max" else int(value)


def parse_pids(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split())


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def working_set(usage: int | None, inactive_file: int | None) -> int | None:
    if usage is None:
        return None
    return max(0, usage - (inactive_file or 0))


def read_v1(service: str, cpu: Path, cpuacct: Path, memory: Path) -> CgroupStats:
    usage = _read(cpuacct / "cpuacct.usage")
    quota, period = _read(cpu / "cpu.cfs_quota_us"), _read(cpu / "cpu.cfs_period_us")
    stat = parse_flat_keyed(_read(cpu / "cpu.stat") or "")
    mem_usage = _read(memory / "memory.usage_in_bytes")
    mem_limit = _read(memory / "memory.limit_in_bytes")
    oom = parse_flat_keyed(_read(memory / "memory.oom_control") or "")
    mem_stat = parse_flat_keyed(_read(memory / "memory.stat") or "")
    procs = _read(memory / "cgroup.procs")
    usage_bytes = int(mem_usage) if mem_usage else None
    return CgroupStats(
        service=service,
        version=1,
        cpu_usage_seconds=int(usage) / 1e9 if usage else None,
        cpu_limit_cores=parse_v1_cpu_limit(quota, period) if quota and period else None,
        cpu_periods=stat.get("nr_periods"),
        cpu_throttled_periods=stat.get("nr_throttled"),
        cpu_throttled_seconds=stat["throttled_time"] / 1e9 if "throttled_time" in stat else None,
        memory_usage_bytes=usage_bytes,
        memory_working_set_bytes=working_set(usage_bytes, mem_stat.get("total_inactive_file")),
        memory_limit_bytes=parse_v1_limit_bytes(mem_limit) if mem_limit else None,
        oom_kills=oom.get("oom_kill"),
        pids=parse_pids(procs) if procs else (),
    )


def read_v2(service: str, group: Path) -> CgroupStats:
    stat = parse_flat_keyed(_read(group / "cpu.stat") or "")
    cpu_max = _read(group / "cpu.max")
    current = _read(group / "memory.current")
    mem_max = _read(group / "memory.max")
    events = parse_flat_keyed(_read(group / "memory.events") or "")
    mem_stat = parse_flat_keyed(_read(group / "memory.stat") or "")
    procs = _read(group / "cgroup.procs")
    usage_bytes = int(current) if current else None
    return CgroupStats(
        service=service,
        version=2,
        cpu_usage_seconds=stat["usage_usec"] / 1e6 if "usage_usec" in stat else None,
        cpu_limit_cores=parse_v2_cpu_max(cpu_max) if cpu_max else None,
        cpu_periods=stat.get("nr_periods"),
        cpu_throttled_periods=stat.get("nr_throttled"),
        cpu_throttled_seconds=stat["throttled_usec"] / 1e6 if "throttled_usec" in stat else None,
        memory_usage_bytes=usage_bytes,
        memory_working_set_bytes=working_set(usage_bytes, mem_stat.get("inactive_file")),
        memory_limit_bytes=parse_v2_limit_bytes(mem_max) if mem_max else None,
        oom_kills=events.get("oom_kill"),
        pids=parse_pids(procs) if procs else (),
    )


def read_service(layout: CgroupLayout, service: str) -> CgroupStats:
    dirs = layout.service_dirs(service)
    if layout.version == 1:
        return read_v1(service, dirs["cpu"], dirs["cpuacct"], dirs["memory"])
    return read_v2(service, dirs["unified"])
