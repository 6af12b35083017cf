"""A run's restarts: every host's restart log kept to the run window (benchlab.restarts
collect, as bench.yml calls it), and the report's "Restarts during the run" section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_report import make_run  # the report tests' run directory

from benchlab import restarts
from benchlab.report import generate_report

# make_run's run.json: created 2026-11-22T16:01:02Z; finished is set per test.
WORKER1 = """\
2026-11-22T15:59:00.000Z service=hdfs-datanode group=hdfs-datanode pid=1 from_state=RUNNING event=exit
2026-11-22T15:59:06.000Z program=hdfs-datanode group=hdfs-datanode pid=2 from_state=STARTING event=running exit_time=2026-11-22T15:59:00.000Z exit_pid=1 respawn_s=0.010 recovery_s=6.000
2026-11-22T16:01:30.250Z service=hdfs-datanode group=hdfs-datanode pid=2 from_state=RUNNING event=exit
2026-11-22T16:01:36.300Z program=hdfs-datanode group=hdfs-datanode pid=3 from_state=STARTING event=running exit_time=2026-11-22T16:01:30.250Z exit_pid=2 respawn_s=0.012 recovery_s=6.050
2026-11-22T16:01:41.750Z program=hdfs-datanode group=hdfs-datanode event=ready check=namenode-registration exit_time=2026-11-22T16:01:30.250Z ready_s=11.500
"""  # noqa: E501
MASTER_OLD_FORMAT = "2026-11-22T16:02:00Z service=kafka group=kafka pid=9 from_state=RUNNING\n"
MASTER_AFTER = (
    "2026-11-22T17:00:00.000Z service=kafka group=kafka pid=10 from_state=RUNNING event=exit\n"
)


def finish(run_dir: Path, finished: str = "2026-11-22T16:03:00Z") -> None:
    run = json.loads((run_dir / "run.json").read_text())
    run["finished"] = finished
    (run_dir / "run.json").write_text(json.dumps(run))


def test_collect_keeps_the_exits_inside_the_run_window(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, ["pipeline"])
    finish(run_dir)
    doc = restarts.collect(
        run_dir,
        {
            "worker1": {"text": WORKER1, "error": None},
            "master": {"text": MASTER_OLD_FORMAT + MASTER_AFTER, "error": None},
            "worker2": {"text": "", "error": "Failed to connect to the host via ssh"},
        },
    )
    assert doc == json.loads((run_dir / "restarts.json").read_text())
    assert doc["window"]["start_utc"] == "2026-11-22T16:01:02Z"
    assert doc["window"]["end_utc"] == "2026-11-22T16:03:01Z"
    dn, kafka = doc["restarts"]
    assert dn == {
        "host": "worker1", "service": "hdfs-datanode", "group": "hdfs-datanode",
        "exit_time": "2026-11-22T16:01:30.250Z", "exit_pid": "2", "from_state": "RUNNING",
        "respawn_s": 0.012, "running_time": "2026-11-22T16:01:36.300Z", "running_pid": "3",
        "recovery_s": 6.05, "ready_check": "namenode-registration",
        "ready_time": "2026-11-22T16:01:41.750Z", "ready_s": 11.5, "state": "in service",
    }  # fmt: skip
    assert (kafka["host"], kafka["state"], kafka["recovery_s"]) == ("master", "not back", None)
    assert doc["hosts"]["worker1"]["lines"] == WORKER1.splitlines()[2:]
    assert doc["hosts"]["master"]["lines"] == [MASTER_OLD_FORMAT.strip()]
    unreachable = {"error": "Failed to connect to the host via ssh", "lines": []}
    assert doc["hosts"]["worker2"] == unreachable


def test_recovery_after_the_run_end_still_belongs_to_the_exit_inside(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, ["pipeline"])
    finish(run_dir, "2026-11-22T16:01:33Z")  # ends 3 s after the exit, before RUNNING
    doc = restarts.collect(run_dir, {"worker1": {"text": WORKER1}})
    (entry,) = doc["restarts"]
    assert entry["recovery_s"] == 6.05 and entry["ready_s"] == 11.5


def test_collect_cli_reads_one_file_per_host_and_rejects_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # What playbooks/tasks/collect_restarts.yml leaves in the run directory: a log, an empty
    # log (the host has none: no unexpected exit), and an error (host unreachable).
    run_dir = make_run(tmp_path, ["pipeline"])
    finish(run_dir)
    logs = run_dir / "restart-logs"
    logs.mkdir()
    (logs / "worker1.log").write_text(WORKER1)
    (logs / "master.log").write_text("")
    (logs / "worker2.error").write_text("Failed to connect to the host via ssh\n")
    (logs / "notes.txt").write_text("not a log")
    argv = ["collect", "--run-dir", str(run_dir), "--logs-dir", str(logs)]
    hosts = ["--host=master", "--host=worker1", "--host=worker2", "--host=worker3"]
    assert restarts.main([*argv, *hosts]) == 0
    assert "1 restart(s)" in capsys.readouterr().out
    doc = json.loads((run_dir / "restarts.json").read_text())
    assert [(r["host"], r["exit_time"]) for r in doc["restarts"]] == [
        ("worker1", "2026-11-22T16:01:30.250Z")
    ]
    assert doc["hosts"] == {
        "master": {"error": None, "lines": []},
        "worker1": {"error": None, "lines": WORKER1.splitlines()[2:]},
        "worker2": {"error": "Failed to connect to the host via ssh", "lines": []},
        "worker3": {"error": f"no restart log in {logs}", "lines": []},
    }
    # the same as collect() given the texts directly (what bench.yml piped in before)
    direct = restarts.collect(
        run_dir,
        {
            "master": {"text": "", "error": None},
            "worker1": {"text": WORKER1, "error": None},
            "worker2": {"text": "", "error": "Failed to connect to the host via ssh"},
            "worker3": {"text": "", "error": f"no restart log in {logs}"},
        },
    )
    assert direct == doc
    # an empty .error file still marks the host
    (logs / "worker2.error").write_text("")
    assert restarts.read_logs_dir(logs)["worker2"] == {"text": "", "error": "unreadable"}
    # no run directory (the run stopped before creating one), no logs directory
    assert (
        restarts.main(["collect", "--run-dir", str(tmp_path / "nope"), "--logs-dir", str(logs)])
        == 2
    )
    assert "no run.json" in capsys.readouterr().err
    assert (
        restarts.main(["collect", "--run-dir", str(run_dir), "--logs-dir", str(tmp_path / "nope")])
        == 2
    )
    assert "not a directory of restart logs" in capsys.readouterr().err


def test_report_section_lists_each_restart_with_its_recovery(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, ["pipeline"])
    finish(run_dir)
    restarts.collect(run_dir, {"worker1": {"text": WORKER1}, "worker2": {"error": "unreachable"}})
    report = generate_report(run_dir, skip_metrics=True).read_text()
    assert "## Restarts during the run" in report
    assert (
        "| worker1 | hdfs-datanode | 2026-11-22T16:01:30.250Z | 2026-11-22T16:01:36.300Z | 6.050 "
        "| 2026-11-22T16:01:41.750Z (namenode-registration) | 11.500 | in service |"
    ) in report
    assert "worker2: restart log not read (unreachable)." in report
    run = json.loads((run_dir / "run.json").read_text())
    assert run["restarts"]["restarts"][0]["recovery_s"] == 6.05


def test_report_says_no_restarts_and_not_collected(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, ["pipeline"])
    report = generate_report(run_dir, skip_metrics=True).read_text()
    assert "Restart logs were not collected for this run" in report
    assert json.loads((run_dir / "run.json").read_text())["restarts"] is None
    finish(run_dir)
    restarts.collect(run_dir, {"master": {"text": MASTER_AFTER}, "worker1": {"text": ""}})
    report = generate_report(run_dir, skip_metrics=True).read_text()
    assert (
        "No restarts during the run: no unexpected exit in the restart log of master, worker1 "
        "between 2026-11-22T16:01:02Z and 2026-11-22T16:03:01Z."
    ) in report
    assert json.loads((run_dir / "run.json").read_text())["restarts"]["restarts"] == []


def test_report_lists_streaming_job_restarts(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, ["pipeline"])
    load = json.loads((run_dir / "load.json").read_text())
    t = restarts.parse_iso("2026-11-22T16:01:40Z")
    load["pipeline"]["streaming"] = {
        "batches": 3,
        "rows_committed": 10000,
        "freshness_ms": {"p50": 3100.0, "p99": 40000.0, "max": 45000.0},
        "batch_duration_ms": {"p50": 900.0, "p99": 2100.0, "max": 2300.0},
        "drained": True,
        "drain_s": 30.0,
        "job_restarts": [
            {"exit_code": 1, "noticed_wall": t, "running_wall": t + 31.5, "error": None}
        ],
    }
    (run_dir / "load.json").write_text(json.dumps(load))
    report = generate_report(run_dir, skip_metrics=True).read_text()
    assert (
        "- pipeline: the job exited with code 1, noticed 2026-11-22T16:01:40Z; its query ran "
        "again at 2026-11-22T16:02:11Z (31.5 s later)"
    ) in report
