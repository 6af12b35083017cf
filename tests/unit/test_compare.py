"""`benchlab compare`: configuration differences first, each figure against the baseline, and
"beyond noise" only where a search's reruns give the noise.

The fixtures are real records cut down: run-p3.json is the run.json of a phase 3 run of
every target on the local lab (PostgreSQL and the pipeline kept, figures and services
trimmed to what the report reads), search-all.json the search.json of a search of every
target (the same two targets, two trials each, the result of each). Each test changes the
figures its case is about.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from benchlab.cli import main
from benchlab.compare import SINGLE_RUN, CompareError, build, read_sides, write_compare
from benchlab.exitcodes import EXIT_BAD_INPUT, EXIT_OK

FIXTURES = Path(__file__).parent / "fixtures" / "compare"
RUN = json.loads((FIXTURES / "run-p3.json").read_text())
SEARCH = json.loads((FIXTURES / "search-all.json").read_text())

Edit = Callable[[dict[str, Any]], None]


def make_run(root: Path, run_id: str, edit: Edit | None = None) -> Path:
    doc = copy.deepcopy(RUN)
    doc["run_id"] = doc["config"]["run_id"] = run_id
    return write(root, run_id, "run.json", doc, edit)


def write(root: Path, run_id: str, name: str, doc: dict[str, Any], edit: Edit | None) -> Path:
    """results/<run_id>/<name> holding `doc` after `edit`."""
    if edit:
        edit(doc)
    path = root / run_id
    path.mkdir(parents=True)
    (path / name).write_text(json.dumps(doc))
    return path


def make_search(
    root: Path,
    run_id: str,
    *,
    rate: float = 20_000.0,
    fail: float | None = 21_000.0,
    spread: float = 0.0,
    runs: int = 3,
    passed: int = 3,
    edit: Edit | None = None,
) -> Path:
    """A search whose pipeline sustained `rate` (its reruns: `runs`, `passed`, `spread`)."""
    doc = copy.deepcopy(SEARCH)
    doc["run_id"] = doc["config"]["run_id"] = run_id
    found = doc["targets"]["pipeline"]
    found.update(
        sustainable_per_s=rate,
        first_failing_per_s=fail,
        best_runs=runs,
        best_runs_passed=passed,
        best_stored_median_per_s=rate,
        best_stored_spread_per_s=spread,
    )
    found["failure"] = {**found["failure"], "rate": fail} if fail is not None else None
    return write(root, run_id, "search.json", doc, edit)


def compared(root: Path, *ids: str) -> dict[str, Any]:
    return build(read_sides(list(ids), root), "test")


def target(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in result["targets"] if t["target"] == name)


def row(result: dict[str, Any], name: str, key: str) -> dict[str, Any]:
    return next(r for r in target(result, name)["rows"] if r["key"] == key)


# -- phase runs ---------------------------------------------------------------------------
def test_a_phase_runs_difference_is_computed_against_the_baseline(tmp_path: Path) -> None:
    def faster(doc: dict[str, Any]) -> None:
        doc["figures"]["pipeline"]["throughput_per_s"] *= 1.25
        doc["figures"]["pipeline"]["latency_ms"]["p99_ms"] = 4239.3595  # half the baseline's

    make_run(tmp_path, "a")
    make_run(tmp_path, "b", faster)
    result = compared(tmp_path, "a", "b")
    throughput = row(result, "pipeline", "throughput_per_s")
    assert throughput["values"] == pytest.approx([16666.67, 20833.33], rel=1e-4)
    assert throughput["vs"][0]["relative"] == pytest.approx(0.25)
    assert throughput["vs"][0]["shown"] == "+25.0 %"
    assert row(result, "pipeline", "p99_ms")["vs"][0]["shown"] == "-50.0 %"
    assert row(result, "postgresql", "throughput_per_s")["vs"][0]["shown"] == "+0.0 %"


def test_phase_runs_are_single_runs_with_no_noise_estimate(tmp_path: Path) -> None:
    make_run(tmp_path, "a")
    make_run(tmp_path, "b", lambda d: d["figures"]["pipeline"].update(throughput_per_s=1.0))
    path, result, text = write_compare(["a", "b"], tmp_path)
    for t in result["targets"]:
        assert [n["status"] for n in t["noise"]] == [SINGLE_RUN]
        assert t["noise"][0]["beyond"] is None
    assert "beyond noise" not in text.split("How noise is judged")[0]
    assert f"-100.0 % ({SINGLE_RUN})" in text
    assert json.loads((path / "compare.json").read_text())["targets"] == result["targets"]


def test_a_configuration_difference_is_listed_first(tmp_path: Path) -> None:
    def more_cpu(doc: dict[str, Any]) -> None:
        doc["services"]["postgresql"]["cpu_limit"] = 2.0
        doc["config"]["services"]["postgresql"]["cpu_limit"] = 2.0
        doc["versions"]["postgresql"] = "16.4"

    make_run(tmp_path, "a")
    make_run(tmp_path, "b", more_cpu)
    _, result, text = write_compare(["a", "b"], tmp_path)
    facts = {d["fact"]: d["shown"] for d in result["setup"]["differences"]}
    assert facts == {
        "postgresql: CPU limit (cores)": ["1.00", "2.00"],
        "version postgresql": [
            "15.18",
            "16.4",
        ],
    }
    assert "| postgresql: CPU limit (cores) | 1.00 | 2.00 |" in text
    assert text.index("## Configuration differences") < text.index("## Headline")
    assert text.index("| version postgresql |") < text.index("## postgresql")


def test_the_same_configuration_is_said(tmp_path: Path) -> None:
    make_run(tmp_path, "a")
    make_run(tmp_path, "b")
    _, result, text = write_compare(["a", "b"], tmp_path)
    assert result["setup"]["same"] is True
    assert "Same configuration: none of the" in text


def test_the_data_verdict_and_lost_records_side_by_side(tmp_path: Path) -> None:
    def lost(doc: dict[str, Any]) -> None:
        doc["audit"]["pipeline"]["lost"] = 3
        doc["data_verdict"]["pipeline"] = {"status": "FAIL", "reasons": ["lost 3"]}

    make_run(tmp_path, "a")
    make_run(tmp_path, "b", lost)
    result = compared(tmp_path, "a", "b")
    verdict = row(result, "pipeline", "data_verdict")
    assert verdict["shown"] == ["PASS", "FAIL"]
    assert verdict["vs"][0]["shown"] == "differs"
    assert row(result, "pipeline", "lost")["vs"][0]["shown"] == "baseline 0"
    throttled = row(result, "pipeline", "throttled")
    assert throttled["shown"][0] == "22.2 % (spark-worker)"


# -- searches -----------------------------------------------------------------------------
def test_a_search_difference_beyond_the_noise_is_marked(tmp_path: Path) -> None:
    make_search(tmp_path, "a", rate=20_000.0, fail=21_000.0)
    make_search(tmp_path, "b", rate=22_000.0, fail=23_000.0)
    noise = target(compared(tmp_path, "a", "b"), "pipeline")["noise"][0]
    assert noise["status"] == "beyond noise"
    assert noise["gain"] == pytest.approx(0.10)
    assert noise["noise"] == pytest.approx(0.05)  # the bracket 21,000 / 20,000 and the precision


def test_a_wide_spread_of_the_reruns_keeps_it_within_noise(tmp_path: Path) -> None:
    # +10 %: beyond the 5 % precision, not beyond the contender's reruns spread of 13.6 %
    make_search(tmp_path, "a", rate=20_000.0, fail=21_000.0)
    make_search(tmp_path, "b", rate=22_000.0, fail=23_000.0, spread=3_000.0)
    noise = target(compared(tmp_path, "a", "b"), "pipeline")["noise"][0]
    assert noise["status"] == "within noise"
    assert noise["beyond"] is False
    assert noise["noise"] == pytest.approx(3_000 / 22_000)
    assert noise["source"] == "the reruns' spread in B"


def test_a_search_without_reruns_has_no_noise_estimate(tmp_path: Path) -> None:
    make_search(tmp_path, "a", rate=20_000.0)
    make_search(tmp_path, "b", rate=40_000.0, fail=42_000.0, runs=1, passed=1)
    _, result, text = write_compare(["a", "b"], tmp_path)
    noise = target(result, "pipeline")["noise"][0]
    assert noise["status"] == SINGLE_RUN
    assert noise["beyond"] is None
    assert f"+100.0 % ({SINGLE_RUN})" in text


def test_a_best_rate_not_reproduced_is_not_judged(tmp_path: Path) -> None:
    make_search(tmp_path, "a", rate=20_000.0)
    make_search(tmp_path, "b", rate=940.0, fail=970.0, passed=1)
    noise = target(compared(tmp_path, "a", "b"), "pipeline")["noise"][0]
    assert noise["status"] == "not judged"
    assert "passed 1 of 3 runs" in noise["why"]


def test_a_lower_bound_decides_only_in_its_favour(tmp_path: Path) -> None:
    make_search(tmp_path, "a", rate=20_000.0)
    make_search(tmp_path, "up", rate=40_000.0, fail=None)  # no rate failed: at least 40,000
    make_search(tmp_path, "down", rate=10_000.0, fail=None)  # at least 10,000
    assert target(compared(tmp_path, "a", "up"), "pipeline")["noise"][0]["beyond"] is True
    noise = target(compared(tmp_path, "a", "down"), "pipeline")["noise"][0]
    assert noise["status"] == "not judged"
    assert "lower bound" in noise["why"]


def test_a_searchs_figures_and_data_verdict(tmp_path: Path) -> None:
    def lost(doc: dict[str, Any]) -> None:
        doc["trials"][-1]["verdict"]["lost"] = 5

    make_search(tmp_path, "a")
    make_search(tmp_path, "b", edit=lost)
    result = compared(tmp_path, "a", "b")
    assert row(result, "pipeline", "runs")["shown"] == ["3 of 3", "3 of 3"]
    assert row(result, "pipeline", "p99_ms")["shown"] == ["13,566.0", "13,566.0"]
    assert row(result, "pipeline", "data_verdict")["shown"] == ["PASS", "FAIL (1 trials)"]
    assert row(result, "postgresql", "sustainable_per_s")["shown"] == ["56,000", "56,000"]
    failed = row(result, "pipeline", "failed_how")["shown"][0]
    assert failed.startswith("CPU throttled at the quota: spark-worker@localhost")


def test_search_settings_that_differ_are_listed(tmp_path: Path) -> None:
    make_search(tmp_path, "a")
    make_search(tmp_path, "b", edit=lambda d: d["settings"].update(measure_s=20.0))
    differences = compared(tmp_path, "a", "b")["setup"]["differences"]
    assert differences == [
        {"fact": "search.measure_s", "values": [30.0, 20.0], "shown": ["30", "20"]}
    ]


# -- refusals -----------------------------------------------------------------------------
def test_mixing_a_run_and_a_search_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_run(tmp_path, "a")
    make_search(tmp_path, "b")
    code = main(["compare", "a", "b", "--results-root", str(tmp_path)])
    assert code == EXIT_BAD_INPUT
    out = capsys.readouterr().out
    assert "kind: B (b) is a search (search.json) but the baseline A (a) is a phase run" in out
    assert "fix: compare phase runs with phase runs and searches with searches" in out
    assert len(out.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_an_existing_directory_is_never_overwritten(tmp_path: Path) -> None:
    make_run(tmp_path, "a")
    make_run(tmp_path, "b")
    out = tmp_path / "mine"
    out.mkdir()
    (out / "compare.md").write_text("earlier")
    args = ["compare", "a", "b", "--results-root", str(tmp_path), "--out", str(out)]
    assert main(args) == EXIT_BAD_INPUT
    assert (out / "compare.md").read_text() == "earlier"
    assert not (out / "compare.json").exists()
    with pytest.raises(CompareError, match="never overwrites"):
        write_compare(["a", "b"], tmp_path, out)


def test_the_default_directory_is_new_each_time(tmp_path: Path) -> None:
    make_run(tmp_path, "a")
    make_run(tmp_path / "elsewhere", "b")  # a path, not an id
    for _ in range(2):
        assert (
            main(
                ["compare", "a", str(tmp_path / "elsewhere" / "b"), "--results-root", str(tmp_path)]
            )
            == EXIT_OK
        )
    made = sorted(p for p in tmp_path.iterdir() if p.name.startswith("compare-"))
    assert len(made) == 2
    assert all({f.name for f in p.iterdir()} == {"compare.md", "compare.json"} for p in made)


@pytest.mark.parametrize(
    ("ids", "message"),
    [(["a"], "at least one contender"), (["a", "a"], "given twice"), (["a", "nope"], "'nope'")],
)
def test_bad_run_lists_are_refused(tmp_path: Path, ids: list[str], message: str) -> None:
    make_run(tmp_path, "a")
    from benchlab.results import ResultsError

    with pytest.raises((CompareError, ResultsError), match=message):
        write_compare(ids, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["a"]


def test_a_target_only_one_side_ran_is_named_once_not_by_each_setting(tmp_path: Path) -> None:
    def postgresql_only(doc: dict[str, Any]) -> None:
        doc["targets"] = ["postgresql"]
        doc["config"]["targets"] = doc["config"]["targets"][:1]
        for part in ("load", "audit", "data_verdict", "figures"):
            del doc[part]["pipeline"]

    make_run(tmp_path, "a")
    make_run(tmp_path, "b", postgresql_only)
    result = compared(tmp_path, "a", "b")
    differences = {d["fact"]: d["shown"] for d in result["setup"]["differences"]}
    assert differences == {"targets": ["postgresql, pipeline", "postgresql"]}
    assert [t["target"] for t in result["targets"]] == ["postgresql"]
    assert result["not_compared"] == {"pipeline": ["A"]}
