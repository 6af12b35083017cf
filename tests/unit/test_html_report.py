"""report.html without a browser: its charts from a run's files, missing data said in place,
values escaped, and a failure that costs only a warning (report.md is written first).

tests/browser/ opens the pages in headless Chromium."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchlab import charts
from benchlab.metrics import _write_csv, read_series_csv
from benchlab.report import generate_report
from benchlab.report_html import HTML_FILE, html_or_warning, write_scaleout_html

FIXTURES = Path(__file__).resolve().parents[1] / "browser" / "fixtures"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / "p3-run", tmp_path / "run"))


def test_phase_run_html_has_every_chart_and_plotly_once(run_dir: Path) -> None:
    generate_report(run_dir, skip_metrics=True)
    html = (run_dir / HTML_FILE).read_text()
    for key in ("throughput", "latency-time", "latency", "backlog", "cpu", "memory"):
        assert f'data-figure="fig-{key}"' in html, key
    assert "No chart:" not in html
    assert html.count("plotly.js v") == 1  # the library inlined once, no <script src=...>
    assert "<script src" not in html


def test_missing_data_is_said_in_place_not_raised(run_dir: Path) -> None:
    shutil.rmtree(run_dir / "metrics")
    shutil.rmtree(run_dir / "timeseries")
    generate_report(run_dir, skip_metrics=True)
    html = (run_dir / HTML_FILE).read_text()
    assert "No chart: no per-service series in metrics/ (Prometheus not collected)." in html
    assert "No chart: no timeseries/&lt;target&gt;-throughput.csv in the run." in html


def test_a_failing_html_is_a_warning_and_report_md_is_kept(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*_: object) -> Path:
        raise RuntimeError("no plotly here")

    monkeypatch.setattr("benchlab.report.write_run_html", broken)
    report = generate_report(run_dir, skip_metrics=True)
    assert report.read_text().startswith("# benchlab report")
    assert json.loads((run_dir / "run.json").read_text())["figures"]  # run.json completed
    assert not (run_dir / HTML_FILE).exists()
    err = capsys.readouterr().err
    assert err.strip() == (
        "benchlab: warning: report.html not written (RuntimeError: no plotly here); "
        "report.md is complete"
    )


def test_html_or_warning_passes_a_success_through() -> None:
    assert html_or_warning(lambda: Path("x")) is None


def test_values_are_escaped(tmp_path: Path) -> None:
    doc = json.loads((FIXTURES / "scaleout/report.json").read_text())
    doc["answer"]["sentence"] = "<script>alert(1)</script>"
    write_scaleout_html(tmp_path, doc)
    html = (tmp_path / HTML_FILE).read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html


def test_cpu_chart_marks_throttled_seconds_and_draws_the_limit(run_dir: Path) -> None:
    chart = charts.cpu_chart(run_dir / "metrics", [])
    assert chart.figure is not None
    names = [t["name"] for t in chart.figure["data"]]
    assert "spark-worker@localhost limit" in names
    throttled = next(t for t in chart.figure["data"] if t["name"].endswith("throttled"))
    assert min(throttled["customdata"]) > 25  # over THROTTLED_SATURATED only


def test_search_charts_put_every_target_on_the_same_axes() -> None:
    doc = json.loads((FIXTURES / "search/search.json").read_text())
    stored, p99 = charts.search_charts(doc["trials"])
    assert {t["name"] for t in stored.figure["data"]} == {
        "postgresql",
        "pipeline",
        "kafka",
        "stored = offered",
    }
    assert p99.figure["layout"]["xaxis"]["type"] == "log"
    assert charts.search_charts([])[0].missing == "no trials in search.json"


def test_scaleout_chart_of_runs_of_one_phase() -> None:
    rows = [
        {"workers": 1, "stored_per_s": 900.0, "offered_per_s": 1000.0},
        {"workers": 2, "stored_per_s": 1000.0, "offered_per_s": 1000.0},
    ]
    chart = charts.scaleout_chart(rows, "run")
    assert [t["y"] for t in chart.figure["data"]] == [[900.0, 1000.0], [1000.0, 1000.0]]
    assert charts.scaleout_chart([], "search").missing == "no usable worker count"


def test_moving_mean() -> None:
    assert charts.moving_mean([15, 20, 15, 20], 2) == [15, 17.5, 17.5, 17.5]
    assert charts.moving_mean([], 5) == []


def test_saved_series_read_back(tmp_path: Path) -> None:
    series = [
        {"metric": {"service": "pg", "host": "h"}, "values": [[1, "0.5"], [2, "NaN"], [3, "1"]]}
    ]
    _write_csv(tmp_path / "x.csv", series)
    assert read_series_csv(tmp_path / "x.csv") == [
        {"metric": {"host": "h", "service": "pg"}, "values": [(1.0, 0.5), (3.0, 1.0)]}
    ]
    assert read_series_csv(tmp_path / "missing.csv") == []


def test_throughput_chart_draws_what_the_pipeline_stored_between_commits(tmp_path: Path) -> None:
    """Kafka acknowledged 100 records in each second 0..9; at the commits 5 s and 10 s into
    the load 100 and then 50 of them were still owed: 400, then 950 stored, so 110 stored
    per second between the commits. PostgreSQL (stored when acknowledged) gets no such line."""
    (tmp_path / "timeseries").mkdir()
    for target in ("postgresql", "pipeline"):
        rows = ["second,unix_time,records_sent,records_acked,batches_failed,latency_max_ms"]
        rows += [f"{s},{1000 + s},100,100,0,5" for s in range(10)]
        (tmp_path / "timeseries" / f"{target}-throughput.csv").write_text("\n".join(rows))
    load = {
        "postgresql": {"start": 1000.0},
        "pipeline": {"start": 1000.0, "streaming": {"backlog": [[1005.0, 100], [1010.0, 50]]}},
    }
    traces = charts.throughput_over_time(tmp_path, load).figure["data"]
    assert [t["name"] for t in traces] == ["postgresql", "pipeline", "pipeline stored"]
    # the rate holds from the first commit to the second
    assert traces[2]["x"] == [5.0, 10.0] and traces[2]["y"] == [pytest.approx(110.0)] * 2
