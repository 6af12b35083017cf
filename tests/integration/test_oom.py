"""A process in a tiny-memory kit cgroup is OOM-killed by the kernel and the kit counts it
(benchlab_cgroup_oom_kills_total from benchlab-service-exporter)."""

from __future__ import annotations

import re
import subprocess
import time
import urllib.request
from pathlib import Path

from conftest import Lab

SERVICE = "oomtest"
CONF = Path(f"/etc/benchlab/cgroups.d/{SERVICE}.conf")


def oom_kills() -> float:
    with urllib.request.urlopen("http://127.0.0.1:9106/metrics", timeout=10) as response:
        text = response.read().decode()
    match = re.search(
        rf'^benchlab_cgroup_oom_kills_total{{host="[^"]+",service="{SERVICE}"}} (\S+)$',
        text,
        re.MULTILINE,
    )
    return float(match.group(1)) if match else 0.0


def test_tiny_cgroup_oom_kill_is_counted(lab: Lab) -> None:
    CONF.write_text(
        f"SERVICE={SERVICE}\nCPU_PERIOD_US=100000\nCPU_QUOTA_US=50000\n"
        f"MEMORY_LIMIT_BYTES={64 * 1024 * 1024}\n"
    )
    try:
        subprocess.run(["/usr/local/sbin/benchlab-cgsetup"], check=True, capture_output=True)
        before = oom_kills()
        hog = subprocess.run(
            ["/usr/local/bin/benchlab-cgexec", SERVICE, "--", "/usr/bin/python3", "-c",
             "b = bytearray(512 * 1024 * 1024); print(len(b))"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert hog.returncode == -9, f"expected SIGKILL by the OOM killer, got {hog}"
        deadline = time.monotonic() + 10
        while oom_kills() < before + 1 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert oom_kills() >= before + 1
    finally:
        CONF.unlink(missing_ok=True)
        for controller in ("cpu", "cpuacct", "memory"):
            group = Path(f"/sys/fs/cgroup/{controller}/benchlab/{SERVICE}")
            if group.exists():
                group.rmdir()
        v2 = Path(f"/sys/fs/cgroup/benchlab/{SERVICE}")
        if v2.exists():
            v2.rmdir()
