"""The null target: batches are discarded on arrival; measures the load generator itself."""

from __future__ import annotations

from typing import Any

from benchlab import fields
from benchlab.sinks.base import SinkSpec
from benchlab.sinks.null import NullSink, NullSinkConfig
from benchlab.targets.base import Description, Target


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


TARGET = NullTarget()
