"""`benchlab scaleout run`: the orchestration around bench.yml, with the playbook runner faked.

No playbook runs: a fake stands in for ansible-runner (the CLI tests) or for the whole
runner (the execute tests). It writes each run's run.json where bench.yml would, from the
extravars it was given, so the tests see the run ids, the argv, the exit code, the PARTIAL
marker and the report exactly as the command leaves them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from test_scaleout import make_run
from test_scaleout_search import make_search

from benchlab.cli import main
from benchlab.exitcodes import (
    DATA_VERDICT_PREFIX,
    EXIT_BAD_INPUT,
    EXIT_DATA_FAILED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    combined,
)
from benchlab.interrupt import INTERRUPT_PLAYBOOK, marker_path
from benchlab.runparams import ParamError
from benchlab.scaleout_run import (
    BENCH_PLAYBOOK,
    PARTIAL_FILE,
    RUNS_FILE,
    WORKERS_PLAYBOOK,
    Plan,
    execute,
    make_plan,
    summary_lines,
)

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
STAMP = "20261130T120000Z"


@pytest.fixture
def kit(tmp_path: Path) -> Path:
    """A kit checkout with the files the command reads: phases, targets, a 2-worker inventory."""
    repo = tmp_path / "kit"
    (repo / "group_vars" / "all").mkdir(parents=True)
    for name in ("phases.yml", "targets.yml"):
        shutil.copy(REPO / "group_vars" / "all" / name, repo / "group_vars" / "all" / name)
    (repo / "inventory" / "two").mkdir(parents=True)
    shutil.copy(REPO / "inventory" / "virtual" / "hosts.yml", repo / "inventory" / "two")
    (repo / "ansible.cfg").write_text("[defaults]\ninventory = inventory/two\n")
    (repo / "bench.yml").write_text("---\n")
    return repo


def plan_for(kit: Path, counts: str | None = "1,2", **extra: str) -> Plan:
    return make_plan(
        kit, kit / "results", kit / "inventory" / "two", counts, extra, now=NOW, token="ab12"
    )


# -- the plan: names, argv, refusal of bad input ------------------------------------------
def test_the_plan_stamps_run_ids_and_passes_the_parameters_on(
    kit: Path,
) -> None:
    plan = plan_for(kit, "2,1", phase="2", duration="60", pg_write_method="insert")
    assert plan.scaleout_id == f"{STAMP}-ab12"
    assert plan.out_dir == kit / "results" / f"scaleout-{STAMP}-ab12"
    assert [r.workers for r in plan.runs] == [2, 1]  # the order given
    assert [r.run_id for r in plan.runs] == [
        f"{STAMP}-p2-pipeline-w2-ab12",
        f"{STAMP}-p2-pipeline-w1-ab12",
    ]
    assert plan.runs[0].extravars == {
        "duration": "60",
        "pg_write_method": "insert",
        "phase": "2",
        "target": "pipeline",
        "workers": 2,
        "benchlab_run_id": f"{STAMP}-p2-pipeline-w2-ab12",
    }
    assert plan.log(plan.runs[1]).name == "bench-w1.log"
    assert not (kit / "results").exists()  # planning creates nothing


def test_default_counts_are_every_count_the_inventory_has_and_target_may_be_all(
    kit: Path,
) -> None:
    plan = plan_for(kit, None, target="all")
    assert [r.workers for r in plan.runs] == [1, 2]
    assert plan.runs[0].run_id == f"{STAMP}-psmoke-all-w1-ab12"
    assert plan.runs[0].extravars["target"] == "all"


@pytest.mark.parametrize(
    ("workers", "extra", "field", "words"),
    [
        ("1,3", {}, "--workers", "workers=3 is more than this inventory has"),
        ("0", {}, "--workers", "not a positive integer"),
        ("1,x", {}, "--workers", "not a positive integer"),
        ("1,,2", {}, "--workers", "not a comma-separated list"),
        ("1,01", {}, "--workers", "names a worker count twice"),
        ("1,2", {"workers": "2"}, "workers", "set for each run by --workers"),
        ("1,2", {"duration": "-5"}, "duration", "not a positive number"),
        ("1,2", {"interval": "0"}, "interval", "not a positive number"),
        ("1,2", {"batch_size": "2000000"}, "batch_size", "out of range"),
        ("1,2", {"pg_write_method": "bulk"}, "pg_write_method", "is unknown"),
        ("1,2", {"phase": "9"}, "phase", "phase '9' is unknown"),
        ("1,2", {"phase": "soak"}, "phase", "phase=soak is not a scale-out phase"),
        ("1,2", {"target": "nope"}, "target", "is not available"),
        ("1,2", {"benchlab_run_id": "x"}, "benchlab_run_id", "not a run parameter"),
    ],
)
def test_bad_input_is_refused_before_anything_is_created(
    kit: Path, workers: str, extra: dict[str, str], field: str, words: str
) -> None:
    with pytest.raises(ParamError, match=words) as caught:
        plan_for(kit, workers, **extra)
    assert caught.value.field == field
    assert "\n" not in str(caught.value)
    assert not (kit / "results").exists()


def test_an_inventory_without_workers_is_refused(kit: Path) -> None:
    hosts = kit / "inventory" / "two" / "hosts.yml"
    hosts.write_text(hosts.read_text().replace("spark_workers:", "spark_workers_gone:"))
    with pytest.raises(ParamError, match="has no host in hdfs_datanodes and spark_workers"):
        plan_for(kit, None)


def test_existing_results_are_never_overwritten(kit: Path) -> None:
    (kit / "results" / f"{STAMP}-psmoke-pipeline-w2-ab12").mkdir(parents=True)
    with pytest.raises(ParamError, match="never overwrites") as caught:
        plan_for(kit)
    assert caught.value.field == "results"
    (kit / "results" / f"{STAMP}-psmoke-pipeline-w2-ab12").rmdir()
    (kit / "results" / f"scaleout-{STAMP}-ab12").mkdir()
    with pytest.raises(ParamError, match=f"scaleout-{STAMP}-ab12 exists"):
        plan_for(kit)


# -- execute, with a fake runner ------------------------------------------------------------
class FakeRunner:
    """Stands in for cli.run_playbook: records each call, leaves results, returns a code."""

    def __init__(
        self,
        results: Path,
        codes: Mapping[int, int] | None = None,
        *,
        no_results: tuple[int, ...] = (),
        during: Callable[[int], None] | None = None,
        restore_code: int = EXIT_OK,
        make: Callable[[Path, int, str], Path] | None = None,
    ) -> None:
        self.results = results
        # what bench.yml leaves in results/<run id>/: a phase run's run.json by default
        self.make = make or (lambda root, n, run_id: make_run(root, n, run_id=run_id))
        self.codes = dict(codes or {})
        self.no_results = no_results
        self.during = during
        self.restore_code = restore_code
        self.calls: list[tuple[str, dict[str, Any], str, Path]] = []

    def __call__(
        self, playbook: str, extravars: Mapping[str, Any], *, label: str, log: Path
    ) -> int:
        self.calls.append((playbook, dict(extravars), label, log))
        log.write_text(f"output of {playbook}\n")
        if playbook == WORKERS_PLAYBOOK:
            return self.restore_code
        n = int(extravars["workers"])
        if self.during:
            self.during(n)
        if n not in self.no_results:
            self.make(self.results, n, str(extravars["benchlab_run_id"]))
        return self.codes.get(n, EXIT_OK)


def run_plan(plan: Plan, runner: FakeRunner, stop: Callable[[], bool] = lambda: False) -> Any:
    said: list[str] = []
    outcome = execute(plan, runner, stop, said.append, phases={"2": 1000 / 0.6})
    return outcome, said


def test_each_count_runs_bench_yml_once_then_the_report_then_every_worker_back(
    kit: Path,
) -> None:
    plan = plan_for(kit, "1,2", duration="30")
    runner = FakeRunner(plan.results_root)
    outcome, said = run_plan(plan, runner)
    assert [(c[0], c[1].get("workers"), c[2]) for c in runner.calls] == [
        (BENCH_PLAYBOOK, 1, "[1/2] workers=1 "),
        (BENCH_PLAYBOOK, 2, "[2/2] workers=2 "),
        (WORKERS_PLAYBOOK, None, "every worker back: "),
    ]
    assert runner.calls[0][1] == plan.runs[0].extravars
    assert runner.calls[2][1] == {}  # workers.yml's default: every worker
    assert [c[3].name for c in runner.calls] == ["bench-w1.log", "bench-w2.log", "workers.log"]
    assert (plan.out_dir / "bench-w1.log").read_text() == f"output of {BENCH_PLAYBOOK}\n"
    assert outcome.exit_code == EXIT_OK
    assert not (plan.out_dir / PARTIAL_FILE).exists()
    report = json.loads((plan.out_dir / "report.json").read_text())
    assert report["id"] == plan.scaleout_id and report["partial"] is False
    assert [r["run_id"] for r in report["runs"]] == [r.run_id for r in plan.runs]
    assert (plan.out_dir / "report.md").read_text().count(plan.runs[1].run_id) >= 1
    runs = json.loads((plan.out_dir / RUNS_FILE).read_text())
    assert [(r["workers"], r["status"], r["exit_code"]) for r in runs["runs"]] == [
        (1, "done", 0),
        (2, "done", 0),
    ]
    assert any(line.startswith("[2/2] workers=2 done (exit 0)") for line in said)


@pytest.mark.parametrize(
    ("codes", "restore_code", "expected"),
    [
        ({2: EXIT_DATA_FAILED}, EXIT_OK, EXIT_DATA_FAILED),
        ({1: EXIT_DATA_FAILED, 2: 2}, EXIT_OK, EXIT_FAILED),  # a host failed: the kit failed
        ({1: 4}, EXIT_OK, EXIT_FAILED),  # unreachable
        ({}, 2, EXIT_FAILED),  # the workers play failed
    ],
)
def test_exit_codes_of_the_runs_and_the_workers_play_add_up(
    kit: Path, codes: dict[int, int], restore_code: int, expected: int
) -> None:
    plan = plan_for(kit)
    runner = FakeRunner(plan.results_root, codes, restore_code=restore_code)
    outcome, _ = run_plan(plan, runner)
    assert len(runner.calls) == 3  # a failed count does not stop the next one
    assert outcome.exit_code == expected
    assert (plan.out_dir / "report.md").is_file()  # every run left results


def test_a_failed_run_without_results_is_named_and_the_report_covers_the_rest(
    kit: Path,
) -> None:
    plan = plan_for(kit)
    outcome, _ = run_plan(plan, FakeRunner(plan.results_root, {1: 2}, no_results=(1,)))
    assert outcome.exit_code == EXIT_FAILED
    report = json.loads((plan.out_dir / "report.json").read_text())
    assert [r["workers"] for r in report["runs"]] == [2]
    assert report["answer"]["verdict"] == "insufficient"
    assert "workers=1 exit 2 (bench-w1.log)" in (plan.out_dir / "report.md").read_text()


def test_no_results_at_all_is_a_failure_without_a_report(kit: Path) -> None:
    plan = plan_for(kit)
    outcome, _ = run_plan(plan, FakeRunner(plan.results_root, {1: 1, 2: 1}, no_results=(1, 2)))
    assert outcome.exit_code == EXIT_FAILED
    assert outcome.report_dir is None and not (plan.out_dir / "report.md").exists()
    assert "no run left results" in outcome.problems[0]


def test_an_interruption_stops_at_the_current_count_and_marks_the_scaleout_partial(
    kit: Path,
) -> None:
    plan = plan_for(kit, "1,2")
    stopped: list[bool] = []
    # Ctrl-C during the first count: the runner's playbook is cancelled (EXIT_INTERRUPTED),
    # but it had already fetched a (partial) run.
    runner = FakeRunner(
        plan.results_root, {1: EXIT_INTERRUPTED}, during=lambda n: stopped.append(True)
    )
    outcome, _ = run_plan(plan, runner, stop=lambda: bool(stopped))
    assert [c[1].get("workers") for c in runner.calls] == [1]  # no second count, no restore
    assert outcome.exit_code == EXIT_INTERRUPTED
    assert "worker count(s) 1, 2 did not complete" in (plan.out_dir / PARTIAL_FILE).read_text()
    report = json.loads((plan.out_dir / "report.json").read_text())
    assert report["partial"] is True and [r["workers"] for r in report["runs"]] == [1]
    assert "**Partial: the scale-out was interrupted" in (plan.out_dir / "report.md").read_text()
    runs = json.loads((plan.out_dir / RUNS_FILE).read_text())
    assert runs["partial"] is True
    assert [r["status"] for r in runs["runs"]] == ["interrupted", "not run"]


def test_a_stop_between_counts_runs_no_further_count(kit: Path) -> None:
    plan = plan_for(kit, "1,2")
    stopped: list[bool] = []
    runner = FakeRunner(plan.results_root, during=lambda n: stopped.append(True))
    outcome, _ = run_plan(plan, runner, stop=lambda: bool(stopped))
    assert len(runner.calls) == 1
    assert [r.status for r in outcome.runs] == ["done", "not run"]
    assert outcome.exit_code == EXIT_INTERRUPTED
    assert "worker count(s) 2 did not complete" in (plan.out_dir / PARTIAL_FILE).read_text()


def test_a_search_scaleout_plans_one_search_per_count(kit: Path) -> None:
    plan = plan_for(kit, "1,2", phase="search")
    assert plan.phase == "search" and plan.target == "pipeline"
    assert [r.run_id for r in plan.runs] == [
        f"{STAMP}-psearch-pipeline-w1-ab12",
        f"{STAMP}-psearch-pipeline-w2-ab12",
    ]
    assert plan.runs[1].extravars == {
        "phase": "search",
        "target": "pipeline",
        "workers": 2,
        "benchlab_run_id": f"{STAMP}-psearch-pipeline-w2-ab12",
    }


def test_a_search_scaleout_reports_the_sustainable_rates(kit: Path) -> None:
    plan = plan_for(kit, "1,2", phase="search")
    found = {1: (480.0, 500.0), 2: (900.0, 940.0)}

    def search(root: Path, n: int, run_id: str) -> Path:
        return make_search(root, n, rate=found[n][0], fail=found[n][1], run_id=run_id)

    outcome, _ = run_plan(plan, FakeRunner(plan.results_root, make=search))
    assert outcome.exit_code == EXIT_OK
    assert [r.left_results for r in outcome.runs] == [True, True]  # search.json counts
    report = json.loads((plan.out_dir / "report.json").read_text())
    assert report["kind"] == "search" and report["answer"]["verdict"] == "raised"
    assert [r["run_id"] for r in report["runs"]] == [r.run_id for r in plan.runs]
    runs = json.loads((plan.out_dir / RUNS_FILE).read_text())
    assert runs["phase"] == "search"
    assert [(r["workers"], r["status"]) for r in runs["runs"]] == [(1, "done"), (2, "done")]
    lines = summary_lines(outcome, kit / "inventory" / "two")
    assert lines[0] == f"workers=1: done (exit 0), results/{plan.runs[0].run_id}"
    assert lines[2].startswith("Adding a worker raised the pipeline's sustainable rate from 480")
    assert lines[3] == f"report: {plan.out_dir / 'report.md'}"


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([], EXIT_OK),
        ([0, 0], EXIT_OK),
        ([0, 10], EXIT_DATA_FAILED),
        ([10, 1], EXIT_FAILED),
        ([2, 10], EXIT_FAILED),
        ([10, 1, 130], EXIT_INTERRUPTED),
    ],
)
def test_combined_exit_code_precedence(codes: list[int], expected: int) -> None:
    assert combined(codes) == expected


# -- the command, through run_playbook, with ansible-runner faked ----------------------------
@pytest.fixture
def own_signals() -> Iterator[None]:
    """The command installs SIGINT/SIGTERM handlers; give pytest its own back afterwards."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


class FakeAnsibleRunner:
    """ansible_runner.run as run_playbook calls it: events in, a status and rc out. With
    `marks`, the interrupted bench.yml marked its run in progress (results/.in-progress/) and
    interrupt.yml leaves its partial result and removes the marker."""

    def __init__(
        self,
        repo: Path,
        *,
        interrupt_at: int | None = None,
        verdict_at: int = 0,
        marks: bool = False,
    ):
        self.repo = repo
        self.interrupt_at = interrupt_at
        self.verdict_at = verdict_at
        self.marks = marks
        self.calls: list[dict[str, Any]] = []

    def run(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        handler = kwargs["event_handler"]
        extravars = kwargs["extravars"]
        handler({"event": "playbook_on_task_start", "stdout": "TASK [Run the load]",
                 "event_data": {"play": "Run", "task": "Run the load"}})  # fmt: skip
        if kwargs["playbook"] == INTERRUPT_PLAYBOOK:
            run_id = extravars["benchlab_run_id"]
            make_run(self.repo / "results", self.interrupt_at or 0, run_id=run_id, status="partial")
            marker_path(self.repo / "results", run_id).unlink()
            return SimpleNamespace(status="successful", rc=0)
        if kwargs["playbook"] != BENCH_PLAYBOOK:
            return SimpleNamespace(status="successful", rc=0)
        n = extravars["workers"]
        if n == self.interrupt_at and self.marks:
            marker = marker_path(self.repo / "results", extravars["benchlab_run_id"])
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps({
                "run_id": extravars["benchlab_run_id"], "inventory": ["/kit/inventory/two"],
                "loadgen": ["master"], "results_root": "/var/lib/benchlab/results",
                "config": "/etc/benchlab/runs/x.json", "command": "run"}))  # fmt: skip
            handler({"event": "runner_on_ok", "event_data": {
                "host": "master", "res": {"changed": True, "dest": str(marker)}}})  # fmt: skip
        if n == self.interrupt_at:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while this count runs
            assert kwargs["cancel_callback"]() is True
            return SimpleNamespace(status="canceled", rc=254)
        make_run(self.repo / "results", n, run_id=extravars["benchlab_run_id"])
        if n == self.verdict_at:
            handler({"event": "runner_on_failed", "event_data": {
                "host": "localhost", "task": "Fail on the data verdict",
                "res": {"msg": f"{DATA_VERDICT_PREFIX}: pipeline: lost 3"}}})  # fmt: skip
            return SimpleNamespace(status="failed", rc=2)
        return SimpleNamespace(status="successful", rc=0)


def scaleout_run(kit: Path, *args: str) -> int:
    return main(["scaleout", "run", "--repo", str(kit), "--quiet", *args])


def test_the_command_drives_bench_yml_per_count_through_ansible_runner(
    kit: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    own_signals: None,
) -> None:
    import ansible_runner

    fake = FakeAnsibleRunner(kit, verdict_at=2)
    monkeypatch.setattr(ansible_runner, "run", fake.run)
    code = scaleout_run(kit, "-i", "inventory/two", "--workers", "1,2", "-e", "phase=2",
                        "-e", "duration=30")  # fmt: skip
    out = capsys.readouterr().out
    assert code == EXIT_DATA_FAILED, out
    assert [c["playbook"] for c in fake.calls] == [BENCH_PLAYBOOK, BENCH_PLAYBOOK, WORKERS_PLAYBOOK]
    assert all(c["cmdline"] == f"-i {kit / 'inventory' / 'two'}" for c in fake.calls)
    first = fake.calls[0]["extravars"]
    assert {k: first[k] for k in ("phase", "duration", "target", "workers")} == {
        "phase": "2", "duration": "30", "target": "pipeline", "workers": 1,
    }  # fmt: skip
    assert first["benchlab_run_id"].endswith("-p2-pipeline-w1-" + first["benchlab_run_id"][-4:])
    assert callable(fake.calls[0]["cancel_callback"])
    (out_dir,) = (kit / "results").glob("scaleout-*")
    assert (out_dir / "bench-w1.log").read_text() == "TASK [Run the load]\n"
    assert (out_dir / "report.md").is_file() and not (out_dir / PARTIAL_FILE).exists()
    assert "[2/2] workers=2 bench.yml: failed, rc 2" in out
    assert "workers=2: data verdict FAIL (exit 10)" in out


def test_ctrl_c_stops_the_current_playbook_and_leaves_a_partial_scaleout(
    kit: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    own_signals: None,
) -> None:
    import ansible_runner

    fake = FakeAnsibleRunner(kit, interrupt_at=2)
    monkeypatch.setattr(ansible_runner, "run", fake.run)
    code = scaleout_run(kit, "--workers", "1,2")  # inventory: ansible.cfg's
    out = capsys.readouterr().out
    assert code == EXIT_INTERRUPTED, out
    assert [c["extravars"].get("workers") for c in fake.calls] == [1, 2]  # no workers.yml
    (out_dir,) = (kit / "results").glob("scaleout-*")
    assert (out_dir / PARTIAL_FILE).is_file()
    report = json.loads((out_dir / "report.json").read_text())
    assert report["partial"] is True and [r["workers"] for r in report["runs"]] == [1]
    assert f"ansible-playbook -i {kit / 'inventory' / 'two'} {WORKERS_PLAYBOOK}" in out


def test_ctrl_c_stops_the_run_on_the_load_generator_and_reports_its_partial_result(
    kit: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    own_signals: None,
) -> None:
    """The cancelled bench.yml left its run in progress: interrupt.yml stops and fetches it,
    and the partial scale-out report includes what that run did."""
    import ansible_runner

    fake = FakeAnsibleRunner(kit, interrupt_at=2, marks=True)
    monkeypatch.setattr(ansible_runner, "run", fake.run)
    code = scaleout_run(kit, "--workers", "1,2")
    out = capsys.readouterr().out
    assert code == EXIT_INTERRUPTED, out
    assert [c["playbook"] for c in fake.calls] == [
        BENCH_PLAYBOOK,
        BENCH_PLAYBOOK,
        INTERRUPT_PLAYBOOK,
    ]
    run_id = fake.calls[1]["extravars"]["benchlab_run_id"]
    assert fake.calls[2]["extravars"] == {"benchlab_run_id": run_id}
    assert fake.calls[2]["cmdline"] == "-i /kit/inventory/two"
    assert f"benchlab: interrupted: stopping run {run_id} on master" in " ".join(out.split())
    assert not marker_path(kit / "results", run_id).exists()
    (out_dir,) = (kit / "results").glob("scaleout-*")
    report = json.loads((out_dir / "report.json").read_text())
    assert report["partial"] is True and [r["workers"] for r in report["runs"]] == [1, 2]


def test_the_command_refuses_bad_input_with_one_line_and_exit_2(
    kit: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in (
        ["--workers", "3"],
        ["-e", "duration"],
        ["-i", "inventory/nope"],
        ["--phase", "1", "-e", "phase=2"],
        ["--noise", "1.5"],
    ):
        assert scaleout_run(kit, *args) == EXIT_BAD_INPUT, args
        lines = capsys.readouterr().out.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("benchlab: "), (args, lines)
    assert not (kit / "results").exists()


def test_a_stop_during_the_last_count_still_counts_as_interrupted(kit: Path) -> None:
    # The playbook ended on its own (exit 0) but Ctrl-C came meanwhile: no workers play.
    plan = plan_for(kit, "2")
    stopped: list[bool] = []
    runner = FakeRunner(plan.results_root, during=lambda n: stopped.append(True))
    outcome, _ = run_plan(plan, runner, stop=lambda: bool(stopped))
    assert [c[0] for c in runner.calls] == [BENCH_PLAYBOOK]
    assert outcome.exit_code == EXIT_INTERRUPTED
    assert (plan.out_dir / PARTIAL_FILE).is_file()
    assert "every run had ended" in (plan.out_dir / PARTIAL_FILE).read_text()
