"""The Grafana dashboards (dashboards/*.json) are what benchlab.dashboards builds from the
metric catalogue now, and every panel query is a catalogue figure, scoped to the variables."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchlab import dashboards
from benchlab.dashboards import DASHBOARDS, panel_expr, panel_queries, render, scoped
from benchlab.metrics import INCREASE_QUERIES, RANGE_QUERIES
from benchlab.system_metrics import SYSTEM_QUERIES

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "dashboards"
REGENERATE = "PYTHONPATH=python python -m benchlab.dashboards --out dashboards/"


def test_committed_json_is_what_the_builder_produces() -> None:
    built = render()
    committed = {p.name: p.read_text(encoding="utf-8") for p in COMMITTED.glob("*.json")}
    assert sorted(committed) == sorted(built), f"dashboards/ differs; run {REGENERATE}"
    stale = [name for name, text in built.items() if committed[name] != text]
    assert not stale, f"out of date: {stale}; run {REGENERATE}"


def test_check_mode_of_the_command_agrees(tmp_path: Path) -> None:
    assert dashboards.main(["--out", str(tmp_path), "--check"]) == 1
    assert dashboards.main(["--out", str(tmp_path)]) == 0
    assert dashboards.main(["--out", str(tmp_path), "--check"]) == 0


def _figures() -> set[str]:
    return {f.name for d in DASHBOARDS for r in d.rows for p in r.panels for f in p.figures}


def test_every_catalogue_figure_a_dashboard_needs_is_drawn() -> None:
    drawn = _figures()
    # the dashboards' own catalogue has nothing undrawn; the report's per-service,
    # generator and OOM/restart figures are all on a panel
    assert set(SYSTEM_QUERIES) - drawn == set()
    wanted = {n for n in RANGE_QUERIES if n.startswith(("loadgen_", "service_cpu", "node_"))}
    wanted |= {"service_throttled_ratio", "service_memory_working_set_bytes"}
    wanted |= {"service_memory_limit_bytes", *INCREASE_QUERIES}
    assert wanted - drawn == set()


def test_each_panel_query_is_its_catalogue_figure_with_grafana_windows() -> None:
    built = {spec.uid: json.loads(render()[f"{spec.uid}.json"]) for spec in DASHBOARDS}
    exprs = {q for d in built.values() for _, q in panel_queries(d)}
    assert exprs == {panel_expr(name) for name in _figures()}
    for expr in exprs:
        assert "{rate}" not in expr
        assert "$__rate_interval" in expr or "$__range" in expr or "rate(" not in expr


def test_variables_used_by_a_dashboard_are_defined_in_it() -> None:
    for spec in DASHBOARDS:
        model = json.loads(render()[f"{spec.uid}.json"])
        defined = {v["name"] for v in model["templating"]["list"]}
        used = {m for _, q in panel_queries(model) for m in re.findall(r"\$([a-z]\w*)", q)}
        used |= {m for v in model["templating"]["list"] for m in re.findall(
            r"\$([a-z]\w*)", str(v.get("query", "")))}  # fmt: skip
        assert used <= defined, (spec.uid, used - defined)


def test_scoped_adds_the_variables_to_every_exporter_selector() -> None:
    assert scoped("rate(benchlab_cgroup_cpu_usage_seconds_total[1m])") == (
        'rate(benchlab_cgroup_cpu_usage_seconds_total{host=~"$host",service=~"$service"}[1m])'
    )
    assert scoped('sum by (host) (rate(node_cpu_seconds_total{mode!="idle"}[1m]))') == (
        'sum by (host) (rate(node_cpu_seconds_total{mode!="idle",host=~"$host"}[1m]))'
    )
    # label names and functions are left alone; the generator's series are scoped by target
    assert scoped("sum by (target, le) (rate(benchlab_loadgen_x_bucket[1m]))") == (
        'sum by (target, le) (rate(benchlab_loadgen_x_bucket{target=~"$target"}[1m]))'
    )
    assert scoped("histogram_quantile(0.5, x)") == "histogram_quantile(0.5, x)"


def test_an_unknown_figure_names_the_catalogue() -> None:
    with pytest.raises(KeyError, match="not in the metric catalogue"):
        panel_expr("no_such_figure")
