"""Verdicts the user can trust (issue 11, section 1): the audit decides.

- lost > 0, duplicates on an exactly-once sink, or an audit that did not complete FAIL the
  target's data verdict, and that verdict alone gives exit code 10 (benchlab.exitcodes);
- the success rate is records found exactly once over records due, not acknowledgements.

Failed batches out of the percentiles: test_runner.py; a micro-batch reported again by a
restarted streaming job counted once: test_streaming_restart.py.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from benchlab.audit import audit_in_memory
from benchlab.cli import main, run_playbook
from benchlab.config import parse_config
from benchlab.execute import RunOutcome
from benchlab.exitcodes import DATA_VERDICT_PREFIX, EXIT_DATA_FAILED, EXIT_FAILED, EXIT_OK
from benchlab.seqranges import RangeSet
from benchlab.targets import TargetSession
from benchlab.verdict import (
    FAIL,
    NONE,
    PASS,
    audited_success_rate,
    data_verdict,
    exactly_once_sink,
    run_verdicts,
)

REPO = Path(__file__).resolve().parents[2]
CLEAN = {
    "lost": 0,
    "duplicates": 0,
    "unacknowledged_present": 0,
    "found": 100,
    "distinct_found": 100,
    "exactly_once": 100,
}


def targets() -> dict[str, Any]:
    config = parse_config(
        {
            "run_id": "r1",
            "load": {"batch_size": 10, "interval_s": 1, "duration_s": 5},
            "targets": [
                {
                    "name": "postgresql",
                    "sink": {"host": "h", "port": 5432, "password_file": "/x/pw"},
                },
                {
                    "name": "pipeline",
                    "sink": {"host": "h", "port": 9092},
                    "streaming": {
                        "master": "spark://127.0.0.1:7077",
                        "namenode": "hdfs://127.0.0.1:8020",
                    },
                },
                {"name": "null"},
            ],
        }
    )
    return {t.name: t for t in config.targets}


# -- the rule ------------------------------------------------------------------------------
def test_both_systems_promise_exactly_once_and_the_null_sink_does_not() -> None:
    t = targets()
    assert exactly_once_sink(t["postgresql"]) and exactly_once_sink(t["pipeline"])
    assert not exactly_once_sink(t["null"])


def test_one_lost_record_fails_the_verdict() -> None:
    v = data_verdict("postgresql", {**CLEAN, "lost": 1, "lost_examples": [17]}, exactly_once=True)
    assert v.status == FAIL
    assert v.line() == "postgresql: lost 1 acknowledged records (first seq 17)"


def test_duplicates_fail_on_an_exactly_once_sink_only() -> None:
    dup = {**CLEAN, "duplicates": 3}
    assert data_verdict("postgresql", dup, exactly_once=True).status == FAIL
    assert "3 duplicate rows" in data_verdict("pipeline", dup, exactly_once=True).line()
    assert data_verdict("other", dup, exactly_once=False).status == PASS


def test_an_audit_that_did_not_complete_fails() -> None:
    err = {"target": "pipeline", "error": "audit failed: Py4JError: HDFS refused"}
    v = data_verdict("pipeline", err, exactly_once=True)
    assert v.status == FAIL and "did not complete" in v.line() and "HDFS refused" in v.line()
    assert data_verdict("pipeline", None, exactly_once=True).status == FAIL  # missing
    assert data_verdict("pipeline", {"target": "pipeline"}, exactly_once=True).status == FAIL
    skipped = {"skipped": "sink kind null keeps nothing to audit"}
    assert data_verdict("null", skipped, exactly_once=False).status == NONE


def test_clean_audit_passes() -> None:
    assert data_verdict("postgresql", CLEAN, exactly_once=True).status == PASS


# -- exit codes ----------------------------------------------------------------------------
def outcome(audits: dict[str, Any], failed: tuple[str, ...] = ()) -> RunOutcome:
    t = targets()
    loaded = {name: t[name] for name in audits}
    verdicts = run_verdicts(loaded, audits)
    return RunOutcome(Path("."), "complete", {}, audits, failed, verdicts)


def test_exit_codes_of_benchlab_run() -> None:
    assert EXIT_DATA_FAILED == 10
    assert outcome({"postgresql": CLEAN, "pipeline": CLEAN}).exit_code == EXIT_OK
    assert outcome({"postgresql": {**CLEAN, "lost": 1}}).exit_code == EXIT_DATA_FAILED
    assert outcome({"pipeline": {"error": "audit failed: x"}}).exit_code == EXIT_DATA_FAILED
    assert outcome({"postgresql": {**CLEAN, "duplicates": 1}}).exit_code == EXIT_DATA_FAILED
    # the kit failing wins over the data verdict; an interrupted run wins over both
    assert outcome({"postgresql": {**CLEAN, "lost": 1}}, ("pipeline",)).exit_code == EXIT_FAILED
    partial = outcome({"postgresql": {**CLEAN, "lost": 1}})
    partial.status = "partial"
    assert partial.exit_code == 130


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def null_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, audit: dict[str, Any], max_p99_ms: float = 100
) -> tuple[Path, int]:
    """`benchlab run` of the null sink whose audit is replaced by `audit`."""
    monkeypatch.setattr(TargetSession, "audit", lambda self, result: audit)
    cfg = {
        "run_id": "verdict-run",
        "load": {"batch_size": 10, "interval_s": 0.1, "duration_s": 0.3, "processes": 1},
        "targets": [
            {
                "name": "null",
                "criteria": {
                    "min_success_rate": 0.99,
                    "max_p99_ms": max_p99_ms,
                    "oom_allowed": False,
                },
            }
        ],
        "loadgen_metrics_port": free_port(),
        "loadgen_metrics_addr": "127.0.0.1",
    }
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg))
    root = tmp_path / "r"
    args = ["run", "--config", str(path), "--results-root", str(root), "--quiet", "--skip-metrics"]
    return root, main(args)


def test_benchlab_run_with_one_lost_record_exits_10_and_keeps_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    audit = {"target": "null", **CLEAN, "acknowledged": 30, "lost": 1, "lost_examples": [7]}
    root, rc = null_run(tmp_path, monkeypatch, audit)
    assert rc == EXIT_DATA_FAILED
    run_dir = root / "verdict-run"
    run = json.loads((run_dir / "run.json").read_text())
    assert run["data_verdict"]["null"]["status"] == FAIL
    assert "lost 1 acknowledged records" in run["data_verdict"]["null"]["line"]
    assert run["figures"]["null"]["overall"] == FAIL  # the report was written, and says so
    report = (run_dir / "report.md").read_text()
    assert "| null | data (audit) | lost 0, duplicates reported, audit complete |" in report
    assert "data verdict FAIL: null: lost 1" in capsys.readouterr().out


def test_benchlab_run_with_an_errored_audit_exits_10(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, rc = null_run(tmp_path, monkeypatch, {"target": "null", "error": "audit failed: boom"})
    assert rc == EXIT_DATA_FAILED
    run = json.loads((root / "verdict-run" / "run.json").read_text())
    assert run["figures"]["null"]["success_rate"] is None  # no audit: no success rate either
    assert run["figures"]["null"]["acked_success_rate"] == 1.0


def test_slow_but_complete_run_keeps_exit_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A criteria FAIL that is not about data (p99 here) marks the report, not the exit code."""
    audit = {"target": "null", **CLEAN, "acknowledged": 30, "found": 30, "distinct_found": 30,
             "exactly_once": 30}  # fmt: skip
    root, rc = null_run(tmp_path, monkeypatch, audit, max_p99_ms=0.001)
    run = json.loads((root / "verdict-run" / "run.json").read_text())
    assert rc == EXIT_OK
    assert run["data_verdict"]["null"]["status"] == PASS
    assert run["figures"]["null"]["success_rate"] == 1.0
    criteria = {c["name"]: c["status"] for c in run["figures"]["null"]["criteria"]}
    assert criteria["p99 latency"] == FAIL and criteria["data (audit)"] == PASS
    assert run["figures"]["null"]["overall"] == FAIL


# -- success rate from the audit -----------------------------------------------------------
def test_success_rate_is_found_exactly_once_over_due() -> None:
    acked = RangeSet([(0, 100)])
    # all 100 acknowledged; the sink holds 0..89 once, 90..94 twice, 95..99 not at all
    found = [*range(90), *range(90, 95), *range(90, 95)]
    a = audit_in_memory("postgresql", acked, found).as_dict()
    assert (a["lost"], a["duplicates"], a["exactly_once"]) == (5, 5, 90)
    assert audited_success_rate(a, 100) == pytest.approx(0.90)
    assert audited_success_rate({"error": "x"}, 100) is None
    assert audited_success_rate(a, 0) is None


# -- bench.yml and `benchlab bench` --------------------------------------------------------
def bench_run_tasks() -> list[dict[str, Any]]:
    """bench_run.yml's tasks, with those of its shared tasks/finish_run.yml in their place."""
    plays = yaml.safe_load((REPO / "playbooks" / "bench_run.yml").read_text())
    tasks: list[dict[str, Any]] = []
    for task in plays[0]["tasks"]:
        if task.get("ansible.builtin.include_tasks") == "tasks/finish_run.yml":
            tasks += yaml.safe_load((REPO / "playbooks" / "tasks" / "finish_run.yml").read_text())
        else:
            tasks.append(task)
    return tasks


def test_bench_yml_fails_on_the_verdict_last_after_fetch_and_report() -> None:
    tasks = bench_run_tasks()
    names = [t["name"] for t in tasks]
    verdict = tasks[-1]
    assert verdict["name"].startswith("Fail on the data verdict")
    assert names.index("Write the report (a search wrote its own)") < names.index(
        "Fetch the run to the controller"
    )
    assert names.index("Fetch the run to the controller") < len(tasks) - 1
    assert verdict["when"] == f"_bench_run.rc | default(1) == {EXIT_DATA_FAILED}"
    assert verdict["ansible.builtin.fail"]["msg"].startswith(DATA_VERDICT_PREFIX)
    kit = tasks[-2]["ansible.builtin.assert"]["that"]
    assert f"_bench_run.rc | default(1) in [0, {EXIT_DATA_FAILED}]" in kit


def test_bench_yml_verdict_message_is_one_line_naming_target_and_cause(tmp_path: Path) -> None:
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader
    from ansible.template import Templar, trust_as_template

    init_plugin_loader()

    run_id = "20261130T000000Z-p1-both-abcd"
    run_dir = tmp_path / "results" / run_id
    run_dir.mkdir(parents=True)
    verdicts = {
        "postgresql": data_verdict("postgresql", CLEAN, exactly_once=True).as_dict(),
        "pipeline": data_verdict("pipeline", {"error": "audit failed: boom"}, exactly_once=True)
        .as_dict(),
    }  # fmt: skip
    (run_dir / "run.json").write_text(json.dumps({"data_verdict": verdicts}))
    task = bench_run_tasks()[-1]
    task_vars = {k: trust_as_template(v) for k, v in task["vars"].items()}
    variables = {"benchlab_repo_root": str(tmp_path), "benchlab_run_id": run_id, **task_vars}
    templar = Templar(loader=DataLoader(), variables=variables)
    msg = templar.template(trust_as_template(task["ansible.builtin.fail"]["msg"]))
    assert "\n" not in msg.strip()
    assert msg.startswith(f"{DATA_VERDICT_PREFIX}: pipeline: the audit did not complete: audit")
    assert "postgresql" not in msg and f"run {run_id}" in msg


class FakeRunner:
    def __init__(self, failures: list[tuple[str, str]]) -> None:
        self.failures = failures

    def run(self, **kwargs: Any) -> Any:
        handler = kwargs["event_handler"]
        for task, msg in self.failures:
            handler({"event": "runner_on_failed",
                     "event_data": {"host": "lg", "task": task, "res": {"msg": msg}}})  # fmt: skip
        return SimpleNamespace(status="failed" if self.failures else "successful",
                               rc=2 if self.failures else 0)  # fmt: skip


@pytest.mark.parametrize(
    ("failures", "rc"),
    [
        ([], EXIT_OK),
        ([("Fail on the data verdict", f"{DATA_VERDICT_PREFIX}: pipeline: lost 3")], 10),
        ([("Render the run configuration", "boom")], 2),  # ansible's own rc: the kit failed
    ],
)
def test_benchlab_bench_exits_10_on_the_verdict_task_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failures: list[Any], rc: int
) -> None:
    import ansible_runner
    from rich.console import Console

    monkeypatch.setattr(ansible_runner, "run", FakeRunner(failures).run)
    console = Console(file=open(tmp_path / "out", "w"))  # noqa: SIM115
    assert run_playbook(tmp_path, "bench.yml", {}, [], console, quiet=True) == rc


def test_the_exit_code_is_documented() -> None:
    readme = (REPO / "README.md").read_text()
    arch = (REPO / "docs" / "architecture.md").read_text()
    for text in (readme, arch):
        assert re.search(r"\b10\b.*data verdict|data verdict.*\b10\b", text, re.S)
