"""Scale-out report: the answer to "does adding a worker node raise throughput?" and its files.

The fixture is the run.json of a real smoke run of the pipeline on the local lab (metrics,
calibration and the backlog series dropped, the `workers` block bench.yml now renders added);
each test changes only the figures its case is about.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from benchlab.cli import main
from benchlab.config import parse_config
from benchlab.report import generate_report, target_limits
from benchlab.scaleout import (
    ScaleoutError,
    answer,
    load_phase_rates,
    load_point,
    write_report,
)

FIXTURE = Path(__file__).parent / "fixtures" / "scaleout" / "run-pipeline-smoke.json"
REPO = Path(__file__).resolve().parents[2]
PHASES = {"1": 100 / 0.6, "2": 1000 / 0.6, "3": 5000 / 0.3}
WORKERS = ["worker1", "worker2"]


def make_run(
    root: Path,
    workers: int,
    *,
    run_id: str | None = None,
    stored: float | None = None,
    drain_s: float | None = None,
    offered: float | None = None,
    acked: float | None = None,
    duration: float | None = None,
    lost: int = 0,
    status: str = "complete",
) -> Path:
    run: dict[str, Any] = copy.deepcopy(json.loads(FIXTURE.read_text()))
    run_id = run_id or f"20261122T181912Z-psmoke-pipeline-w{workers}"
    run["run_id"] = run["config"]["run_id"] = run_id
    hosts = WORKERS[:workers]
    run["config"]["workers"] = {
        "count": workers,
        "of": 2,
        "hosts": {"hdfs_datanodes": hosts, "spark_workers": hosts},
    }
    load = run["load"]["pipeline"]
    streaming = load["streaming"]
    if stored is not None:
        load["throughput_per_s"] = streaming["stored_per_s"] = stored
    if drain_s is not None:
        streaming["drain_s"] = drain_s
    if offered is not None:
        load["target_rate_per_s"] = offered
        load["acked_throughput_per_s"] = offered
    if acked is not None:
        load["acked_throughput_per_s"] = acked
    if duration is not None:
        load["duration_s"] = duration
    load["status"] = status
    run["audit"]["pipeline"]["lost"] = lost
    # per-host service rows as the report writes them: every worker host of the inventory
    # exports its cgroups, the stopped ones at ~0 CPU
    rows = []
    for template in run["figures"]["pipeline"]["services"]:
        for host in WORKERS:
            row = dict(template, host=host)
            if host not in hosts:
                row["cpu_cores_mean"] = 0.0
            rows.append(row)
    run["figures"]["pipeline"]["services"] = rows
    path = root / run_id
    path.mkdir(parents=True)
    (path / "run.json").write_text(json.dumps(run))
    return path


def points(*dirs: Path) -> list[Any]:
    return [load_point(d) for d in dirs]


# -- the decision -------------------------------------------------------------------------
def test_smoke_runs_that_both_kept_up_say_the_phase_did_not_saturate_one_worker(
    tmp_path: Path,
) -> None:
    # the real smoke figures: 250 records/s offered, drained 6.4 s after the load
    one = make_run(tmp_path, 1)
    two = make_run(tmp_path, 2, stored=180.0)
    result = answer(points(one, two), 0.10, PHASES)
    assert result["verdict"] == "not-saturated"
    assert "already stored all of the offered 250 records/s" in result["sentence"]
    # smoke offers 250/s; the first phase above 275/s is phase 2
    assert "-e phase=2" in result["sentence"]
    assert "+2.7%" in result["sentence"]


def test_gain_above_noise_when_one_worker_fell_behind_is_yes(tmp_path: Path) -> None:
    kw = {"offered": 1666.7, "duration": 600.0}
    one = make_run(tmp_path, 1, stored=1100.0, drain_s=300.0, **kw)
    two = make_run(tmp_path, 2, stored=1600.0, drain_s=8.0, **kw)
    result = answer(points(one, two), 0.10, PHASES)
    assert result["verdict"] == "yes"
    assert result["gain"] == pytest.approx(1600 / 1100 - 1)
    assert result["sentence"].startswith("Yes: going from 1 to 2 workers")
    assert "+45.5%" in result["sentence"]
    assert "capped by the offered load" in result["sentence"]


def test_drain_inside_the_allowance_counts_as_kept_up(tmp_path: Path) -> None:
    # allowance = max(3 x 5 s trigger, 10 % x 600 s) = 60 s: 59 s kept up, 61 s did not
    kw = {"offered": 1666.7, "duration": 600.0}
    kept = answer(
        points(
            make_run(tmp_path / "a", 1, stored=1500.0, drain_s=59.0, **kw),
            make_run(tmp_path / "a", 2, stored=1700.0, drain_s=5.0, **kw),
        ),
        0.10,
        PHASES,
    )
    behind = answer(
        points(
            make_run(tmp_path / "b", 1, stored=1500.0, drain_s=61.0, **kw),
            make_run(tmp_path / "b", 2, stored=1700.0, drain_s=5.0, **kw),
        ),
        0.10,
        PHASES,
    )
    assert kept["verdict"] == "not-saturated"
    assert "-e phase=3" in kept["sentence"]
    assert behind["verdict"] == "yes"


def saturated_answer(tmp_path: Path, stored_one: float, stored_two: float) -> dict[str, Any]:
    """The answer for phase 2 runs at 1 and 2 workers that did not keep up (long drains)."""
    kw = {"offered": 1666.7, "duration": 600.0, "drain_s": 200.0}
    one = make_run(tmp_path, 1, stored=stored_one, **kw)
    two = make_run(tmp_path, 2, stored=stored_two, **kw)
    return answer(points(one, two), 0.10, PHASES)


def test_gain_within_noise_is_no(tmp_path: Path) -> None:
    result = saturated_answer(tmp_path, 1000.0, 1080.0)
    assert result["verdict"] == "no"
    assert "+8.0%" in result["sentence"]
    assert "within the ±10% noise threshold" in result["sentence"]


def test_throughput_that_drops_is_reported_as_fell(tmp_path: Path) -> None:
    result = saturated_answer(tmp_path, 1000.0, 700.0)
    assert result["verdict"] == "fell"
    assert "-30.0%" in result["sentence"]


def test_repeated_runs_widen_the_noise_threshold(tmp_path: Path) -> None:
    kw = {"offered": 1666.7, "duration": 600.0, "drain_s": 200.0}
    one_a = make_run(tmp_path, 1, run_id="r1a", stored=1000.0, **kw)
    one_b = make_run(tmp_path, 1, run_id="r1b", stored=1300.0, **kw)
    two = make_run(tmp_path, 2, run_id="r2", stored=1400.0, **kw)
    result = answer(points(one_a, one_b, two), 0.10, PHASES)
    # median at one worker 1150, gain +21.7 %, but the repeats spread 300 / 1150 = 26 %
    assert result["noise"] == pytest.approx(300 / 1150)
    assert "1 worker(s)" in result["noise_source"]
    assert result["verdict"] == "no"
    # the same figures without the repeat would have been a yes
    assert answer(points(one_a, two), 0.10, PHASES)["verdict"] == "yes"


def test_kafka_taking_less_than_offered_points_before_the_workers(tmp_path: Path) -> None:
    kw = {"offered": 16666.7, "duration": 300.0, "drain_s": 10.0}
    one = make_run(tmp_path, 1, stored=8000.0, acked=8100.0, **kw)
    two = make_run(tmp_path, 2, stored=8200.0, acked=8300.0, **kw)
    result = answer(points(one, two), 0.10, PHASES)
    assert result["verdict"] == "input-limited"
    assert "Kafka acknowledged only 8,100 of the offered 16,667 records/s" in result["sentence"]


def test_different_offered_loads_are_not_compared(tmp_path: Path) -> None:
    one = make_run(tmp_path, 1, stored=1000.0, offered=1666.7, drain_s=200.0)
    two = make_run(tmp_path, 2, stored=1500.0, offered=2000.0, drain_s=200.0)
    result = answer(points(one, two), 0.10, PHASES)
    assert result["verdict"] == "insufficient"
    assert "different loads" in result["sentence"]


def test_one_count_or_partial_runs_cannot_answer(tmp_path: Path) -> None:
    one = make_run(tmp_path, 1)
    partial = make_run(tmp_path, 2, status="partial")
    result = answer(points(one, partial), 0.10, PHASES)
    assert result["verdict"] == "insufficient"
    assert "cover 1 worker count(s) (1)" in result["sentence"]


def test_lost_records_are_named_in_the_answer(tmp_path: Path) -> None:
    kw = {"offered": 1666.7, "duration": 600.0}
    one = make_run(tmp_path, 1, stored=1100.0, drain_s=300.0, **kw)
    two = make_run(tmp_path, 2, stored=1600.0, drain_s=8.0, lost=12, **kw)
    assert "12 acknowledged records were lost" in answer(points(one, two), 0.10, PHASES)["sentence"]


# -- reading runs ---------------------------------------------------------------------------
def test_cpu_counts_only_the_runs_active_workers(tmp_path: Path) -> None:
    one = load_point(make_run(tmp_path, 1))
    two = load_point(make_run(tmp_path, 2))
    spark_one, spark_two = one.cpu["spark-worker"], two.cpu["spark-worker"]
    assert spark_one["hosts"] == ["worker1"]
    assert spark_one["cores_mean"] == pytest.approx(0.25613, rel=1e-3)
    # 0.256 cores of one 0.5-core worker; with two workers the limit doubles
    assert spark_one["pct_of_limit_mean"] == pytest.approx(51.2, rel=1e-2)
    assert spark_two["cores_mean"] == pytest.approx(2 * 0.25613, rel=1e-3)
    assert spark_two["pct_of_limit_mean"] == pytest.approx(51.2, rel=1e-2)


def test_a_run_without_a_worker_count_is_refused(tmp_path: Path) -> None:
    path = make_run(tmp_path, 1)
    run = json.loads((path / "run.json").read_text())
    del run["config"]["workers"]
    (path / "run.json").write_text(json.dumps(run))
    with pytest.raises(ScaleoutError, match="does not record its worker count"):
        load_point(path)


def test_phase_rates_come_from_the_kit(tmp_path: Path) -> None:
    rates = load_phase_rates(REPO)
    assert rates["2"] == pytest.approx(1000 / 0.6)
    assert "smoke" not in rates
    assert load_phase_rates(tmp_path) == {}


# -- files ------------------------------------------------------------------------------------
def test_report_files_and_no_overwrite(tmp_path: Path) -> None:
    runs = tmp_path / "results"
    one = make_run(runs, 1)
    two = make_run(runs, 2, stored=180.0)
    path, result = write_report([one, two], runs, phases=PHASES)
    assert path.parent == runs and path.name.startswith("scaleout-")
    text = (path / "report.md").read_text()
    assert result["sentence"] in text
    assert "| 1 | worker1 / worker1 |" in text
    assert "| 2 | worker1, worker2 / worker1, worker2 |" in text
    assert (path / "scaleout.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads((path / "report.json").read_text())
    assert [r["workers"] for r in doc["per_count"]] == [1, 2]
    assert doc["answer"]["verdict"] == "not-saturated"
    with pytest.raises(ScaleoutError, match="never overwrites"):
        write_report([one, two], runs, out=path, phases=PHASES)


def test_cli_writes_the_report_and_refuses_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "results"
    one = make_run(runs, 1)
    two = make_run(runs, 2)
    out = runs / "scaleout-test"
    out.mkdir()
    (out / "bench-w1.log").write_text("log of the bench run\n")  # `scaleout run`'s logs
    code = main(
        ["scaleout", "report", str(one), two.name, "--results-root", str(runs), "--out", str(out)]
    )
    assert code == 0
    assert (out / "report.md").is_file() and (out / "bench-w1.log").is_file()
    assert "Not at this load" in capsys.readouterr().out
    assert main(["scaleout", "report", str(one), str(two), "--out", str(out)]) == 2
    assert main(["scaleout", "report", str(one), str(tmp_path / "nope")]) == 2
    assert main(["scaleout", "report", str(one), str(two), "--noise", "1.5"]) == 2


# -- the run report --------------------------------------------------------------------------
def test_run_report_header_names_the_workers_and_limits_count_them(tmp_path: Path) -> None:
    path = make_run(tmp_path, 2)
    run = json.loads((path / "run.json").read_text())
    for svc in ("hdfs-datanode", "spark-worker"):
        run["config"]["services"][svc]["instances"] = 2
    (path / "run.json").write_text(json.dumps(run))
    (path / "load.json").write_text(json.dumps(run["load"]))
    (path / "audit.json").write_text(json.dumps(run["audit"]))
    report = generate_report(path, skip_metrics=True).read_text()
    assert (
        "| workers | 2 of 2; hdfs_datanodes: worker1, worker2; spark_workers: worker1, worker2 |"
        in report
    )
    config = parse_config(run["config"])
    # two workers of 0.5 core and 1 GiB + 1.5 GiB each
    assert target_limits(config, ("hdfs-datanode", "spark-worker")) == (2.0, 5 * 2**30)
