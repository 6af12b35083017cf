"""Hand-edited files refused with one line naming the file, the problem and the fix.

docs/bad-input.md's "hand-edited files" rows, at the level of the Python that reads them:
a results directory's run.json (`benchlab report`, `results show`, `compare`), a calibration's
report.json (`python -m benchlab.calibration figures`, bench.yml's lookup) and a run
configuration's `load` (`benchlab check-config`, `benchlab run --config`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_config import GOOD, with_change

from benchlab.calibration import latest_device_figures
from benchlab.calibration.cli import main as calibration_main
from benchlab.cli import main as cli_main
from benchlab.config import ConfigError, parse_config
from benchlab.results import ResultsError, read_json

FIX = "fix: restore it from a copy of that results directory"


def test_read_json_names_line_column_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text('{"run_id": "x",\n "status": }')
    with pytest.raises(ResultsError) as caught:
        read_json(path)
    assert str(caught.value).startswith(f"{path} is not valid JSON (line 2, column 12: ")
    assert FIX in str(caught.value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [("{", "is not valid JSON (line 1, column 2"), ("[1, 2]", "is not a run record")],
)
def test_report_and_show_refuse_a_corrupt_run_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, problem: str
) -> None:
    run_dir = tmp_path / "20261130T221051Z-p2-all-0001"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(text)
    assert cli_main(["report", "--run-dir", str(run_dir)]) == 2
    out = capsys.readouterr().out.replace("\n", "")
    assert f"{run_dir}/run.json {problem}" in out and out.count("fix:") == 1
    assert sorted(p.name for p in run_dir.iterdir()) == ["run.json"]  # no report written
    assert cli_main(["results", "show", run_dir.name, "--results-root", str(tmp_path)]) == 2
    out = capsys.readouterr().out.replace("\n", "")
    assert f"results '{run_dir.name}': {run_dir}/run.json {problem}" in out
    assert "no results" not in out


def test_results_show_still_names_a_missing_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["results", "show", "nope", "--results-root", str(tmp_path)]) == 2
    assert "no results 'nope' under" in capsys.readouterr().out


def _calibration(root: Path, report: str) -> Path:
    run_dir = root / "calibration-20261122T161004Z-6f9e"
    (run_dir / "localhost").mkdir(parents=True)
    (run_dir / "localhost" / "report.json").write_text(report)
    return run_dir


@pytest.mark.parametrize(
    ("report", "problem"),
    [
        ('{"device": {"B_w": 1', "report.json:1: not valid JSON (Expecting"),
        ('{"device": {}}', "report.json: no device figures (device.B_w, device.B_r)"),
    ],
)
def test_figures_refuse_the_newest_calibration_unreadable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], report: str, problem: str
) -> None:
    run_dir = _calibration(tmp_path, report)
    # the benchmark report still skips it (never fails on a calibration) ...
    assert latest_device_figures(tmp_path, "localhost") is None
    # ... the lookup bench.yml runs refuses it, in one line
    argv = ["figures", "--results-root", str(tmp_path), "--host", "localhost"]
    assert calibration_main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert problem in line
    assert line.endswith(f"or move {run_dir} out of the results folder")
    # a host without a calibration is still null, not an error
    assert calibration_main(["figures", "--results-root", str(tmp_path), "--host", "x"]) == 0
    assert json.loads(capsys.readouterr().out) == {"x": None}


def test_a_load_field_the_config_does_not_have_is_refused() -> None:
    data = with_change("load.duration", 60)
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert str(caught.value).startswith("config field 'load.duration': is not a field of load")
    parse_config(GOOD)  # the good one still parses
