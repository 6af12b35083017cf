"""benchlab-service-exporter: per-service cgroup and supervisor metrics for Prometheus.

Metric names are fixed by docs/architecture.md ("Metrics names"); every sample has the
labels ``service`` and ``host``. Configuration (YAML, written by the benchlab role):

    host: localhost                  # value of the host label
    listen_address: 127.0.0.1
    port: 9106
    cgroup_env: /etc/benchlab/cgroup.env
    restart_log: /var/log/benchlab/restarts.log
    supervisor_config: <path>        # required: Ansible's benchlab_supervisor_conf
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from prometheus_client import start_http_server
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from benchlab import cgroups, restarts

STATUS_LINE = re.compile(r"^(\S+)\s+([A-Z]+)\b")


@dataclass(frozen=True)
class ExporterConfig:
    host: str = "localhost"
    listen_address: str = "127.0.0.1"
    port: int = 9106
    cgroup_env: str = "/etc/benchlab/cgroup.env"
    restart_log: str = "/var/log/benchlab/restarts.log"
    # The kit supervisord's config file: its one definition is benchlab_supervisor_conf
    # (group_vars/all/kit.yml), which the benchlab role writes into this exporter's config.
    supervisor_config: str = ""

    @classmethod
    def load(cls, path: str | Path) -> ExporterConfig:
        data = yaml.safe_load(Path(path).read_text()) or {}
        if not data.get("supervisor_config"):
            raise ValueError(
                f"{path}: supervisor_config is missing; fix: run site.yml, which writes it "
                "from benchlab_supervisor_conf"
            )
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "port" in known:
            known["port"] = int(known["port"])
        return cls(**known)


def count_restarts(lines: Iterable[str]) -> Counter[str]:
    """Unexpected exits per program from the restart listener's log.

    Only exit lines count: `event=exit`, or no `event=` (the format before the listener
    also recorded recoveries); `event=running` / `ready` / `fatal` lines follow an exit.
    """
    counts: Counter[str] = Counter()
    for parsed in map(restarts.parse_line, lines):
        if parsed is not None and parsed.is_exit:
            counts[parsed.fields["service"]] += 1
    return counts


def parse_supervisor_status(text: str) -> dict[str, str]:
    """`supervisorctl status` output -> {program: STATE}."""
    states: dict[str, str] = {}
    for line in text.splitlines():
        match = STATUS_LINE.match(line)
        if match:
            name = match.group(1).split(":")[-1]
            states[name] = match.group(2)
    return states


# (CgroupStats field, metric kind, metric name, help) for every per-service cgroup metric
# (docs/architecture.md). Counter names get their _total suffix from prometheus-client.
CGROUP_METRICS = (
    ("cpu_usage_seconds", "counter", "benchlab_cgroup_cpu_usage_seconds",
     "CPU time used by the service cgroup"),
    ("cpu_limit_cores", "gauge", "benchlab_cgroup_cpu_limit_cores", "CFS quota / period (cores)"),
    ("cpu_throttled_periods", "counter", "benchlab_cgroup_cpu_throttled_periods",
     "CFS periods in which the group was throttled"),
    ("cpu_periods", "counter", "benchlab_cgroup_cpu_periods", "CFS periods with runnable tasks"),
    ("cpu_throttled_seconds", "counter", "benchlab_cgroup_cpu_throttled_seconds",
     "Time the group spent throttled"),
    ("memory_usage_bytes", "gauge", "benchlab_cgroup_memory_usage_bytes",
     "Memory charged to the group"),
    ("memory_working_set_bytes", "gauge", "benchlab_cgroup_memory_working_set_bytes",
     "Memory charged to the group minus inactive page cache"),
    ("memory_limit_bytes", "gauge", "benchlab_cgroup_memory_limit_bytes",
     "Memory limit of the group"),
    ("oom_kills", "counter", "benchlab_cgroup_oom_kills", "Processes OOM-killed in the group"),
)  # fmt: skip


class ServiceCollector(Collector):
    def __init__(self, config: ExporterConfig) -> None:
        self.config = config

    def _supervisor_states(self) -> dict[str, str]:
        try:
            done = subprocess.run(
                ["supervisorctl", "-c", self.config.supervisor_config, "status"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return {}
        return parse_supervisor_status(done.stdout)

    def _restarts(self) -> Counter[str]:
        try:
            with open(self.config.restart_log, encoding="utf-8", errors="replace") as log:
                return count_restarts(log)
        except OSError:
            return Counter()

    def collect(self) -> Iterator[Metric]:
        labels = ["service", "host"]
        host = self.config.host

        def gauge(name: str, doc: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=labels)

        def counter(name: str, doc: str) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, labels=labels)

        # One family per CgroupStats field; a service contributes only the values its kernel
        # provides (None is skipped, never exported as 0).
        families = [
            (field, (counter if kind == "counter" else gauge)(name, doc))
            for field, kind, name, doc in CGROUP_METRICS
        ]
        restarts = counter(
            "benchlab_service_restarts", "Unexpected exits restarted by the kit supervisord"
        )
        up = gauge("benchlab_service_up", "1 while supervisord reports the program RUNNING")

        layout = cgroups.layout_from_env(self.config.cgroup_env)
        for service in layout.services():
            stats = cgroups.read_service(layout, service)
            for field, family in families:
                value = getattr(stats, field)
                if value is not None:
                    family.add_metric([service, host], value)

        states = self._supervisor_states()
        counts = self._restarts()
        for program in sorted(set(states) | set(counts)):
            restarts.add_metric([program, host], counts.get(program, 0))
        for program, state in sorted(states.items()):
            up.add_metric([program, host], 1.0 if state == "RUNNING" else 0.0)

        yield from (family for _, family in families)
        yield from (restarts, up)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="benchlab-service-exporter",
        description="Per-service cgroup and supervisor metrics for Prometheus",
    )
    parser.add_argument("--config", default="/etc/benchlab/service-exporter.yml")
    args = parser.parse_args(argv)
    try:
        config = ExporterConfig.load(args.config)
    except (OSError, yaml.YAMLError, TypeError, ValueError) as exc:
        print(f"benchlab-service-exporter: bad config {args.config}: {exc}", file=sys.stderr)
        return 2
    REGISTRY.register(ServiceCollector(config))
    start_http_server(config.port, addr=config.listen_address)
    print(
        f"benchlab-service-exporter: serving on {config.listen_address}:{config.port}",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
