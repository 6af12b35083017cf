"""`benchlab run`: preflight, load every target, audit, write the raw results."""

from __future__ import annotations

import platform
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchlab import __version__, targets
from benchlab.config import ConfigError, RunConfig
from benchlab.exitcodes import EXIT_DATA_FAILED, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from benchlab.loadgen.runner import LoadgenMetrics, ProgressFn, TargetRunResult, run_load
from benchlab.progress import REFRESH_S, FiguresFn, LiveFigures, live_figures
from benchlab.results import (
    PARTIAL_MARKER,
    check_new_run_dir,
    create_run_dir,
    utc_iso,
    write_json,
    write_text_atomic,
)
from benchlab.sinks import SinkUnreachable
from benchlab.targets import AfterLoad, TargetNotReady, TargetSession
from benchlab.verdict import DataVerdict, run_verdicts


class PortBusy(ConfigError):
    pass


@dataclass
class RunOutcome:
    run_dir: Path
    status: str
    results: dict[str, TargetRunResult]
    audits: dict[str, dict[str, Any]]
    failed_targets: tuple[str, ...] = ()
    verdicts: dict[str, DataVerdict] = field(default_factory=dict)

    @property
    def data_failures(self) -> list[DataVerdict]:
        return [v for v in self.verdicts.values() if v.failed]

    @property
    def exit_code(self) -> int:
        """130 interrupted, 1 the kit failed, 10 a data verdict FAILed (benchlab.exitcodes)."""
        if self.status == "partial":
            return EXIT_INTERRUPTED
        if self.failed_targets:
            return EXIT_FAILED
        return EXIT_DATA_FAILED if self.data_failures else EXIT_OK


def preflight(config: RunConfig, results_root: Path) -> None:
    """Everything that can be checked before a change: results dir, secrets, sinks reachable.

    Raises ConfigError / ResultsError (exit 2) or SinkUnreachable (exit 3).
    """
    check_new_run_dir(results_root, config.run_id)
    for target in config.targets:
        targets.get(target.type).preflight(target)  # SinkUnreachable propagates


def start_metrics(config: RunConfig) -> LoadgenMetrics:
    metrics = LoadgenMetrics()
    try:
        metrics.start(config.loadgen_metrics_addr, config.loadgen_metrics_port)
    except OSError as exc:
        raise PortBusy(
            "loadgen_metrics_port",
            f"cannot listen on {config.loadgen_metrics_addr}:{config.loadgen_metrics_port} "
            f"({exc.strerror or exc})",
            "stop what holds the port or set benchlab_loadgen_metrics_port to a free one",
        ) from exc
    return metrics


def initial_run_json(config: RunConfig) -> dict[str, Any]:
    return {
        "run_id": config.run_id,
        "phase": config.phase,
        "inventory": config.inventory,
        "status": "running",
        "created": utc_iso(),
        "targets": [t.name for t in config.targets],
        "config": config.public_dict(),
        "versions": {
            **config.versions,
            "benchlab": __version__,
            "python": platform.python_version(),
        },
        "host_facts": config.host_facts,
        "services": config.services,
        "loadgen_host": socket.gethostname(),
    }


def write_target_results(run_dir: Path, result: TargetRunResult) -> None:
    name = result.target
    write_text_atomic(
        run_dir / "latency" / f"{name}.hgrm", result.latency.percentile_distribution()
    )
    write_text_atomic(run_dir / "latency" / f"{name}.hdr", result.latency.encode().decode() + "\n")
    write_text_atomic(
        run_dir / "latency" / f"{name}-service-time.hgrm",
        result.service_time.percentile_distribution(),
    )
    write_text_atomic(
        run_dir / "latency" / f"{name}-schedule-lag.hgrm", result.lag.percentile_distribution()
    )
    write_text_atomic(run_dir / "timeseries" / f"{name}-throughput.csv", result.timeseries_csv())
    write_json(
        run_dir / "acked" / f"{name}.json", {"target": name, "ranges": result.acked.to_json()}
    )


def summary(result: TargetRunResult, after: AfterLoad | None) -> dict[str, Any]:
    """The load summary, with what the target's session measured after the load."""
    figures = result.summary()
    if after is not None:
        figures.update(after.figures)
    return figures


class LiveTarget:
    """A target's live figures for `on_figures`, at most every REFRESH_S seconds."""

    def __init__(self, session: TargetSession, total_s: float, on_figures: FiguresFn | None):
        self.session = session
        self.total_s = total_s
        self.on_figures = on_figures
        self.last = 0.0

    def stored(self, result: TargetRunResult) -> int | None:
        try:
            return self.session.stored_so_far(result)
        except Exception:  # a progress line is never worth a failed run
            return None

    def idle(self, stage: str) -> None:
        """Before the load: nothing due yet."""
        if self.on_figures is not None:
            name = self.session.config.name
            self.on_figures(LiveFigures(name, stage, 0.0, self.total_s, 0, 0, 0, None, None, 0))

    def update(self, result: TargetRunResult, stage: str = "load", force: bool = False) -> None:
        if self.on_figures is None or (not force and time.monotonic() - self.last < REFRESH_S):
            return
        self.last = time.monotonic()
        self.on_figures(live_figures(result, self.stored(result), stage))

    def progress_fn(self, also: ProgressFn | None) -> ProgressFn:
        """The load's progress callback: `also` (a progress bar), then these figures."""

        def progressed(result: TargetRunResult) -> None:
            if also is not None:
                also(result)
            self.update(result)

        return progressed

    @contextmanager
    def ticking(self, result: TargetRunResult, stage: str) -> Iterator[None]:
        """Refresh the figures while a blocking step runs (the drain, the audit)."""
        if self.on_figures is None:
            yield
            return
        done = threading.Event()

        def tick() -> None:
            while True:
                self.update(result, stage, force=True)
                if done.wait(REFRESH_S):
                    return

        thread = threading.Thread(target=tick, name="benchlab-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join(timeout=5)


def execute(
    config: RunConfig,
    results_root: Path,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    on_progress: ProgressFn | None = None,
    on_phase: Callable[[str], None] | None = None,
    on_figures: FiguresFn | None = None,
) -> RunOutcome:
    """Preflight must have passed. Creates the run directory and fills it.

    `on_progress` gets the running aggregates a few times a second (a progress bar);
    `on_figures` the live figures every REFRESH_S seconds (bench.yml's progress line)."""
    metrics = start_metrics(config)
    try:
        run_dir = create_run_dir(results_root, config.run_id)
        run = initial_run_json(config)
        write_json(run_dir / "run.json", run)
        results: dict[str, TargetRunResult] = {}
        after_load: dict[str, AfterLoad] = {}
        audits: dict[str, dict[str, Any]] = {}
        failed: list[str] = []
        status = "complete"

        def summaries() -> dict[str, dict[str, Any]]:
            return {t: summary(r, after_load.get(t)) for t, r in results.items()}

        def phase(text: str) -> None:
            if on_phase:
                on_phase(text)

        for target in config.targets:
            if should_stop():
                status = "partial"
                break
            session: TargetSession = targets.get(target.type).session(
                target, config.run_id, run_dir
            )
            live = LiveTarget(session, config.load.duration_s, on_figures)
            phase(f"prepare {target.name}")
            live.idle("prepare")
            try:
                session.start(should_stop)
            except TargetNotReady as exc:
                failed.append(target.name)
                audits[target.name] = {"target": target.name, "error": f"not run: {exc}"}
                write_json(run_dir / "audit.json", audits)
                continue
            phase(f"load {target.name}")
            try:
                result = run_load(
                    target.name,
                    config.run_id,
                    config.load,
                    target.sink,
                    should_stop=should_stop,
                    metrics=metrics,
                    on_progress=live.progress_fn(on_progress),
                )
            except BaseException:
                session.abort()
                raise
            results[target.name] = result
            write_target_results(run_dir, result)
            if result.status != "complete":
                status = "partial"
            phase(f"finish {target.name}")
            # interrupted too (should_stop set): the session ends what it started, e.g. the
            # pipeline lets its streaming job commit what was acknowledged, briefly, and stops it
            try:
                with live.ticking(result, "finish"):
                    after = after_load[target.name] = session.after_load(result, should_stop)
            except BaseException:
                session.abort()
                raise
            if after.failed:
                failed.append(target.name)
            phase(f"audit {target.name}")
            with live.ticking(result, "audit"):
                audits[target.name] = session.audit(result)
            write_json(run_dir / "load.json", summaries())
            write_json(run_dir / "audit.json", audits)
            if status == "partial":
                break
        if status == "partial":
            write_text_atomic(run_dir / PARTIAL_MARKER, "interrupted: load stopped early\n")
        # the targets that were loaded (a target that never ran is a failed target instead)
        verdicts = run_verdicts({t: config.target(t) for t in results}, audits)
        run.update(
            status=status,
            finished=utc_iso(),
            load=summaries(),
            audit=audits,
            failed_targets=failed,
            data_verdict={t: v.as_dict() for t, v in verdicts.items()},
            window={
                t: {
                    "start": r.t0_wall,
                    "end": r.end_wall,
                    "start_utc": utc_iso(r.t0_wall),
                    "end_utc": utc_iso(r.end_wall),
                }
                for t, r in results.items()
            },
        )
        write_json(run_dir / "load.json", summaries())
        write_json(run_dir / "audit.json", audits)
        write_json(run_dir / "run.json", run)
        return RunOutcome(run_dir, status, results, audits, tuple(failed), verdicts)
    finally:
        metrics.stop()


__all__ = [
    "PortBusy",
    "RunOutcome",
    "SinkUnreachable",
    "execute",
    "preflight",
]
