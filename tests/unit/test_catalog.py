"""`benchlab results list` and `results show`: every kind of results directory, its headline
figure and its data verdict (the fixtures of test_compare: real records cut down)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_compare import make_run, make_search

from benchlab.catalog import list_results
from benchlab.cli import main
from benchlab.compare import write_compare
from benchlab.exitcodes import EXIT_BAD_INPUT, EXIT_OK


def lab(root: Path) -> None:
    """One directory of each kind, as the kit leaves them."""
    make_run(root, "20261130T221051Z-p3-all-baa8")
    make_run(root, "20261130T221052Z-p3-all-0001")
    make_search(
        root,
        "20261130T200339Z-psearch-all-b917",
        edit=lambda d: d["trials"][-1]["verdict"].update(lost=2),
    )
    write_compare(["20261130T221051Z-p3-all-baa8", "20261130T221052Z-p3-all-0001"], root)
    scaleout = root / "scaleout-20261130T205517Z-7777"
    scaleout.mkdir()
    (scaleout / "report.json").write_text(
        json.dumps(
            {
                "id": "20261130T205517Z-7777",
                "kind": "search",
                "target": "pipeline",
                "partial": False,
                "answer": {"verdict": "fell"},
                "per_count": [
                    {"workers": 1, "sustainable_per_s": 23000.0},
                    {"workers": 2, "sustainable_per_s": 940.0},
                ],
            }
        )
    )
    host = root / "calibration-20261130T133145Z-ee35" / "localhost"
    host.mkdir(parents=True)
    (host / "report.json").write_text(json.dumps({"device": {"B_w": 2344.53, "B_r": 1755.4}}))
    (root / "not-results").mkdir()


def test_every_kind_is_listed_with_its_headline_and_data_verdict(tmp_path: Path) -> None:
    lab(tmp_path)
    entries = {e.kind: e for e in list_results(tmp_path)}
    assert set(entries) == {"run", "search", "compare", "scaleout", "calibration"}
    run = entries["run"]
    assert run.phase == "3"
    assert run.headline == pytest.approx({"postgresql": 16666.67, "pipeline": 16666.67}, rel=1e-4)
    assert run.data_verdict == {"postgresql": "PASS", "pipeline": "PASS"}
    assert run.criteria == {"postgresql": "PASS", "pipeline": "FAIL"}
    search = entries["search"]
    assert search.headline == {"postgresql": 56000.0, "pipeline": 20000.0}
    # the pipeline's last trial lost records: its data FAILs, whatever the criteria said
    assert search.data_verdict == {"postgresql": "PASS", "pipeline": "FAIL"}
    assert entries["scaleout"].headline_text() == (
        "fell; sustainable/s 1 worker(s): 23,000, 2 worker(s): 940"
    )
    assert entries["calibration"].headline_text() == "localhost: B_w 2,344.5 MiB/s"
    assert "pipeline B vs A +0.0 % (single run, no noise estimate)" in (
        entries["compare"].headline_text()
    )


def test_results_list_prints_every_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lab(tmp_path)
    assert main(["results", "list", "--results-root", str(tmp_path), "--json"]) == EXIT_OK
    listed = json.loads(capsys.readouterr().out)
    assert [e["kind"] for e in listed] == [
        "search",
        "run",
        "run",
        "calibration",
        "compare",
        "scaleout",
    ]


def test_results_show_prints_a_searchs_conclusion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab(tmp_path)
    search = "20261130T200339Z-psearch-all-b917"
    assert main(["results", "show", search, "--results-root", str(tmp_path)]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith(f"search {search}: phase search, complete; sustainable/s postgresql")
    assert "data verdict postgresql: PASS, pipeline: FAIL" in out
    assert "| pipeline | 20,000 | 3 of 3 | 13,566.0 | 21,000 |" in out
    # with its report: the heading and the conclusion, not the trials
    (tmp_path / search / "report.md").write_text(
        "# search\n\nsettings\n\n## Conclusion\n\n| system |\n\n## Trials\n\n| trial |\n"
    )
    assert main(["results", "show", search, "--results-root", str(tmp_path)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "## Conclusion" in out
    assert "## Trials" not in out


def test_results_show_refuses_what_is_not_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab(tmp_path)
    for name in ("nope", "not-results"):
        assert main(["results", "show", name, "--results-root", str(tmp_path)]) == EXIT_BAD_INPUT
    assert "fix: see `benchlab results list`" in capsys.readouterr().out
