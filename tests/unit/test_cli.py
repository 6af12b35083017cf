"""CLI exit codes: 0 done, 2 bad input, 3 sink unreachable, 130 interrupted."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from benchlab.cli import main


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config(tmp_path: Path, **changes: Any) -> Path:
    data: dict[str, Any] = {
        "run_id": "cli-test-run",
        "phase": "smoke",
        "load": {
            "batch_size": 20,
            "interval_s": 0.1,
            "duration_s": 0.5,
            "processes": 1,
        },
        "targets": [
            {
                "name": "null",
                "criteria": {"min_success_rate": 0.99, "max_p99_ms": 100, "oom_allowed": False},
            }
        ],
        "loadgen_metrics_port": free_port(),
        "loadgen_metrics_addr": "127.0.0.1",
    }
    data.update(changes)
    path = tmp_path / "run.json"
    path.write_text(json.dumps(data))
    return path


def test_null_run_writes_results_and_exits_0(tmp_path: Path) -> None:
    rc = main(
        [
            "run",
            "--config",
            str(config(tmp_path)),
            "--results-root",
            str(tmp_path / "r"),
            "--quiet",
            "--skip-metrics",
        ]
    )
    assert rc == 0
    run_dir = tmp_path / "r" / "cli-test-run"
    for name in (
        "run.json",
        "load.json",
        "audit.json",
        "report.md",
        "latency/null.hgrm",
        "latency/null.hdr",
        "timeseries/null-throughput.csv",
    ):
        assert (run_dir / name).is_file(), name
    assert not (run_dir / "PARTIAL").exists()
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "complete" and run["load"]["null"]["records_acked"] == 100
    # the same run id again: refused, earlier results untouched
    before = (run_dir / "load.json").read_text()
    rc = main(
        [
            "run",
            "--config",
            str(config(tmp_path)),
            "--results-root",
            str(tmp_path / "r"),
            "--quiet",
        ]
    )
    assert rc == 2
    assert (run_dir / "load.json").read_text() == before
    assert main(["results", "list", "--results-root", str(tmp_path / "r")]) == 0
    assert main(["results", "show", "cli-test-run", "--results-root", str(tmp_path / "r")]) == 0
    assert main(["results", "show", "nope", "--results-root", str(tmp_path / "r")]) == 2
    assert main(["report", "--run-dir", str(run_dir), "--skip-metrics"]) == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"load": {"batch_size": -1, "interval_s": 0.1, "duration_s": 1}},
        {"load": {"batch_size": "lots", "interval_s": 0.1, "duration_s": 1}},
        {"targets": [{"name": "cassandra"}]},
        {"run_id": "a/b"},
        {
            "targets": [
                {
                    "name": "postgresql",
                    "sink": {"host": "127.0.0.1", "port": 1, "password_file": "/nonexistent/pw"},
                }
            ]
        },
    ],
)
def test_bad_config_exits_2_and_creates_nothing(
    tmp_path: Path, changes: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "r"
    rc = main(
        [
            "run",
            "--config",
            str(config(tmp_path, **changes)),
            "--results-root",
            str(root),
        ]
    )
    assert rc == 2
    assert "fix" in capsys.readouterr().out
    assert not root.exists()


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    assert (
        main(
            [
                "run",
                "--config",
                str(tmp_path / "none.json"),
                "--results-root",
                str(tmp_path),
            ]
        )
        == 2
    )


def test_unreachable_sink_exits_3_and_creates_nothing(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("x")
    sink = {
        "host": "127.0.0.1",
        "port": free_port(),
        "password_file": str(pw),
        "connect_timeout_s": 2,
    }
    root = tmp_path / "r"
    rc = main(
        [
            "run",
            "--config",
            str(config(tmp_path, targets=[{"name": "postgresql", "sink": sink}])),
            "--results-root",
            str(root),
        ]
    )
    assert rc == 3
    assert not root.exists()


def test_busy_metrics_port_exits_2(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        root = tmp_path / "r"
        path = config(tmp_path, loadgen_metrics_port=port)
        assert main(["run", "--config", str(path), "--results-root", str(root), "--quiet"]) == 2
        assert not (root / "cli-test-run").exists()


def test_argument_errors_exit_2(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as err:
        main(["run"])
    assert err.value.code == 2
    with pytest.raises(SystemExit) as err:
        main(["frobnicate"])
    assert err.value.code == 2
    assert main(["report", "--run-dir", str(tmp_path)]) == 2


def test_bench_rejects_bad_input_before_running(tmp_path: Path) -> None:
    (tmp_path / "bench.yml").write_text("- hosts: all\n  tasks: []\n")
    gv = tmp_path / "group_vars" / "all"
    gv.mkdir(parents=True)
    (gv / "phases.yml").write_text(
        "benchlab_phases:\n  smoke: {}\n  '1': {}\n  '2': {}\n  '3': {}\n"
    )
    repo = ["--repo", str(tmp_path), "--quiet"]
    assert main(["bench", "--phase", "7", *repo]) == 2
    assert main(["bench", "--phase", "2", "-e", "duration", *repo]) == 2
    assert main(["bench", "--phase", "2", "--inventory", "inventory/nowhere", *repo]) == 2
    assert main(["bench", "--phase", "2", "--repo", str(tmp_path / "empty")]) == 2


def test_sigint_leaves_partial_result_and_exits_130(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        load={"batch_size": 10, "interval_s": 0.1, "duration_s": 60, "processes": 1},
    )
    root = tmp_path / "r"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchlab.cli",
            "run",
            "--config",
            str(path),
            "--results-root",
            str(root),
            "--quiet",
            "--skip-metrics",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ},
    )
    deadline = time.monotonic() + 20
    while not (root / "cli-test-run" / "run.json").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, out
    run_dir = root / "cli-test-run"
    assert (run_dir / "PARTIAL").exists()
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "partial"
    assert 0 < run["load"]["null"]["records_acked"] < 6000
    assert "PARTIAL RESULT" in (run_dir / "report.md").read_text()


def test_calibrate_is_a_benchlab_subcommand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["calibrate", "figures", "--results-root", str(tmp_path), "--host", "h1"]) == 0
    assert json.loads(capsys.readouterr().out) == {"h1": None}
