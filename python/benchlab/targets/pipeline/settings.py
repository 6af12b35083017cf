"""The pipeline's own settings: where its Structured Streaming job runs and writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchlab import fields
from benchlab.fields import ConfigError


@dataclass(frozen=True)
class StreamingConfig:
    """The run config's ``streaming`` object of a pipeline target."""

    master: str  # spark://host:port
    namenode: str  # hdfs://host:port
    jar_dir: str = "/opt/benchlab/jars/spark-kafka"
    base_dir: str = "/benchlab"
    trigger_s: float = 5.0
    driver_memory: str = "512m"
    driver_host: str = "127.0.0.1"
    ready_timeout_s: float = 180.0
    drain_timeout_s: float = 300.0

    @classmethod
    def parse(cls, data: dict[str, Any], prefix: str) -> StreamingConfig:
        fields.refuse_unknown(data, prefix, cls)
        master = fields.string(data, prefix, "master")
        namenode = fields.string(data, prefix, "namenode")
        if not master.startswith("spark://"):
            raise ConfigError(
                f"{prefix}.master",
                f"{master!r} is not a spark:// URL",
                "e.g. spark://127.0.0.1:7077",
            )
        if not namenode.startswith("hdfs://"):
            raise ConfigError(
                f"{prefix}.namenode",
                f"{namenode!r} is not an hdfs:// URL",
                "e.g. hdfs://127.0.0.1:8020",
            )
        number, string = fields.number, fields.string
        return cls(
            master=master,
            namenode=namenode,
            jar_dir=string(data, prefix, "jar_dir", cls.jar_dir),
            base_dir=string(data, prefix, "base_dir", cls.base_dir),
            trigger_s=number(data, prefix, "trigger_s", minimum=0.1, maximum=600, default=5.0),
            driver_memory=string(data, prefix, "driver_memory", cls.driver_memory),
            driver_host=string(data, prefix, "driver_host", cls.driver_host),
            ready_timeout_s=number(data, prefix, "ready_timeout_s", minimum=1, default=180.0),
            drain_timeout_s=number(data, prefix, "drain_timeout_s", minimum=1, default=300.0),
        )
