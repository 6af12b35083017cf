"""Live progress of a run: one line of figures, refreshed every few seconds while it runs.

`benchlab run` and `benchlab search` keep the figures in a small JSON file beside the
results (``<results root>/.progress/<run id>.json``). bench.yml starts the run as an async
job and then polls ``benchlab progress`` every 10 s; the repository's stdout callback
(plugins/callback/benchlab.py) prints each poll's line instead of Ansible's retry noise, and
`benchlab bench` shows the same line in its own progress display.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchlab.render import fmt_num

if TYPE_CHECKING:
    from benchlab.loadgen.runner import TargetRunResult

PROGRESS_DIR = ".progress"
# How often a run refreshes its figures (p99 and the store's count cost a little each time).
REFRESH_S = 2.0
# The acknowledged rate is over the last complete seconds of this span.
RATE_SPAN_S = 10


@dataclass(frozen=True)
class LiveFigures:
    """Where a target's load stands: what bench.yml's progress line shows."""

    target: str
    stage: str  # prepare, load, finish, audit
    elapsed_s: float
    total_s: float
    due: int  # records due by now on the schedule
    acked: int
    stored: int | None  # None: the store is not counted live (the null target keeps nothing)
    rate_per_s: float | None  # acknowledged per second over the last RATE_SPAN_S
    p99_ms: float | None  # acknowledgement latency so far
    errors: int
    step: str = ""  # e.g. a search's "trial 3, 20,000/s offered"

    def line(self) -> str:
        head = f"{self.target}" + (f" [{self.step}]" if self.step else "")
        clock = f"{_clock(self.elapsed_s)}/{_clock(self.total_s)}"
        parts = [
            f"{head} {self.stage} {clock}",
            f"due {self.due:,}",
            f"acked {self.acked:,}",
            f"stored {'n/a' if self.stored is None else f'{self.stored:,}'}",
            f"{'n/a' if self.rate_per_s is None else fmt_num(self.rate_per_s)} acked/s",
            f"p99 {'n/a' if self.p99_ms is None else fmt_num(self.p99_ms)} ms",
            f"errors {self.errors:,}",
        ]
        return " · ".join(parts)


FiguresFn = Callable[[LiveFigures], None]


def _clock(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 60}:{s % 60:02d}"


def live_figures(
    result: TargetRunResult, stored: int | None, stage: str = "load", now: float | None = None
) -> LiveFigures:
    """The figures of a load in progress (or just ended) from its running aggregates."""
    load = result.load
    now = time.time() if now is None else now
    # after the load: the time it reached
    until = now if stage == "load" else (result.end_wall or now)
    elapsed = min(load.duration_s, max(0.0, until - result.t0_wall))
    due_batches = min(load.batch_count, math.floor(elapsed / load.interval_s) + 1)
    if now < result.t0_wall:
        due_batches = 0
    last = int(now - result.t0_wall) - 1  # the last complete second
    seconds = range(max(0, last - RATE_SPAN_S + 1), last + 1)
    rate = (
        sum(result.per_second.get(s, (0, 0, 0))[1] for s in seconds) / len(seconds)
        if len(seconds)
        else None
    )
    return LiveFigures(
        target=result.target,
        stage=stage,
        elapsed_s=elapsed,
        total_s=load.duration_s,
        due=max(result.records_due, due_batches * load.batch_size),
        acked=result.records_acked,
        stored=stored,
        rate_per_s=rate,
        p99_ms=result.latency.summary().as_dict().get("p99_ms") if result.records_acked else None,
        errors=sum(result.errors.values()),
    )


def progress_path(results_root: Path, run_id: str) -> Path:
    return results_root / PROGRESS_DIR / f"{run_id}.json"


@dataclass
class ProgressFile:
    """The run's side: rewrites the progress file (atomically) with the newest figures."""

    path: Path
    run_id: str
    last: LiveFigures | None = None

    @classmethod
    def for_run(cls, results_root: Path, run_id: str) -> ProgressFile:
        return cls(progress_path(results_root, run_id), run_id)

    def update(self, figures: LiveFigures) -> None:
        self.last = figures
        self.write(figures)

    def finish(self, status: str) -> None:
        """The run has ended (`status`: complete, partial, failed); its last figures stay."""
        self.write(self.last, state=status)

    def write(self, figures: LiveFigures | None, state: str = "running") -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "run_id": self.run_id,
            "pid": os.getpid(),
            "state": state,
            "updated": time.time(),
            "line": (figures.line() if figures else "starting")
            + ("" if state == "running" else f" · run {state}"),
            "figures": asdict(figures) if figures else None,
        }
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(tmp, self.path)


def job_finished(job_file: Path) -> bool:
    """Whether the Ansible async job of `job_file` has ended, as async_status decides it: the
    wrapper writes {"started": ...} first and the module's own result when it ends."""
    try:
        data = json.loads(job_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return True  # no such job (any more): nothing to wait for
    except (OSError, ValueError):
        return False  # being written
    if not isinstance(data, dict):
        return True
    return "started" not in data or bool(data.get("finished"))


def progress_line(path: Path, max_age_s: float = 60.0, now: float | None = None) -> str:
    """The line to show for the progress file at `path`."""
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "starting (no figures yet)"
    except (OSError, ValueError):
        return "figures being written"
    line = str(doc.get("line") or doc.get("state") or "")
    age = (time.time() if now is None else now) - float(doc.get("updated") or 0.0)
    if doc.get("state") == "running" and age > max_age_s:
        line += f" (figures {age:,.0f} s old)"
    return line


def is_progress_command(cmd: Any) -> bool:
    """Whether a command task's `cmd` (its argv) is `benchlab progress`: how the stdout
    callback and `benchlab bench` tell the progress polls from other tasks."""
    return (
        isinstance(cmd, list)
        and len(cmd) > 1
        and Path(str(cmd[0])).name == "benchlab"
        and cmd[1] == "progress"
    )
