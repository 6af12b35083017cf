"""report.html in a real browser: every chart drawn, no console error, a screenshot beside it.

The pages are built from run folders trimmed from real results (fixtures/: phase 2 and phase 3
runs of three targets on the local inventory, a search, a scale-out), through the same code
`benchlab report`, the search and the scale-out use; the run's Prometheus series come from its
saved metrics/ CSVs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from headless import Chromium
from saved_metrics import SavedMetrics

from benchlab.report import generate_report
from benchlab.report_html import HTML_FILE, write_scaleout_html
from benchlab.search.report import write_search_report

FIXTURES = Path(__file__).parent / "fixtures"


def copy_fixture(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / name, tmp_path / name))


def check_page(chromium: Chromium, report: Path, charts: int) -> None:
    shot = report.with_suffix(".png")
    result = chromium.check(report, shot)
    assert result.problems() == []
    assert (result.plots, result.drawn, result.missing) == (charts, charts, 0)
    assert shot.stat().st_size > 20_000  # a page, not a blank


def test_checker_fails_a_page_that_throws_or_draws_nothing(
    chromium: Chromium, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text(
        '<div class="plot" data-figure="fig-x"></div>'
        '<script>console.error("boom"); undefined_function();</script>'
    )
    problems = chromium.check(broken).problems()
    assert any("boom" in p for p in problems)
    assert any("undefined_function" in p for p in problems)
    assert "charts not drawn: fig-x" in problems
    empty = tmp_path / "empty.html"
    empty.write_text("<p>no charts</p>")
    assert chromium.check(empty).problems() == ["no chart on the page"]


def test_checker_fails_a_report_with_one_broken_figure(chromium: Chromium, tmp_path: Path) -> None:
    report = tmp_path / HTML_FILE
    write_scaleout_html(tmp_path, json.loads((FIXTURES / "scaleout/report.json").read_text()))
    text = report.read_text()
    start = text.index('id="fig-scaleout">') + len('id="fig-scaleout">')
    report.write_text(text[:start] + "{not json" + text[start:])
    result = chromium.check(report)
    assert result.undrawn == ["fig-scaleout"]
    assert any("fig-scaleout" in e for e in result.console_errors)


@pytest.mark.parametrize(
    ("fixture", "working_set"),
    # postgresql's peak working set, from the saved series; the phase 2 page's screenshot is
    # docs/report-html.png (the README shows it); phase 3 throttles the services at their quota
    [("p2-run", "263 MiB"), ("p3-run", "1,015 MiB")],
)
def test_phase_run_report_draws_every_chart(
    chromium: Chromium, tmp_path: Path, fixture: str, working_set: str
) -> None:
    run_dir = copy_fixture(fixture, tmp_path)
    generate_report(run_dir, client=SavedMetrics(run_dir))
    assert (run_dir / "report.md").is_file()
    html = (run_dir / HTML_FILE).read_text()
    assert html.count('class="card pass"') == 3  # the audit: PASS for each target
    assert working_set in html
    check_page(chromium, run_dir / HTML_FILE, charts=6)


def test_missing_data_is_said_in_place(chromium: Chromium, tmp_path: Path) -> None:
    run_dir = copy_fixture("p3-run", tmp_path)
    shutil.rmtree(run_dir / "metrics")
    shutil.rmtree(run_dir / "timeseries")
    generate_report(run_dir, skip_metrics=True)
    result = chromium.check(run_dir / HTML_FILE)
    assert result.console_errors == []
    # throughput and latency over time, CPU, memory: said missing; the rest drawn
    assert (result.plots, result.drawn, result.missing) == (2, 2, 4)


def test_search_report_draws_every_chart(chromium: Chromium, tmp_path: Path) -> None:
    search_dir = copy_fixture("search", tmp_path)
    write_search_report(search_dir)
    check_page(chromium, search_dir / HTML_FILE, charts=2)


def test_scaleout_report_draws_its_chart(chromium: Chromium, tmp_path: Path) -> None:
    write_scaleout_html(tmp_path, json.loads((FIXTURES / "scaleout/report.json").read_text()))
    check_page(chromium, tmp_path / HTML_FILE, charts=1)
