"""spark-submit command line for the streaming job (client mode, driver on the load generator).

The Kafka connector is not in pyspark: its four jars (spark-sql-kafka-0-10, the token
provider, kafka-clients, commons-pool2; jars/spark-kafka.yml) are passed with ``--jars``
from the directory roles/artifacts filled (/opt/benchlab/jars/spark-kafka).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

JOB_FILE = Path(__file__).with_name("job.py")
CONNECTOR_JARS = (
    "spark-sql-kafka-0-10_2.13",
    "spark-token-provider-kafka-0-10_2.13",
    "kafka-clients",
    "commons-pool2",
)


def connector_jars(jar_dir: str | Path) -> list[str]:
    """The four connector jars in jar_dir, in CONNECTOR_JARS order; error if one is missing."""
    jars = sorted(Path(jar_dir).glob("*.jar"))
    out: list[str] = []
    for prefix in CONNECTOR_JARS:
        pattern = re.escape(prefix) + r"-[0-9][^/]*[.]jar"
        found = [j for j in jars if re.fullmatch(pattern, j.name)]
        if len(found) != 1:
            raise FileNotFoundError(
                f"expected one {prefix}-<version>.jar in {jar_dir}, found {len(found)}; "
                "run playbooks/pipeline.yml (roles/artifacts)"
            )
        out.append(str(found[0]))
    return out


def spark_home() -> str:
    import pyspark

    return os.path.dirname(pyspark.__file__)


@dataclass(frozen=True)
class SubmitSpec:
    run_id: str
    master: str = "spark://127.0.0.1:7077"
    namenode: str = "hdfs://127.0.0.1:8020"
    bootstrap: str = "127.0.0.1:9092"
    topic: str = "benchlab-events"
    base_dir: str = "/benchlab"
    progress_file: str = "progress.jsonl"
    jars: Sequence[str] = ()
    driver_host: str = "127.0.0.1"
    driver_memory: str = "512m"
    trigger_s: float = 5.0
    spark_home: str = ""
    conf_dir: str = "/etc/benchlab/spark"
    job_args: Sequence[str] = ()
    conf: Mapping[str, str] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return f"{self.namenode.rstrip('/')}{self.base_dir}/{self.run_id}"

    @property
    def checkpoint(self) -> str:
        return f"{self.namenode.rstrip('/')}{self.base_dir}/_checkpoints/{self.run_id}"


def build_command(spec: SubmitSpec) -> list[str]:
    """The full spark-submit argv."""
    if not spec.jars:
        raise ValueError("the Kafka connector jars are required (--jars)")
    home = spec.spark_home or spark_home()
    conf = {
        "spark.driver.host": spec.driver_host,
        "spark.driver.bindAddress": spec.driver_host,
        # No driver web UI: nothing reads it, and Spark would bind it to SPARK_LOCAL_IP, or to
        # every interface where that is unset (docs/security.md).
        "spark.ui.enabled": "false",
        "spark.sql.streaming.metricsEnabled": "true",
        "spark.sql.shuffle.partitions": "2",
        **dict(spec.conf),
    }
    cmd = [
        f"{home}/bin/spark-submit",
        "--master", spec.master,
        "--deploy-mode", "client",
        "--name", f"benchlab-streaming-{spec.run_id}",
        "--driver-memory", spec.driver_memory,
        "--jars", ",".join(spec.jars),
    ]  # fmt: skip
    for key in sorted(conf):
        cmd += ["--conf", f"{key}={conf[key]}"]
    cmd += [
        str(JOB_FILE),
        "--run-id", spec.run_id,
        "--bootstrap", spec.bootstrap,
        "--topic", spec.topic,
        "--output", spec.output,
        "--checkpoint", spec.checkpoint,
        "--progress-file", spec.progress_file,
        "--trigger-s", str(spec.trigger_s),
        *spec.job_args,
    ]  # fmt: skip
    return cmd


def submit_env(spec: SubmitSpec, base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.setdefault("SPARK_CONF_DIR", spec.conf_dir)
    env["PYSPARK_PYTHON"] = sys.executable
    env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    return env


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="benchlab-streaming-submit", description=__doc__.split("\n")[0]
    )
    p.add_argument("--run-id", required=True)
    p.add_argument("--master", default="spark://127.0.0.1:7077")
    p.add_argument("--namenode", default="hdfs://127.0.0.1:8020")
    p.add_argument("--bootstrap", default="127.0.0.1:9092")
    p.add_argument("--topic", default="benchlab-events")
    p.add_argument("--jar-dir", default="/opt/benchlab/jars/spark-kafka")
    p.add_argument("--progress-file", required=True)
    p.add_argument("--trigger-s", type=float, default=5.0)
    p.add_argument("--driver-host", default="127.0.0.1")
    p.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    p.add_argument("job_args", nargs=argparse.REMAINDER, help="extra job arguments after --")
    a = p.parse_args(argv)
    extra = a.job_args[1:] if a.job_args[:1] == ["--"] else a.job_args
    spec = SubmitSpec(
        run_id=a.run_id, master=a.master, namenode=a.namenode, bootstrap=a.bootstrap,
        topic=a.topic, progress_file=a.progress_file, jars=connector_jars(a.jar_dir),
        driver_host=a.driver_host, trigger_s=a.trigger_s, job_args=extra,
    )  # fmt: skip
    cmd = build_command(spec)
    if a.dry_run:
        print(shlex.join(cmd))
        return 0
    return subprocess.call(cmd, env=submit_env(spec))


if __name__ == "__main__":
    sys.exit(main())
