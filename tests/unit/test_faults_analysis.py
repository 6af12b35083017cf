"""benchlab.faults.analysis on small hand-built run folders: exact figures per definition."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchlab.faults.analysis import Schedule, acked_back_s, analyse, stored_back_s
from benchlab.faults.catalogue import BY_NAME
from benchlab.faults.inject import Injection

T0 = 1796076656.0  # the load's start


def iso(t: float) -> str:
    return (
        datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def write_run(
    run_dir: Path,
    target: str,
    rows: list[tuple[int, int, int, float | None]],  # second, acked, failed, latency_max_ms
    *,
    audit: dict[str, Any] | None,
    load_extra: dict[str, Any] | None = None,
    restarts: list[dict[str, Any]] | None = None,
    verdict: str = "PASS",
) -> Path:
    (run_dir / "timeseries").mkdir(parents=True)
    load = {
        "start": T0, "target_rate_per_s": 1000.0, "duration_s": 20.0,
        "errors": {"connection": 3}, **(load_extra or {}),
    }  # fmt: skip
    run = {
        "run_id": run_dir.name,
        "load": {target: load},
        "audit": {target: audit} if audit is not None else {},
        "data_verdict": {target: {"status": verdict, "reasons": [], "line": f"{target}: x"}},
    }
    (run_dir / "run.json").write_text(json.dumps(run))
    lines = ["second,unix_time,records_sent,records_acked,batches_failed,latency_max_ms"]
    for s, acked, failed, lat in rows:
        lines.append(f"{s},{T0 + s:.3f},1000,{acked},{failed},{'' if lat is None else lat}")
    (run_dir / "timeseries" / f"{target}-throughput.csv").write_text("\n".join(lines) + "\n")
    doc = {"hosts": {"localhost": {"error": None, "lines": []}}, "restarts": restarts or []}
    (run_dir / "restarts.json").write_text(json.dumps(doc))
    return run_dir


def outage_rows() -> list[tuple[int, int, int, float | None]]:
    """1000/s; batches due at 10 and 11 fail, those due at 12-14 are acked in second 14."""
    rows: list[tuple[int, int, int, float | None]] = [(s, 1000, 0, 50.0) for s in range(10)]
    rows += [(10, 0, 1, None), (11, 0, 1, None), (12, 0, 0, 2500.0), (13, 0, 0, 1600.0)]
    rows += [(14, 3000, 0, 100.0)]
    rows += [(s, 1000, 0, 50.0) for s in range(15, 20)]
    return rows


AUDIT = {"acknowledged": 18000, "found": 18000, "lost": 0, "duplicates": 0}


def injection(at: float, fault: str = "postgresql_kill") -> Injection:
    return Injection(fault, "localhost", at - 2.0, at, 0, f"injected_at={at}\nkilled")


def test_postgresql_kill_row(tmp_path: Path) -> None:
    restart = {
        "host": "localhost", "service": "postgresql", "exit_time": iso(T0 + 10.45),
        "recovery_s": 1.25, "ready_s": None, "state": "running",
    }  # fmt: skip
    run = write_run(tmp_path / "r1", "postgresql", outage_rows(), audit=AUDIT, restarts=[restart])
    row = analyse(run, BY_NAME["postgresql_kill"], injection(T0 + 10.4))
    assert row.verdict == "PASS"
    assert row.injected_at_load_s == 10.4
    # due seconds from 11: 12 -> 14.5, 13 -> 14.6, 14 -> 14.1, 15 -> 15.05: first 14.1
    assert row.first_write_s == 3.7
    # windows from ceil(14.1) = 15: 15..19 holds 5,000 >= 4,900; its end 20 - 10.4
    assert row.acked_back_s == 9.6
    assert row.stored_back_s == 9.6  # PostgreSQL: stored = acknowledged
    assert row.pre_fault_acked_fraction == 1.0
    assert (row.restarted_by, row.restart_s) == ("supervisord (running)", 1.25)
    assert row.errors == {"connection": 3}
    assert (row.acknowledged, row.found, row.lost, row.duplicates) == (18000, 18000, 0, 0)


def test_restart_before_the_fault_is_not_its(tmp_path: Path) -> None:
    old = {"host": "localhost", "service": "postgresql", "exit_time": iso(T0 + 1.0),
           "recovery_s": 9.0, "state": "running"}  # fmt: skip
    run = write_run(tmp_path / "r1", "postgresql", outage_rows(), audit=AUDIT, restarts=[old])
    row = analyse(run, BY_NAME["postgresql_kill"], injection(T0 + 10.4))
    assert (row.restarted_by, row.restart_s) == (None, None)


def test_not_back_within_the_run(tmp_path: Path) -> None:
    rows: list[tuple[int, int, int, float | None]] = [(s, 1000, 0, 50.0) for s in range(10)]
    rows += [(s, 500, 0, 30.0) for s in range(10, 20)]  # half the rate after the fault
    run = write_run(tmp_path / "r1", "postgresql", rows, audit=AUDIT)
    row = analyse(run, BY_NAME["postgresql_kill"], injection(T0 + 9.5))
    assert row.first_write_s == 0.53  # due second 10, 30 ms: 10.03 - 9.5
    assert row.acked_back_s is None


def test_lost_records_fail_and_name_the_setting(tmp_path: Path) -> None:
    audit = {**AUDIT, "found": 17990, "lost": 10}
    run = write_run(tmp_path / "r1", "postgresql", outage_rows(), audit=audit, verdict="FAIL")
    row = analyse(run, BY_NAME["postgresql_kill"], injection(T0 + 10.4))
    assert row.verdict == "FAIL" and row.lost == 10
    assert any("synchronous_commit = on" in note for note in row.notes)


def test_no_audit_is_fail(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r1", "postgresql", outage_rows(), audit=None)
    row = analyse(run, BY_NAME["postgresql_kill"], injection(T0 + 10.4))
    assert row.verdict == "FAIL"
    assert any(note.startswith("not audited") for note in row.notes)


def test_no_run_json_is_fail(tmp_path: Path) -> None:
    (tmp_path / "r1").mkdir()
    row = analyse(tmp_path / "r1", BY_NAME["kafka_kill"], None)
    assert row.verdict == "FAIL" and row.lost is None


def test_not_injected(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r1", "postgresql", outage_rows(), audit=AUDIT)
    failed = Injection("postgresql_kill", "localhost", T0, None, 3, "postgresql: not running")
    row = analyse(run, BY_NAME["postgresql_kill"], failed)
    assert row.verdict == "NOT INJECTED"
    assert row.first_write_s is None
    assert "postgresql: not running" in row.notes[0]


def test_pipeline_backlog_and_driver_restart(tmp_path: Path) -> None:
    fault_at = T0 + 16.0
    backlog = [[T0 + 5, 1000], [T0 + 10, 2000], [T0 + 15, 1500], [T0 + 21, 3000],
               [T0 + 26, 9000], [T0 + 31, 1900], [T0 + 36, 1800]]  # fmt: skip
    streaming = {
        "backlog": backlog,
        "job_restarts": [
            {"exit_code": -9, "noticed_wall": T0 + 60.0, "running_wall": T0 + 75.5, "error": None}
        ],
    }
    rows: list[tuple[int, int, int, float | None]] = [(s, 1000, 0, 20.0) for s in range(20)]
    run = write_run(tmp_path / "r1", "pipeline", rows, audit=AUDIT,
                    load_extra={"streaming": streaming})  # fmt: skip
    row = analyse(run, BY_NAME["driver_kill"], injection(fault_at, "driver_kill"))
    # level 2,000 (the commits of the 30 s before); worst after: 9,000 at +10; back at +15
    assert row.stored_back_s == 15.0
    assert (row.restarted_by, row.restart_s) == ("pipeline session", 59.5)
    assert row.first_write_s == 0.02  # due second 16 (the injection at 16.0), 20 ms
    assert row.acked_back_s is None  # from ceil(16.02) = 17, no whole 5 s window in 20 s


def test_stored_back_edges() -> None:
    assert stored_back_s([], 100.0) is None
    assert stored_back_s([[90.0, 10.0]], 100.0) is None  # no commit after the fault
    assert stored_back_s([[90.0, 10.0], [101.0, 5.0]], 100.0) == 1.0  # never fell behind
    assert stored_back_s([[90.0, 10.0], [101.0, 50.0], [110.0, 40.0]], 100.0) is None


def test_offered_counts_whole_batches_of_the_schedule() -> None:
    phase2 = Schedule(1000.0, 0.6, 150)  # 1,667/s offered in 1,000-record batches
    assert phase2.offered(0, 5) == 9000.0  # due at 0, 0.6, ..., 4.8
    assert phase2.offered(1, 6) == 8000.0  # 1.2 .. 5.4
    assert phase2.offered(89, 95) == 1000.0  # the last batch is due at 89.4
    # acks as due (a 20 ms latency): every 5 s window is at 100 %, also the 8-batch ones,
    # which the mean rate (8,333 x 98 % = 8,167) would fail
    acked = [0.0] * 20
    for k in range(34):
        acked[int(k * 0.6 + 0.02)] += 1000.0
    rows = [{"second": float(s), "records_acked": a} for s, a in enumerate(acked)]
    assert acked_back_s(rows, 0.5, 1.0, phase2, 20.0) == 5.5  # window 1..6 (8 batches)


def test_a_fault_that_took_the_streaming_job_down_says_so(tmp_path: Path) -> None:
    restart = {"host": "localhost", "service": "hdfs-namenode", "exit_time": iso(T0 + 16.1),
               "recovery_s": 5.5, "state": "running"}  # fmt: skip
    streaming = {"backlog": [], "job_restarts": [
        {"exit_code": 1, "noticed_wall": T0 + 62.0, "running_wall": T0 + 84.0, "error": None}
    ]}  # fmt: skip
    rows: list[tuple[int, int, int, float | None]] = [(s, 1000, 0, 20.0) for s in range(20)]
    run = write_run(tmp_path / "r1", "pipeline", rows, audit=AUDIT, restarts=[restart],
                    load_extra={"streaming": streaming})  # fmt: skip
    row = analyse(run, BY_NAME["namenode_kill"], injection(T0 + 16.0, "namenode_kill"))
    assert row.restarted_by == "supervisord (running); job: pipeline session"
    assert row.restart_s == 5.5
    assert "running 68.0 s after the fault" in row.notes[-1]


def test_a_stalled_job_is_never_back_and_the_setting_is_named(tmp_path: Path) -> None:
    streaming = {"backlog": [[T0 + 10, 2000], [T0 + 16.4, 1000]], "drained": False,
                 "job_restarts": []}  # fmt: skip
    audit = {"acknowledged": 20000, "found": 8000, "lost": 12000, "duplicates": 0}
    rows: list[tuple[int, int, int, float | None]] = [(s, 1000, 0, 20.0) for s in range(20)]
    run = write_run(tmp_path / "r1", "pipeline", rows, audit=audit, verdict="FAIL",
                    load_extra={"streaming": streaming})  # fmt: skip
    row = analyse(run, BY_NAME["spark_master_kill"], injection(T0 + 16.0, "spark_master_kill"))
    assert row.stored_back_s is None  # one commit at +0.4, then none: not back
    assert row.verdict == "FAIL" and row.lost == 12000
    assert any("spark.deploy.recoveryMode" in note for note in row.notes)
    assert any("did not drain" in note for note in row.notes)
