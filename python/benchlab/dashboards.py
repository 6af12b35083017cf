"""Grafana dashboards as code, built with grafana-foundation-sdk from the metric catalogue.

Every panel query is a figure of benchlab.metrics (RANGE_QUERIES, INCREASE_QUERIES: what the
report reads) or of benchlab.system_metrics, named here and never rewritten: the only change is
that each metric selector gets the dashboard's template variables as label matchers
(`scoped`), and the rate window becomes Grafana's $__rate_interval.

The generated JSON is committed under dashboards/ (the grafana role provisions it); a unit
test checks it equals what this module builds. Regenerate with

    PYTHONPATH=python python -m benchlab.dashboards --out dashboards/
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchlab.metrics import INCREASE_QUERIES, RANGE_QUERIES, RATE, increase_query
from benchlab.system_metrics import SYSTEM_QUERIES

# The catalogue's names -> PromQL (rate window: RATE).
CATALOGUE: dict[str, str] = {**RANGE_QUERIES, **SYSTEM_QUERIES}
DATASOURCE_VAR = "datasource"
RATE_INTERVAL = "$__rate_interval"
RANGE = "$__range"
# An "All" selection of a variable is this regex (so `label=~"$var"` matches every value).
ALL_VALUE = ".*"
# Metric name prefixes of the kit's exporters -> the template variables their selectors get.
# Only the kit's own per-service series carry `service` with the kit's service names
# (hadoop_jvm_* has a `service` label too, with Hadoop's NameNode/DataNode: not scoped).
_SCOPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("benchlab_cgroup_", ("host", "service")),
    ("benchlab_service_", ("host", "service")),
    ("benchlab_loadgen_", ("target",)),
    ("", ("host",)),
)
_METRIC = re.compile(
    r"\b((?:benchlab|node|pg|kafka|hadoop|spark|jvm)_[A-Za-z0-9_:]*)(\{[^}]*\})?(?![A-Za-z0-9_(])"
)


def scoped(query: str) -> str:
    """`query` with each exporter metric's selector narrowed to the template variables,
    e.g. `rate(benchlab_cgroup_cpu_usage_seconds_total[...])` ->
    `rate(benchlab_cgroup_cpu_usage_seconds_total{host=~"$host",service=~"$service"}[...])`."""

    def narrow(match: re.Match[str]) -> str:
        name, braces = match.group(1), match.group(2)
        variables = next(v for prefix, v in _SCOPES if name.startswith(prefix))
        matchers = [m for m in (braces or "{}")[1:-1].split(",") if m.strip()]
        matchers += [f'{v}=~"${v}"' for v in variables]
        return f"{name}{{{','.join(matchers)}}}"

    return _METRIC.sub(narrow, query)


def panel_expr(name: str) -> str:
    """The catalogue figure `name` as a Grafana query (scoped, Grafana's own windows)."""
    if name in CATALOGUE:
        return scoped(CATALOGUE[name].replace(RATE, RATE_INTERVAL))
    if name in INCREASE_QUERIES:
        return scoped(increase_query(INCREASE_QUERIES[name], RANGE))
    known = ", ".join(sorted([*CATALOGUE, *INCREASE_QUERIES]))
    raise KeyError(
        f"dashboard figure {name!r}: not in the metric catalogue (benchlab.metrics, "
        f"benchlab.system_metrics); add its PromQL there or use one of: {known}"
    )


# -- what the dashboards show -------------------------------------------------------------
@dataclass(frozen=True)
class Figure:
    name: str  # a CATALOGUE or INCREASE_QUERIES name
    legend: str
    limit: bool = False  # a limit or quota: drawn as a dashed line, not filled


@dataclass(frozen=True)
class PanelSpec:
    title: str
    unit: str
    figures: tuple[Figure, ...]
    description: str
    stat: bool = False  # a single figure over the time range, not a time series
    width: int = 8


@dataclass(frozen=True)
class RowSpec:
    title: str
    panels: tuple[PanelSpec, ...]
    repeat: str | None = None  # a template variable: one copy of the row per value


@dataclass(frozen=True)
class DashboardSpec:
    uid: str
    title: str
    description: str
    variables: tuple[tuple[str, str, str], ...]  # (name, label, label_values() query)
    rows: tuple[RowSpec, ...]
    tags: tuple[str, ...] = field(default=("benchlab",))


def _f(name: str, legend: str, limit: bool = False) -> Figure:
    return Figure(name, legend, limit)


HOST_VAR = ("host", "host", "label_values(up, host)")
SERVICE_VAR = (
    "service",
    "limited service",
    'label_values(benchlab_cgroup_cpu_limit_cores{host=~"$host"}, service)',
)
TARGET_VAR = ("target", "target", "label_values(benchlab_loadgen_records_sent_total, target)")

_SVC = "{{service}}@{{host}}"
_HOST = "{{host}}"
_JVM = "{{job}}@{{host}}"

LOAD_AND_SERVICES = DashboardSpec(
    uid="benchlab-services",
    title="benchlab: load and limited services",
    description=(
        "The load generator's rate and latency per target, and each limited service's CPU "
        "and memory against its cgroup limit, throttling, OOM kills and restarts (the "
        "report's figures, live)."
    ),
    variables=(HOST_VAR, TARGET_VAR, SERVICE_VAR),
    rows=(
        RowSpec(
            "Load generator",
            (
                PanelSpec(
                    "Records per second",
                    "short",
                    (
                        _f("loadgen_sent_per_s", "sent {{target}}"),
                        _f("loadgen_acked_per_s", "acknowledged {{target}}"),
                    ),
                    "Records sent and acknowledged per second by the generator, per target.",
                ),
                PanelSpec(
                    "Acknowledgement latency",
                    "s",
                    (
                        _f("loadgen_ack_latency_p50_seconds", "p50 {{target}}"),
                        _f("loadgen_ack_latency_p95_seconds", "p95 {{target}}"),
                        _f("loadgen_ack_latency_p99_seconds", "p99 {{target}}"),
                    ),
                    "From each batch's scheduled time to its acknowledgement (open loop: "
                    "a late batch's wait counts), from the generator's histogram.",
                ),
                PanelSpec(
                    "Errors and late batches per second",
                    "short",
                    (
                        _f("loadgen_errors_per_s", "{{kind}} {{target}}"),
                        _f("loadgen_batches_late_per_s", "late batches {{target}}"),
                    ),
                    "Failed batches by kind, and batches sent after their scheduled time.",
                ),
            ),
        ),
        RowSpec(
            "Service $service",
            (
                PanelSpec(
                    "CPU against its quota",
                    "short",
                    (
                        _f("service_cpu_cores", f"used {_SVC}"),
                        _f("service_cpu_limit_cores", f"quota {_SVC}", limit=True),
                    ),
                    "Cores used by the service's cgroup and its CPU quota (cores).",
                    width=6,
                ),
                PanelSpec(
                    "CPU throttling",
                    "percentunit",
                    (_f("service_throttled_ratio", _SVC),),
                    "Share of CFS periods in which the cgroup was throttled at its quota.",
                    width=6,
                ),
                PanelSpec(
                    "Memory against its limit",
                    "bytes",
                    (
                        _f("service_memory_working_set_bytes", f"working set {_SVC}"),
                        _f("service_memory_limit_bytes", f"limit {_SVC}", limit=True),
                    ),
                    "Working set (usage less inactive file cache: what the OOM killer "
                    "weighs) and the cgroup's memory limit.",
                    width=6,
                ),
                PanelSpec(
                    "OOM kills and restarts",
                    "short",
                    (
                        _f("oom_kills", f"OOM kills {_SVC}"),
                        _f("restarts", f"restarts {_SVC}"),
                    ),
                    "OOM kills in the cgroup and restarts by the kit's supervisord over the "
                    "dashboard's time range (the report counts them over the run).",
                    stat=True,
                    width=6,
                ),
            ),
            repeat="service",
        ),
        RowSpec(
            "Hosts",
            (
                PanelSpec(
                    "Busy CPU cores",
                    "short",
                    (_f("node_cpu_busy_cores", _HOST),),
                    "Cores busy (not idle, not waiting for I/O) per host.",
                ),
                PanelSpec(
                    "Disk I/O",
                    "Bps",
                    (
                        _f("node_disk_write_bytes_per_s", f"write {_HOST}"),
                        _f("node_disk_read_bytes_per_s", f"read {_HOST}"),
                    ),
                    "Bytes written and read per second, all disks of the host.",
                ),
                PanelSpec(
                    "Network I/O",
                    "Bps",
                    (
                        _f("node_network_rx_bytes_per_s", f"received {_HOST}"),
                        _f("node_network_tx_bytes_per_s", f"sent {_HOST}"),
                    ),
                    "Bytes received and sent per second, all interfaces of the host.",
                ),
            ),
        ),
    ),
)

SYSTEMS = DashboardSpec(
    uid="benchlab-systems",
    title="benchlab: PostgreSQL, Kafka, HDFS, Spark",
    description=(
        "The systems under test from their own exporters: PostgreSQL commits and checkpoint "
        "writes, Kafka, HDFS and Spark figures, and every JVM's heap, GC and threads."
    ),
    variables=(HOST_VAR,),
    rows=(
        RowSpec(
            "PostgreSQL",
            (
                PanelSpec(
                    "Transactions per second",
                    "short",
                    (
                        _f("postgresql_commits_per_s", "commits {{datname}}@{{host}}"),
                        _f("postgresql_rollbacks_per_s", "rollbacks {{datname}}@{{host}}"),
                    ),
                    "Commits and rollbacks per second, per database.",
                ),
                PanelSpec(
                    "Rows inserted per second",
                    "short",
                    (_f("postgresql_rows_inserted_per_s", "{{datname}}@{{host}}"),),
                    "Rows inserted per second, per database.",
                ),
                PanelSpec(
                    "Database size",
                    "bytes",
                    (_f("postgresql_database_bytes", "{{datname}}@{{host}}"),),
                    "On-disk size per database.",
                ),
                PanelSpec(
                    "Checkpoints per second (WAL pressure)",
                    "short",
                    (
                        _f("postgresql_checkpoints_timed_per_s", f"timed {_HOST}"),
                        _f("postgresql_checkpoints_requested_per_s", f"requested {_HOST}"),
                    ),
                    "Checkpoints started by checkpoint_timeout (timed) or requested, mostly "
                    "because WAL reached max_wal_size. The Debian exporter exports no WAL "
                    "figure for a server without replicas; these are its closest.",
                    width=12,
                ),
                PanelSpec(
                    "Buffers written",
                    "Bps",
                    (
                        _f("postgresql_checkpoint_write_bytes_per_s", f"checkpoints {_HOST}"),
                        _f("postgresql_backend_write_bytes_per_s", f"backends {_HOST}"),
                    ),
                    "Bytes of shared buffers written per second by checkpoints and by "
                    "backends themselves (a backend writing means the writers fell behind).",
                    width=12,
                ),
            ),
        ),
        RowSpec(
            "Kafka",
            (
                PanelSpec(
                    "Messages in per second",
                    "short",
                    (_f("kafka_messages_in_per_s", _HOST),),
                    "Messages appended per second, all topics of the broker.",
                ),
                PanelSpec(
                    "Bytes in and out",
                    "Bps",
                    (
                        _f("kafka_bytes_in_per_s", f"in {_HOST}"),
                        _f("kafka_bytes_out_per_s", f"out {_HOST}"),
                    ),
                    "Bytes per second from producers and to consumers (Spark's reads).",
                ),
                PanelSpec(
                    "Produce request time",
                    "ms",
                    (_f("kafka_produce_time_ms", "{{quantile}} {{host}}"),),
                    "Produce requests' total time in the broker, median and 99th percentile "
                    "(the broker's own sliding histogram).",
                ),
                PanelSpec(
                    "Failed produces and under-replicated partitions",
                    "short",
                    (
                        _f("kafka_failed_produce_per_s", f"failed produces/s {_HOST}"),
                        _f("kafka_under_replicated_partitions", f"under-replicated {_HOST}"),
                        _f("kafka_request_queue", f"request queue {_HOST}"),
                    ),
                    "Produce requests failed per second, partitions missing a replica, and "
                    "requests waiting in the broker's queue.",
                ),
                PanelSpec(
                    "Log size",
                    "bytes",
                    (_f("kafka_log_bytes", "{{topic}}@{{host}}"),),
                    "Bytes on disk per topic (all partitions).",
                ),
            ),
        ),
        RowSpec(
            "HDFS",
            (
                PanelSpec(
                    "DataNode writes",
                    "Bps",
                    (_f("hdfs_datanode_written_bytes_per_s", _HOST),),
                    "Bytes written per second by each DataNode.",
                ),
                PanelSpec(
                    "DataNode write-block time",
                    "ms",
                    (_f("hdfs_datanode_write_block_avg_ms", _HOST),),
                    "Average time of a DataNode's write-block operations.",
                ),
                PanelSpec(
                    "Capacity",
                    "bytes",
                    (
                        _f("hdfs_namenode_capacity_used_bytes", f"used {_HOST}"),
                        _f("hdfs_namenode_capacity_remaining_bytes", f"remaining {_HOST}"),
                    ),
                    "Cluster capacity used and remaining, as the NameNode sees it.",
                ),
                PanelSpec(
                    "DataNodes",
                    "short",
                    (
                        _f("hdfs_namenode_live_datanodes", f"live {_HOST}"),
                        _f("hdfs_namenode_dead_datanodes", f"dead {_HOST}"),
                    ),
                    "Live and dead DataNodes registered with the NameNode.",
                ),
                PanelSpec(
                    "Files and blocks",
                    "short",
                    (
                        _f("hdfs_namenode_files", f"files {_HOST}"),
                        _f("hdfs_namenode_blocks", f"blocks {_HOST}"),
                        _f("hdfs_namenode_under_replicated_blocks", f"under-replicated {_HOST}"),
                    ),
                    "Files and blocks in the namespace, and blocks below their replication.",
                ),
                PanelSpec(
                    "NameNode RPC time",
                    "ms",
                    (_f("hdfs_namenode_rpc_processing_avg_ms", _HOST),),
                    "Average processing time of the NameNode's RPC calls.",
                ),
            ),
        ),
        RowSpec(
            "Spark standalone",
            (
                PanelSpec(
                    "Workers and applications",
                    "short",
                    (
                        _f("spark_master_alive_workers", f"alive workers {_HOST}"),
                        _f("spark_master_apps", f"applications {_HOST}"),
                        _f("spark_master_waiting_apps", f"waiting {_HOST}"),
                    ),
                    "Workers alive and applications running or waiting, from the master.",
                ),
                PanelSpec(
                    "Worker cores",
                    "short",
                    (
                        _f("spark_worker_cores_used", f"used {_HOST}"),
                        _f("spark_worker_cores_free", f"free {_HOST}"),
                        _f("spark_worker_executors", f"executors {_HOST}"),
                    ),
                    "Cores the workers gave to executors and cores left; executors running.",
                ),
                PanelSpec(
                    "Worker memory given to executors",
                    "bytes",
                    (_f("spark_worker_memory_used_bytes", _HOST),),
                    "Memory the workers assigned to executors.",
                ),
            ),
        ),
        RowSpec(
            "JVMs (Kafka, HDFS, Spark)",
            (
                PanelSpec(
                    "Heap against its maximum",
                    "bytes",
                    (
                        _f("jvm_heap_used_bytes", f"used {_JVM}"),
                        _f("jvm_heap_max_bytes", f"max {_JVM}", limit=True),
                    ),
                    "Heap used and the heap's maximum, per JVM (job) and host.",
                ),
                PanelSpec(
                    "GC time",
                    "percentunit",
                    (_f("jvm_gc_seconds_per_s", _JVM),),
                    "Share of wall time spent in garbage collection, per JVM.",
                ),
                PanelSpec(
                    "Threads",
                    "short",
                    (_f("jvm_threads", _JVM),),
                    "Live threads per JVM.",
                ),
            ),
        ),
    ),
)

DASHBOARDS: tuple[DashboardSpec, ...] = (LOAD_AND_SERVICES, SYSTEMS)


# -- building with grafana-foundation-sdk -------------------------------------------------
def _datasource() -> Any:
    from grafana_foundation_sdk.models.dashboard import DataSourceRef

    return DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VAR}}}")


def _panel(spec: PanelSpec, panel_id: int) -> Any:
    from grafana_foundation_sdk.builders import common, prometheus, stat, timeseries
    from grafana_foundation_sdk.models.common import LegendDisplayMode, LegendPlacement
    from grafana_foundation_sdk.models.dashboard import DynamicConfigValue, GridPos

    builder: Any = stat.Panel() if spec.stat else timeseries.Panel()
    builder = (
        builder.id(panel_id)
        .title(spec.title)
        .description(spec.description)
        .datasource(_datasource())
        .unit(spec.unit)
        .grid_pos(GridPos(h=8, w=spec.width))
    )
    if spec.stat:
        builder = builder.reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
    else:
        builder = builder.min(0).legend(
            common.VizLegendOptions()
            .display_mode(LegendDisplayMode.LIST)
            .placement(LegendPlacement.BOTTOM)
            .show_legend(True)
        )
    for index, figure in enumerate(spec.figures):
        ref = chr(ord("A") + index)
        query = (
            prometheus.Dataquery()
            .expr(panel_expr(figure.name))
            .legend_format(figure.legend)
            .ref_id(ref)
            .datasource(_datasource())
        )
        # a stat's figure is over the whole time range ($__range): one evaluation, at the end
        builder = builder.with_target(query.instant() if spec.stat else query.range())
        if figure.limit:
            builder = builder.override_by_query(
                ref,
                [
                    DynamicConfigValue("custom.lineStyle", {"fill": "dash", "dash": [10, 10]}),
                    DynamicConfigValue("custom.fillOpacity", 0),
                ],
            )
    return builder


def _variable(name: str, label: str, query: str) -> Any:
    from grafana_foundation_sdk.builders.dashboard import QueryVariable
    from grafana_foundation_sdk.models.dashboard import VariableRefresh, VariableSort

    return (
        QueryVariable(name)
        .id(name)  # Grafana keys variables by id: the SDK's default is the same for all
        .label(label)
        .query(query)
        .datasource(_datasource())
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(ALL_VALUE)
    )


def build(spec: DashboardSpec) -> dict[str, Any]:
    """The dashboard's JSON model (a dict, as Grafana's provisioning reads it)."""
    from grafana_foundation_sdk.builders.dashboard import Dashboard, DatasourceVariable, Row
    from grafana_foundation_sdk.cog.encoder import JSONEncoder

    dashboard = (
        Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags(list(spec.tags))
        .editable()
        .refresh("10s")
        .time("now-30m", "now")
        .timezone("browser")
        .with_variable(
            DatasourceVariable(DATASOURCE_VAR)
            .id(DATASOURCE_VAR)
            .label("Prometheus")
            .type("prometheus")
        )
    )
    for variable in spec.variables:
        dashboard = dashboard.with_variable(_variable(*variable))
    panel_id = 0
    for row in spec.rows:
        panel_id += 1
        row_builder = Row(row.title).id(panel_id)
        if row.repeat:
            row_builder = row_builder.repeat(row.repeat)
        dashboard = dashboard.with_row(row_builder)
        for panel in row.panels:
            panel_id += 1
            dashboard = dashboard.with_panel(_panel(panel, panel_id))
    encoded: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True).encode(dashboard.build()))
    return encoded


def render() -> dict[str, str]:
    """File name -> the JSON text committed under dashboards/."""
    return {
        f"{spec.uid}.json": json.dumps(build(spec), indent=2, sort_keys=True) + "\n"
        for spec in DASHBOARDS
    }


def panel_queries(dashboard: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) of every query in a dashboard JSON model, rows included."""
    for panel in dashboard.get("panels", []):
        yield from panel_queries(panel)
        for target in panel.get("targets", []):
            yield panel.get("title", "?"), target["expr"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchlab.dashboards",
        description="Write the Grafana dashboards (JSON) built from the metric catalogue.",
    )
    parser.add_argument("--out", type=Path, default=Path("dashboards"), help="directory")
    parser.add_argument(
        "--check", action="store_true", help="only compare: exit 1 if a file differs"
    )
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = args.out / name
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
            continue
        args.out.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    if stale:
        print(
            f"dashboards out of date: {', '.join(stale)}; regenerate with "
            f"PYTHONPATH=python python -m benchlab.dashboards --out {args.out}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
