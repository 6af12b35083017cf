"""`benchlab search`: per target, fixed-rate trials until the sustainable rate is bracketed.

Each trial is `benchlab.execute.execute` of a one-target configuration at one rate, written
to <search dir>/trials/<run id>/ like any run (audit, raw results); nothing is re-deployed
between trials. search.json holds every trial's verdict and each target's result; the
report (report.py) turns them into the conclusion.

Writers: a trial the client failed (judge.py: the generator behind while the target's
services had CPU to spare) runs again at the same rate with twice the writer processes, up
to max_writers; the superseded trial stays in search.json with `more_writers` and does not
count for the plan. The count is kept for the target's later trials, never lowered.

Confirmation: a rate fails only when most of its trials fail. After a failing trial the rate
runs again (role "confirm") until `confirm_failures` + 1 trials at it failed or as many
passed; a stall of the shared host fails one trial, a real limit fails them all. A pass
needs no confirmation here: the best rate is run `reruns` times anyway.

Reproduction: once the bracket is closed, the best rate runs until it has `reruns` counted
trials (role "rerun"). When most of its trials failed (judge.reproduced), the rate was a
lucky pass at the edge: it counts as failing and the search goes on below it, so the answer
is a rate most of whose runs held.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from benchlab.config import LoadConfig, RunConfig
from benchlab.execute import execute
from benchlab.metrics import collect
from benchlab.progress import FiguresFn
from benchlab.results import (
    PARTIAL_MARKER,
    SEARCH_FILE,
    create_run_dir,
    read_json,
    utc_iso,
    write_json,
)
from benchlab.search.judge import CLIENT, TrialVerdict, judge, reproduced
from benchlab.search.plan import RateSearch
from benchlab.search.settings import SearchSettings
from benchlab.targets import TargetConfig

Say = Callable[[str], None]


@dataclass
class Trial:
    target: str
    n: int
    run_id: str
    rate: float  # offered
    verdict: TrialVerdict
    role: str  # "search" or "rerun"
    recovery_s: float | None
    figures: dict[str, Any] = field(default_factory=dict)  # what the plot and tables read
    # the client was behind: this trial was run again with this many writers (not counted)
    more_writers: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "n": self.n,
            "run_id": self.run_id,
            "rate": self.rate,
            "role": self.role,
            "recovery_s": self.recovery_s,
            "verdict": self.verdict.as_dict(),
            "figures": self.figures,
            "more_writers": self.more_writers,
        }

    @property
    def writers(self) -> int | None:
        return self.figures.get("processes")


def trial_config(
    config: RunConfig,
    target: TargetConfig,
    settings: SearchSettings,
    rate: float,
    run_id: str,
    writers: int | None = None,
) -> RunConfig:
    """The one-target run of a trial; `writers` (None: the run's own `processes`)."""
    load = LoadConfig(
        batch_size=settings.batch_size(rate),
        interval_s=settings.interval_s,
        duration_s=settings.duration_s,
        record_bytes=config.load.record_bytes,
        processes=config.load.processes if writers is None else writers,
        late_after_ms=config.load.late_after_ms,
        warmup_s=settings.warmup_s,
    )
    return dataclasses.replace(config, run_id=run_id, load=load, targets=(target,))


def recovery_s(figures: dict[str, Any]) -> float | None:
    """How long after the load stopped the store had everything it acknowledged: the
    pipeline's drain, or for a store that acknowledges on commit the last acknowledgement
    past the end of the schedule."""
    streaming = figures.get("streaming")
    if streaming is not None:
        return streaming.get("drain_s") if streaming.get("drained") else None
    end_of_schedule = float(figures.get("start") or 0) + float(figures.get("duration_s") or 0)
    last = float(figures.get("start") or 0) + float(figures.get("active_s") or 0)
    return max(0.0, last - end_of_schedule) if figures.get("start") else None


def target_resources(
    config: RunConfig, target: TargetConfig, start: float, end: float
) -> dict[str, Any]:
    """Per limited service of the target in [start, end]: throttling, CPU, OOM kills."""
    if not config.prometheus_url or not target.services:
        return {}
    metrics = collect(config.prometheus_url, start, end, None, pad_s=0.0, rate_window="15s")
    out: dict[str, Any] = {}
    for entry in metrics.services.values():
        if entry.get("service") in target.services:
            out[f"{entry['service']}@{entry.get('host', '')}"] = {
                "throttled_ratio": entry.get("throttled_ratio_mean"),
                "cpu_cores": entry.get("cpu_cores_mean"),
                "cpu_limit_cores": entry.get("cpu_limit_cores_peak"),
                "memory_working_set_bytes": entry.get("memory_working_set_bytes_peak"),
                "oom_kills": entry.get("oom_kills"),
            }
    return out


def run_trial(
    config: RunConfig,
    target: TargetConfig,
    settings: SearchSettings,
    rate: float,
    n: int,
    role: str,
    trials_root: Path,
    should_stop: Callable[[], bool],
    writers: int | None = None,
    on_figures: FiguresFn | None = None,
) -> tuple[Trial, str]:
    """One trial; returns it and the run's status (complete, partial)."""
    offered = settings.offered(rate)
    run_id = f"{config.run_id}-{target.name}-t{n:02d}"
    outcome = execute(
        trial_config(config, target, settings, offered, run_id, writers),
        trials_root,
        should_stop=should_stop,
        on_figures=on_figures,
    )
    figures = (read_json(outcome.run_dir / "load.json") or {}).get(target.name, {})
    audit = outcome.audits.get(target.name)
    steady_start = float(figures.get("start") or 0.0) + settings.warmup_s
    steady_end = float(figures.get("start") or 0.0) + settings.duration_s
    resources = target_resources(config, target, steady_start, steady_end)
    max_p99 = target.criteria.max_p99_ms if target.criteria else None
    kit_failed = target.name in outcome.failed_targets
    verdict = judge(offered, figures, audit, settings, max_p99, resources, kit_failed=kit_failed)
    kept = {
        "stored_per_s": verdict.stored_per_s,
        "p99_ms": verdict.p99_ms,
        "acked_p99_ms": ((figures.get("steady") or {}).get("latency_ms") or {}).get("p99_ms"),
        "resources": resources,
        "processes": figures.get("processes"),
        "generator": figures.get("generator"),
    }
    trial = Trial(target.name, n, run_id, offered, verdict, role, recovery_s(figures), kept)
    trial.more_writers = more_writers(trial, settings)
    return trial, outcome.status


def more_writers(trial: Trial, settings: SearchSettings) -> int | None:
    """Twice the trial's writers (at most max_writers) when the client failed it, else None."""
    writers = trial.writers
    if trial.verdict.limit != CLIENT or writers is None or writers >= settings.max_writers:
        return None
    return min(2 * int(writers), settings.max_writers)


def counted_trials(trials: list[Trial], rate: float | None = None) -> list[Trial]:
    """The trials that count (not superseded by more writers), at `rate` when given."""
    return [t for t in trials if t.more_writers is None and (rate is None or t.rate == rate)]


def summarize_target(
    target: TargetConfig, trials: list[Trial], search: RateSearch
) -> dict[str, Any]:
    best = search.best
    fail = search.first_fail
    counted = counted_trials(trials)
    at_best = [t for t in counted if best is not None and t.rate == best]
    stored = [t.verdict.stored_per_s for t in at_best]
    passes = sum(1 for t in at_best if t.verdict.sustainable)
    # a failed trial at the first failing rate (a rate not reproduced has passes too)
    failing = next(
        (t for t in counted if t.rate == fail and not t.verdict.sustainable),
        next((t for t in counted if t.rate == fail), None),
    )
    passed_writers = [t.writers for t in at_best if t.verdict.sustainable and t.writers]
    return {
        "target": target.name,
        "type": target.type,
        "services": list(target.services),
        "sustainable_per_s": best,
        "first_failing_per_s": fail,
        "best_runs": len(at_best),
        "best_runs_passed": passes,
        # the fewest writers a run of the best rate passed with
        "writers": min(passed_writers, default=None),
        "generator_at_best": at_best[0].figures.get("generator") if at_best else None,
        "best_stored_median_per_s": statistics.median(stored) if stored else None,
        "best_stored_spread_per_s": (max(stored) - min(stored)) if stored else None,
        "best_p99_ms": statistics.median(
            [t.verdict.p99_ms for t in at_best if t.verdict.p99_ms is not None]
        )
        if any(t.verdict.p99_ms is not None for t in at_best)
        else None,
        "failure": (
            {
                "rate": failing.rate,
                "modes": failing.verdict.failures,
                "causes": failing.verdict.causes,
                "recovery_s": failing.recovery_s,
                "limit": failing.verdict.limit,
                "writers": failing.writers,
                "generator": failing.figures.get("generator"),
            }
            if failing
            else None
        ),
        "resources_at_best": at_best[0].figures.get("resources") if at_best else {},
        "resources_at_failure": failing.figures.get("resources") if failing else {},
        "trials": len(trials),
    }


@dataclass
class TargetSearch:
    """One target's trials: the grid and bisection, then the reruns of the best rate."""

    config: RunConfig
    target: TargetConfig
    settings: SearchSettings
    search_dir: Path
    doc: dict[str, Any]  # search.json, rewritten after every trial
    should_stop: Callable[[], bool]
    say: Say
    trials: list[Trial] = field(default_factory=list)
    writers: int | None = None  # None: the run's `processes`; raised, never lowered
    on_figures: FiguresFn | None = None  # each trial's live figures, labelled with the trial

    def one(self, rate: float, role: str) -> Trial | None:
        """A trial at `rate`; None when it was interrupted (it is not judged)."""
        n = len(self.doc["trials"]) + 1
        name = self.target.name
        offered = self.settings.offered(rate)
        self.say(f"{name}: trial {n} at {offered:,.0f} records/s ({role})")
        step = f"trial {n}, {offered:,.0f}/s offered"
        on_figures = self.on_figures
        trial, status = run_trial(
            self.config,
            self.target,
            self.settings,
            rate,
            n,
            role,
            self.search_dir / "trials",
            self.should_stop,
            self.writers,
            None if on_figures is None else lambda f: on_figures(replace(f, step=step)),
        )
        if status != "complete":
            return None
        self.trials.append(trial)
        self.doc["trials"].append(trial.as_dict())
        write_json(self.search_dir / SEARCH_FILE, self.doc)
        modes = "; ".join(f["mode"] for f in trial.verdict.failures)
        self.say(
            f"{name}: {trial.rate:,.0f}/s " + ("sustained" if not modes else f"failed: {modes}")
        )
        if trial.more_writers is not None:
            self.say(f"{name}: the client was behind: again with {trial.more_writers} writers")
        return trial

    def at_rate(self, rate: float, role: str) -> Trial | None:
        """The trial that counts at `rate`: run again with more writers while the client
        failed it (module docstring); None when interrupted."""
        trial = self.one(rate, role)
        while trial is not None and trial.more_writers is not None:
            self.writers = trial.more_writers
            trial = self.one(rate, role)
        return trial

    def decided(self, rate: float) -> tuple[float, bool] | None:
        """The rate's verdict, a failure confirmed (module docstring); None: interrupted."""
        trial = self.at_rate(rate, "search")
        if trial is None:
            return None
        needed = self.settings.confirm_failures + 1
        failed, passed = (0, 1) if trial.verdict.sustainable else (1, 0)
        while failed and failed < needed and passed < needed:
            again = self.at_rate(rate, "confirm")
            if again is None:
                return None
            failed, passed = (
                (failed, passed + 1) if again.verdict.sustainable else (failed + 1, passed)
            )
        return trial.rate, failed < needed

    def reproduce(self, rate: float) -> tuple[int, int] | None:
        """Runs `rate` until it has `reruns` counted trials; (runs, passed) of them (module
        docstring). None: interrupted."""
        while len(at := counted_trials(self.trials, rate)) < self.settings.reruns:
            if self.should_stop() or self.at_rate(rate, "rerun") is None:
                return None
        return len(at), sum(t.verdict.sustainable for t in at)

    def run(self) -> None:
        rates = RateSearch(self.settings)
        not_reproduced: list[float] = []
        while not self.should_stop():
            while not self.should_stop() and (rate := rates.next_rate()) is not None:
                verdict = self.decided(rate)
                if verdict is None:
                    break
                rates.record(*verdict)
            best = rates.best
            if best is None or self.should_stop():
                break
            runs = self.reproduce(best)
            if runs is None or reproduced(*runs):
                break
            self.say(
                f"{self.target.name}: {best:,.0f}/s passed {runs[1]} of {runs[0]} runs: not "
                "reproduced, searching below it"
            )
            not_reproduced.append(best)
            rates.record(best, False)
        summary = summarize_target(self.target, self.trials, rates)
        summary["not_reproduced_per_s"] = not_reproduced
        self.doc["targets"][self.target.name] = summary
        write_json(self.search_dir / SEARCH_FILE, self.doc)


def search(
    config: RunConfig,
    settings: SearchSettings,
    results_root: Path,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    say: Say = lambda _: None,
    on_figures: FiguresFn | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Run the search for every target; returns the search directory and search.json."""
    search_dir = create_run_dir(results_root, config.run_id)
    trials_root = search_dir / "trials"
    trials_root.mkdir()
    doc: dict[str, Any] = {
        "run_id": config.run_id,
        "kind": "search",
        "phase": config.phase,
        "inventory": config.inventory,
        "status": "running",
        "created": utc_iso(),
        "settings": dataclasses.asdict(settings),
        "config": config.public_dict(),
        "services": config.services,
        "host_facts": config.host_facts,
        "trials": [],
        "targets": {},
    }
    write_json(search_dir / SEARCH_FILE, doc)
    for target in config.targets:
        TargetSearch(
            config, target, settings, search_dir, doc, should_stop, say, on_figures=on_figures
        ).run()
        if should_stop():
            break
    doc["status"] = "partial" if should_stop() else "complete"
    doc["finished"] = utc_iso()
    if should_stop():
        (search_dir / PARTIAL_MARKER).write_text("interrupted: the search stopped early\n")
    write_json(search_dir / SEARCH_FILE, doc)
    return search_dir, doc
