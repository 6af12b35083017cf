"""report.html: the report as one self-contained page beside report.md.

The page is rendered from the context its report.md was rendered from, plus charts
(benchlab.charts) drawn by plotly.js, which is inlined once per page: the file opens with
no network. A chart whose data is missing says so in its place.

report.md is always written first; a failure here is a warning on stderr, never a lost
report nor another exit code (`html_or_warning`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from benchlab import charts
from benchlab.charts import Chart, Window
from benchlab.render import render_template
from benchlab.results import utc_iso, write_text_atomic

HTML_FILE = "report.html"


def plotly_js() -> str:
    """plotly.js, minified, from the pinned plotly package (no network)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def write_html(
    path: Path, template: str, context: Mapping[str, Any], chart_list: Sequence[Chart]
) -> Path:
    """Render `template` (templates/<name>.html.j2) with `context` and the charts to `path`."""
    text = render_template(
        template, {**context, "charts": list(chart_list), "plotly_js": plotly_js()}
    )
    write_text_atomic(path, text)
    return path


def html_or_warning(write: Callable[[], Path]) -> str | None:
    """Run `write`; on any failure print one warning line on stderr and return it."""
    try:
        write()
    except Exception as exc:
        line = (
            f"benchlab: warning: {HTML_FILE} not written ({type(exc).__name__}: {exc}); "
            "report.md is complete"
        )
        print(line, file=sys.stderr)
        return line
    return None


# -- a phase run -----------------------------------------------------------------------------
def run_charts(
    run_dir: Path, load: Mapping[str, Mapping[str, Any]], latency: Mapping[str, Mapping[str, Any]]
) -> list[Chart]:
    """The phase run's charts, from the run directory and load.json (`load`, per target)."""
    windows = [
        Window(target, float(s["start"]), float(s["end"]))
        for target, s in load.items()
        if s.get("start") and s.get("end")
    ]
    metrics_dir = run_dir / "metrics"
    return [
        charts.throughput_over_time(run_dir, load),
        charts.latency_over_time(run_dir, load),
        charts.latency_percentiles(latency),
        charts.backlog_over_time(load),
        charts.cpu_chart(metrics_dir, windows),
        charts.memory_chart(metrics_dir, windows),
    ]


def write_run_html(
    run_dir: Path, context: Mapping[str, Any], load: Mapping[str, Mapping[str, Any]]
) -> Path:
    """report.html of a phase run from report.md's context (`columns` and the rest)."""
    latency = {c.name: c.figures for c in context["columns"]}
    return write_html(
        run_dir / HTML_FILE, "report.html.j2", context, run_charts(run_dir, load, latency)
    )


# -- a search --------------------------------------------------------------------------------
def write_search_html(search_dir: Path, context: Mapping[str, Any]) -> Path:
    """report.html of a search from report.md's context (`doc`: search.json, `c`: the
    conclusion)."""
    return write_html(
        search_dir / HTML_FILE,
        "search.html.j2",
        context,
        charts.search_charts(context["doc"].get("trials") or []),
    )


# -- a scale-out -----------------------------------------------------------------------------
def write_scaleout_html(report_dir: Path, doc: Mapping[str, Any]) -> Path:
    """report.html of a scale-out from its report.json document."""
    kind = doc.get("kind") or "run"
    return write_html(
        report_dir / HTML_FILE,
        "scaleout.html.j2",
        {"doc": doc, "kind": kind, "generated": doc.get("generated") or utc_iso()},
        [charts.scaleout_chart(doc.get("per_count") or [], kind)],
    )
