"""The soak (benchlab.soak): trends and the leak rule on synthetic series, where its rate comes
from, its -e parameters, and `benchlab soak` end to end on the null sink."""

from __future__ import annotations

import json
import math
import random
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchlab.catalog import list_results
from benchlab.cli import main
from benchlab.config import parse_config
from benchlab.fields import ConfigError
from benchlab.runparams import ParamError, load_phases, resolve
from benchlab.soak import analysis
from benchlab.soak.plan import NoSoakRate, soak_rates, sustainable_from_searches
from benchlab.soak.report import write_soak_report
from benchlab.soak.run import soak
from benchlab.soak.settings import SoakSettings

REPO = Path(__file__).resolve().parents[2]
MIB = 2**20
GIB = 2**30
TARGETS = ["postgresql", "pipeline", "kafka"]


def kit_soak() -> dict[str, Any]:
    """group_vars/all/soak.yml's benchlab_soak, as bench.yml renders it."""
    data = yaml.safe_load((REPO / "group_vars/all/soak.yml").read_text())
    return dict(data["benchlab_soak"])


def rule(**changes: Any) -> analysis.LeakRule:
    s = SoakSettings.parse({**kit_soak(), "fraction": 0.7, "rates": {}})
    base = analysis.leak_rule(s)
    return analysis.LeakRule(**{**base.__dict__, **changes})


def series(
    fn: Any, minutes: float = 55, step_s: float = 30, seed: int = 1
) -> list[tuple[float, float]]:
    """(t, bytes) every step_s over `minutes` from t=1000, fn(hours) in MiB + noise."""
    rng = random.Random(seed)
    n = int(minutes * 60 / step_s) + 1
    return [(1000 + i * step_s, (fn(i * step_s / 3600) + rng.gauss(0, 2)) * MIB) for i in range(n)]


def trend(
    points: list[tuple[float, float]], limit: float | None = 2 * GIB, **r: Any
) -> dict[str, Any]:
    return analysis.memory_trend(points, points[0][0], points[-1][0], limit, rule(**r))


# -- least squares ---------------------------------------------------------------------------
def test_linear_fit_recovers_a_line() -> None:
    fit = analysis.linear_fit([0, 1, 2, 3], [5, 7, 9, 11])
    assert fit is not None
    assert (fit.slope, fit.intercept, fit.r2, fit.slope_stderr) == (2, 5, 1, 0)
    assert analysis.linear_fit([1], [1]) is None
    assert analysis.linear_fit([2, 2], [1, 3]) is None  # one x: no slope
    flat = analysis.linear_fit([0, 1, 2], [4, 4, 4])
    assert flat is not None and flat.slope == 0 and flat.r2 is None  # nothing to explain


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert analysis.percentile(values, 99) == 99
    assert analysis.percentile(values, 50) == 50
    assert analysis.percentile([7], 99) == 7
    assert analysis.percentile([], 99) is None


# -- the leak rule -----------------------------------------------------------------------------
def test_threshold_is_the_larger_of_the_floor_and_the_share_of_the_limit() -> None:
    r = rule(min_slope_mib_per_h=16, limit_pct_per_h=2)
    assert r.threshold_mib_per_h(2 * GIB) == pytest.approx(40.96)
    assert r.threshold_mib_per_h(512 * MIB) == 16
    assert r.threshold_mib_per_h(None) == 16


def test_a_steady_linear_growth_is_a_leak() -> None:
    m = trend(series(lambda h: 300 + 120 * h))  # 120 MiB/h against a 41 MiB/h threshold
    assert m["verdict"] == analysis.LEAK, m["reason"]
    assert m["slope_mib_per_h"] == pytest.approx(120, rel=0.05)
    assert m["r2"] > 0.95
    assert m["last_quarter_mib"] > m["first_quarter_mib"]
    assert all(m["checks"].values())
    assert m["points"] == 111


def test_a_flat_noisy_working_set_is_no_leak() -> None:
    m = trend(series(lambda h: 800))
    assert m["verdict"] == analysis.NO_LEAK
    assert abs(m["slope_mib_per_h"]) < 10
    assert not m["checks"]["slope_above_threshold"]


def test_a_cache_that_fills_then_levels_off_is_no_leak() -> None:
    # +400 MiB in the first ~15 min, flat after: a high slope overall, none at the end
    m = trend(series(lambda h: 300 + 400 * (1 - math.exp(-h / 0.08))))
    assert m["slope_mib_per_h"] > m["threshold_mib_per_h"]
    assert m["verdict"] == analysis.NO_LEAK
    assert not m["checks"]["still_growing_at_end"]


def test_a_gc_sawtooth_is_no_leak() -> None:
    # 300 MiB sawtooth every 10 min around a slight rise: the line explains little of it
    m = trend(series(lambda h: 600 + 20 * h + 300 * ((h * 6) % 1)))
    assert not m["checks"]["r2_at_least_min"]
    assert m["verdict"] == analysis.NO_LEAK


def test_a_slow_growth_under_the_threshold_is_no_leak() -> None:
    m = trend(series(lambda h: 500 + 10 * h, seed=3))
    assert m["verdict"] == analysis.NO_LEAK
    assert m["slope_mib_per_h"] == pytest.approx(10, abs=6)


def test_too_few_points_are_not_judged() -> None:
    m = trend(series(lambda h: 300 + 500 * h, minutes=1.5))  # 4 points
    assert m["verdict"] == analysis.NOT_JUDGED
    assert "fewer than" in m["reason"]


def test_a_short_span_gives_figures_but_no_verdict() -> None:
    # four minutes of a store filling its caches: a steep line, but not an hour's trend
    m = trend(series(lambda h: 100 + 3000 * h, minutes=4))
    assert m["slope_mib_per_h"] == pytest.approx(3000, rel=0.05) and m["r2"] > 0.9
    assert m["verdict"] == analysis.NOT_JUDGED
    assert "240 s measured, under the 300 s the rule needs" in m["reason"]
    d = analysis.latency_drift(
        batches(lambda s: 10 + s, seconds=240), 0, 240, 15, analysis.DriftRule(1.5, 20), 6, 300
    )
    assert d["verdict"] == analysis.NOT_JUDGED and d["slope_ms_per_h"] is not None


def test_points_outside_the_window_are_left_out() -> None:
    pts = series(lambda h: 300 + 120 * h)
    start, end = pts[10][0], pts[-11][0]
    m = analysis.memory_trend(pts, start, end, 2 * GIB, rule())
    assert m["points"] == len(pts) - 20
    assert m["span_s"] == end - start


# -- latency drift -----------------------------------------------------------------------------
def batches(
    fn: Any, seconds: int = 3000, per_s: int = 10, seed: int = 2
) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [
        (s + k / per_s, fn(s) * rng.uniform(0.5, 1.0)) for s in range(seconds) for k in range(per_s)
    ]


def drift(rows: list[tuple[float, float]], start: float = 0, end: float = 3000) -> dict[str, Any]:
    return analysis.latency_drift(rows, start, end, 60, analysis.DriftRule(1.5, 20, 0.3))


def test_steady_latency_is_steady() -> None:
    d = drift(batches(lambda s: 40))
    assert d["verdict"] == analysis.STEADY
    assert len(d["windows"]) == 50
    assert all(w["batches"] == 600 for w in d["windows"])
    assert abs(d["slope_ms_per_h"]) < 2
    assert d["first_quarter_p99_ms"] == pytest.approx(40, rel=0.02)


def test_growing_latency_drifts_with_its_slope() -> None:
    d = drift(batches(lambda s: 40 + 100 * s / 3600))  # +100 ms/h on the top of the band
    assert d["verdict"] == analysis.DRIFTING
    assert d["slope_ms_per_h"] == pytest.approx(100, rel=0.1)
    assert d["r2"] > 0.9
    assert d["last_quarter_p99_ms"] > 1.5 * d["first_quarter_p99_ms"]
    assert d["change_pct"] > 50


def test_one_spike_at_the_end_is_not_drift() -> None:
    # a checkpoint-sized spike in the last minutes: the quarters differ, the windows show no trend
    rows = batches(lambda s: 400 if s < 2820 else 1200)
    d = drift(rows)
    assert d["last_quarter_p99_ms"] > 1.5 * d["first_quarter_p99_ms"]
    assert d["verdict"] == analysis.STEADY
    assert d["checks"]["last_quarter_above_ratio"] and not d["checks"]["trend_up"]
    assert d["reason"] == "not: trend up"


def test_a_small_rise_is_not_drift() -> None:
    # 5 ms -> 9 ms: more than 1.5x, but under drift_min_ms
    d = drift(batches(lambda s: 5 + 4 * s / 3000))
    assert d["verdict"] == analysis.STEADY


def test_latency_window_bounds_and_warmup() -> None:
    rows = batches(lambda s: 10 if s < 300 else 40, seconds=900)
    d = drift(rows, start=300, end=900)
    assert d["batches"] == 6000 and len(d["windows"]) == 10
    assert d["windows"][0]["start_s"] == 300 and d["windows"][-1]["end_s"] == 900
    assert d["first_quarter_p99_ms"] > 35  # the warm-up's 10 ms are left out
    assert analysis.latency_drift([], 0, 60, 60, analysis.DriftRule(1.5, 20))["verdict"] == (
        analysis.NOT_JUDGED
    )


# -- where the rate comes from -------------------------------------------------------------------
def write_search(root: Path, name: str, created: str, **kw: Any) -> None:
    doc = {
        "run_id": name,
        "kind": "search",
        "status": kw.get("status", "complete"),
        "inventory": kw.get("inventory", "local"),
        "created": created,
        "targets": {
            t: {"sustainable_per_s": r, "writers": 4} for t, r in kw.get("rates", {}).items()
        },
    }
    (root / name).mkdir(parents=True)
    (root / name / "search.json").write_text(json.dumps(doc))


def test_the_newest_complete_search_of_the_inventory_gives_the_rate(tmp_path: Path) -> None:
    write_search(
        tmp_path, "s1", "2026-11-30T10:00:00Z", rates={"postgresql": 30000, "pipeline": 900}
    )
    write_search(tmp_path, "s2", "2026-11-30T12:00:00Z", rates={"postgresql": 50000})
    write_search(tmp_path, "s3", "2026-11-30T13:00:00Z", rates={"postgresql": 99}, status="partial")
    write_search(
        tmp_path, "s4", "2026-11-30T14:00:00Z", rates={"postgresql": 7}, inventory="virtual"
    )
    write_search(tmp_path, "s5", "2026-11-30T15:00:00Z", rates={"postgresql": None})
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "search.json").write_text("{")
    found = sustainable_from_searches(tmp_path, "local", "postgresql")
    assert found == {
        "search_id": "s2",
        "search_created": "2026-11-30T12:00:00Z",
        "sustainable_per_s": 50000.0,
        "writers": 4,
    }
    rates = soak_rates(["postgresql", "pipeline"], 0.7, None, tmp_path, "local")
    assert rates["postgresql"]["rate_per_s"] == pytest.approx(35000)
    assert rates["postgresql"]["source"] == "search"
    assert rates["pipeline"]["search_id"] == "s1"
    assert rates["pipeline"]["rate_per_s"] == pytest.approx(630)
    given = soak_rates(["postgresql", "kafka"], 0.7, 1234, tmp_path, "local")
    assert given == {
        t: {"rate_per_s": 1234.0, "source": "-e soak_rate"} for t in ("postgresql", "kafka")
    }


def test_no_search_and_no_rate_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(NoSoakRate) as caught:
        soak_rates(["kafka"], 0.7, None, tmp_path, "local")
    text = str(caught.value)
    with pytest.raises(ParamError) as param:
        resolve(load_phases(REPO), "soak", {"target": "kafka"}, available_targets=TARGETS,
                results_root=tmp_path, inventory="local")  # fmt: skip
    assert param.value.field == "soak_rate" and str(param.value) == text
    assert "no complete search of kafka on inventory local" in text
    assert "-e phase=search -e target=kafka" in text and "-e soak_rate=<records/s>" in text
    assert "\n" not in text


# -- -e parameters ------------------------------------------------------------------------------
def test_soak_params_resolve(tmp_path: Path) -> None:
    kit = load_phases(REPO)
    write_search(tmp_path, "s", "2026-11-30T12:00:00Z", rates={"postgresql": 10000})
    p = resolve(
        kit,
        "soak",
        {"target": "postgresql"},
        available_targets=TARGETS,
        results_root=tmp_path,
        inventory="local",
    )
    assert p.duration_s == 3600 and p.warmup_s == 300 and p.interval_s == 0.1
    assert p.soak is not None and p.soak["fraction"] == 0.7
    assert p.soak["rates"]["postgresql"]["rate_per_s"] == pytest.approx(7000)
    assert p.batch_size == 700
    assert p.records == 700 * 36000
    short = resolve(
        kit,
        "soak",
        {"soak_rate": "2000", "soak_fraction": "0.5", "duration": "600"},
        available_targets=TARGETS,
    )
    assert short.warmup_s == 150  # a quarter of -e duration
    assert short.soak is not None and short.soak["fraction"] == 0.5
    assert set(short.soak["rates"]) == set(TARGETS)
    assert short.records == 3 * 2000 * 600
    assert resolve(kit, "2").soak is None


@pytest.mark.parametrize(
    ("phase", "overrides", "message"),
    [
        (
            "2",
            {"soak_rate": "100"},
            "-e soak_rate applies to -e phase=soak only; drop it or pass -e phase=soak.",
        ),
        (
            "search",
            {"soak_fraction": "0.5"},
            "-e soak_fraction applies to -e phase=soak only; drop it or pass -e phase=soak.",
        ),
        (
            "soak",
            {"soak_fraction": "70", "soak_rate": "1"},
            "-e soak_fraction=70 is out of range; pass a number above 0 to 1, "
            "e.g. -e soak_fraction=0.7.",
        ),
        (
            "soak",
            {"soak_rate": "0"},
            "-e soak_rate=0 is not a positive number; pass e.g. -e soak_rate=2000.",
        ),
        (
            "soak",
            {"soak_rate": "2k"},
            "-e soak_rate=2k has a unit (k); the kit reads a plain count of records; "
            "pass e.g. -e soak_rate=2000.",
        ),
        (
            "soak",
            {"soak_rate": "100", "batch_size": "10"},
            "-e batch_size does not apply to phase soak: each target's batch is its rate x "
            "interval_s; drop it; set the rate with -e soak_rate=<records/s> or "
            "-e soak_fraction=<0-1>.",
        ),
    ],
)
def test_soak_params_refused_in_one_line(
    phase: str, overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(ParamError) as caught:
        resolve(load_phases(REPO), phase, overrides, available_targets=TARGETS)
    assert str(caught.value) == message


def test_runparams_check_prints_the_soak_rates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchlab.runparams import main as runparams_main

    args = [
        "check",
        f"--repo={REPO}",
        "--phase=soak",
        "--targets=postgresql,pipeline,kafka",
        "--set=target=postgresql",
        f"--results-root={tmp_path}",
        "--inventory=local",
    ]
    assert runparams_main(args) == 2
    assert "no complete search of postgresql" in capsys.readouterr().err
    assert runparams_main([*args, "--set=soak_rate=500"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["soak"]["rates"] == {"postgresql": {"rate_per_s": 500.0, "source": "-e soak_rate"}}
    assert out["batch_size"] == 50


# -- settings -----------------------------------------------------------------------------------
def test_settings_come_from_soak_yml_and_refuse_unknown_keys() -> None:
    data = {
        **kit_soak(),
        "fraction": 0.7,
        "rates": {"postgresql": {"rate_per_s": 10, "source": "x"}},
    }
    s = SoakSettings.parse(data)
    assert s.step_s == 30 and s.window_s == 60
    assert s.rate("postgresql")["rate_per_s"] == 10
    with pytest.raises(ConfigError):
        s.rate("kafka")
    with pytest.raises(ConfigError, match=r"soak\.step"):
        SoakSettings.parse({**data, "step": 5})
    with pytest.raises(ConfigError, match=r"soak\.leak_min_r2"):
        SoakSettings.parse({**data, "leak_min_r2": 2})
    missing = dict(data)
    del missing["window_s"]
    with pytest.raises(ConfigError, match=r"soak\.window_s"):
        SoakSettings.parse(missing)
    with pytest.raises(ConfigError, match=r"phase=soak"):
        SoakSettings.parse(None)


# -- end to end on the null sink ------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def soak_config(tmp_path: Path, **changes: Any) -> dict[str, Any]:
    data = {
        "run_id": "soak-unit-1",
        "phase": "soak",
        "load": {"batch_size": 1, "interval_s": 0.05, "duration_s": 2, "warmup_s": 0.5},
        "targets": [{"name": "null", "services": ["postgresql"]}],
        "services": {"postgresql": {"host": "localhost", "memory_limit_bytes": GIB}},
        "loadgen_metrics_port": free_port(),
        "soak": {
            **kit_soak(),
            "window_s": 0.5,
            "step_s": 1,
            "min_points": 3,
            "min_span_s": 0,
            "fraction": 0.7,
            "rates": {"null": {"rate_per_s": 200, "source": "-e soak_rate"}},
        },
    }
    data.update(changes)
    return data


def test_soak_cli_runs_each_target_and_writes_soak_json_and_md(tmp_path: Path) -> None:
    path = tmp_path / "soak.json"
    path.write_text(json.dumps(soak_config(tmp_path)))
    root = tmp_path / "results"
    assert main(["soak", "--config", str(path), "--results-root", str(root), "--quiet"]) == 0
    soak_dir = root / "soak-unit-1"
    doc = json.loads((soak_dir / "soak.json").read_text())
    assert doc["kind"] == "soak" and doc["status"] == "complete"
    t = doc["targets"]["null"]
    assert t["batch_size"] == 10 and t["offered_per_s"] == 200
    assert t["records_due"] == 400
    run = json.loads((soak_dir / "runs" / "soak-unit-1-null" / "run.json").read_text())
    assert run["config"]["load"]["batch_size"] == 10  # the run's own batch, for its report
    assert [x["name"] for x in run["config"]["targets"]] == ["null"]
    assert t["latency"]["batches"] == 30  # 1.5 s after the warm-up, a batch every 0.05 s
    assert t["latency"]["verdict"] in (analysis.STEADY, analysis.DRIFTING)
    assert t["memory"] == {}  # no prometheus_url
    assert "no prometheus_url" in " ".join(t["notes"])
    assert (soak_dir / "null-batch-latency.csv").read_text().startswith("due_s,latency_ms\n")
    md = (soak_dir / "soak.md").read_text()
    assert "# benchlab soak: soak-unit-1" in md and "**Leak rule**" in md
    assert "| null | 200 | -e soak_rate |" in md
    entries = [e for e in list_results(root) if e.kind == "soak"]
    assert entries and entries[0].headline == {"null": 200}
    assert "null 200/s: not judged" in entries[0].summary


def test_soak_without_rates_exits_2(tmp_path: Path) -> None:
    data = soak_config(tmp_path)
    data["soak"]["rates"] = {}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    root = tmp_path / "results"
    assert main(["soak", "--config", str(path), "--results-root", str(root)]) == 2
    assert not (root / "soak-unit-1").exists()


def test_soak_memory_trend_from_prometheus_series(tmp_path: Path) -> None:
    """The Prometheus side faked: a leaking working set is flagged, its chart drawn."""
    config = parse_config(soak_config(tmp_path, prometheus_url="http://127.0.0.1:1"))
    settings = SoakSettings.parse(config.raw["soak"])
    asked: list[str] = []

    def query(q: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        asked.append(q)
        if "limit" in q:
            return [{"metric": {"host": "localhost"}, "values": [[start, str(GIB)]]}]
        if "total" in q:  # no OOM kill, no restart in the window
            return [{"metric": {"host": "localhost"}, "values": [[start, "3"], [end, "3"]]}]
        # ten points over the window, +40 MiB each: 10 x 40 MiB in (end - start) seconds
        dt = (end - start) / 9
        values = [[start + i * dt, str((500 + 40 * i) * MIB)] for i in range(10)]
        return [{"metric": {"service": "postgresql", "host": "localhost"}, "values": values}]

    soak_dir, doc, _ = soak(config, settings, tmp_path / "r", query=query)
    m = doc["targets"]["null"]["memory"]["postgresql@localhost"]
    assert asked[0] == 'benchlab_cgroup_memory_working_set_bytes{service="postgresql"}'
    assert m["limit_bytes"] == GIB and m["oom_kills"] == 0 and m["restarts"] == 0
    assert m["verdict"] == analysis.LEAK and doc["targets"]["null"]["leak"] == analysis.LEAK
    span = doc["targets"]["null"]["end_wall"] - doc["targets"]["null"]["start_wall"]
    assert m["slope_mib_per_h"] == pytest.approx(40 * 9 / span * 3600, rel=0.01)
    write_soak_report(soak_dir, doc)
    md = (soak_dir / "soak.md").read_text()
    assert "| null | postgresql@localhost |" in md and "leak suspected" in md
    assert (soak_dir / "soak.png").stat().st_size > 1000


def test_soak_report_recomputes_with_new_rules(tmp_path: Path) -> None:
    """`benchlab soak-report DIR --rules F`: the same figures from what soak.json keeps, the
    verdict by the file's rule."""
    config = parse_config(soak_config(tmp_path, prometheus_url="http://127.0.0.1:1"))
    settings = SoakSettings.parse(config.raw["soak"])

    def query(q: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        if "total" in q or "limit" in q:
            return []
        dt = (end - start) / 9
        values = [[start + i * dt, str((500 + 40 * i) * MIB)] for i in range(10)]
        return [{"metric": {"service": "postgresql", "host": "localhost"}, "values": values}]

    soak_dir, doc, _ = soak(config, settings, tmp_path / "r", query=query)
    before = doc["targets"]["null"]["memory"]["postgresql@localhost"]
    rules = tmp_path / "soak.yml"
    rules.write_text(yaml.safe_dump({"benchlab_soak": {"leak_min_slope_mib_per_h": 10**9}}))
    assert main(["soak-report", str(soak_dir), "--rules", str(rules)]) == 0
    after = json.loads((soak_dir / "soak.json").read_text())["targets"]["null"]
    m = after["memory"]["postgresql@localhost"]
    assert m["slope_mib_per_h"] == pytest.approx(before["slope_mib_per_h"], rel=1e-3)
    assert m["verdict"] == analysis.NO_LEAK and after["leak"] == analysis.NO_LEAK
    assert after["latency"]["batches"] == doc["targets"]["null"]["latency"]["batches"]
    assert "no leak" in (soak_dir / "soak.md").read_text()
    assert main(["soak-report", str(tmp_path / "nothing")]) == 2


def test_search_without_its_settings_exits_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`benchlab search` shares the soak's configuration check (cli._prepared_run)."""
    data = soak_config(tmp_path)
    del data["soak"]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    root = tmp_path / "results"
    assert main(["search", "--config", str(path), "--results-root", str(root)]) == 2
    said = capsys.readouterr()
    line = said.out + said.err
    assert "search" in line and "-e phase=search" in line, line
    assert not (root / "soak-unit-1").exists()
