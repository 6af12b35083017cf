"""The parsing and the reference workload of benchmarks/ (no server): pgbench's progress lines,
ProducerPerformance's window lines, the pgbench INSERT script."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from benchlab.records import COLUMNS, RecordFactory

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


pg = load("pg_sink_vs_pgbench")
perf = load("kafka_producer_vs_perf")

PGBENCH_STDERR = """\
pgbench (15.18 (Debian 15.18-0+deb12u1))
progress: 1.0 s, 10.0 tps, lat 90.1 ms stddev 3.0, 0 failed
progress: 2.0 s, 20.0 tps, lat 50.0 ms stddev 3.0, 0 failed
progress: 3.0 s, 30.0 tps, lat 33.0 ms stddev 3.0, 0 failed
progress: 4.0 s, 40.0 tps, lat 25.0 ms stddev 3.0, 0 failed
progress: 5.0 s, 40.0 tps, lat 25.0 ms stddev 3.0, 0 failed
"""


def test_pgbench_progress_after_the_warmup() -> None:
    progress = pg.parse_progress(PGBENCH_STDERR)
    assert progress[0] == (1.0, 10.0) and len(progress) == 5
    # the window [2, 4]: intervals (2, 3] and (3, 4]
    assert pg.steady_tps(progress, warmup=2, seconds=2) == pytest.approx(35.0)
    with pytest.raises(RuntimeError):
        pg.steady_tps(progress, warmup=4, seconds=10)  # 1 s of a 10 s window


def test_pgbench_script_is_one_multi_row_insert_with_advancing_seq() -> None:
    rows = RecordFactory("pgbench-vs-x-ref-c2", 300).rows(0, 3, pg.T0, 1e-6)
    script = pg.pgbench_script("events", rows, 3)
    lines = script.splitlines()
    assert lines[0] == r"\set base (:n * :clients + :client_id) * 3"
    assert lines[1] == r"\set n :n + 1"
    assert lines[2].startswith(f"INSERT INTO events ({', '.join(COLUMNS)}) SELECT v.run_id, :base")
    assert script.count(";") == 1 and script.rstrip().endswith(f") AS v ({', '.join(COLUMNS)});")
    assert (
        "'pgbench-vs-x-ref-c2'::text, 0::int8, '2026-11-22 16:00:00+00:00'::timestamptz" in script
    )
    assert lines[4].startswith("('pgbench-vs-x-ref-c2', 1, '2026-11-22 16:00:00.000001+00:00'")
    assert pg.sql_literal("it's") == "'it''s'"


PERF_STDOUT = """\
Reading payloads from: /tmp/p/payloads.txt
Number of messages read: 10000
500000 records sent, 100000.0 records/sec (28.61 MB/sec), 80.0 ms avg latency, 300.0 max latency.
600000 records sent, 120000.0 records/sec (34.33 MB/sec), 40.0 ms avg latency, 90.0 max latency.
650000 records sent, 130000.0 records/sec (37.19 MB/sec), 30.0 ms avg latency, 80.0 max latency.
625000 records sent, 125000.0 records/sec (35.76 MB/sec), 30.0 ms avg latency, 80.0 max latency.
"""


def test_producer_performance_windows_after_the_warmup() -> None:
    assert perf.parse_window("Number of messages read: 10000") is None
    windows = perf.windows_of(PERF_STDOUT.splitlines())
    assert [(w.start_s, w.seconds) for w in windows] == [(0, 5), (5, 5), (10, 5), (15, 5)]
    picked = perf.steady(windows, warmup=10, seconds=10)
    assert [w.records for w in picked] == [650000, 625000]
    assert perf.steady(windows, warmup=10, seconds=15) is None  # not enough yet: keep reading
