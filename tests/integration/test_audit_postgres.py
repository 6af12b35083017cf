"""The audit against a real PostgreSQL: lost, duplicated and unacknowledged rows are found."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from benchlab.records import COLUMNS, RecordFactory
from benchlab.seqranges import RangeSet
from benchlab.sinks import Batch
from benchlab.sinks.postgres import PostgresSink, PostgresSinkConfig
from benchlab.targets.postgresql.audit import audit_postgres

T0 = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)


@pytest.fixture
def sink_config(postgres_sink_config: dict[str, Any]) -> PostgresSinkConfig:
    return PostgresSinkConfig.parse(postgres_sink_config, "sink")


@pytest.fixture
def env(sink_config: PostgresSinkConfig) -> Iterator[tuple[str, psycopg.Connection[Any]]]:
    run_id = f"it-audit-{uuid.uuid4().hex[:12]}"
    kwargs = PostgresSink(sink_config).connect_kwargs()
    kwargs["autocommit"] = True
    with psycopg.connect(**kwargs) as conn:
        try:
            yield run_id, conn
        finally:
            conn.execute(f"DELETE FROM {sink_config.table} WHERE run_id = %s", (run_id,))  # type: ignore[arg-type]


def write(sink_config: PostgresSinkConfig, run_id: str, batches: int, size: int) -> RangeSet:
    acked = RangeSet()
    factory = RecordFactory(run_id, 300)
    sink = PostgresSink(sink_config)
    with sink:
        for k in range(batches):
            rows = factory.rows(k * size, size, T0, 0.001)
            ack = sink.write_batch(Batch(k, k * size, rows, sink.prepare(rows)))
            assert ack.ok
            for first, n in ack.ranges():
                acked.add(first, n)
    return acked


def test_clean_run_audits_clean(sink_config: PostgresSinkConfig, env: tuple[str, Any]) -> None:
    run_id, _ = env
    acked = write(sink_config, run_id, 4, 500)
    r = audit_postgres("postgresql", sink_config, run_id, acked)
    assert (
        r.acknowledged,
        r.rows_found,
        r.lost,
        r.duplicates,
        r.unacknowledged_present,
    ) == (
        2000,
        2000,
        0,
        0,
        0,
    )
    assert r.ok


def test_deleted_row_is_lost_and_copied_row_is_duplicate(
    sink_config: PostgresSinkConfig, env: tuple[str, psycopg.Connection[Any]]
) -> None:
    run_id, conn = env
    table = sink_config.table
    acked = write(sink_config, run_id, 3, 100)
    cols = ", ".join(COLUMNS)
    conn.execute(f"DELETE FROM {table} WHERE run_id = %s AND seq IN (42, 250)", (run_id,))  # type: ignore[arg-type]
    conn.execute(
        f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {table}"  # type: ignore[arg-type]
        " WHERE run_id = %s AND seq = 7",
        (run_id,),
    )
    # a row that was written although its batch was never acknowledged
    conn.execute(
        f"INSERT INTO {table} ({cols}) SELECT run_id, 5000, event_time, service, level, host,"  # type: ignore[arg-type]
        " user_id, latency_ms, message FROM {table} WHERE run_id = %s AND seq = 8".replace(
            "{table}", table
        ),
        (run_id,),
    )
    r = audit_postgres("postgresql", sink_config, run_id, acked)
    assert r.acknowledged == 300
    assert r.rows_found == 300 - 2 + 1 + 1
    assert r.lost == 2 and r.lost_examples == [42, 250]
    assert r.duplicates == 1 and r.duplicate_examples == [7]
    assert r.unacknowledged_present == 1
    # held exactly once: 299 distinct seqs (298 acked ones left + seq 5000) minus seq 7
    assert (r.duplicated_seqs, r.exactly_once) == (1, 298)
    assert not r.ok


def test_unacknowledged_gap_in_ranges(
    sink_config: PostgresSinkConfig, env: tuple[str, psycopg.Connection[Any]]
) -> None:
    """Rows of a batch whose ack was lost count as present-but-unacknowledged, not as lost."""
    run_id, _ = env
    acked = write(sink_config, run_id, 3, 100)
    partial = RangeSet([(0, 100), (200, 100)])  # pretend batch 1's ack never arrived
    r = audit_postgres("postgresql", sink_config, run_id, partial)
    assert acked.total() == 300
    assert (r.acknowledged, r.lost, r.duplicates, r.unacknowledged_present) == (
        200,
        0,
        0,
        100,
    )
