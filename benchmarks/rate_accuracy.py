#!/usr/bin/env python3
"""Rate accuracy of the open-loop generator for phases 1-3 (shortened).

For each phase: achieved send rate vs target (goal: within 1 %), p99 schedule lag (goal:
<= 10 ms) while the sink keeps up, late batches, and the generator's CPU use. Runs against the
null sink (the generator alone) and, with --pg, against PostgreSQL too (rows are deleted).

    python benchmarks/rate_accuracy.py --duration 20 [--pg --port 5432 --password-file F]
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import sys
import time
import uuid
from pathlib import Path

from benchlab.config import parse_load
from benchlab.loadgen.runner import run_load
from benchlab.runparams import load_phases
from benchlab.sinks import SinkSpec
from benchlab.sinks.null import NullSink, NullSinkConfig
from benchlab.sinks.postgres import PostgresSink, PostgresSinkConfig

REPO = Path(__file__).resolve().parents[1]


def cpu_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # joined worker processes
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--phases", default="1,2,3")
    p.add_argument("--duration", type=float, default=20.0, help="seconds per phase")
    p.add_argument("--processes", type=int, default=0, help="0 = auto")
    p.add_argument("--pg", action="store_true", help="also run against PostgreSQL (COPY)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5432)
    p.add_argument("--dbname", default="benchlab")
    p.add_argument("--user", default="benchlab")
    p.add_argument("--password-file", default="/etc/benchlab/secrets/postgresql_benchlab.password")
    p.add_argument("--method", default="copy")
    args = p.parse_args()
    if not args.host.startswith("127.") and args.host != "localhost":
        print("refusing a non-loopback host in a benchmark script", file=sys.stderr)
        return 2
    phases = load_phases(REPO).phases
    sinks: list[tuple[str, SinkSpec]] = [("null", SinkSpec(NullSink, NullSinkConfig()))]
    pg_cfg = PostgresSinkConfig(
        host=args.host,
        password_file=args.password_file,
        method=args.method,
        port=args.port,
        dbname=args.dbname,
        user=args.user,
    )
    if args.pg:
        sinks.append((f"postgresql/{args.method}", SinkSpec(PostgresSink, pg_cfg)))
    header = (
        f"{'phase':<6}{'sink':<20}{'procs':>6}{'target/s':>10}{'sent/s':>10}{'err %':>8}"
        f"{'acked/s':>10}{'lag p99 ms':>11}{'lag max ms':>11}{'late':>6}{'ack p99 ms':>11}"
        f"{'gen CPU':>9}"
    )
    lines = [header]
    prefix = f"rate-{uuid.uuid4().hex[:8]}"
    pg_runs = 0
    for phase in [s.strip() for s in args.phases.split(",")]:
        ph = phases[phase]
        load = parse_load(
            {
                "batch_size": ph["batch_size"],
                "interval_s": ph["interval_s"],
                "duration_s": args.duration,
                "record_bytes": ph["record_bytes"],
                "processes": args.processes,
            }
        )
        for name, sink in sinks:
            run_id = f"{prefix}-p{phase}-{name.split('/')[0]}"
            cpu0, wall0 = cpu_seconds(), time.monotonic()
            r = run_load(name, run_id, load, sink)
            cpu = cpu_seconds() - cpu0
            wall = time.monotonic() - wall0
            s = r.summary()
            lag = s["schedule_lag_ms"]
            if sink.sink_class is PostgresSink:
                pg_runs += 1
            sent = s["send_rate_per_s"] or 0.0
            err = 100.0 * (sent - load.rate_per_s) / load.rate_per_s
            lines.append(
                f"{phase:<6}{name:<20}{s['processes']:>6}{load.rate_per_s:>10,.0f}{sent:>10,.1f}"
                f"{err:>+8.2f}{s['throughput_per_s']:>10,.1f}"
                f"{lag['p99_ms'] or 0:>11.2f}{lag['max_ms'] or 0:>11.2f}"
                f"{s['batches_late']:>6}{s['latency_ms']['p99_ms'] or 0:>11.1f}"
                f"{cpu / wall:>8.2f}c"
            )
            print(lines[-1], flush=True)
    if pg_runs:
        import psycopg

        with contextlib.closing(psycopg.connect(**PostgresSink(pg_cfg).connect_kwargs())) as conn:
            conn.execute("DELETE FROM events WHERE run_id LIKE %s", (prefix + "%",))
            conn.commit()
    print()
    print(f"{args.duration:g} s per phase; sent/s = records sent over the span of actual sends;")
    print("err % = sent/s vs target; lag = send time - scheduled time; gen CPU = cores used by")
    print("the generator (parent + workers). Goals: |err| <= 1 %, lag p99 <= 10 ms.")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
