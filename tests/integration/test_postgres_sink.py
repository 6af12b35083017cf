"""The PostgreSQL sink against a real server (the lab's, brought up by site.yml in CI)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from benchlab.records import RecordFactory
from benchlab.sinks import Batch, ErrorKind, SinkUnreachable
from benchlab.sinks.postgres import PostgresSink, PostgresSinkConfig, classify

T0 = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)


@pytest.fixture
def sink_config(postgres_sink_config: dict[str, Any]) -> PostgresSinkConfig:
    return PostgresSinkConfig.parse(postgres_sink_config, "sink")


@pytest.fixture
def run_id() -> Iterator[str]:
    rid = f"it-sink-{uuid.uuid4().hex[:12]}"
    yield rid


@pytest.fixture
def conn(sink_config: PostgresSinkConfig) -> Iterator[psycopg.Connection[Any]]:
    kwargs = PostgresSink(sink_config).connect_kwargs()
    kwargs["autocommit"] = True
    with psycopg.connect(**kwargs) as c:
        yield c


@pytest.fixture
def cleanup(
    conn: psycopg.Connection[Any], sink_config: PostgresSinkConfig, run_id: str
) -> Iterator[None]:
    yield
    conn.execute(f"DELETE FROM {sink_config.table} WHERE run_id = %s", (run_id,))  # type: ignore[arg-type]


def rows_for(conn: psycopg.Connection[Any], table: str, run_id: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        f"SELECT seq, service, level, host, user_id, latency_ms, message, event_time"  # type: ignore[arg-type]
        f" FROM {table} WHERE run_id = %s ORDER BY seq",
        (run_id,),
    ).fetchall()


@pytest.mark.parametrize("method", ["copy", "insert", "executemany"])
def test_each_method_writes_the_batch_and_acks_on_commit(
    sink_config: PostgresSinkConfig,
    conn: psycopg.Connection[Any],
    run_id: str,
    cleanup: None,
    method: str,
) -> None:
    cfg = PostgresSinkConfig.parse({**_plain(sink_config), "method": method}, "sink")
    sink = PostgresSink(cfg, name="postgresql")
    factory = RecordFactory(run_id, 300)
    with sink:
        for k in range(3):
            rows = factory.rows(k * 250, 250, T0, 0.001)
            ack = None

            def on_ack(a: Any) -> None:
                nonlocal ack
                ack = a

            sink.submit(Batch(k, k * 250, rows, sink.prepare(rows)), on_ack)
            assert ack is not None and ack.ok, ack
            assert ack.acked == 250
    stored = rows_for(conn, cfg.table, run_id)
    assert [r[0] for r in stored] == list(range(750))
    expected = factory.rows(0, 750, T0, 0.001)
    first = expected[0]
    assert stored[0][1:7] == (
        first[3],
        first[4],
        first[5],
        first[6],
        first[7],
        first[8],
    )
    assert stored[0][7] == first[2]


def test_closed_port_is_unreachable_and_a_connection_error(
    sink_config: PostgresSinkConfig,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = PostgresSinkConfig.parse(
        {**_plain(sink_config), "host": "127.0.0.1", "port": port}, "sink"
    )
    sink = PostgresSink(cfg, name="postgresql")
    with pytest.raises(SinkUnreachable, match=str(port)):
        sink.open()
    rows = RecordFactory("it-never", 300).rows(0, 5, T0)
    ack = sink.write_batch(Batch(0, 0, rows))  # type: ignore[attr-defined]
    assert not ack.ok and ack.error_kind == ErrorKind.CONNECTION


def test_statement_timeout_is_classified_as_timeout(sink_config: PostgresSinkConfig) -> None:
    cfg = PostgresSinkConfig.parse({**_plain(sink_config), "statement_timeout_ms": 100}, "sink")
    sink = PostgresSink(cfg)
    with psycopg.connect(**sink.connect_kwargs()) as c:
        with pytest.raises(psycopg.Error) as err:
            c.execute("SELECT pg_sleep(2)")
        assert classify(err.value) == ErrorKind.TIMEOUT


def test_constraint_violation_is_classified(
    sink_config: PostgresSinkConfig, conn: psycopg.Connection[Any]
) -> None:
    with pytest.raises(psycopg.Error) as err:
        conn.execute(
            f"INSERT INTO {sink_config.table} (run_id, seq, event_time, service, level, host,"  # type: ignore[arg-type]
            " user_id, latency_ms, message) VALUES (NULL, 1, now(), 's', 'l', 'h', 1, 1, 'm')"
        )
    assert classify(err.value) == ErrorKind.CONSTRAINT


def test_reconnects_after_connection_loss(
    sink_config: PostgresSinkConfig, conn: psycopg.Connection[Any], run_id: str, cleanup: None
) -> None:
    sink = PostgresSink(PostgresSinkConfig.parse({**_plain(sink_config), "retries": 0}, "sink"))
    factory = RecordFactory(run_id, 300)
    sink.open()
    try:
        assert sink.write_batch(Batch(0, 0, factory.rows(0, 10, T0))).ok
        assert sink.conn is not None
        pid = sink.conn.info.backend_pid
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        lost = sink.write_batch(Batch(1, 10, factory.rows(10, 10, T0)))
        assert not lost.ok and lost.error_kind == ErrorKind.CONNECTION
        again = sink.write_batch(Batch(2, 20, factory.rows(20, 10, T0)))
        assert again.ok
        assert sink.reconnects == 1
        # with a retry, the batch that meets a dead connection still lands, once
        retrying = PostgresSink(
            PostgresSinkConfig.parse({**_plain(sink_config), "retries": 1}, "sink")
        )
        retrying.open()
        assert retrying.conn is not None
        conn.execute("SELECT pg_terminate_backend(%s)", (retrying.conn.info.backend_pid,))
        ack = retrying.write_batch(Batch(3, 30, factory.rows(30, 10, T0)))
        retrying.close()
        assert ack.ok and ack.attempts == 2
    finally:
        sink.close()
    seqs = [r[0] for r in rows_for(conn, sink_config.table, run_id)]
    assert seqs == list(range(10)) + list(range(20, 40))


def _plain(cfg: PostgresSinkConfig) -> dict[str, Any]:
    return {k: v for k, v in cfg.__dict__.items() if v is not None}


def test_benchlab_run_smoke_against_postgres(
    postgres_sink_config: dict[str, Any],
    conn: psycopg.Connection[Any],
    sink_config: PostgresSinkConfig,
    tmp_path: Any,
) -> None:
    """`benchlab run` end to end: load, audit (lost 0), raw results and report."""
    import json

    from benchlab.cli import main

    run_id = f"it-cli-{uuid.uuid4().hex[:12]}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = {
        "run_id": run_id,
        "phase": "smoke",
        "load": {"batch_size": 50, "interval_s": 0.2, "duration_s": 3, "processes": 0},
        "targets": [
            {
                "name": "postgresql",
                "sink": postgres_sink_config,
                "criteria": {"min_success_rate": 0.99, "max_p99_ms": 100, "oom_allowed": False},
            }
        ],
        "loadgen_metrics_port": port,
        "loadgen_metrics_addr": "127.0.0.1",
    }
    path = tmp_path / "run.json"
    path.write_text(json.dumps(config))
    try:
        rc = main(
            [
                "run",
                "--config",
                str(path),
                "--results-root",
                str(tmp_path / "r"),
                "--quiet",
                "--skip-metrics",
            ]
        )
        assert rc == 0
        run_dir = tmp_path / "r" / run_id
        audit = json.loads((run_dir / "audit.json").read_text())["postgresql"]
        assert audit["acknowledged"] == 750 and audit["found"] == 750
        assert audit["lost"] == 0 and audit["duplicates"] == 0
        assert "| lost (acked, missing) | 0 |" in (run_dir / "report.md").read_text()
    finally:
        conn.execute(f"DELETE FROM {sink_config.table} WHERE run_id = %s", (run_id,))  # type: ignore[arg-type]
