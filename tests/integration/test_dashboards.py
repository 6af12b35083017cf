"""Every Grafana panel's PromQL (dashboards/*.json) returns series from the local lab's
Prometheus: the dashboards draw something for every figure, and no metric name is wrong.

Grafana itself cannot be installed here, so each query is run as Grafana would run it: the
template variables as their "All" regex, $__rate_interval as a fixed window, $__range as the
window looked at. The generator's and the systems' series exist only once a bench has run,
so this file runs last in the suite (conftest.py) and looks at the last WINDOW: the benches
before it (in CI test_targets' pipeline bench and test_search's trials, locally also the
smoke bench) loaded PostgreSQL, Kafka, Spark and HDFS. Run alone on an idle lab it fails:
run a bench first (`make bench`) or with one, e.g. tests/integration/test_targets.py.
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest
import yaml
from conftest import REPO, Lab

from benchlab.dashboards import ALL_VALUE, RANGE, RATE_INTERVAL, panel_queries

WINDOW = "30m"
WINDOW_S = 30 * 60
RATE_WINDOW = "1m"  # 12 scrapes at the kit's 5 s interval
PROMETHEUS = "http://127.0.0.1:{}".format(
    yaml.safe_load((REPO / "group_vars/all/ports.yml").read_text())["prometheus_port"]
)


def _queries() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted((REPO / "dashboards").glob("*.json")):
        model = json.loads(path.read_text())
        found += [(path.stem, title, expr) for title, expr in panel_queries(model)]
    return found


QUERIES = _queries()


def as_run(expr: str) -> str:
    """The query as Grafana sends it with every variable on "All"."""
    expr = expr.replace(RATE_INTERVAL, RATE_WINDOW).replace(RANGE, WINDOW)
    return re.sub(r"\$\{?[a-z]\w*\}?", ALL_VALUE, expr)


def query_range(expr: str) -> list[dict[str, Any]]:
    end = time.time()
    params = urllib.parse.urlencode(
        {"query": expr, "start": end - WINDOW_S, "end": end, "step": "30s"}
    )
    with urllib.request.urlopen(f"{PROMETHEUS}/api/v1/query_range?{params}", timeout=30) as r:
        body: dict[str, Any] = json.load(r)
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def test_there_are_panels_to_check() -> None:
    assert len(QUERIES) > 40, QUERIES


@pytest.mark.parametrize(
    ("dashboard", "panel", "expr"),
    QUERIES,
    ids=[f"{d}:{p}:{i}" for i, (d, p, _) in enumerate(QUERIES)],
)
def test_panel_query_returns_series(lab: Lab, dashboard: str, panel: str, expr: str) -> None:
    query = as_run(expr)
    series = query_range(query)
    drawn = [s for s in series if any(math.isfinite(float(v)) for _, v in s.get("values", []))]
    assert drawn, (
        f"{dashboard}.json, panel {panel!r}: {query!r} returned no value over the last "
        f"{WINDOW} ({len(series)} series, all NaN). Either the metric name is wrong (check "
        "the exporter's /metrics and the catalogue in benchlab/metrics.py or "
        "benchlab/system_metrics.py, then regenerate dashboards/), or no bench loaded the "
        "lab in that window (run this file after one)."
    )


def test_as_run_leaves_no_variable() -> None:
    for _, _, expr in QUERIES:
        assert "$" not in as_run(expr), expr
