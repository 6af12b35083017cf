#!/usr/bin/env python3
"""The kit's PostgreSQL sink vs `psql \\copy` of the same rows into the same table, one run.

Both sides load N rows of the kit's records into the same table on the same server; the kit
side includes its own record encoding and commits per batch (as the load generator does),
psql loads a ready-made file in one transaction. Rows are deleted afterwards.
Goal (issue 2): the kit's COPY method reaches >= 0.9 of psql's rows/s.

    python benchmarks/pg_sink_vs_psql_copy.py --rows 200000 --methods copy,executemany,insert
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from benchlab.records import COLUMNS, RecordFactory
from benchlab.sinks import Batch
from benchlab.sinks.postgres import PostgresSink, PostgresSinkConfig, copy_text

T0 = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)


def kit_load(
    sink: PostgresSink,
    run_id: str,
    rows: int,
    batch: int,
    record_bytes: int,
    *,
    encode_timed: bool,
) -> float:
    """Rows/s of write_batch (send + commit per batch). Records are generated ahead, as the
    generator does before each batch's due time; encoding (prepare) is timed only when asked
    (the generator also does it ahead of the due time, and psql's file is encoded untimed)."""
    factory = RecordFactory(run_id, record_bytes)
    batches = [factory.rows(s, min(batch, rows - s), T0, 0.0001) for s in range(0, rows, batch)]
    payloads = [None if encode_timed else sink.prepare(b) for b in batches]
    start = time.perf_counter()
    for k, data in enumerate(batches):
        payload = sink.prepare(data) if encode_timed else payloads[k]
        ack = sink.write_batch(Batch(k, k * batch, data, payload))
        if not ack.ok:
            raise SystemExit(f"kit write failed: {ack.error_kind}: {ack.error}")
    return rows / (time.perf_counter() - start)


def psql_load(args: argparse.Namespace, password: str, run_id: str, rows: int, batch: int) -> float:
    """psql \\copy of the same records: one file per `batch` rows, each \\copy its own
    transaction (psql autocommit), all in one psql session; batch = rows is one file."""
    factory = RecordFactory(run_id, args.record_bytes)
    tmp = Path(tempfile.mkdtemp(prefix="benchlab-psql-"))
    try:
        script = []
        for s in range(0, rows, batch):
            part = tmp / f"part-{s}.tsv"
            part.write_bytes(copy_text(factory.rows(s, min(batch, rows - s), T0, 0.0001)))
            script.append(f"\\copy {args.table} ({', '.join(COLUMNS)}) FROM '{part}'")
        (tmp / "load.sql").write_text("\n".join(script) + "\n")
        cmd = [
            "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            args.host,
            "-p",
            str(args.port),
            "-U",
            args.user,
            "-d",
            args.dbname,
            "-f",
            str(tmp / "load.sql"),
        ]
        env = {**os.environ, "PGPASSWORD": password}
        start = time.perf_counter()
        subprocess.run(cmd, env=env, check=True)
        return rows / (time.perf_counter() - start)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cleanup(conn: psycopg.Connection, table: str, prefix: str) -> None:
    conn.execute(f"DELETE FROM {table} WHERE run_id LIKE %s", (prefix + "%",))  # type: ignore[arg-type]
    with contextlib.suppress(psycopg.Error):  # not the owner: autovacuum will do it
        conn.execute(f"VACUUM {table}")  # type: ignore[arg-type]


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
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--batch-size", type=int, default=5000, help="kit batch (one commit each)")
    p.add_argument("--record-bytes", type=int, default=300)
    p.add_argument("--methods", default="copy", help="comma list of copy, executemany, insert")
    p.add_argument("--repeat", type=int, default=3, help="alternating rounds; the median is shown")
    args = p.parse_args()
    if not args.host.startswith("127.") and args.host != "localhost":
        print("refusing a non-loopback host in a benchmark script", file=sys.stderr)
        return 2
    sink_cfg = PostgresSinkConfig(
        host=args.host,
        password_file=args.password_file,
        method="copy",
        port=args.port,
        dbname=args.dbname,
        user=args.user,
        table=args.table,
    )
    password = sink_cfg.read_password() or ""
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    variants: list[tuple[str, str, int, bool]] = [
        (f"kit {m} (batches of {args.batch_size:,})", m, args.batch_size, False) for m in methods
    ]
    if "copy" in methods:
        variants.append(
            (
                f"kit copy + encoding (batches of {args.batch_size:,})",
                "copy",
                args.batch_size,
                True,
            )
        )
        variants.append(("kit copy (one batch)", "copy", args.rows, False))
    psql_batched = f"psql \\copy (files of {args.batch_size:,})"
    psql_name = "psql \\copy (one file)"
    results: dict[str, list[float]] = {name: [] for name, *_ in variants}
    results[psql_batched] = []
    results[psql_name] = []
    admin = psycopg.connect(**PostgresSink(sink_cfg).connect_kwargs() | {"autocommit": True})
    try:
        for rnd in range(args.repeat):
            order = list(variants) if rnd % 2 == 0 else list(reversed(variants))
            rid = f"{prefix}psql{rnd}"
            results[psql_name].append(psql_load(args, password, rid, args.rows, args.rows))
            cleanup(admin, args.table, prefix)
            rid = f"{prefix}psqb{rnd}"
            results[psql_batched].append(psql_load(args, password, rid, args.rows, args.batch_size))
            cleanup(admin, args.table, prefix)
            for i, (name, method, batch, encode_timed) in enumerate(order):
                cfg = dataclasses.replace(sink_cfg, method=method)
                sink = PostgresSink(cfg)
                sink.open()
                try:
                    rid = f"{prefix}k{i}r{rnd}"
                    rate = kit_load(
                        sink,
                        rid,
                        args.rows,
                        batch,
                        args.record_bytes,
                        encode_timed=encode_timed,
                    )
                    results[name].append(rate)
                finally:
                    sink.close()
                cleanup(admin, args.table, prefix)
    finally:
        cleanup(admin, args.table, prefix)
        admin.close()
    med = {name: statistics.median(vals) for name, vals in results.items()}
    ref = med[psql_name]
    print(
        f"{args.rows:,} rows of {args.record_bytes} bytes into {args.table} at "
        f"{args.host}:{args.port}; median of {args.repeat} rounds (psql first, kit order "
        "alternating)"
    )
    width = max(len(n) for n in results) + 2
    print(f"{'loader':<{width}}{'rows/s':>10}  {'vs psql one file':>16}  rounds")
    for name, vals in results.items():
        rounds = ", ".join(f"{v:,.0f}" for v in vals)
        print(f"{name:<{width}}{med[name]:>10,.0f}  {med[name] / ref:>16.2f}  {rounds}")
    if "copy" in methods:
        like = [
            ("same commit size", med[variants[0][0]], med[psql_batched]),
            ("one transaction", med["kit copy (one batch)"], med[psql_name]),
            ("kit per-batch vs psql one file", med[variants[0][0]], med[psql_name]),
        ]
        for label, kit, psql in like:
            ratio = kit / psql
            verdict = "MET" if ratio >= 0.9 else "NOT MET"
            print(f"goal kit COPY >= 0.9 x psql \\copy, {label}: {ratio:.2f} {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
