"""What one fault run shows, from its results folder (run.json, timeseries, restarts.json).

Times are seconds after the injection's own wall time (Injection.injected_wall, the victim
host's clock; the load generator's per-second series is on the same clock on the local and
virtual labs). Definitions (README, "Faults"):

- first write: the first acknowledgement of a batch due after the injection. The per-second
  series keeps, per second a batch was due in, the largest acknowledgement latency of that
  second's successful batches; the first write is the minimum over the due seconds from the
  first whole second after the injection of (that second + its largest latency), minus the
  injection time: an upper bound, at most one second late.
- acked back: the end of the first 5 s window, starting at or after the first write and
  inside the load, in which the acknowledged records (the generator's count per second, by
  acknowledgement time) reach 98 % of the records the schedule made due in that window (whole
  batches: at phase 2's 0.6 s interval a 5 s window holds 8 or 9 of them, so comparing with
  the mean rate would fail every 8-batch window).
- stored back: PostgreSQL acknowledges a batch at its COPY's commit, so stored = acked. For the
  pipeline (Kafka -> Spark -> HDFS), from the streaming job's backlog at each HDFS commit
  (records owed): the pre-fault level is the largest backlog at the commits of the 30 s before
  the injection; after it, the first commit at or after the worst backlog whose backlog is back
  at or under that level.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchlab.faults.catalogue import DRIVER, OOM, Fault
from benchlab.faults.inject import Injection
from benchlab.restarts import RESTARTS_FILE, parse_iso
from benchlab.results import ResultsError, read_json, read_throughput_csv

RATE_WINDOW_S = 5
RATE_FRACTION = 0.98
PRE_FAULT_S = 30.0
# A restart of the victim this long before the injection's stamp is still its (stamps and
# the restart log come from the same host, rounded to the millisecond there)
RESTART_SLACK_S = 2.0

# Where each target's durability comes from: named when a fault loses acknowledged records.
DURABILITY = {
    "postgresql": "synchronous_commit = on, fsync on by default "
    "(roles/postgresql/templates/postgresql.conf.j2)",
    "kafka": "the producer's acks and idempotence (run.json sink), the topic's replication "
    "factor and min.insync.replicas (roles/kafka), no flush.messages: a single broker keeps "
    "acknowledged records in the page cache, which a process kill does not lose",
}
DURABILITY["pipeline"] = DURABILITY["kafka"] + "; the Spark checkpoint and _spark_metadata log"


@dataclass
class FaultRow:
    fault: str
    target: str
    run_id: str | None
    verdict: str  # PASS, FAIL, NOT INJECTED, NOT RUN
    host: str | None = None
    injected_wall: float | None = None
    injected_at_load_s: float | None = None  # seconds after the load started
    errors: dict[str, int] = field(default_factory=dict)
    first_write_s: float | None = None
    acked_back_s: float | None = None
    stored_back_s: float | None = None
    pre_fault_acked_fraction: float | None = None
    restarted_by: str | None = None
    restart_s: float | None = None  # the restart's recovery time, as its restarter measured
    acknowledged: int | None = None
    found: int | None = None
    lost: int | None = None
    duplicates: int | None = None
    data_verdict: str | None = None
    exit_code: int | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def first_write_s(rows: list[dict[str, float]], fault_s: float) -> float | None:
    """Seconds from the injection (`fault_s` after the load's start) to the first write."""
    start = math.ceil(fault_s)
    ends = [
        r["second"] + r["latency_max_ms"] / 1000.0
        for r in rows
        if r.get("second", -1) >= start and "latency_max_ms" in r
    ]
    return round(max(0.0, min(ends) - fault_s), 3) if ends else None


@dataclass(frozen=True)
class Schedule:
    """The open-loop schedule: batch k of `batch_size` records due at k * interval_s."""

    batch_size: float
    interval_s: float
    batches: int

    @classmethod
    def of(cls, load: dict[str, Any]) -> Schedule:
        rate = float(load.get("target_rate_per_s") or 0.0)
        size = float(load.get("batch_size") or rate)  # without them: `rate` records a second
        interval = float(load.get("interval_s") or 1.0)
        due = load.get("batches_due")
        duration = float(load.get("duration_s") or 0.0)
        return cls(size, interval, int(due) if due else math.ceil(duration / interval))

    def offered(self, start_s: float, end_s: float) -> float:
        """Records due in [start_s, end_s) after the load's start: whole batches, so that a
        window's 8 or 9 batches are compared with 8 or 9, not with the mean rate."""

        def due_before(t: float) -> int:
            return min(self.batches, max(0, math.ceil(t / self.interval_s - 1e-9)))

        return self.batch_size * (due_before(end_s) - due_before(start_s))


def acked_back_s(
    rows: list[dict[str, float]],
    fault_s: float,
    from_s: float,
    schedule: Schedule,
    duration_s: float,
) -> float | None:
    """Seconds from the injection to the end of the first 5 s window from `from_s` (seconds
    after the load's start) whose acknowledged records reach 98 % of what it offered."""
    acked = {int(r["second"]): r.get("records_acked", 0.0) for r in rows if "second" in r}
    s = math.ceil(from_s)
    while s + RATE_WINDOW_S <= duration_s:
        need = RATE_FRACTION * schedule.offered(s, s + RATE_WINDOW_S)
        if need > 0 and sum(acked.get(s + i, 0.0) for i in range(RATE_WINDOW_S)) >= need:
            return round(s + RATE_WINDOW_S - fault_s, 3)
        s += 1
    return None


def pre_fault_fraction(
    rows: list[dict[str, float]], fault_s: float, schedule: Schedule
) -> float | None:
    """Acknowledged / offered over the whole seconds of the 10 s before the injection."""
    end = math.floor(fault_s)
    start = max(0, end - 10)
    offered = schedule.offered(start, end)
    if offered <= 0:
        return None
    acked = {int(r["second"]): r.get("records_acked", 0.0) for r in rows if "second" in r}
    return round(sum(acked.get(s, 0.0) for s in range(start, end)) / offered, 4)


def stored_back_s(backlog: list[list[float]], fault_wall: float) -> float | None:
    """Seconds from the injection to the commit whose backlog is back at its pre-fault level
    (module docstring); None without a commit before and after the injection."""
    before = [owed for t, owed in backlog if fault_wall - PRE_FAULT_S <= t < fault_wall]
    after = [(t, owed) for t, owed in backlog if t >= fault_wall]
    if not before or not after:
        return None
    level = max(before)
    worst = max(range(len(after)), key=lambda i: after[i][1])
    for t, owed in after[worst:]:
        if owed <= level:
            return round(t - fault_wall, 3)
    return None


def _restart(
    run_dir: Path, fault: Fault, injected: float, load: dict[str, Any]
) -> tuple[str | None, float | None, list[str]]:
    """(restarted by, its recovery seconds, notes) for the fault's victim."""
    notes: list[str] = []
    if fault.kind == DRIVER:
        restarts = (load.get("streaming") or {}).get("job_restarts") or []
        if not restarts:
            return None, None, ["the pipeline session did not restart the streaming job"]
        r = restarts[0]
        running = r.get("running_wall")
        if r.get("error"):
            notes.append(f"streaming job restart failed: {r['error']}")
        if running is None:
            return "pipeline session (failed)", None, notes
        notes.append(
            f"the session noticed the dead job {r['noticed_wall'] - injected:.1f} s after the "
            "kill (it watches the job after the load, while it drains)"
        )
        return "pipeline session", round(running - injected, 3), notes
    doc = read_json(run_dir / RESTARTS_FILE) or {}
    mine, others = None, []
    for entry in doc.get("restarts") or []:
        try:
            exit_time = parse_iso(str(entry.get("exit_time")))
        except ValueError:
            continue
        if exit_time < injected - RESTART_SLACK_S:
            continue
        if entry.get("service") == fault.program and mine is None:
            mine = entry
        else:
            others.append(f"{entry.get('service')}@{entry.get('host')}")
    if others:
        notes.append(f"also restarted after the fault: {', '.join(others)}")
    for host, found in (doc.get("hosts") or {}).items():
        if found.get("error"):
            notes.append(f"restart log of {host} unreadable: {found['error']}")
    if mine is None:
        if fault.kind == OOM:
            # the kernel killed a process inside the cgroup that supervisord does not run
            # itself (PostgreSQL: a backend; the postmaster then resets all of them)
            return "the service itself (no supervisord restart)", None, notes
        return None, None, notes
    seconds = mine.get("ready_s") if mine.get("ready_s") is not None else mine.get("recovery_s")
    state = mine.get("state")
    return f"supervisord ({state})" if state else "supervisord", seconds, notes


def analyse(run_dir: Path, fault: Fault, injection: Injection | None) -> FaultRow:
    """One row of the matrix from a finished fault run (its folder must hold run.json)."""
    row = FaultRow(fault.name, fault.target, run_dir.name, "FAIL")
    try:
        run = read_json(run_dir / "run.json")
    except ResultsError as exc:
        run = None
        row.notes.append(str(exc))
    if not isinstance(run, dict):
        row.notes.append(f"no readable run.json in {run_dir}: the run could not be audited")
        return row
    load = (run.get("load") or {}).get(fault.target) or {}
    if not load.get("streaming") and fault.target == "pipeline":
        load = {**load, **((read_json(run_dir / "load.json") or {}).get(fault.target) or {})}
    row.errors = {str(k): int(v) for k, v in (load.get("errors") or {}).items()}
    audit = (run.get("audit") or {}).get(fault.target) or {}
    for key in ("acknowledged", "found", "lost", "duplicates"):
        value = audit.get(key)
        setattr(row, key, int(value) if isinstance(value, int | float) else None)
    verdict = (run.get("data_verdict") or {}).get(fault.target) or {}
    row.data_verdict = verdict.get("status")
    if injection is not None:
        row.host = injection.host
        row.injected_wall = injection.injected_wall
        said = [line for line in injection.output.splitlines() if line.strip()]
        if injection.injected_wall is not None and said:
            row.notes.append(f"injection on {injection.host}: {said[-1]}")
        if injection.restored:
            row.notes.append(f"put back: {injection.restored}")
    if injection is None or injection.injected_wall is None:
        row.verdict = "NOT INJECTED"
        row.notes.append(
            "the fault was not injected"
            + (f": {injection.output.splitlines()[-1]}" if injection and injection.output else "")
        )
    else:
        t_f = injection.injected_wall
        t0 = float(load.get("start") or 0.0)
        schedule = Schedule.of(load)
        duration = float(load.get("duration_s") or 0.0)
        fault_s = t_f - t0
        row.injected_at_load_s = round(fault_s, 3)
        rows = read_throughput_csv(run_dir / "timeseries" / f"{fault.target}-throughput.csv")
        if not rows:
            row.notes.append(f"no timeseries/{fault.target}-throughput.csv: no recovery times")
        row.first_write_s = first_write_s(rows, fault_s)
        if row.first_write_s is not None:
            row.acked_back_s = acked_back_s(
                rows, fault_s, fault_s + row.first_write_s, schedule, duration
            )
        row.pre_fault_acked_fraction = pre_fault_fraction(rows, fault_s, schedule)
        if fault.target == "postgresql":
            row.stored_back_s = row.acked_back_s  # acknowledged at the COPY's commit
        else:
            streaming = load.get("streaming") or {}
            row.stored_back_s = stored_back_s(streaming.get("backlog") or [], t_f)
            if streaming.get("drained") is False:
                # no commit samples a stall: a job that never caught up is never "back"
                row.stored_back_s = None
                row.notes.append(
                    "the streaming job did not drain: what Kafka acknowledged after its last "
                    "commit never reached HDFS (it is still in Kafka, not in the sink)"
                )
        row.restarted_by, row.restart_s, notes = _restart(run_dir, fault, t_f, load)
        row.notes += notes
        jobs = (load.get("streaming") or {}).get("job_restarts") or []
        if fault.kind != DRIVER and jobs:
            # the fault took the streaming job down too: the session restarts it after the load
            back = [j["running_wall"] - t_f for j in jobs if j.get("running_wall")]
            row.restarted_by = (row.restarted_by or "none") + "; job: pipeline session"
            row.notes.append(
                f"the streaming job died (exit {jobs[0].get('exit_code')}); the pipeline session "
                "restarted it from its checkpoint after the load"
                + (f", running {back[0]:.1f} s after the fault" if back else ", without success")
            )
    audited = row.lost is not None and not audit.get("error") and not audit.get("skipped")
    if not audited:
        why = audit.get("error") or audit.get("skipped") or "no audit in run.json"
        row.notes.append(f"not audited: {why}")
    elif row.lost:
        row.notes.append(
            f"lost {row.lost} acknowledged records; the kit's setting that decides it: "
            + (fault.settings or DURABILITY.get(fault.target, "n/a"))
        )
    if row.data_verdict == "FAIL":
        row.notes += [f"data verdict: {r}" for r in verdict.get("reasons") or [verdict.get("line")]]
    if not audited or row.lost or row.data_verdict == "FAIL":
        row.verdict = "FAIL"  # data first: a fault not injected that lost data is a FAIL
    elif row.verdict != "NOT INJECTED":
        row.verdict = "PASS"
    return row
