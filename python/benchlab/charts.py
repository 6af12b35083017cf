"""The charts of report.html, as plotly figures (plain dicts: {"data": [...], "layout": {...}}).

Each builder takes what a report already read (load.json figures, the metrics/ series, the
search's trials, the scale-out's rows) and returns a Chart: a figure, or, when its data is
missing, the reason, which report.html prints in the chart's place. No builder raises for
missing or partial data.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchlab.metrics import read_series_csv
from benchlab.results import read_throughput_csv
from benchlab.search.judge import THROTTLED_SATURATED
from benchlab.steady import stored_view

# plotly's default colour sequence, fixed so that one service or target has one colour in
# every chart of a report
COLOURS = (
    "#636efa",
    "#ef553b",
    "#00cc96",
    "#ab63fa",
    "#ffa15a",
    "#19d3f3",
    "#ff6692",
    "#b6e880",
)
MIB = 1024**2
THROUGHPUT_MEAN_S = 5  # the throughput line: a 5 s moving mean (a batch every 0.3 s is lumpy)
LATENCY_KEYS = (("p50", "p50_ms"), ("p95", "p95_ms"), ("p99", "p99_ms"), ("max", "max_ms"))


@dataclass(frozen=True)
class Chart:
    """One chart of the report: `figure`, or `missing` (why there is none)."""

    key: str  # unique in its page: the element id is chart-<key>
    title: str
    figure: dict[str, Any] | None = None
    missing: str | None = None
    caption: str = ""


@dataclass(frozen=True)
class Window:
    """A target's load window (unix seconds): shaded in the resource charts."""

    target: str
    start: float
    end: float


def colour(i: int) -> str:
    return COLOURS[i % len(COLOURS)]


def layout(x_title: str, y_title: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "template": "plotly_white",
        "height": 380,
        "margin": {"l": 70, "r": 20, "t": 30, "b": 55},
        "hovermode": "closest",
        "legend": {"orientation": "h", "y": -0.22},
        "xaxis": {"title": {"text": x_title}, "zeroline": False},
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero"},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    for axis in ("xaxis", "yaxis"):
        if base[axis].get("type") == "log":
            base[axis] = {"dtick": 1, **base[axis]}  # ticks at powers of ten only
    return base


def figure(
    key: str, title: str, traces: list[dict[str, Any]], lay: dict[str, Any], *, why: str
) -> Chart:
    """A chart of `traces`, or `why` there is none when no trace has a point."""
    if not any(t.get("x") or t.get("y") for t in traces):
        return Chart(key, title, missing=why)
    return Chart(key, title, {"data": traces, "layout": lay})


def moving_mean(values: Sequence[float], n: int) -> list[float]:
    """Each value replaced by the mean of the last `n` values up to it (fewer at the start)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= n:
            total -= values[i - n]
        out.append(total / min(i + 1, n))
    return out


def iso(ts: float) -> str:
    """Unix seconds as a UTC time plotly reads as a date."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


# -- a phase run -----------------------------------------------------------------------------
def per_second(
    key: str,
    title: str,
    run_dir: Path,
    load: Mapping[str, Mapping[str, Any]],
    column: str,
    y_title: str,
    *,
    mean_of: int = 1,
    y_log: bool = False,
) -> Chart:
    """One line per target of a per-second column of timeseries/<target>-throughput.csv
    (its mean over `mean_of` seconds up to each), against seconds from that target's load
    start; the warm-up is marked."""
    traces = []
    warmups = set()
    for i, target in enumerate(load):
        rows = [
            r
            for r in read_throughput_csv(run_dir / "timeseries" / f"{target}-throughput.csv")
            if column in r and "second" in r
        ]
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": target,
                "x": [r["second"] for r in rows],
                "y": moving_mean([r[column] for r in rows], mean_of),
                "line": {"color": colour(i), "width": 1.5},
            }
        )
        warmup = stored_view(load[target]).warmup_s
        if warmup > 0:
            warmups.add(warmup)
    shapes = [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": w,
            "x1": w,
            "y0": 0,
            "y1": 1,
            "line": {"dash": "dot", "color": "grey"},
        }
        for w in warmups
    ]
    notes = [
        {
            "x": w,
            "y": 1,
            "xref": "x",
            "yref": "paper",
            "text": "end of warm-up",
            "showarrow": False,
            "xanchor": "left",
            "yanchor": "top",
            "font": {"color": "grey"},
        }
        for w in warmups
    ]
    lay = layout(
        "seconds from the load's start",
        y_title,
        shapes=shapes,
        annotations=notes,
        yaxis={"type": "log"} if y_log else {},
    )
    why = f"no {column} column in timeseries/<target>-throughput.csv (a run older than it)"
    if not any((run_dir / "timeseries").glob("*-throughput.csv")):
        why = "no timeseries/<target>-throughput.csv in the run"
    return figure(key, title, traces, lay, why=why)


def stored_over_time(
    run_dir: Path, target: str, figures: Mapping[str, Any], i: int
) -> dict[str, Any] | None:
    """A store that commits after it acknowledges (the pipeline: HDFS after Kafka): records
    stored per second between its commits, against seconds from the load's start. Stored by a
    commit = acknowledged before it - the backlog at it (load.json streaming.backlog)."""
    backlog = (figures.get("streaming") or {}).get("backlog") or []
    start = figures.get("start")
    if not backlog or start is None:
        return None
    acked = {
        int(r["second"]): r.get("records_acked", 0.0)
        for r in read_throughput_csv(run_dir / "timeseries" / f"{target}-throughput.csv")
        if "second" in r
    }
    points = []
    for commit, owed in backlog:
        t = float(commit) - float(start)
        before = sum(n for second, n in acked.items() if second < math.floor(t))
        points.append((t, before - float(owed)))
    # each rate holds over its interval between two commits: a step from the first commit
    x, y = [], []
    for (t0, stored0), (t1, stored1) in itertools.pairwise(points):
        if t1 > t0:
            x.append(round(t0, 3))
            y.append((stored1 - stored0) / (t1 - t0))
    if not x:
        return None
    x.append(round(points[-1][0], 3))
    y.append(y[-1])
    return {
        "type": "scatter",
        "mode": "lines",
        "name": f"{target} stored",
        "x": x,
        "y": y,
        "line": {"color": colour(i), "width": 1.5, "dash": "dot", "shape": "hv"},
    }


def throughput_over_time(run_dir: Path, load: Mapping[str, Mapping[str, Any]]) -> Chart:
    chart = per_second(
        "throughput",
        "Throughput over time",
        run_dir,
        load,
        "records_acked",
        "records per second",
        mean_of=THROUGHPUT_MEAN_S,
    )
    if chart.figure is not None:
        stored = [stored_over_time(run_dir, t, f, i) for i, (t, f) in enumerate(load.items())]
        chart.figure["data"].extend(t for t in stored if t is not None)
    return _captioned(
        chart,
        f"Records the sink acknowledged per second, the mean of the last {THROUGHPUT_MEAN_S} s "
        "at each second of load; dotted, for a store that commits after it acknowledges (the "
        "pipeline: Kafka acknowledges, HDFS stores), the records stored per second between its "
        "commits.",
    )


def latency_over_time(run_dir: Path, load: Mapping[str, Mapping[str, Any]]) -> Chart:
    chart = per_second(
        "latency-time",
        "Latency over time",
        run_dir,
        load,
        "latency_max_ms",
        "slowest acknowledgement in the second (ms)",
        y_log=True,
    )
    return _captioned(
        chart,
        "The slowest batch acknowledged in each second, from its scheduled time (log scale).",
    )


def backlog_over_time(load: Mapping[str, Mapping[str, Any]]) -> Chart:
    """Records acknowledged but not yet stored, for targets that store after acknowledging."""
    traces = []
    for i, (target, figures) in enumerate(load.items()):
        view = stored_view(figures)
        if view.backlog_unit != "records" or not view.backlog:
            continue
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": target,
                "x": [t for t, _ in view.backlog],
                "y": [v for _, v in view.backlog],
                "line": {"color": colour(i), "shape": "hv"},
            }
        )
    return _captioned(
        figure(
            "backlog",
            "Backlog: acknowledged, not yet stored",
            traces,
            layout("seconds from the load's start", "records owed"),
            why="no target recorded a backlog of acknowledged records not yet stored (a store "
            "that commits on acknowledgement has none)",
        ),
        "At each commit of the store, the records already acknowledged that it had not stored yet.",
    )


def latency_percentiles(latency: Mapping[str, Mapping[str, Any]]) -> Chart:
    """p50 / p95 / p99 / max per target (the report's latency figures), log scale."""
    traces = []
    for i, (label, key) in enumerate(LATENCY_KEYS):
        names = [t for t, lat in latency.items() if lat.get(key) is not None]
        traces.append(
            {
                "type": "bar",
                "name": label,
                "x": names,
                "y": [latency[t][key] for t in names],
                "marker": {"color": colour(i)},
                "hovertemplate": f"%{{x}} {label}: %{{y:,.1f}} ms<extra></extra>",
            }
        )
    return _captioned(
        figure(
            "latency",
            "Latency percentiles",
            traces,
            layout("target", "ms (log scale)", barmode="group", yaxis={"type": "log"}),
            why="no latency figures for any target",
        ),
        "The figures of the results table: the steady window, to the moment a record is "
        "stored (the pipeline: its HDFS commit).",
    )


def _service_series(metrics_dir: Path, name: str) -> dict[str, list[tuple[float, float]]]:
    """service@host -> points of metrics/<name>.csv."""
    out: dict[str, list[tuple[float, float]]] = {}
    for s in read_series_csv(metrics_dir / f"{name}.csv"):
        svc, host = s["metric"].get("service"), s["metric"].get("host")
        if svc:
            out[f"{svc}@{host}" if host else svc] = s["values"]
    return out


def _window_shapes(windows: Sequence[Window]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    shapes, notes = [], []
    for w in windows:
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": iso(w.start),
                "x1": iso(w.end),
                "y0": 0,
                "y1": 1,
                "fillcolor": "rgba(120,120,120,0.08)",
                "line": {"width": 0},
                "layer": "below",
            }
        )
        notes.append(
            {
                "x": iso(w.start),
                "y": 1,
                "xref": "x",
                "yref": "paper",
                "text": f"{w.target} load",
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "bottom",
                "font": {"size": 11, "color": "#555"},
            }
        )
    return shapes, notes


def _against_limit(
    key: str,
    title: str,
    used: dict[str, list[tuple[float, float]]],
    limits: dict[str, list[tuple[float, float]]],
    windows: Sequence[Window],
    y_title: str,
    scale: float,
    extra: Callable[[str, int], list[dict[str, Any]]] | None = None,
) -> Chart:
    traces: list[dict[str, Any]] = []
    for i, name in enumerate(sorted(used)):
        points = used[name]
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": name,
                "legendgroup": name,
                "x": [iso(t) for t, _ in points],
                "y": [v / scale for _, v in points],
                "line": {"color": colour(i), "width": 1.5},
            }
        )
        limit = limits.get(name) or []
        if limit:
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": f"{name} limit",
                    "legendgroup": name,
                    "showlegend": False,
                    "x": [iso(t) for t, _ in limit],
                    "y": [v / scale for _, v in limit],
                    "line": {"color": colour(i), "dash": "dash", "width": 1},
                }
            )
        if extra:
            traces.extend(extra(name, i))
    shapes, notes = _window_shapes(windows)
    lay = layout(
        "time (UTC)",
        y_title,
        shapes=shapes,
        annotations=notes,
        xaxis={"type": "date", "tickformat": "%H:%M", "hoverformat": "%H:%M:%S"},
    )
    return figure(
        key, title, traces, lay, why="no per-service series in metrics/ (Prometheus not collected)"
    )


def cpu_chart(metrics_dir: Path, windows: Sequence[Window]) -> Chart:
    """CPU cores per service against its limit; seconds throttled above THROTTLED_SATURATED
    of CFS periods are marked."""
    used = _service_series(metrics_dir, "service_cpu_cores")
    throttled = _service_series(metrics_dir, "service_throttled_ratio")

    def marks(name: str, i: int) -> list[dict[str, Any]]:
        ratio = dict(throttled.get(name) or [])
        points = [(t, v, ratio[t]) for t, v in used[name] if ratio.get(t, 0) > THROTTLED_SATURATED]
        if not points:
            return []
        return [
            {
                "type": "scatter",
                "mode": "markers",
                "name": f"{name} throttled",
                "legendgroup": name,
                "x": [iso(t) for t, _, _ in points],
                "y": [v for _, v, _ in points],
                "customdata": [round(100 * r) for _, _, r in points],
                "hovertemplate": "%{y:.2f} cores, throttled in %{customdata} % of periods"
                "<extra>" + name + "</extra>",
                "marker": {"symbol": "x", "size": 7, "color": colour(i)},
            }
        ]

    chart = _against_limit(
        "cpu", "CPU per service", used, _service_series(metrics_dir, "service_cpu_limit_cores"),
        windows, "cores", 1.0, marks,
    )  # fmt: skip
    return _captioned(
        chart,
        f"Solid: cores used; dashed: the cgroup's CPU limit; x: throttled in more than "
        f"{THROTTLED_SATURATED:.0%} of CFS periods. Shaded: each target's load.",
    )


def memory_chart(metrics_dir: Path, windows: Sequence[Window]) -> Chart:
    used = _service_series(metrics_dir, "service_memory_working_set_bytes")

    chart = _against_limit(
        "memory", "Memory per service", used,
        _service_series(metrics_dir, "service_memory_limit_bytes"), windows, "MiB", MIB,
    )  # fmt: skip
    return _captioned(
        chart,
        "Solid: working set (page cache left out); dashed: the cgroup's memory limit (the OOM "
        "killer acts there). Shaded: each target's load.",
    )


# -- a search --------------------------------------------------------------------------------
def search_charts(trials: Sequence[Mapping[str, Any]]) -> list[Chart]:
    """Stored throughput and p99 against offered load, every target on the same axes; a
    failed trial is an x. Trials rerun with more writers are not points of the curve."""
    points = [t for t in trials if not t.get("more_writers")]
    stored: list[dict[str, Any]] = []
    p99: list[dict[str, Any]] = []
    for i, name in enumerate(dict.fromkeys(t["target"] for t in points)):
        mine = sorted((t for t in points if t["target"] == name), key=lambda t: t["rate"])
        symbols = ["circle" if t["verdict"].get("sustainable") else "x" for t in mine]
        text = ["sustained" if s == "circle" else "failed" for s in symbols]
        for out, field in ((stored, "stored_per_s"), (p99, "p99_ms")):
            shown = [t for t in mine if t["verdict"].get(field) is not None]
            out.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": name,
                    "x": [t["rate"] for t in shown],
                    "y": [t["verdict"][field] for t in shown],
                    "text": [text[mine.index(t)] for t in shown],
                    "marker": {
                        "symbol": [symbols[mine.index(t)] for t in shown],
                        "size": 9,
                        "color": colour(i),
                    },
                    "line": {"color": colour(i)},
                    "hovertemplate": "offered %{x:,.0f}/s: %{y:,.1f} (%{text})<extra>"
                    + name
                    + "</extra>",
                }
            )
    why = "no trials in search.json"
    if points:
        top = max(t["rate"] for t in points)
        low = min(t["rate"] for t in points)
        stored.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "stored = offered",
                "x": [low, top],
                "y": [low, top],
                "line": {"dash": "dot", "color": "grey"},
                "hoverinfo": "skip",
            }
        )
    log = {"type": "log", "rangemode": "normal"}
    return [
        _captioned(
            figure(
                "search-stored",
                "Stored throughput against offered load",
                stored,
                layout("offered load (records/s)", "stored (records/s)", xaxis=log, yaxis=log),
                why=why,
            ),
            "Every trial of every target (o: sustained, x: failed); on the dotted line the "
            "target stored everything it was offered.",
        ),
        _captioned(
            figure(
                "search-p99",
                "p99 latency against offered load",
                p99,
                layout("offered load (records/s)", "p99 (ms)", xaxis=log, yaxis=log),
                why=why,
            ),
            "The p99 of each trial's measured window (o: sustained, x: failed).",
        ),
    ]


# -- a scale-out -----------------------------------------------------------------------------
def scaleout_chart(rows: Sequence[Mapping[str, Any]], kind: str) -> Chart:
    """The rate per worker count: the sustainable rate (a search; bar: the reruns' spread,
    triangle: the first failing rate) or stored against offered (runs of one phase)."""
    counts = [r["workers"] for r in rows]
    traces: list[dict[str, Any]] = []
    if kind == "search":
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers+text",
                "name": "sustainable rate",
                "x": counts,
                "y": [r.get("sustainable_per_s") for r in rows],
                "error_y": {
                    "type": "data",
                    "array": [(r.get("spread_per_s") or 0) / 2 for r in rows],
                    "visible": True,
                },
                "text": [f"{r.get('sustainable_per_s') or 0:,.0f}" for r in rows],
                "textposition": "middle right",
                "marker": {"size": 10, "color": colour(0)},
            }
        )
        failing = [r for r in rows if r.get("first_failing_per_s")]
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "first failing rate",
                "x": [r["workers"] for r in failing],
                "y": [r["first_failing_per_s"] for r in failing],
                "marker": {"symbol": "triangle-down", "size": 10, "color": colour(1)},
            }
        )
    else:
        for i, (name, field) in enumerate(
            (("stored in HDFS", "stored_per_s"), ("offered", "offered_per_s"))
        ):
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": name,
                    "x": counts,
                    "y": [r.get(field) for r in rows],
                    "marker": {"size": 10, "color": colour(i)},
                    "line": {"dash": "solid" if i == 0 else "dash"},
                }
            )
    lay = layout("workers", "records/s", xaxis={"tickvals": counts, "type": "linear"})
    return _captioned(
        figure("scaleout", "Rate per worker count", traces, lay, why="no usable worker count"),
        "The sustainable rate at each worker count (bar: spread of its reruns; triangle: the "
        "first rate that failed)."
        if kind == "search"
        else "Records stored in HDFS per second at each worker count, beside the offered rate.",
    )


def _captioned(chart: Chart, caption: str) -> Chart:
    return Chart(chart.key, chart.title, chart.figure, chart.missing, caption)
