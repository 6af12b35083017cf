#!/usr/bin/env python3
"""The kit's PostgreSQL sink vs pgbench, same server, same table, same batch, same connections.

For each connection count N (default 1, 2, 4), one after the other on the same server and the
same table (the order alternates between counts, so table growth does not favour one side):

* kit: benchlab.loadgen's run_load with N worker processes, each one connection through
  PostgresSink, method ``insert`` (one multi-row INSERT of ``--batch-size`` rows with bind
  parameters, then COMMIT, per batch), driven closed-loop at full speed: the schedule offers far
  more than the server takes, so each worker sends its next batch as soon as the last one is
  committed. Record generation is on each worker's critical path (it is in the kit's loop too).
* reference: ``pgbench -n -M simple -c N -j N -T warmup+seconds -P 1`` running a custom script
  whose one statement per transaction is a multi-row INSERT of the same number of the kit's rows
  (same columns, same text sizes, literal values), with seq and event time advanced per
  transaction as the kit's are: ``INSERT INTO events (...) SELECT ... FROM (VALUES ...)``.

Both are warmed up ``--warmup`` seconds (left out) and timed ``--seconds`` at steady state:
the kit from its acknowledgements per second after the warm-up (run_load's steady window),
pgbench from its per-second ``--progress`` reports after the warm-up. The rows both wrote are
deleted by their run ids at the end (and the table vacuumed when this user may).

    .venv/bin/python benchmarks/pg_sink_vs_pgbench.py [--connections 1,2,4] [--batch-size 1000]
        [--warmup 10] [--seconds 30]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from benchlab.config import LoadConfig
from benchlab.loadgen.runner import probe_generation_cost, run_load
from benchlab.records import COLUMNS, RecordFactory, Row
from benchlab.sinks import SinkSpec
from benchlab.sinks.postgres import PostgresSink, PostgresSinkConfig

EXIT_UNREACHABLE = 3
T0 = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
# Far more than any server here takes: every batch is due before the last one is committed.
OVERLOAD_INTERVAL_S = 0.001
PROGRESS_RE = re.compile(r"^progress: ([0-9.]+) s, ([0-9.]+) tps")
FAILED_RE = re.compile(r"number of failed transactions: (\d+)")
# The VALUES columns of the pgbench script; the first row carries the types.
FIRST_ROW_TYPES = ("text", "int8", "timestamptz", "text", "text", "text", "int8", "float8", "text")


@dataclass(frozen=True)
class Side:
    rate: float  # rows per second over the timed window
    window_s: float
    rows: int  # rows written in the timed window
    errors: int
    note: str = ""


def sql_literal(value: object) -> str:
    """A SQL literal of one generated field (text fields never hold a quote; doubled anyway)."""
    if isinstance(value, datetime):
        return "'" + value.isoformat(sep=" ") + "'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def pgbench_script(table: str, rows: list[Row], batch: int) -> str:
    """One transaction: a multi-row INSERT of ``rows`` (the kit's records as literals).

    seq is base + k and event_time the row's literal + base microseconds, base being
    (transactions done by this client * clients + client id) * batch: every client's batches
    interleave as the kit's workers' do (batch k to worker k % N) and seq and event time grow,
    so the indexes see the kit's insertion pattern. ``n`` and ``clients`` come from -D.
    """
    values = []
    for i, row in enumerate(rows):
        fields = [sql_literal(v) for v in (row[0], i, *row[2:])]
        if i == 0:
            fields = [f"{f}::{t}" for f, t in zip(fields, FIRST_ROW_TYPES, strict=True)]
        values.append("(" + ", ".join(fields) + ")")
    cols = ", ".join(COLUMNS)
    select = (
        "v.run_id, :base + v.seq, v.event_time + :base * interval '1 microsecond', "
        "v.service, v.level, v.host, v.user_id, v.latency_ms, v.message"
    )
    return (
        f"\\set base (:n * :clients + :client_id) * {batch}\n"
        "\\set n :n + 1\n"
        f"INSERT INTO {table} ({cols}) SELECT {select} FROM (VALUES\n"
        + ",\n".join(values)
        + f"\n) AS v ({cols});\n"
    )


def parse_progress(text: str) -> list[tuple[float, float]]:
    """pgbench -P lines -> [(seconds since start, tps over the interval ending there)]."""
    out = []
    for line in text.splitlines():
        m = PROGRESS_RE.match(line.strip())
        if m:
            out.append((float(m.group(1)), float(m.group(2))))
    return out


def steady_tps(progress: list[tuple[float, float]], warmup: float, seconds: float) -> float:
    """Transactions per second over the progress intervals inside [warmup, warmup + seconds]."""
    done = 0.0
    span = 0.0
    prev = 0.0
    for t, tps in progress:
        if prev >= warmup - 1e-6 and t <= warmup + seconds + 1e-6:
            done += tps * (t - prev)
            span += t - prev
        prev = t
    if span < 0.5 * seconds:
        raise RuntimeError(f"pgbench reported {span:.1f} s of the {seconds:g} s window")
    return done / span


def run_pgbench(args: argparse.Namespace, password: str, run_id: str, n: int) -> Side:
    factory = RecordFactory(run_id, args.record_bytes)
    rows = factory.rows(0, args.batch_size, T0, 1e-6)
    tmp = Path(tempfile.mkdtemp(prefix="benchlab-pgbench-"))
    try:
        script = tmp / "insert.sql"
        script.write_text(pgbench_script(args.table, rows, args.batch_size))
        cmd = [
            args.pgbench, "-n", "-M", "simple", "-h", args.host, "-p", str(args.port),
            "-U", args.user, "-c", str(n), "-j", str(n),
            "-T", str(round(args.warmup + args.seconds + 1)), "-P", "1",
            "-D", "n=0", "-D", f"clients={n}", "-f", str(script), args.dbname,
        ]  # fmt: skip
        env = {**os.environ, "PGPASSWORD": password, "PGAPPNAME": f"benchlab-pgbench-{n}"}
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"pgbench exited {proc.returncode}: {tail}")
    tps = steady_tps(parse_progress(proc.stderr), args.warmup, args.seconds)
    failed = FAILED_RE.search(proc.stdout)
    return Side(
        tps * args.batch_size,
        args.seconds,
        round(tps * args.seconds) * args.batch_size,
        int(failed.group(1)) if failed else 0,
        f"{tps:.1f} tx/s",
    )


def run_kit(args: argparse.Namespace, spec: SinkSpec, run_id: str, n: int) -> Side:
    load = LoadConfig(
        batch_size=args.batch_size,
        interval_s=OVERLOAD_INTERVAL_S,
        duration_s=args.warmup + args.seconds,
        record_bytes=args.record_bytes,
        processes=n,
        drain_s=0.0,
        warmup_s=args.warmup,
    )
    result = run_load(f"kit-{n}", run_id, load, spec)
    s = result.summary()
    steady = s["steady"]
    rows = round(steady["acked_per_s"] * steady["window_s"])
    note = f"{s['batches_sent']} batches sent"
    if s["warnings"]:
        note += "; " + "; ".join(s["warnings"])[:120]
    return Side(steady["acked_per_s"], steady["window_s"], rows, s["errors_total"], note)


def cleanup(conn: psycopg.Connection, table: str, run_ids: list[str], vacuum: bool) -> str:
    start = time.monotonic()
    cur = conn.execute(f"DELETE FROM {table} WHERE run_id = ANY(%s)", (run_ids,))  # type: ignore[arg-type]
    deleted = cur.rowcount
    note = f"deleted {deleted:,} rows of run ids {', '.join(run_ids)}"
    if vacuum:
        try:
            conn.execute(f"VACUUM {table}")  # type: ignore[arg-type]
            note += "; vacuumed"
        except psycopg.Error as exc:  # not the owner: autovacuum will do it
            note += f"; no VACUUM ({str(exc).strip().splitlines()[0]})"
    return note + f" in {time.monotonic() - start:.1f} s"


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5432)
    p.add_argument("--dbname", default="benchlab")
    p.add_argument("--user", default="benchlab")
    p.add_argument("--password-file", default="/etc/benchlab/secrets/postgresql_benchlab.password")
    p.add_argument("--table", default="events")
    p.add_argument("--connections", default="1,2,4", help="comma list of connection counts N")
    p.add_argument("--batch-size", type=int, default=1000, help="rows per INSERT and commit")
    p.add_argument("--record-bytes", type=int, default=300)
    p.add_argument("--warmup", type=float, default=10.0, help="seconds left out, each side")
    p.add_argument("--seconds", type=float, default=30.0, help="timed seconds, each side")
    p.add_argument("--pgbench", default=shutil.which("pgbench") or "pgbench")
    p.add_argument("--no-vacuum", action="store_true", help="only DELETE the rows at the end")
    args = p.parse_args()
    if not args.host.startswith("127.") and args.host != "localhost":
        print("refusing a non-loopback host in a benchmark script", file=sys.stderr)
        return 2
    if args.warmup < 10 or args.seconds < 30:
        print(
            "warning: below the 10 s warm-up / 30 s timed window of a fair drive", file=sys.stderr
        )
    if not (shutil.which(args.pgbench) or Path(args.pgbench).is_file()):
        print(f"pgbench not found ({args.pgbench}): install postgresql-client", file=sys.stderr)
        return 2
    counts = [int(c) for c in args.connections.split(",") if c.strip()]
    if (args.batch_size * len(COLUMNS)) > 65535:
        print("--batch-size: the kit splits INSERTs over 7281 rows; pick <= 7281", file=sys.stderr)
        return 2
    cfg = PostgresSinkConfig(
        host=args.host,
        password_file=args.password_file,
        method="insert",
        port=args.port,
        dbname=args.dbname,
        user=args.user,
        table=args.table,
    )
    spec = SinkSpec(PostgresSink, cfg)
    probe = PostgresSink(cfg)
    try:
        # no statement time-out: the DELETE and VACUUM at the end take minutes on millions of rows
        admin = psycopg.connect(
            **probe.connect_kwargs() | {"autocommit": True, "options": "-c statement_timeout=0"}
        )
    except (psycopg.Error, OSError) as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"PostgreSQL at {args.host}:{args.port} unreachable: {why}", file=sys.stderr)
        return EXIT_UNREACHABLE
    password = probe.connect_kwargs()["password"] or ""
    version = admin.execute("SHOW server_version").fetchone()
    prefix = f"pgbench-vs-{uuid.uuid4().hex[:8]}"
    run_ids: list[str] = []
    gen_us = probe_generation_cost(
        LoadConfig(args.batch_size, OVERLOAD_INTERVAL_S, 1.0, args.record_bytes), spec, prefix
    )
    print(
        f"PostgreSQL {version[0] if version else '?'} at {args.host}:{args.port}, table "
        f"{args.table}; batch {args.batch_size} rows of ~{args.record_bytes} bytes, one "
        f"multi-row INSERT + COMMIT per batch; warm-up {args.warmup:g} s, timed {args.seconds:g} s"
    )
    print(
        f"kit: run_load, PostgresSink method insert, closed loop (record generation "
        f"{gen_us * 1e6:.1f} us/record on each worker's path); reference: pgbench -M simple; "
        f"run ids {prefix}-{{kit,ref}}-c<N>"
    )
    results: list[tuple[int, Side, Side]] = []
    try:
        for i, n in enumerate(counts):
            kit_id, ref_id = f"{prefix}-kit-c{n}", f"{prefix}-ref-c{n}"
            run_ids += [kit_id, ref_id]
            order = ["ref", "kit"] if i % 2 == 0 else ["kit", "ref"]
            sides: dict[str, Side] = {}
            for which in order:
                if which == "kit":
                    sides[which] = run_kit(args, spec, kit_id, n)
                else:
                    sides[which] = run_pgbench(args, password, ref_id, n)
                s = sides[which]
                print(
                    f"  N={n} {which}: {s.rate:,.0f} rows/s ({s.errors} errors; {s.note})",
                    flush=True,
                )
            results.append((n, sides["kit"], sides["ref"]))
    finally:
        if run_ids:
            print(cleanup(admin, args.table, run_ids, not args.no_vacuum))
        admin.close()
    print()
    print(
        f"{'N':>3}  {'kit rows/s':>12}  {'pgbench rows/s':>14}  {'kit/pgbench':>11}  errors kit/ref"
    )
    for n, kit, ref in results:
        print(
            f"{n:>3}  {kit.rate:>12,.0f}  {ref.rate:>14,.0f}  {kit.rate / ref.rate:>11.2f}  "
            f"{kit.errors}/{ref.errors}"
        )
    # every connection count weighs the same: the geometric mean of the per-N ratios
    ratios = [k.rate / r.rate for _, k, r in results]
    print(f"ratio kit/reference: {math.exp(sum(map(math.log, ratios)) / len(ratios)):.2f}")
    return 1 if any(k.errors or r.errors for _, k, r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
