"""PostgreSQL as the store: one transaction per batch, acknowledged on commit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from benchlab import fields
from benchlab.sinks.base import SinkSpec
from benchlab.sinks.postgres import PostgresSink, PostgresSinkConfig
from benchlab.targets.base import Description, Target, TargetConfig

if TYPE_CHECKING:
    from benchlab.loadgen.runner import TargetRunResult


class PostgresqlTarget(Target):
    name = "postgresql"
    description = Description(
        title="PostgreSQL",
        acknowledgement="the batch's commit (one transaction per batch)",
        throughput="records committed per second",
        audit="counts the run's rows per acknowledged seq range in the table itself",
    )

    def parse(self, entry: dict[str, Any], prefix: str) -> tuple[SinkSpec, Any]:
        sink = fields.mapping(entry, prefix, "sink")
        return SinkSpec(PostgresSink, PostgresSinkConfig.parse(sink, f"{prefix}.sink")), None

    def preflight(self, config: TargetConfig) -> None:
        config.sink.config.read_password()
        super().preflight(config)

    def audit(self, config: TargetConfig, run_id: str, result: TargetRunResult) -> dict[str, Any]:
        from benchlab.targets.postgresql.audit import audit_postgres

        return audit_postgres(config.name, config.sink.config, run_id, result.acked).as_dict()


TARGET = PostgresqlTarget()
