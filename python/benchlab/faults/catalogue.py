"""The faults the matrix can inject: one place for what each one loads, hits and expects.

A fault names the bench.yml target it loads, the inventory group whose first host is the
victim, the action (actions.py builds its shell command) and how the kit recovers from it.
"""

from __future__ import annotations

from dataclasses import dataclass

# kinds of action (actions.py)
KILL = "kill"  # kill -9 of a supervisord program's process
DRIVER = "driver"  # kill -9 of the streaming driver's process group, found by the run id
OOM = "oom"  # the service's cgroup memory limit tightened until the kernel OOM-kills in it
PARTITION = "partition"  # a virtual-lab node's link down, then up
DISK_FULL = "disk_full"  # the run's PostgreSQL table on a small filesystem, filled, then freed

ALL = "all"

# How long a partition and a full disk last, and the disk's size: the actions (actions.py) and
# the catalogue's words below read them here.
PARTITION_S = 30
DISK_FULL_MIB = 256
DISK_FULL_S = 20


@dataclass(frozen=True)
class Fault:
    name: str
    target: str  # bench.yml -e target
    group: str  # inventory group; its first host is the victim
    kind: str
    action: str  # what is done, for the report
    recovery: str  # what brings the service back
    program: str | None = None  # supervisord program (and kit cgroup for OOM)
    virtual_only: bool = False  # needs the virtual lab's veth links (roles/virtual_lab)
    # the kit's settings that decide whether acknowledged records survive this fault: named
    # in the report when they did not
    settings: str = ""
    # bench.yml variables of this fault's run (e.g. the table its load writes to)
    extravars: tuple[tuple[str, str], ...] = ()


CATALOGUE: tuple[Fault, ...] = (
    Fault(
        "postgresql_kill", "postgresql", "postgresql", KILL,
        "kill -9 of the PostgreSQL postmaster", "supervisord (autorestart), crash recovery",
        "postgresql",
    ),
    Fault(
        "kafka_kill", "pipeline", "kafka", KILL,
        "kill -9 of the Kafka broker", "supervisord (autorestart); the producer retries",
        "kafka",
    ),
    Fault(
        "namenode_kill", "pipeline", "hdfs_namenode", KILL,
        "kill -9 of the HDFS NameNode", "supervisord (autorestart)", "hdfs-namenode",
    ),
    Fault(
        "datanode_kill", "pipeline", "hdfs_datanodes", KILL,
        "kill -9 of an HDFS DataNode", "supervisord (autorestart)", "hdfs-datanode",
    ),
    Fault(
        "spark_worker_kill", "pipeline", "spark_workers", KILL,
        "kill -9 of a Spark worker", "supervisord (autorestart)", "spark-worker",
    ),
    Fault(
        "spark_master_kill", "pipeline", "spark_master", KILL,
        "kill -9 of the Spark master",
        "supervisord (autorestart); the master recovers the job from spark_data_dir/recovery",
        "spark-master",
        settings="spark.deploy.recoveryMode (roles/spark: spark_master_recovery_mode, "
        "FILESYSTEM by default): with NONE the restarted master forgets the running "
        "application, the worker kills its executors, and the job waits for executors that "
        "never come: alive, not committing",
    ),
    Fault(
        "driver_kill", "pipeline", "loadgen", DRIVER,
        "kill -9 of the streaming driver (spark-submit and its Python job)",
        "the pipeline session, from the run's checkpoint",
    ),
    Fault(
        "postgresql_oom", "postgresql", "postgresql", OOM,
        "OOM kill: the postgresql cgroup's memory limit lowered to what it cannot reclaim",
        "the limit put back; supervisord or the postmaster's own crash recovery",
        "postgresql",
    ),
    Fault(
        "postgresql_disk_full", "postgresql", "postgresql", DISK_FULL,
        f"disk full: the run's table, in a tablespace on a {DISK_FULL_MIB} MiB tmpfs, filled to "
        f"the last block for {DISK_FULL_S} s, then the space freed (WAL and catalog stay on the "
        "data volume)",
        "space freed; the load's next batches commit", "postgresql",
        extravars=(("benchlab_run_pg_table", "events_disk_full"),),
    ),
    Fault(
        "partition", "pipeline", "spark_workers", PARTITION,
        f"worker1's link down for {PARTITION_S} s, then up (generator on master)",
        "the link back; HDFS and Spark reconnect", virtual_only=True,
    ),
)  # fmt: skip

BY_NAME = {f.name: f for f in CATALOGUE}


class FaultError(ValueError):
    """A bad --faults value: names the option, the problem and the fix."""


def parse_faults(text: str | None) -> list[Fault]:
    """The faults of a --faults value ("a,b" or "all"; None: all), in the order given."""
    if text is None or text.strip() == ALL:
        return list(CATALOGUE)
    names = [item.strip() for item in text.split(",")]
    known = ", ".join(BY_NAME)
    for name in names:
        if not name:
            raise FaultError(
                f"--faults {text!r} has an empty name; fix: a comma-separated list, "
                "e.g. --faults postgresql_kill,kafka_kill"
            )
        if name == ALL:
            raise FaultError(f"--faults {text!r}: 'all' stands alone; fix: --faults all")
        if name not in BY_NAME:
            raise FaultError(f"--faults {name}: unknown fault; fix: use one of {known} or all")
    if len(set(names)) != len(names):
        raise FaultError(f"--faults {text!r} names a fault twice; fix: list each once")
    return [BY_NAME[name] for name in names]
