"""The null target: batches are discarded on arrival; measures the load generator itself."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchlab import fields
from benchlab.sinks.base import SinkSpec
from benchlab.sinks.null import NullSink, NullSinkConfig
from benchlab.targets.base import Description, Target, TargetConfig, TargetSession

if TYPE_CHECKING:
    from benchlab.loadgen.runner import TargetRunResult


class NullSession(TargetSession):
    def stored_so_far(self, result: TargetRunResult) -> int | None:
        return None  # nothing is kept


class NullTarget(Target):
    name = "null"
    exactly_once = False
    description = Description(
        title="null (the generator alone)",
        acknowledgement="immediate: nothing is stored",
        throughput="records the generator produced and handed over per second",
        audit="none: nothing is kept (no data verdict)",
    )

    def parse(self, entry: dict[str, Any], prefix: str) -> tuple[SinkSpec, Any]:
        sink = fields.mapping(entry, prefix, "sink", required=False)
        return SinkSpec(NullSink, NullSinkConfig.parse(sink, f"{prefix}.sink")), None

    def session(self, config: TargetConfig, run_id: str, work_dir: Path) -> TargetSession:
        return NullSession(self, config, run_id, work_dir)


TARGET = NullTarget()
