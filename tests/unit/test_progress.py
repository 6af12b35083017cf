"""Live progress: the figures, the progress file, `benchlab progress` and the stdout callback."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from test_cli import config
from test_runner import event

from benchlab.cli import main
from benchlab.config import parse_config, parse_load
from benchlab.execute import execute
from benchlab.exitcodes import EXIT_OK, EXIT_RUNNING
from benchlab.loadgen.runner import TargetRunResult
from benchlab.progress import (
    LiveFigures,
    ProgressFile,
    is_progress_command,
    job_finished,
    live_figures,
    progress_line,
)

REPO = Path(__file__).resolve().parents[2]


def test_the_figures_of_a_load_in_progress() -> None:
    """40.5 s into a 120 s load of 10 records per second-batch: 41 batches due; 30 acked
    (the last ten seconds: 10 of them, one per second), 2 failed."""
    load = parse_load({"batch_size": 10, "interval_s": 1, "duration_s": 120})
    r = TargetRunResult("postgresql", {}, 1, "configured", load, 1000.0)
    for k in range(32):
        r.add(event(k, ok=k not in (5, 6), latency_s=0.002 if k < 31 else 0.5), None)
    f = live_figures(r, stored=300, now=1040.5)
    assert (f.stage, f.elapsed_s, f.total_s) == ("load", 40.5, 120)
    assert f.due == 410 and f.acked == 300 and f.stored == 300 and f.errors == 2
    # seconds 30..39 complete: the events of seconds 30 and 31 acknowledged 10 each
    assert f.rate_per_s == pytest.approx(2.0)
    assert f.p99_ms is not None and f.p99_ms >= 400
    line = f.line()
    for part in ("postgresql load 0:40/2:00", "due 410", "acked 300", "stored 300", "errors 2"):
        assert part in line, line
    assert "n/a" in LiveFigures("null", "prepare", 0, 60, 0, 0, 0, None, None, 0).line()


def test_the_progress_file_and_the_job_decide_the_poll(tmp_path: Path) -> None:
    live = ProgressFile.for_run(tmp_path, "r1")
    assert progress_line(live.path) == "starting (no figures yet)"
    figures = LiveFigures("kafka", "load", 12, 60, 120, 100, 100, 10.0, 3.0, 0, "trial 2")
    live.update(figures)
    assert progress_line(live.path) == figures.line()
    assert "kafka [trial 2] load 0:12/1:00" in figures.line()
    assert "figures 500 s old" in progress_line(live.path, now=live.path.stat().st_mtime + 500)
    live.finish("partial")
    assert progress_line(live.path).endswith(" · run partial")

    job = tmp_path / "job"
    job.write_text(json.dumps({"started": True, "finished": False, "ansible_job_id": "j1"}))
    assert not job_finished(job)
    job.write_text("{")  # being written
    assert not job_finished(job)
    job.write_text(json.dumps({"rc": 0, "stdout": "", "changed": True}))  # the module's result
    assert job_finished(job)
    assert job_finished(tmp_path / "no-such-job")

    argv = ["progress", "--results-root", str(tmp_path), "--run-id", "r1", "--job-file"]
    assert main([*argv, str(job)]) == EXIT_OK
    job.write_text(json.dumps({"started": True, "finished": False}))
    assert main([*argv, str(job)]) == EXIT_RUNNING


def test_a_run_writes_its_figures_through_every_stage(tmp_path: Path) -> None:
    run = config(tmp_path, load={"batch_size": 20, "interval_s": 0.1, "duration_s": 2.5})
    seen: list[LiveFigures] = []
    outcome = execute(
        parse_config(json.loads(run.read_text()) | {"loadgen_metrics_port": 0}),
        tmp_path / "r",
        on_figures=seen.append,
    )
    assert outcome.status == "complete"
    stages = [f.stage for f in seen]
    assert stages[0] == "prepare" and "load" in stages and stages[-1] == "audit", stages
    assert "finish" in stages
    last = seen[-1]
    assert last.due == last.acked == 500 and last.stored is None  # null keeps nothing
    loads = [f for f in seen if f.stage == "load"]
    assert 1 <= len(loads) <= 3  # every REFRESH_S (2 s), not on every batch


def test_benchlab_run_leaves_its_last_figures_marked_done(tmp_path: Path) -> None:
    args = ["run", "--config", str(config(tmp_path)), "--results-root", str(tmp_path / "r")]
    assert main([*args, "--quiet", "--skip-metrics"]) == 0
    doc = json.loads((tmp_path / "r" / ".progress" / "cli-test-run.json").read_text())
    assert doc["state"] == "complete" and doc["figures"]["acked"] == 100
    assert doc["line"].startswith("null audit") and doc["line"].endswith("run complete")


# -- the stdout callback ----------------------------------------------------------------
def test_progress_commands_are_recognised_by_their_argv() -> None:
    assert is_progress_command(["/opt/benchlab/venv/bin/benchlab", "progress", "--run-id=x"])
    assert not is_progress_command(["/opt/benchlab/venv/bin/benchlab", "run"])
    assert not is_progress_command("benchlab progress")
    assert not is_progress_command(None)


@pytest.fixture
def callback() -> Any:
    path = REPO / "plugins" / "callback" / "benchlab.py"
    spec = importlib.util.spec_from_file_location("benchlab_stdout_plugin", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    plugin = module.CallbackModule()
    shown: list[str] = []
    plugin._display = SimpleNamespace(display=lambda msg, **_: shown.append(msg))
    plugin.host_label = lambda result: result.host
    plugin.shown = shown
    return plugin


def test_the_callback_prints_each_progress_poll_as_its_line(
    callback: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    poll = SimpleNamespace(
        host="localhost",
        result={"cmd": ["/x/bin/benchlab", "progress"], "stdout": "postgresql load 0:10/2:00\n"},
    )
    callback.v2_runner_retry(poll)
    assert callback.shown == ["  [localhost] postgresql load 0:10/2:00"]
    # any other retried task keeps Ansible's own line
    other: list[Any] = []
    monkeypatch.setattr(type(callback).__mro__[1], "v2_runner_retry", lambda s, r: other.append(r))
    retried = SimpleNamespace(host="localhost", result={"cmd": ["curl", "x"], "stdout": ""})
    callback.v2_runner_retry(retried)
    assert other == [retried] and len(callback.shown) == 1


def test_ansible_cfg_sets_the_callback_as_stdout() -> None:
    assert "stdout_callback = benchlab" in (REPO / "ansible.cfg").read_text()


def test_benchlab_bench_shows_the_same_progress_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`benchlab bench` drives bench.yml through ansible-runner: each progress poll arrives as a
    runner_retry event, and its line is printed as ansible-playbook would print it."""
    import ansible_runner
    from rich.console import Console

    from benchlab.cli import run_playbook

    line = "postgresql load 0:40/2:00 · due 66,700 · acked 66,500 · stored 66,500"

    def fake_run(**kwargs: Any) -> Any:
        handler = kwargs["event_handler"]
        poll = {"cmd": ["/x/bin/benchlab", "progress", "--run-id=r"], "stdout": line + "\n"}
        other = {"cmd": ["curl", "x"], "stdout": "not a progress line"}
        for res in (poll, other):
            handler({"event": "runner_retry", "event_data": {"host": "localhost", "res": res}})
        return SimpleNamespace(status="successful", rc=0)

    monkeypatch.setattr(ansible_runner, "run", fake_run)
    console = Console(record=True, width=200, force_terminal=False)
    assert run_playbook(tmp_path, "bench.yml", {}, [], console) == 0
    shown = console.export_text()
    assert line in shown and "not a progress line" not in shown
