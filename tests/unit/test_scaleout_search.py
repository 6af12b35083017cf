"""Scale-out by the search: each worker count's sustainable rate, compared beyond the noise.

The fixture is the search.json of a real search of every target on the local lab, cut to
the pipeline (its configuration, trials and result; the other targets, the conclusion and
the calibration dropped); each test sets the worker count and the figures its case is about.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from test_scaleout import make_run

from benchlab.cli import main
from benchlab.scaleout import ScaleoutError, write_report
from benchlab.scaleout_search import answer, load_search_point

FIXTURE = Path(__file__).parent / "fixtures" / "scaleout" / "search-pipeline.json"
WORKERS = ["worker1", "worker2"]
SERVICES = ("hdfs-datanode", "spark-worker")


def make_search(
    root: Path,
    workers: int,
    *,
    rate: float,
    fail: float | None,
    run_id: str | None = None,
    spread: float = 0.0,
    precision: float = 0.05,
    status: str = "complete",
    causes: tuple[str, ...] = (),
    limit: str | None = "server",
    spark_cores: float = 0.45,
) -> Path:
    doc: dict[str, Any] = copy.deepcopy(json.loads(FIXTURE.read_text()))
    run_id = run_id or f"20261201T100000Z-psearch-pipeline-w{workers}-ab12"
    doc["run_id"] = doc["config"]["run_id"] = run_id
    doc["status"] = status
    doc["settings"]["precision"] = precision
    hosts = WORKERS[:workers]
    doc["config"]["workers"] = {
        "count": workers,
        "of": 2,
        "hosts": {"hdfs_datanodes": hosts, "spark_workers": hosts},
    }
    found = doc["targets"]["pipeline"]
    found.update(
        sustainable_per_s=rate,
        first_failing_per_s=fail,
        best_stored_median_per_s=rate,
        best_stored_spread_per_s=spread,
    )
    found["failure"] = (
        {
            **found["failure"],
            "rate": fail,
            "causes": list(causes),
            "limit": limit,
        }
        if fail is not None
        else None
    )
    # target_resources exports every worker's cgroups; the stopped ones at ~0 CPU
    resources = {}
    for host in WORKERS:
        for service in SERVICES:
            fig = dict(found["resources_at_best"][f"{service}@localhost"])
            if service == "spark-worker":
                fig.update(cpu_cores=spark_cores, throttled_ratio=0.3)
            if host not in hosts:
                fig.update(cpu_cores=0.0, throttled_ratio=0.0)
            resources[f"{service}@{host}"] = fig
    found["resources_at_best"] = resources
    path = root / run_id
    path.mkdir(parents=True)
    (path / "search.json").write_text(json.dumps(doc))
    return path


def decide(*dirs: Path, floor: float | None = None) -> dict[str, Any]:
    return answer([load_search_point(d) for d in dirs], "pipeline", floor)


# -- the decision -------------------------------------------------------------------------
def test_a_gain_beyond_the_precision_is_a_raise(tmp_path: Path) -> None:
    one = make_search(tmp_path, 1, rate=480.0, fail=500.0)
    two = make_search(tmp_path, 2, rate=900.0, fail=940.0)
    result = decide(one, two)
    assert result["verdict"] == "raised"
    assert result["gain"] == pytest.approx(900 / 480 - 1)
    assert result["noise"] == pytest.approx(0.05)
    assert result["sentence"] == (
        "Adding a worker raised the pipeline's sustainable rate from 480 to 900 records/s "
        "(+87.5 %), beyond the noise of 5.0 % (the search's bisection precision)."
    )


def test_a_gain_within_the_precision_is_not_beyond_noise(tmp_path: Path) -> None:
    one = make_search(tmp_path, 1, rate=480.0, fail=500.0)
    two = make_search(tmp_path, 2, rate=495.0, fail=515.0)
    result = decide(one, two)
    assert result["verdict"] == "not-beyond-noise"
    assert result["sentence"].startswith(
        "Adding a worker did not raise the pipeline's sustainable rate beyond noise "
        "(480 vs 495 records/s, +3.1 %, noise 5.0 %"
    )


def test_the_reruns_spread_widens_the_noise_both_ways(tmp_path: Path) -> None:
    # +8.3 %: beyond the 5 % precision, but not beyond a 10 % spread of the reruns at 1 worker
    steady = make_search(tmp_path / "a", 1, rate=480.0, fail=500.0, spread=4.8)
    noisy = make_search(tmp_path / "b", 1, rate=480.0, fail=500.0, spread=48.0)
    two = make_search(tmp_path / "a", 2, rate=520.0, fail=540.0)
    assert decide(steady, two)["verdict"] == "raised"
    result = decide(noisy, two)
    assert result["verdict"] == "not-beyond-noise"
    assert result["noise"] == pytest.approx(0.10)
    assert result["noise_source"] == "the reruns' spread at 1 worker(s)"
    # --noise only raises the threshold
    assert decide(steady, two, floor=0.2)["verdict"] == "not-beyond-noise"
    assert decide(steady, two, floor=0.01)["noise"] == pytest.approx(0.05)


def test_a_bracket_wider_than_the_precision_is_the_noise(tmp_path: Path) -> None:
    # the search stopped (max_trials) with 480 passed and 640 failed: capacity known to 33 %
    one = make_search(tmp_path, 1, rate=480.0, fail=640.0)
    two = make_search(tmp_path, 2, rate=600.0, fail=630.0)
    result = decide(one, two)
    assert result["noise"] == pytest.approx(640 / 480 - 1)
    assert result["verdict"] == "not-beyond-noise"


def test_a_drop_beyond_noise_is_said(tmp_path: Path) -> None:
    one = make_search(tmp_path, 1, rate=900.0, fail=940.0)
    two = make_search(tmp_path, 2, rate=480.0, fail=500.0)
    result = decide(one, two)
    assert result["verdict"] == "fell"
    assert "it fell from 900 to 480 records/s (-46.7 %)" in result["sentence"]


def test_what_limited_each_count_is_named(tmp_path: Path) -> None:
    cause = "CPU throttled at the quota: spark-worker@worker1 in 47% of periods, 0.46 of 0.50"
    one = make_search(tmp_path, 1, rate=480.0, fail=500.0, causes=(cause,))
    two = make_search(tmp_path, 2, rate=900.0, fail=940.0)
    limits = decide(one, two)["limits"]
    assert limits["1"] == cause
    assert limits["2"] == "stored below offered"  # no resource cause: the rule that broke


# -- what cannot answer -------------------------------------------------------------------
def test_a_partial_search_is_left_out_with_a_note(tmp_path: Path) -> None:
    one = make_search(tmp_path, 1, rate=480.0, fail=500.0)
    two = make_search(tmp_path, 2, rate=900.0, fail=940.0, status="partial")
    point = load_search_point(two)
    assert not point.usable
    assert "search status partial: left out of the answer" in point.notes
    result = decide(one, two)
    assert result["verdict"] == "unanswered"
    assert "the usable searches cover 1 worker count(s) (1)" in result["sentence"]


def test_a_best_rate_most_of_its_runs_failed_is_left_out(tmp_path: Path) -> None:
    """Measured on the virtual lab: 2 workers 'sustained' 940/s in 1 of 3 runs."""
    one = make_search(tmp_path, 1, rate=23000.0, fail=24000.0)
    two = make_search(tmp_path, 2, rate=940.0, fail=970.0)
    doc = json.loads((two / "search.json").read_text())
    doc["targets"]["pipeline"].update(best_runs=3, best_runs_passed=1)
    (two / "search.json").write_text(json.dumps(doc))
    point = load_search_point(two)
    assert not point.usable
    assert "its best rate passed 1 of 3 runs: not reproduced; left out of the answer" in point.notes
    assert decide(one, two)["verdict"] == "unanswered"
    doc["targets"]["pipeline"].update(best_runs_passed=2)
    (two / "search.json").write_text(json.dumps(doc))
    assert load_search_point(two).usable


def test_a_search_without_a_sustainable_rate_or_a_result_is_left_out(tmp_path: Path) -> None:
    path = make_search(tmp_path, 2, rate=480.0, fail=500.0)
    doc = json.loads((path / "search.json").read_text())
    doc["targets"]["pipeline"]["sustainable_per_s"] = None  # what the search writes then
    (path / "search.json").write_text(json.dumps(doc))
    point = load_search_point(path)
    assert not point.usable
    assert (
        "no sustainable rate: the lowest rate tried failed (500 records/s failed); left out of "
        "the answer" in point.notes
    )
    one = make_search(tmp_path, 1, rate=480.0, fail=500.0)
    assert decide(one, path)["verdict"] == "unanswered"
    del doc["targets"]["pipeline"]
    doc["status"] = "running"  # killed while the pipeline was being searched
    (path / "search.json").write_text(json.dumps(doc))
    assert "the search has no result for pipeline: left out of the answer" in (
        load_search_point(path).notes
    )


def test_a_ceiling_not_reached_or_set_by_the_client_cannot_answer(tmp_path: Path) -> None:
    two = make_search(tmp_path, 2, rate=900.0, fail=940.0)
    open_top = make_search(tmp_path / "a", 1, rate=256_000.0, fail=None)
    result = decide(open_top, two)
    assert result["verdict"] == "unanswered"
    assert "with 1 worker(s) no rate failed: the ceiling was not reached" in result["sentence"]
    client = make_search(tmp_path / "b", 1, rate=480.0, fail=500.0, limit="client")
    assert "the client was the ceiling at 500 records/s" in decide(client, two)["sentence"]


def test_a_ceiling_at_the_most_workers_makes_a_lower_bound(tmp_path: Path) -> None:
    one = make_search(tmp_path, 1, rate=480.0, fail=500.0)
    far = make_search(tmp_path / "a", 2, rate=900.0, fail=940.0, limit="client")
    raised = decide(one, far)
    assert raised["verdict"] == "raised"
    assert "; at least, since with 2 workers the client was the ceiling" in raised["sentence"]
    near = make_search(tmp_path / "b", 2, rate=490.0, fail=None)
    assert decide(one, near)["verdict"] == "unanswered"


def test_mixing_searches_and_phase_runs_is_refused(tmp_path: Path) -> None:
    search = make_search(tmp_path, 1, rate=480.0, fail=500.0)
    run = make_run(tmp_path, 2)
    with pytest.raises(ScaleoutError) as caught:
        write_report([search, run], tmp_path)
    text = str(caught.value)
    assert f"runs: {search.name} are searches" in text
    assert f"and {run.name} phase runs" in text
    assert "fix: give only searches or only runs of one phase" in text
    assert not list(tmp_path.glob("scaleout-*"))


# -- reading a search ------------------------------------------------------------------------
def test_the_real_search_reads_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "search.json").write_text(FIXTURE.read_text())
    point = load_search_point(tmp_path)
    assert (point.workers, point.worker_hosts["spark_workers"]) == (1, ["localhost"])
    assert (point.sustainable_per_s, point.first_failing_per_s) == (480.0, 500.0)
    assert point.usable and point.precision == 0.05 and point.limit is None  # before `limit`
    assert point.limited_by.startswith("CPU throttled at the quota: spark-worker@localhost")
    assert point.cpu["spark-worker"]["throttled_ratio"] == pytest.approx(0.4196, rel=1e-3)
    assert point.notes == []


def test_cpu_at_best_counts_the_active_workers_against_their_limits(tmp_path: Path) -> None:
    one = load_search_point(make_search(tmp_path, 1, rate=480.0, fail=500.0))
    two = load_search_point(make_search(tmp_path, 2, rate=900.0, fail=940.0))
    assert one.cpu["spark-worker"]["hosts"] == ["worker1"]
    assert one.cpu["spark-worker"]["cores"] == pytest.approx(0.45)
    assert one.cpu["spark-worker"]["limit_cores"] == pytest.approx(0.5)
    assert one.cpu["spark-worker"]["pct_of_limit"] == pytest.approx(90.0)
    assert two.cpu["spark-worker"]["cores"] == pytest.approx(0.9)
    assert two.cpu["spark-worker"]["limit_cores"] == pytest.approx(1.0)
    assert two.cpu["spark-worker"]["throttled_ratio"] == pytest.approx(0.3)
    assert two.cpu["hdfs-datanode"]["hosts"] == ["worker1", "worker2"]


def test_a_search_without_a_worker_count_is_refused(tmp_path: Path) -> None:
    path = make_search(tmp_path, 1, rate=480.0, fail=500.0)
    doc = json.loads((path / "search.json").read_text())
    del doc["config"]["workers"]
    (path / "search.json").write_text(json.dumps(doc))
    with pytest.raises(ScaleoutError, match="does not record its worker count"):
        load_search_point(path)
    with pytest.raises(ScaleoutError, match="did not search 'kafka'"):
        load_search_point(make_search(tmp_path, 2, rate=1.0, fail=2.0), "kafka")


# -- files -----------------------------------------------------------------------------------
def test_the_report_has_the_table_the_sentence_and_the_plot(tmp_path: Path) -> None:
    runs = tmp_path / "results"
    cause = "CPU throttled at the quota: spark-worker@worker1 in 47% of periods"
    one = make_search(runs, 1, rate=480.0, fail=500.0, spread=4.0, causes=(cause,))
    two = make_search(runs, 2, rate=900.0, fail=940.0)
    partial = make_search(runs, 2, rate=950.0, fail=990.0, run_id="late-w2", status="partial")
    path, result = write_report([one, two, partial], runs)
    text = (path / "report.md").read_text()
    assert f"**{result['sentence']}**" in text
    assert (
        f"| 1 | worker1 / worker1 | {one.name} | 480 | 480 ± 4 (3 of 3 passed) | n/a | 500 | "
        "stored below offered (stored 488/s = 97.6% of offered 500/s (needs 98%)); " + cause + " | "
        "0.01 of 0.50 (2 %), throttled 0 % | 0.45 of 0.50 (90 %), throttled 30 % |"
    ) in text
    assert (
        f"| 2 | worker1, worker2 / worker1, worker2 | {two.name} | 900 | 900 ± 0 (3 of 3 passed) "
        "| +87.5 % (beyond noise 5.0 %) | 940 |"
    ) in text
    assert "| late-w2 (left out) |" in text
    assert "- late-w2: search status partial: left out of the answer" in text
    assert f"- 1 worker(s), 480 records/s: {cause}" in text
    assert (path / "scaleout.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads((path / "report.json").read_text())
    assert doc["kind"] == "search" and doc["answer"]["verdict"] == "raised"
    assert [(r["workers"], r["sustainable_per_s"]) for r in doc["per_count"]] == [
        (1, 480.0),
        (2, 900.0),
    ]
    assert doc["per_count"][1]["beyond_noise"] is True
    assert [r["usable"] for r in doc["runs"]] == [True, True, False]


def test_cli_reports_searches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "results"
    one = make_search(runs, 1, rate=480.0, fail=500.0)
    two = make_search(runs, 2, rate=495.0, fail=515.0)
    code = main(["scaleout", "report", one.name, two.name, "--results-root", str(runs)])
    assert code == 0
    assert "did not raise the pipeline's sustainable rate beyond noise" in capsys.readouterr().out
    run = make_run(runs, 2, run_id="phase-w2")
    assert main(["scaleout", "report", str(one), str(run)]) == 2
    assert "are searches" in capsys.readouterr().out
