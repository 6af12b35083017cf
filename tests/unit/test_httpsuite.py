"""The backend suite's pure parts: scenario files, vegeta's output, the figures (latency from
the schedule, late, dropped), the verdict of a search trial, the run configuration and the
report's side-by-side ratios."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from benchlab import targets
from benchlab.fields import ConfigError
from benchlab.httpsuite import config, figures, report, scenarios, vegeta
from benchlab.httpsuite.vegeta import Row

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"


# -- scenario files -----------------------------------------------------------------------
def test_every_shipped_scenario_parses_and_expands() -> None:
    ids = scenarios.select(SCENARIOS, "basic", None)
    assert {"basic/01-lightweight", "basic/04-db-write", "basic/09-db-pagination"} <= set(ids)
    for sid in ids:
        sc = scenarios.load(SCENARIOS, sid)
        for variant in sc.variants:
            out = scenarios.vegeta_targets(sc, variant, "http://127.0.0.1:1")
            assert len(out) == sc.targets
            assert all(
                t["url"].startswith("http://127.0.0.1:1/") and "{" not in t["url"] for t in out
            )


def test_pagination_compares_offset_and_cursor_on_the_same_pages() -> None:
    sc = scenarios.load(SCENARIOS, "basic/09-db-pagination")
    assert sc.compare == ("offset", "cursor")
    offset, cursor = (scenarios.vegeta_targets(sc, v, "") for v in sc.variants)
    assert offset[0]["url"].startswith("/users?limit=20&offset=")
    assert cursor[0]["url"].startswith("/users?limit=20&after=")


def test_targets_are_reproducible_and_weighted() -> None:
    sc = scenarios.load(SCENARIOS, "basic/08-concurrent-mixed")
    a = scenarios.vegeta_targets(sc, sc.variants[0], "")
    assert a == scenarios.vegeta_targets(sc, sc.variants[0], "")
    reads = sum(1 for t in a if t["method"] == "GET" and t["url"].startswith("/users/"))
    writes = [t for t in a if t["url"] == "/posts"]
    assert reads == 2 * sum(1 for t in a if t["url"] == "/health")  # weights 4 vs 2
    assert len(writes) == sc.targets // 10
    body = json.loads(base64.b64decode(writes[0]["body"]))
    assert (
        isinstance(body["user_id"], int) and 1 <= body["user_id"] <= 100_000
    )  # "{user_id}" stays a number
    assert writes[0]["header"] == {"Content-Type": ["application/json"]}


def test_a_bad_scenario_names_its_field() -> None:
    with pytest.raises(ConfigError, match=r"basic/99-x.requests\[0\].method"):
        scenarios.parse(
            {"rate": 1, "duration_s": 1, "requests": [{"method": "FETCH", "path": "/"}]},
            "basic/99-x",
        )
    with pytest.raises(ConfigError, match="undefined variable"):
        scenarios.parse(
            {"rate": 1, "duration_s": 1, "requests": [{"path": "/u/{id}"}]}, "basic/99-x"
        )
    with pytest.raises(ConfigError, match="rate"):
        scenarios.parse({"duration_s": 1, "requests": [{"path": "/"}]}, "basic/99-x")


@pytest.mark.parametrize(
    ("suite", "scenario", "message"),
    [
        ("nosuch", None, "suite 'nosuch' is not a scenario category"),
        ("basic", "07-nope", "scenario '07-nope' is not in suite 'basic'"),
    ],
)
def test_selection_refuses_unknown_names_in_one_line(
    suite: str, scenario: str | None, message: str
) -> None:
    with pytest.raises(scenarios.SelectionError, match=message) as exc:
        scenarios.select(SCENARIOS, suite, scenario)
    assert "\n" not in str(exc.value) and "fix: " in str(exc.value)


def test_selection_by_stem_number_or_id() -> None:
    assert scenarios.select(SCENARIOS, "basic", "03") == ["basic/03-db-read"]
    assert scenarios.select(SCENARIOS, "basic", "basic/04-db-write,01-lightweight") == [
        "basic/04-db-write",
        "basic/01-lightweight",
    ]


# -- vegeta's output -----------------------------------------------------------------------
def test_vegeta_timestamps_keep_nanoseconds_and_zone() -> None:
    t = vegeta.parse_time("2026-12-01T06:21:52.494865895Z")
    assert t == pytest.approx(1_796_106_112.494865895, abs=1e-6)
    assert vegeta.parse_time("2026-12-01T07:21:52.5+01:00") == pytest.approx(
        t + 0.005134105, abs=1e-6
    )


def test_encoded_rows_are_sorted_by_sequence() -> None:
    lines = [
        {
            "seq": 1,
            "code": 200,
            "timestamp": "2026-12-01T00:00:00.01Z",
            "latency": 2_000_000,
            "error": "",
        },
        {
            "seq": 0,
            "code": 500,
            "timestamp": "2026-12-01T00:00:00Z",
            "latency": 1_000_000,
            "error": "",
        },
    ]
    rows = vegeta.parse_encoded("\n".join(json.dumps(x) for x in lines))
    assert [r.seq for r in rows] == [0, 1] and rows[1].latency_s == pytest.approx(0.002)


def test_attack_command_is_open_model_with_bounded_in_flight() -> None:
    argv = vegeta.Attack(rate=250, duration_s=20, timeout_s=10, max_in_flight=1000).argv(
        "vegeta", Path("t"), Path("o")
    )
    assert "-rate=250/1s" in argv and "-duration=20s" in argv and "-max-workers=1000" in argv
    assert "-rate=90/1m" in vegeta.Attack(1.5, 20, 10, 10).argv("v", Path("t"), Path("o"))


# -- figures ---------------------------------------------------------------------------------
def _rows(
    n: int,
    rate: float,
    *,
    lag_from: int | None = None,
    lag_s: float = 0.0,
    latency_s: float = 0.002,
) -> list[Row]:
    t0 = 1000.0
    out = []
    for i in range(n):
        sent = t0 + i / rate + (lag_s if lag_from is not None and i >= lag_from else 0.0)
        out.append(Row(seq=i, sent=sent, latency_s=latency_s, code=200, error=""))
    return out


def test_on_schedule_latency_equals_the_tools() -> None:
    f = figures.analyse(_rows(1000, 100.0), rate=100.0, duration_s=10.0)
    assert f["due"] == 1000 and f["dropped"] == 0 and f["late"] == 0
    assert f["latency_ms"]["p99"] == pytest.approx(2.0)
    assert f["latency_from_schedule_ms"]["p99"] == pytest.approx(2.0, abs=0.01)
    assert f["throughput_per_s"] == pytest.approx(100.0, rel=0.01)
    ok, why = figures.judge(f, max_p99_ms=50, min_success_rate=0.99)
    assert ok and not why


def test_requests_sent_behind_schedule_are_late_and_counted_in_latency() -> None:
    # the last 10 % went out 0.5 s late (workers exhausted): vegeta's own latency hides it
    rows = _rows(900, 100.0, lag_from=800, lag_s=0.5)
    f = figures.analyse(rows, rate=100.0, duration_s=10.0)
    assert f["dropped"] == 100 and f["late"] == 100
    assert f["latency_ms"]["p99"] == pytest.approx(2.0)
    assert f["latency_from_schedule_ms"]["p99"] == pytest.approx(502.0, abs=0.1)
    assert f["success_ratio"] == pytest.approx(0.9)
    ok, why = figures.judge(f, max_p99_ms=50, min_success_rate=0.99)
    assert not ok and any("late" in w for w in why) and any("p99" in w for w in why)


def test_errors_are_failed_by_kind() -> None:
    rows = _rows(10, 10.0)
    rows[3] = Row(3, rows[3].sent, 0.0, 0, "dial tcp: connection refused")
    rows[4] = Row(4, rows[4].sent, 0.001, 503, "")
    f = figures.analyse(rows, rate=10.0, duration_s=1.0)
    assert f["failed"] == 2 and f["errors"] == {"connection refused": 1, "HTTP 503": 1}
    assert f["status_codes"] == {"0": 1, "200": 8, "503": 1}


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert figures.percentile(values, 50) == 50 and figures.percentile(values, 99) == 99
    assert figures.percentile([], 50) is None
    assert figures.ratio(3.0, 0.0) is None and figures.ratio(3.0, 1.5) == 2.0


# -- the run configuration ---------------------------------------------------------------------
def _config(**over: object) -> dict:
    doc = {
        "run_id": "r1",
        "suite": "basic",
        "scenarios": ["basic/01-lightweight"],
        "scenarios_dir": str(SCENARIOS),
        "vegeta": "/opt/benchlab/bin/vegeta",
        "backends": [
            {
                "name": "fastapi_pragmatic",
                "type": "fastapi_pragmatic",
                "backend": {
                    "url": "http://127.0.0.1:8101",
                    "health": "/health",
                    "scenarios": ["*"],
                },
            }
        ],
        "criteria": {
            "default": {"min_success_rate": 0.99, "max_p99_ms": 200, "oom_allowed": False}
        },
        "search": {"start_rate": 100, "max_rate": 1000},
    }
    doc.update(over)
    return doc


def test_run_configuration_parses_backends_criteria_and_search() -> None:
    cfg = config.parse(_config())
    assert cfg.backends[0].health_url == "http://127.0.0.1:8101/health"
    assert cfg.backends[0].implements("basic/09-db-pagination")
    assert cfg.criteria_for("basic/01-lightweight").max_p99_ms == 200
    assert cfg.search is not None and cfg.search.settings.batch_size(250.0) == 250


def test_a_write_target_is_not_a_backend_and_a_backend_is_not_a_store() -> None:
    with pytest.raises(ConfigError, match="is a write target"):
        config.parse(
            _config(backends=[{"name": "postgresql", "type": "postgresql", "backend": {}}])
        )
    with pytest.raises(ConfigError, match=r"run it with backend\.yml"):
        targets.get("django_drf").parse({"name": "django_drf"}, "targets[0]")
    assert {
        t: targets.get(t).kind
        for t in ("fastapi_pragmatic", "fastapi_strict", "django_drf", "http_backend")
    } == {
        t: "request_response"
        for t in ("fastapi_pragmatic", "fastapi_strict", "django_drf", "http_backend")
    }


def test_a_users_backend_is_the_generic_kind() -> None:
    entry = {
        "name": "my_flask",
        "type": "http_backend",
        "backend": {
            "url": "http://127.0.0.1:8110/",
            "health": "/healthz",
            "scenarios": ["basic/0[1-3]-*"],
        },
    }
    cfg = config.parse(_config(backends=[entry]))
    b = cfg.backends[0]
    assert b.url == "http://127.0.0.1:8110" and b.implements("basic/03-db-read")
    assert not b.implements("basic/04-db-write")
    with pytest.raises(ConfigError, match=r"backends\[0\].backend.helth"):
        config.parse(_config(backends=[{**entry, "backend": {**entry["backend"], "helth": "/"}}]))


# -- the report ----------------------------------------------------------------------------------
def _measure(scenario: str, variant: str, backend: str, rps: float, p95: float) -> dict:
    return {
        "scenario": scenario,
        "variant": variant,
        "backend": backend,
        "verdict": "PASS",
        "figures": {
            "throughput_per_s": rps,
            "failed": 0,
            "dropped": 0,
            "late": 0,
            "status_codes": {"200": 10},
            "latency_ms": {"p50": p95 / 2, "p95": p95, "p99": p95 * 1.5, "max": p95 * 2},
            "latency_from_schedule_ms": {"p99": p95 * 1.5},
        },
        "resources": {},
    }


def test_report_puts_backends_side_by_side_with_ratios() -> None:
    doc = {
        "run_id": "r1",
        "suite": "basic",
        "inventory": "local",
        "load_tool": {"name": "vegeta", "version": "v12.13.0"},
        "backends": [
            {"name": "fastapi_pragmatic", "type": "fastapi_pragmatic"},
            {"name": "django_drf", "type": "django_drf"},
            {"name": "fastapi_strict", "type": "fastapi_strict"},
        ],
        "scenarios": [
            {
                "id": "basic/01-lightweight",
                "rate": 200,
                "duration_s": 20,
                "warmup_s": 5,
                "variants": ["main"],
                "compare": None,
                "criteria": {"min_success_rate": 0.99, "max_p99_ms": 50},
            },
            {
                "id": "basic/09-db-pagination",
                "rate": 100,
                "duration_s": 20,
                "warmup_s": 5,
                "variants": ["offset", "cursor"],
                "compare": ["offset", "cursor"],
                "criteria": None,
            },
        ],
        "measurements": [
            _measure("basic/01-lightweight", "main", "fastapi_pragmatic", 200, 1.0),
            _measure("basic/01-lightweight", "main", "django_drf", 200, 4.0),
            _measure("basic/01-lightweight", "main", "fastapi_strict", 200, 1.2),
            _measure("basic/09-db-pagination", "offset", "fastapi_pragmatic", 100, 60.0),
            _measure("basic/09-db-pagination", "cursor", "fastapi_pragmatic", 100, 34.0),
        ],
        "searches": [
            {
                "scenario": "basic/01-lightweight",
                "backend": "fastapi_pragmatic",
                "sustainable_rate": 2400.0,
                "first_failing_rate": 2600.0,
                "trials": [{"rate": 2600.0, "why": ["p99 from schedule 80 ms > 50 ms"]}],
            },
            {
                "scenario": "basic/01-lightweight",
                "backend": "django_drf",
                "sustainable_rate": 300.0,
                "first_failing_rate": 330.0,
                "trials": [],
            },
        ],
    }
    text = report.render(doc)
    assert (
        "| django_drf | 1.00x | 4.00x |" in text
    )  # ok/s ratio, p95 ratio against the first backend
    assert "| fastapi_pragmatic | 60.00 | 34.00 | 1.76x |" in text  # OFFSET / cursor at p95
    assert (
        "| FastAPI vs Django, lightweight | 7-9x | 8.00x (2,400 vs 300, sustainable rate) |" in text
    )
    assert "| basic/01-lightweight | django_drf | 300 | 330 | 0.12x | 0 | n/a |" in text
    # strict was not searched: pragmatic vs strict compares ok/s of both, never a mix
    assert "(200 vs 200, ok/s at the offered rate) |" in text
    assert (
        "| cursor vs offset at p95, django_drf | 1.7x (60 vs 34 ms) | n/a (n/a vs n/a ms) |" in text
    )


# -- the sustainable-rate search over HTTP -----------------------------------------------------
class _FakeMeasurer:
    """A backend that holds any rate up to its capacity, and fails above it."""

    def __init__(self, cfg: config.BackendRunConfig, capacity: float) -> None:
        self.config, self.capacity, self.run_dir, self.rates = (
            cfg,
            capacity,
            Path("/nonexistent"),
            [],
        )

    def measure(self, sc, variant, backend, out, cooldown_s=None) -> dict:
        self.rates.append(sc.rate)
        late = 0 if sc.rate <= self.capacity else int(sc.rate * sc.duration_s / 2)
        rows = _rows(int(sc.rate * sc.duration_s), sc.rate, lag_from=late or None, lag_s=0.5)
        return {"figures": figures.analyse(rows, sc.rate, sc.duration_s)}


def test_search_finds_the_highest_rate_held_within_its_precision() -> None:
    from benchlab.httpsuite.run import run_search

    cfg = config.parse(_config(search={"start_rate": 100, "max_rate": 5000, "precision": 0.1}))
    fake = _FakeMeasurer(cfg, capacity=700)
    sc = scenarios.load(SCENARIOS, "basic/01-lightweight")
    result = run_search(fake, sc, cfg.backends[0])  # type: ignore[arg-type]
    assert fake.rates[:4] == [100, 200, 400, 800]  # the grid, then bisection
    assert 630 <= result["sustainable_rate"] <= 700 < result["first_failing_rate"]
    assert (result["first_failing_rate"] - result["sustainable_rate"]) / result[
        "sustainable_rate"
    ] < 0.1
