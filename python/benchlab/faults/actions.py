"""The shell command of each fault, run on the victim host as root (inject.py).

Every command prints `injected_at=<epoch seconds>` the moment it strikes (the host's clock,
the one its services' restart log and the load generator use on the local and virtual labs)
and exits non-zero with one line when it could not strike (a stamp followed by a non-zero
exit is no injection: the strike itself failed). The OOM fault also prints
`struck_at=` when it sees the kernel's OOM kill (within 0.2 s): the fault's time is that one.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from benchlab.faults.catalogue import (
    DISK_FULL,
    DISK_FULL_MIB,
    DISK_FULL_S,
    DRIVER,
    KILL,
    OOM,
    PARTITION,
    PARTITION_S,
    Fault,
)

STAMP = 'echo "injected_at=$(date +%s.%N)"'
CGROUP_CONF_DIR = "/etc/benchlab/cgroups.d"
# How long the OOM fault keeps the limit tightened while waiting for the kernel to kill.
OOM_WAIT_S = 30
# Each tightening step of the OOM fault (bytes): small enough to stop near what cannot be
# reclaimed, big enough to get there in a few seconds.
OOM_STEP_BYTES = 8 * 1024 * 1024
# The disk-full fault: a size-limited tmpfs holding one tablespace, the run's table in it.
DISK_DIR = "/var/lib/benchlab/postgresql-disk-full"
DISK_SIZE = f"{DISK_FULL_MIB}m"
DISK_TABLESPACE = "benchlab_disk_full"


@dataclass(frozen=True)
class PostgresAccess:
    """How root on the PostgreSQL host reaches the kit's database as its superuser (peer
    authentication over the socket, roles/postgresql)."""

    socket_dir: str
    port: int
    database: str
    owner: str  # the kit's role, which the run's table must belong to

    def psql(self) -> str:
        return (
            "runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1"
            f" -h {shlex.quote(self.socket_dir)} -p {self.port} -d {shlex.quote(self.database)}"
        )


def kill_command(program: str, supervisor_conf: str) -> str:
    """kill -9 of the process supervisord runs as `program` (its pid: the service itself)."""
    p, conf = shlex.quote(program), shlex.quote(supervisor_conf)
    return f"""set -u
pid=$(supervisorctl -c {conf} pid {p})
case "$pid" in ''|0|*[!0-9]*)
  echo "{program}: not running (supervisorctl pid says '$pid'); fix: ansible-playbook site.yml"
  exit 3;;
esac
{STAMP}
kill -9 "$pid" || {{ echo "kill -9 $pid failed"; exit 5; }}
echo "killed {program} pid $pid"
"""


def driver_command(run_id: str) -> str:
    """kill -9 of the streaming job's process group (spark-submit's JVM and job.py): what the
    pipeline session's own StreamingJob.kill does, found by the JVM's --name of the run."""
    # "[S]" keeps the pattern from matching this shell's own command line; no message below
    # spells the name out either, and the shell's own process group is refused
    pattern = shlex.quote(f"[S]parkSubmit.*benchlab-streaming-{run_id}")
    return f"""set -u
pid=$(pgrep -o -f -- {pattern} || true)
if [ -z "$pid" ]; then echo "no streaming driver (spark-submit) of the run found"; exit 3; fi
pgid=$(ps -o pgid= -p "$pid" | tr -d ' ')
mine=$(ps -o pgid= -p $$ | tr -d ' ')
if [ -z "$pgid" ] || [ "$pgid" -le 1 ] || [ "$pgid" = "$mine" ]; then
  echo "driver pid $pid: process group '$pgid' is not its own; nothing killed"; exit 3
fi
{STAMP}
# the kill of dash takes no "--": a negative pid is the process group
kill -9 "-$pgid" || {{ echo "kill -9 -$pgid failed"; exit 5; }}
echo "killed streaming driver pid $pid (process group $pgid)"
"""


def oom_command(service: str) -> str:
    """Lower the kit cgroup's memory limit step by step to what the kernel cannot reclaim (a
    lower write fails with EBUSY; no swap takes the service's pages), hold it at the usage
    until an OOM kill or OOM_WAIT_S, then put the kit's configured limit back (from
    cgroups.d, also on any failure: the trap)."""
    s = shlex.quote(service)
    return f"""set -u
. {CGROUP_CONF_DIR}/{s}.conf
if [ -d /sys/fs/cgroup/memory/benchlab/{s} ]; then
  d=/sys/fs/cgroup/memory/benchlab/{s}
  limit=$d/memory.limit_in_bytes; usage=$d/memory.usage_in_bytes
  ooms() {{ awk '$1 == "oom_kill" {{print $2}}' $d/memory.oom_control; }}
elif [ -d /sys/fs/cgroup/benchlab/{s} ]; then
  d=/sys/fs/cgroup/benchlab/{s}; limit=$d/memory.max; usage=$d/memory.current
  ooms() {{ awk '$1 == "oom_kill" {{print $2}}' $d/memory.events; }}
else
  echo "{service}: no kit cgroup benchlab/{service}; fix: ansible-playbook site.yml"; exit 3
fi
restore() {{
  echo "$MEMORY_LIMIT_BYTES" > "$limit" && echo "limit restored to $MEMORY_LIMIT_BYTES"
}}
trap restore EXIT
before=$(ooms); now=$(cat "$usage")
echo "usage $now bytes, limit $(cat $limit), oom kills so far $before"
{STAMP}
end=$(( $(date +%s) + {OOM_WAIT_S} ))
while [ "$(ooms)" = "$before" ] && [ "$(date +%s)" -lt "$end" ]; do
  now=$(cat "$usage"); next=$(( now - {OOM_STEP_BYTES} ))
  [ "$next" -lt {OOM_STEP_BYTES} ] && next={OOM_STEP_BYTES}
  # a limit under what can be reclaimed is refused (EBUSY): then the limit at the usage
  # itself (never above the limit: usage cannot exceed it); the next page the service needs
  # beyond what reclaim frees is the OOM
  echo "$next" > "$limit" 2>/dev/null || echo "$now" > "$limit" 2>/dev/null || true
  sleep 0.2
done
after=$(ooms)
echo "struck_at=$(date +%s.%N)"
echo "oom_kills=$(( after - before )) lowest_limit=$(cat $limit)"
# which process the kernel chose (a child, e.g. one PostgreSQL backend, or the service itself)
dmesg 2>/dev/null | grep -o 'Killed process [0-9]* ([^)]*)' | tail -1 || true
[ "$after" != "$before" ] || {{ echo "{service}: no OOM kill within {OOM_WAIT_S} s"; exit 4; }}
"""


def partition_command(node: str) -> str:
    """The node's veth in the root namespace down for PARTITION_S, then up (the trap: also
    when the command is cut short)."""
    veth = shlex.quote(f"bv-{node}")
    return f"""set -u
ip link show {veth} >/dev/null 2>&1 || {{ echo "no link {veth}: not the virtual lab"; exit 3; }}
trap 'ip link set {veth} up && echo "{veth} up at $(date +%s.%N)"' EXIT
{STAMP}
ip link set {veth} down || {{ echo "ip link set {veth} down failed"; exit 5; }}
sleep {PARTITION_S}
"""


def disk_full_prepare_command(table: str, pg: PostgresAccess) -> str:
    """Before the run: a fresh tmpfs of DISK_SIZE with one tablespace, and `table` in it
    (the schema of `events`, owned by the kit's role). Earlier ones are dropped first, so a
    tmpfs lost with a reboot leaves nothing half made."""
    d, t, ts = shlex.quote(DISK_DIR), shlex.quote(table), DISK_TABLESPACE
    return f"""set -eu
q() {{ {pg.psql()} "$@"; }}
q -c "DROP TABLE IF EXISTS {t}" -c "DROP TABLESPACE IF EXISTS {ts}"
mkdir -p {d}
if mountpoint -q {d}; then umount {d}; fi
mount -t tmpfs -o size={DISK_SIZE},mode=0700 benchlab-disk-full {d}
mkdir {d}/tablespace
chown -R postgres:postgres {d}
q -c "CREATE TABLESPACE {ts} LOCATION '{DISK_DIR}/tablespace'"
q -c "CREATE TABLE {t} (LIKE events INCLUDING ALL) TABLESPACE {ts}" \
  -c "ALTER TABLE {t} OWNER TO {pg.owner}"
echo "prepared: table {table} in tablespace {ts} on a {DISK_SIZE} tmpfs at {DISK_DIR}"
"""


def disk_full_command() -> str:
    """Fill the tmpfs to its last 64 KiB block (the table's next pages fail with ENOSPC, SQLSTATE
    53100), hold DISK_FULL_S, then free the space (the trap: also when cut short)."""
    d = shlex.quote(DISK_DIR)
    return f"""set -u
mountpoint -q {d} || {{ echo "{DISK_DIR} is not mounted: no prepare step ran"; exit 3; }}
trap 'rm -f {d}/ballast && echo "freed_at=$(date +%s.%N)"' EXIT
{STAMP}
dd if=/dev/zero of={d}/ballast bs=64k status=none 2>/dev/null || true
echo "filled: $(df -B1 --output=avail {d} | tail -1) bytes left on {DISK_DIR}"
sleep {DISK_FULL_S}
"""


def prepare_command(fault: Fault, pg: PostgresAccess) -> str | None:
    """What must exist before the fault's run starts (None: nothing)."""
    if fault.kind == DISK_FULL:
        return disk_full_prepare_command(dict(fault.extravars)["benchlab_run_pg_table"], pg)
    return None


def restore_command(fault: Fault) -> str | None:
    """What puts the lab back as site.yml left it if the action was cut short (idempotent)."""
    if fault.kind == OOM and fault.program:
        s = shlex.quote(fault.program)
        return (
            f". {CGROUP_CONF_DIR}/{s}.conf && for f in /sys/fs/cgroup/memory/benchlab/{s}/"
            f"memory.limit_in_bytes /sys/fs/cgroup/benchlab/{s}/memory.max; do "
            '[ -e "$f" ] && echo "$MEMORY_LIMIT_BYTES" > "$f"; done; echo restored'
        )
    if fault.kind == DISK_FULL:
        return f"rm -f {shlex.quote(DISK_DIR)}/ballast; echo restored"
    return None


def command(fault: Fault, *, run_id: str, supervisor_conf: str, node: str) -> str:
    if fault.kind == KILL and fault.program:
        return kill_command(fault.program, supervisor_conf)
    if fault.kind == DRIVER:
        return driver_command(run_id)
    if fault.kind == OOM and fault.program:
        return oom_command(fault.program)
    if fault.kind == PARTITION:
        return partition_command(node)
    if fault.kind == DISK_FULL:
        return disk_full_command()
    raise ValueError(f"fault {fault.name}: no action for kind {fault.kind!r}")
