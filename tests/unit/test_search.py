"""The sustainable-throughput search without a lab: the rate plan, the judge, the answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchlab.config import parse_config
from benchlab.execute import RunOutcome
from benchlab.fields import ConfigError
from benchlab.search import run as search_run
from benchlab.search.conclusion import client_ceiling, conclusion, crossover
from benchlab.search.judge import judge, reproduced, slope
from benchlab.search.plan import RateSearch
from benchlab.search.report import write_search_report
from benchlab.search.run import TargetSearch
from benchlab.search.settings import SearchSettings

SETTINGS = SearchSettings(start_rate=500, factor=2, max_rate=64_000, precision=0.05)


def drive(capacity: float, settings: SearchSettings = SETTINGS) -> list[float]:
    plan, tried = RateSearch(settings), []
    while (rate := plan.next_rate()) is not None:
        rate = settings.offered(rate)
        tried.append(rate)
        plan.record(rate, rate <= capacity)
    return tried


def test_grid_then_bisection_brackets_the_capacity_within_the_precision() -> None:
    tried = drive(5_300)
    assert tried[:5] == [500, 1000, 2000, 4000, 8000]  # the grid, up to the first failure
    plan = RateSearch(SETTINGS)
    for r in tried:
        plan.record(r, r <= 5_300)
    assert plan.best is not None and plan.first_fail is not None
    assert plan.best <= 5_300 < plan.first_fail
    assert (plan.first_fail - plan.best) / plan.best < 0.05
    assert drive(5_300) == tried  # the same answers give the same rates: reproducible


def test_a_first_failure_walks_down_and_a_capacity_above_the_grid_stops_at_max() -> None:
    down = drive(120)
    assert down[:3] == [500, 250, 120]  # 12.5 records per batch round to 12
    assert drive(1) == [500, 250, 120]  # two steps down at most: nothing sustained, it ends
    assert drive(10**9)[-1] == 64_000


def test_slope_of_a_rising_series_and_of_a_flat_one() -> None:
    assert slope([(0, 0), (1, 10), (2, 20), (3, 30)]) == pytest.approx(10)
    assert slope([(0, 5), (1, 5), (2, 5)]) == pytest.approx(0)
    assert slope([(0, 1)]) is None


def figures(
    stored: float,
    p99: float,
    backlog: list[list[float]] | None = None,
    late: int = 0,
    failed: int = 0,
) -> dict[str, Any]:
    steady = {
        "window_s": 30.0,
        "acked_per_s": stored,
        "batches": 300,
        "batches_late": late,
        "batches_failed": failed,
        "latency_ms": {"p50_ms": 5.0, "p99_ms": p99},
        "latency_max_ms_by_s": backlog or [[s, 10.0] for s in range(10, 40)],
    }
    return {"steady": steady, "errors": {"timeout": failed} if failed else {}}


CLEAN = {"lost": 0, "duplicates": 0, "acknowledged": 1000}


def test_judge_passes_a_held_rate_and_names_each_broken_rule() -> None:
    ok = judge(1000, figures(995, 40), CLEAN, SETTINGS, max_p99_ms=2000)
    assert ok.sustainable and ok.failures == []
    rising = [[s, 100.0 * (s - 10)] for s in range(10, 40)]  # +2.9 s over the window
    bad = judge(
        1000,
        figures(900, 3000, rising, late=30, failed=2),
        {**CLEAN, "lost": 3},
        SETTINGS,
        max_p99_ms=2000,
    )
    modes = {f["mode"] for f in bad.failures}
    assert modes == {
        "stored below offered",
        "generator behind",
        "backlog growing",
        "data lost",
        "latency over the criterion",
        "errors",
    }
    assert not judge(1000, figures(995, 40), {"error": "boom"}, SETTINGS, 2000).sustainable


def test_the_pipeline_is_judged_on_what_reached_hdfs() -> None:
    fig = figures(1000, 40)  # Kafka acknowledged everything quickly...
    fig["stored_steady"] = {
        "stored_per_s": 700.0,
        "latency_ms": {"p99_ms": 9000.0},
        "backlog": [[t, 300.0 * t] for t in range(10, 40, 5)],
        "backlog_unit": "records",
    }
    verdict = judge(1000, fig, CLEAN, SETTINGS, max_p99_ms=1000)
    modes = {f["mode"] for f in verdict.failures}
    assert {"stored below offered", "backlog growing", "latency over the criterion"} <= modes


def test_a_stored_rate_read_at_micro_batch_commits_is_allowed_its_resolution() -> None:
    """Measured: 488/s of 500 offered, 20 s window, the backlog flat: within one second of load
    over the window (2.5 %) of the 98 % bound; a real shortfall still fails."""
    fig = figures(500, 40)
    fig["steady"]["window_s"] = 20.0
    flat = [[t, 2500.0] for t in range(10, 30, 5)]

    def stored(rate: float) -> dict[str, Any]:
        return {
            "stored_per_s": rate,
            "latency_ms": {"p99_ms": 4800.0},
            "backlog": flat,
            "backlog_unit": "records",
        }

    fig["stored_steady"] = stored(488.0)
    assert judge(500, fig, CLEAN, SETTINGS, max_p99_ms=15000).sustainable
    fig["stored_steady"] = stored(450.0)
    verdict = judge(500, fig, CLEAN, SETTINGS, max_p99_ms=15000)
    assert [f["mode"] for f in verdict.failures] == ["stored below offered"]


def test_resource_causes_are_named() -> None:
    res = {
        "postgresql@h": {
            "throttled_ratio": 0.8,
            "cpu_cores": 0.99,
            "cpu_limit_cores": 1.0,
            "oom_kills": 1.0,
        }
    }
    verdict = judge(1000, figures(500, 40), CLEAN, SETTINGS, 2000, res)
    assert any(c.startswith("CPU throttled at the quota: postgresql@h") for c in verdict.causes)
    assert "OOM kill: postgresql@h x1" in verdict.causes


def rows(pg: float | None, pipe: float | None) -> list[dict[str, Any]]:
    return [
        {"target": "postgresql", "sustainable_per_s": pg, "failed_at_per_s": None},
        {"target": "pipeline", "sustainable_per_s": pipe, "failed_at_per_s": None},
    ]


def test_crossover_by_the_rule() -> None:
    flip = crossover(rows(4000, 9000), 16000)
    assert flip["flips_per_s"] == [4000]
    assert [b["recommend"] for b in flip["bands"]] == ["postgresql", "pipeline"]
    assert flip["small"] == "postgresql" and flip["large"] == "pipeline"
    assert crossover(rows(9000, 4000), 16000)["text"].startswith("No crossover up to 9,000")
    assert crossover(rows(None, None), 500)["bands"] == []


def test_a_component_s_bound_is_not_a_candidate() -> None:
    """Kafka alone (the pipeline's ingest bound) sustains more than both, but storing the
    records is the question: no crossover to it, and no ratio against it."""
    from benchlab import targets
    from benchlab.search.conclusion import ratio

    assert targets.get("kafka").candidate is False
    assert targets.get("postgresql").candidate and targets.get("pipeline").candidate
    measured = [{**r, "candidate": True} for r in rows(56000, 25000)]
    measured.append({"target": "kafka", "sustainable_per_s": 256000, "failed_at_per_s": None,
                     "candidate": False})  # fmt: skip
    flip = crossover(measured, 58000)
    assert flip["flips_per_s"] == [] and flip["large"] == "postgresql"
    assert flip["text"].startswith("No crossover up to 56,000 records/s: postgresql")
    assert [o["target"] for o in (ratio(measured) or {})["others"]] == ["pipeline"]


def test_settings_are_checked_by_field() -> None:
    with pytest.raises(ConfigError) as err:
        SearchSettings.parse({"precision": 0})
    assert err.value.field == "search.precision"
    with pytest.raises(ConfigError) as err:
        SearchSettings.parse({"max_rate": 10, "start_rate": 100})
    assert err.value.field == "search.max_rate"
    assert SearchSettings().batch_size(1234) == 123 and SearchSettings().offered(1234) == 1230


def search_doc() -> dict[str, Any]:
    config = {
        "run_id": "s1",
        "phase": "search",
        "load": {"batch_size": 50, "interval_s": 0.1, "duration_s": 40},
        "targets": [
            {
                "name": "pg",
                "type": "null",
                "services": ["pg"],
                "hypothesis": {"throughput_per_s": 5000, "latency_ms": "< 50", "cpu": "100 %"},
            },
            {
                "name": "pipe",
                "type": "null",
                "services": ["dn"],
                "hypothesis": {"throughput_per_s": 10000},
            },
        ],
        "services": {
            "pg": {"cpu_limit": 1.0, "memory_limit_bytes": 2 * 1024**3},
            "dn": {"cpu_limit": 0.5, "memory_limit_bytes": 1024**3, "instances": 2},
        },
        "search": {},
    }

    def trial(n: int, target: str, rate: float, ok: bool) -> dict[str, Any]:
        verdict = {
            "rate": rate,
            "sustainable": ok,
            "stored_per_s": rate if ok else rate * 0.7,
            "p99_ms": 20.0 if ok else 4000.0,
            "late_ratio": 0.0,
            "backlog_growth": 1.0,
            "backlog_unit": "ms",
            "lost": 0,
            "causes": [],
            "failures": [] if ok else [{"mode": "backlog growing", "detail": "+9 ms"}],
        }
        return {
            "target": target,
            "n": n,
            "run_id": f"s1-{target}-t{n:02d}",
            "rate": rate,
            "role": "search",
            "recovery_s": 1.5,
            "verdict": verdict,
            "figures": {
                "processes": 2,
                "generator": {"cpu_cores_mean": 0.31, "cores_available": 2, "in_flight_peak": 1},
                "resources": {"pg@h": {"cpu_cores": 0.46, "cpu_limit_cores": 1.0}},
            },
        }

    trials = [
        trial(1, "pg", 2000, True),
        trial(2, "pg", 4000, False),
        trial(3, "pipe", 2000, True),
        trial(4, "pipe", 4000, True),
        trial(5, "pipe", 8000, False),
    ]

    def found(best: float, fail: float, fail_trial: dict[str, Any]) -> dict[str, Any]:
        return {
            "sustainable_per_s": best,
            "first_failing_per_s": fail,
            "best_runs": 1,
            "best_runs_passed": 1,
            "best_stored_median_per_s": best,
            "best_stored_spread_per_s": 0.0,
            "best_p99_ms": 20.0,
            "failure": {
                "rate": fail,
                "modes": fail_trial["verdict"]["failures"],
                "causes": ["CPU throttled at the quota: pg@h in 80% of periods"],
                "recovery_s": 1.5,
                "limit": "server",
                "writers": 2,
                "generator": fail_trial["figures"]["generator"],
            },
            "writers": 2,
            "resources_at_failure": {
                "pg@h": {"cpu_cores": 0.98, "cpu_limit_cores": 1.0, "throttled_ratio": 0.8}
            },
        }

    return {
        "run_id": "s1",
        "kind": "search",
        "inventory": "local",
        "status": "complete",
        "created": "2026-11-30T00:00:00Z",
        "config": config,
        "settings": json.loads(json.dumps(SearchSettings().__dict__)),
        "trials": trials,
        "targets": {"pg": found(2000, 4000, trials[1]), "pipe": found(4000, 8000, trials[4])},
    }


def test_report_fills_the_conclusion_the_crossover_and_the_plot(tmp_path: Path) -> None:
    (tmp_path / "search.json").write_text(json.dumps(search_doc()))
    text = write_search_report(tmp_path).read_text()
    assert "| pg | 2,000 | 120,000 | 2,000 | 1,000 |" in text  # per core 2000, per GiB 1000
    assert "| pipe | 4,000 | 240,000 | 4,000 | 2,000 |" in text  # 2 x 0.5 cores, 2 x 1 GiB
    assert "pipe sustains 2.00x the rate of pg." in text
    assert "**The recommendation flips at 2,000 records/s" in text
    assert "backlog growing (+9 ms); CPU throttled at the quota" in text
    assert "| pg | throughput_per_s | 5000 | 2,000 records/s sustained | not held |" in text
    assert "| pg | latency_ms | < 50 | p99 20 ms at the sustainable rate | held |" in text
    assert (tmp_path / "search.png").stat().st_size > 10_000
    # each trial: its writers, the generator's CPU beside the target's services'
    assert "| 0 | 2 | 0.31 of 2 | pg@h 0.46 of 1.00 | **failed**: backlog growing |" in text
    assert (
        "- pg (sustained with 2 writers): the client was not the ceiling: at 4,000 records/s "
        "with 2 writers (generator 0.31 of 2 cores, peak batches in flight per writer 1) the "
        "failure was not the generator's" in text
    )
    done = json.loads((tmp_path / "search.json").read_text())
    assert done["conclusion"]["crossover"]["flips_per_s"] == [2000]


def test_search_settings_travel_in_the_run_configuration() -> None:
    data = search_doc()["config"]
    data["search"] = {"warmup_s": 3, "measure_s": 6}
    assert parse_config(data).search == SearchSettings(warmup_s=3, measure_s=6)
    assert conclusion(parse_config(data), {"targets": {}, "trials": []})["systems"] == []


# -- writers: the client is not the ceiling ----------------------------------------------------
class FakeLab:
    """Trials without a lab: execute() writes the load.json a target of this capacity would.

    The generator holds `per_writer` records/s per writer process (the run's auto choice is
    2); the server holds `capacity` and is at its CPU above it. Either short: batches late.
    """

    def __init__(
        self,
        tmp: Path,
        per_writer: float,
        capacity: float,
        stalls: frozenset[int] = frozenset(),
        lucky: float | None = None,
    ) -> None:
        self.tmp, self.per_writer, self.capacity = tmp, per_writer, capacity
        self.rate = 0.0
        self.stalls = stalls  # trial numbers (from 1) a stall of the host fails
        self.n = 0
        self.stalled = False
        self.lucky = lucky  # a rate above the capacity that passes its first trial only
        self.lucky_runs = 0

    def execute(self, config: Any, root: Path, **_: Any) -> RunOutcome:
        load = config.load
        writers = load.processes or 2
        self.rate = load.rate_per_s
        self.n += 1
        ok = self.rate <= min(self.capacity, self.per_writer * writers)
        if self.lucky is not None and self.rate == self.lucky:
            self.lucky_runs += 1
            ok = self.lucky_runs == 1
        self.stalled = self.n in self.stalls  # the host stalled: the server's CPU too
        ok = ok and not self.stalled
        fig = figures(self.rate if ok else 0.8 * self.rate, 40.0, late=0 if ok else 60)
        fig["processes"] = writers
        fig["generator"] = {"cpu_cores_mean": 0.1 * writers, "cores_available": 2}
        fig["generator"]["in_flight_peak"] = 1
        run_dir = root / config.run_id
        run_dir.mkdir(parents=True)
        (run_dir / "load.json").write_text(json.dumps({"pg": fig}))
        return RunOutcome(run_dir, "complete", {}, {"pg": CLEAN})

    def resources(self, *_: Any) -> dict[str, Any]:
        busy = self.rate > self.capacity or self.stalled
        return {
            "pg@h": {
                "cpu_cores": 0.99 if busy else 0.46,
                "cpu_limit_cores": 1.0,
                "throttled_ratio": 0.6 if busy else 0.0,
            }
        }


def search_target(
    tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    per_writer: float,
    capacity: float,
    stalls: frozenset[int] = frozenset(),
    confirm_failures: int = 1,
    lucky: float | None = None,
    reruns: int = 1,
) -> tuple[TargetSearch, dict[str, Any]]:
    lab = FakeLab(tmp, per_writer, capacity, stalls, lucky)
    monkeypatch.setattr(search_run, "execute", lab.execute)
    monkeypatch.setattr(search_run, "target_resources", lab.resources)
    config = parse_config(search_doc()["config"])
    settings = SearchSettings(
        start_rate=2000,
        factor=2,
        max_rate=64_000,
        reruns=reruns,
        confirm_failures=confirm_failures,
    )
    doc: dict[str, Any] = {"trials": [], "targets": {}}
    (tmp / "trials").mkdir(parents=True)
    run = TargetSearch(config, config.targets[0], settings, tmp, doc, lambda: False, print)
    run.run()
    return run, doc["targets"]["pg"]


def test_a_client_behind_doubles_the_writers_and_a_server_failure_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, found = search_target(tmp_path, monkeypatch, per_writer=3000, capacity=10_000)
    # 8,000/s: 2 writers hold 6,000, the server had CPU to spare: the same rate, 4 writers
    superseded = [(t.rate, t.writers, t.more_writers) for t in run.trials if t.more_writers]
    assert superseded == [(8000, 2, 4)]
    assert [t.writers for t in run.trials] == [2, 2, 2] + [4] * (len(run.trials) - 3)
    assert found["sustainable_per_s"] == 10_000  # the server's capacity, not 6,000
    assert found["writers"] == 4
    assert found["failure"]["limit"] == "server"
    assert found["failure"]["modes"][0]["mode"] != "client limit"
    text = client_ceiling(found)
    assert text is not None and text.startswith("the client was not the ceiling: at ")


def test_a_server_failure_does_not_raise_the_writers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, found = search_target(tmp_path, monkeypatch, per_writer=10**9, capacity=5000)
    assert {t.writers for t in run.trials} == {2}
    assert not any(t.more_writers for t in run.trials)
    failed = [t for t in run.trials if not t.verdict.sustainable]
    # late batches too, but the server was at its CPU: the server's failure
    assert failed and all(t.verdict.limit == "server" for t in failed)
    assert any(f["mode"] == "generator behind" for f in failed[0].verdict.failures)
    assert found["sustainable_per_s"] == 5000


def test_the_writers_stop_at_max_writers_and_the_failure_is_the_client_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, found = search_target(tmp_path, monkeypatch, per_writer=1000, capacity=10**9)
    assert max(t.writers for t in run.trials) == 8  # 2, 4, 8 and no further
    assert [t.more_writers for t in run.trials if t.more_writers] == [4, 8]
    assert found["sustainable_per_s"] == 8000
    assert found["failure"]["limit"] == "client"
    assert found["failure"]["modes"][0]["mode"] == "client limit"
    assert "8 writers" in found["failure"]["modes"][0]["detail"]
    text = client_ceiling(found)
    assert text is not None and text.startswith("the client was the ceiling: at 8,250")
    assert "the server sustains at least 8,000" in text


def test_a_stall_fails_one_trial_and_the_rate_still_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stall of the shared host at 4,000/s (trial 2) fails that trial; the two trials that
    confirm the rate pass, so the search climbs on to the server's capacity. Without
    confirmation the one stall decides: the search brackets 4,000 as the first failing rate."""
    noisy = frozenset({2})
    run, found = search_target(tmp_path / "a", monkeypatch, 10**9, 10_000, noisy)
    at_4000 = [(t.role, t.verdict.sustainable) for t in run.trials if t.rate == 4000]
    assert at_4000 == [("search", False), ("confirm", True), ("confirm", True)]
    assert found["sustainable_per_s"] == 10_000
    # the real limit fails both of its trials: confirmed
    above = [t for t in run.trials if t.rate == found["first_failing_per_s"]]
    assert [(t.role, t.verdict.sustainable) for t in above] == [
        ("search", False),
        ("confirm", False),
    ]
    _, unconfirmed = search_target(tmp_path / "b", monkeypatch, 10**9, 10_000, noisy, 0)
    assert unconfirmed["first_failing_per_s"] == 4000
    assert unconfirmed["sustainable_per_s"] < 4000


def test_max_writers_is_a_bounded_setting() -> None:
    assert SearchSettings.parse({}).max_writers == 8
    with pytest.raises(ConfigError) as err:
        SearchSettings.parse({"max_writers": 0})
    assert err.value.field == "search.max_writers"


def test_a_best_rate_most_of_whose_runs_fail_is_not_the_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Capacity 10,000/s, but 11,000 passes its first trial (a lucky run at the edge): the
    bisection closes on it, its reruns fail, so it counts as failing and the answer is the
    highest rate most of whose runs held. Measured on the virtual lab: PostgreSQL's 60,000
    passed 2 of 5 runs and had been reported as sustainable."""
    run, found = search_target(
        tmp_path, monkeypatch, 10**9, 10_000, lucky=11_000, reruns=3, confirm_failures=0
    )
    lucky = [t.verdict.sustainable for t in run.trials if t.rate == 11_000]
    assert lucky == [True, False, False]
    assert found["not_reproduced_per_s"] == [11_000]
    assert found["sustainable_per_s"] == 10_000
    assert (found["best_runs"], found["best_runs_passed"]) == (3, 3)
    assert found["first_failing_per_s"] == 10_250  # the bisection went on below 11,000
    assert found["failure"]["modes"]  # a failed run of it, not its lucky pass


def test_reproduced_needs_most_runs_to_pass() -> None:
    assert reproduced(3, 2) and reproduced(1, 1) and reproduced(0, 0)
    assert not reproduced(5, 2) and not reproduced(2, 1) and not reproduced(3, 1)


def test_an_interrupted_search_stops_at_its_trial_and_is_marked_partial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGINT during a trial (benchlab search under interrupt.yml): the trial's run stops
    (execute: partial), no further trial or target runs, the search is PARTIAL, and its
    report is still written."""
    lab = FakeLab(tmp_path, per_writer=10_000, capacity=10_000)
    stop = {"flag": False}

    def execute(config: Any, root: Path, **kwargs: Any) -> RunOutcome:
        outcome = lab.execute(config, root, **kwargs)
        if lab.n == 2:  # Ctrl-C during the second trial
            stop["flag"] = True
            return RunOutcome(outcome.run_dir, "partial", {}, outcome.audits)
        return outcome

    monkeypatch.setattr(search_run, "execute", execute)
    monkeypatch.setattr(search_run, "target_resources", lab.resources)
    config = parse_config(search_doc()["config"])
    settings = SearchSettings(start_rate=2000, factor=2, max_rate=64_000, reruns=1)
    search_dir, doc = search_run.search(
        config, settings, tmp_path / "results", should_stop=lambda: stop["flag"]
    )
    assert lab.n == 2 and doc["status"] == "partial"
    assert [t["n"] for t in doc["trials"]] == [1]  # the interrupted trial is not judged
    assert list(doc["targets"]) == ["pg"]  # the second target never started
    assert (search_dir / "PARTIAL").is_file()
    saved = json.loads((search_dir / "search.json").read_text())
    assert saved["status"] == "partial"
    assert write_search_report(search_dir, doc).is_file()
