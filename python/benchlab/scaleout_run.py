"""`benchlab scaleout run`: bench.yml once per worker count, then the scale-out report.

SPEC.md section 7 (does adding a worker node raise the distributed throughput?). For each
count N of ``--workers`` (default 1 .. the inventory's workers) this drives ``bench.yml -e
workers=N`` through the playbook runner the CLI gives it (``benchlab.cli.run_playbook``:
ansible-runner with live progress), each with its own preflight and its own run id stamped
here, then writes the scale-out report with benchlab.scaleout from the runs that left
results, then starts every worker again (``playbooks/workers.yml``). With ``-e phase=search``
each count's run is a sustainable-throughput search (``results/<run id>/search.json``) and
the report compares the sustainable rates (benchlab.scaleout_search): the way to answer the
question; a fixed phase only shows whether its offered rate was kept up with.

Names (what ``benchlab scaleout report`` and ``benchlab results`` read):

- scale-out id ``<UTC %Y%m%dT%H%M%SZ>-<4 hex>``, directory ``results/scaleout-<id>/``;
- run id ``<stamp>-p<phase>-<target>-w<N>-<hex>``, results in ``results/<run id>/``;
- ``results/scaleout-<id>/bench-w<N>.log``: that run's ansible-playbook output;
  ``workers.log``: the final workers play; ``runs.json``: each count's run id, exit code and
  status; ``PARTIAL``: only when the scale-out was interrupted.

Every input is checked before anything is created (benchlab.runparams for the phase, the
``-e`` parameters and each worker count; the inventory's worker groups for the counts);
existing results are never overwritten. An interruption (``should_stop``) stops the current
run's playbook, runs no further count, writes ``PARTIAL`` and the report of what ran.
Exit code: benchlab.exitcodes.combined over the runs, the report and the final workers play.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from benchlab.exitcodes import (
    EXIT_DATA_FAILED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    combined,
)
from benchlab.inventory import group_sizes
from benchlab.results import (
    ResultsError,
    result_kind,
    utc_iso,
    utc_stamp,
    write_json,
    write_text_atomic,
)
from benchlab.runparams import (
    DEFAULT_PHASE,
    OVERRIDABLE,
    SOAK_PHASE,
    ParamError,
    load_phases,
    resolve,
)
from benchlab.scaleout import WORKER_SERVICES, ScaleoutError, write_report

BENCH_PLAYBOOK = "bench.yml"
WORKERS_PLAYBOOK = "playbooks/workers.yml"
TARGETS_FILE = "group_vars/all/targets.yml"
DEFAULT_TARGET = "pipeline"
# Set per run by this command; every other run parameter given with -e is passed on as is.
PER_RUN = ("target", "workers")
PASSED_ON = tuple(name for name in OVERRIDABLE if name not in PER_RUN)
WORKER_GROUPS = tuple(WORKER_SERVICES.values())
PARTIAL_FILE = "PARTIAL"
RUNS_FILE = "runs.json"


class PlaybookRunner(Protocol):
    """Runs one playbook of the kit to its end and returns its exit code (benchlab.exitcodes).

    `log` receives the playbook's output; `label` names the step in progress lines.
    """

    def __call__(
        self, playbook: str, extravars: Mapping[str, Any], *, label: str, log: Path
    ) -> int: ...


@dataclass(frozen=True)
class PlannedRun:
    workers: int
    run_id: str
    extravars: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    scaleout_id: str
    phase: str
    target: str
    results_root: Path
    runs: tuple[PlannedRun, ...]

    @property
    def out_dir(self) -> Path:
        return self.results_root / f"scaleout-{self.scaleout_id}"

    def log(self, run: PlannedRun) -> Path:
        return self.out_dir / f"bench-w{run.workers}.log"

    def run_dir(self, run: PlannedRun) -> Path:
        return self.results_root / run.run_id


@dataclass
class RunOutcome:
    workers: int
    run_id: str
    status: str  # done, data verdict FAIL, failed, interrupted, not run
    exit_code: int | None = None
    seconds: float | None = None
    left_results: bool = False


@dataclass
class Outcome:
    plan: Plan
    runs: list[RunOutcome]
    interrupted: bool
    report_code: int
    restore_code: int | None
    report_dir: Path | None = None
    sentence: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        codes = [r.exit_code for r in self.runs if r.exit_code is not None]
        codes.append(self.report_code)
        if self.restore_code is not None:
            codes.append(self.restore_code)
        if self.interrupted:
            codes.append(EXIT_INTERRUPTED)
        return combined(codes)


# -- inputs -------------------------------------------------------------------------------
def available_targets(repo: Path) -> list[str] | None:
    """Targets whose `available` is true in targets.yml; None when it cannot be read plainly."""
    import yaml

    try:
        data = yaml.safe_load((repo / TARGETS_FILE).read_text(encoding="utf-8"))
        targets = data["benchlab_targets"]
        return [name for name, spec in targets.items() if spec.get("available") is True]
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        return None  # preflight checks -e target on each run


def _count_items(text: str | None, most: int, inventory: Path) -> list[str]:
    if most < 1:
        sizes = " and ".join(WORKER_GROUPS)
        raise ParamError(
            "--inventory",
            f"inventory {inventory} has no host in {sizes} (or not in both)",
            "use an inventory with workers, e.g. -i inventory/virtual",
        )
    if text is None:
        return [str(n) for n in range(1, most + 1)]
    items = [item.strip() for item in text.split(",")]
    if not items or "" in items:
        raise ParamError(
            "--workers",
            f"--workers {text!r} is not a comma-separated list of worker counts",
            f"pass e.g. --workers 1,{most}",
        )
    return items


def make_plan(
    repo: Path,
    results_root: Path,
    inventory: Path,
    workers: str | None,
    extra: Mapping[str, str],
    *,
    now: datetime | None = None,
    token: str | None = None,
) -> Plan:
    """Check every input and name the scale-out and its runs; ParamError on the first problem.

    `workers` is the --workers text ("1,2"; None: every count the inventory allows), `extra`
    the -e pairs (`phase` and benchlab.runparams.OVERRIDABLE but `workers`). Nothing is
    created; existing results for the names chosen are refused.
    """
    given = dict(extra)
    phase = str(given.pop("phase", DEFAULT_PHASE))
    if phase == SOAK_PHASE:
        raise ParamError(
            "phase",
            f"-e phase={SOAK_PHASE} is not a scale-out phase (the report compares searches or "
            "runs of one phase)",
            "pass -e phase=search, or soak each worker count with ansible-playbook bench.yml "
            f"-e phase={SOAK_PHASE} -e workers=N",
        )
    if "workers" in given:
        raise ParamError(
            "workers",
            f"-e workers={given['workers']} is set for each run by --workers",
            f"pass --workers {given['workers']} (or e.g. --workers 1,2) instead",
        )
    target = given.setdefault("target", DEFAULT_TARGET)
    phases = load_phases(repo)
    targets = available_targets(repo)
    sizes = group_sizes(inventory, WORKER_GROUPS)
    most = min(sizes.values())
    counts: list[int] = []
    for item in _count_items(workers, most, inventory):
        try:
            params = resolve(
                phases,
                phase,
                {**given, "workers": item},
                available_targets=targets,
                worker_groups=sizes,
            )
        except ParamError as exc:
            if exc.field != "workers":
                raise
            every = ",".join(str(n) for n in range(1, most + 1))
            raise ParamError(
                "--workers",
                f"--workers {workers}: {exc.problem}",
                f"pass counts from 1 to {most}, e.g. --workers {every}",
            ) from exc
        assert params.workers is not None  # given above
        counts.append(params.workers)
    if len(set(counts)) != len(counts):
        raise ParamError(
            "--workers",
            f"--workers {workers} names a worker count twice",
            "list each count once, e.g. --workers 1,2",
        )
    stamp = utc_stamp(now)
    rand = token or secrets.token_hex(2)
    passed = {name: given[name] for name in PASSED_ON if name in given}
    runs = tuple(
        PlannedRun(
            workers=n,
            run_id=f"{stamp}-p{phase}-{target}-w{n}-{rand}",
            extravars={
                **passed,
                "phase": phase,
                "target": target,
                "workers": n,
                "benchlab_run_id": f"{stamp}-p{phase}-{target}-w{n}-{rand}",
            },
        )
        for n in counts
    )
    plan = Plan(f"{stamp}-{rand}", phase, target, results_root, runs)
    for path in [plan.out_dir, *(plan.run_dir(r) for r in runs)]:
        if path.exists():
            raise ParamError(
                "results",
                f"{path} exists",
                "a scale-out never overwrites results: run it again (a new id) or move that away",
            )
    return plan


# -- running ------------------------------------------------------------------------------
def _status(code: int) -> str:
    return {
        EXIT_OK: "done",
        EXIT_DATA_FAILED: "data verdict FAIL",
        EXIT_INTERRUPTED: "interrupted",
    }.get(code, "failed")


def _write_runs(plan: Plan, runs: list[RunOutcome], interrupted: bool) -> None:
    write_json(
        plan.out_dir / RUNS_FILE,
        {
            "id": plan.scaleout_id,
            "written": utc_iso(),
            "phase": plan.phase,
            "target": plan.target,
            "partial": interrupted,
            "runs": [{**asdict(r), "log": f"bench-w{r.workers}.log"} for r in runs],
        },
    )


def execute(
    plan: Plan,
    runner: PlaybookRunner,
    should_stop: Callable[[], bool],
    say: Callable[[str], None],
    *,
    noise: float | None = None,
    phases: dict[str, float] | None = None,
    restore: bool = True,
    clock: Callable[[], float] = time.monotonic,
) -> Outcome:
    """Run the plan's benches one after the other, then the report, then every worker back."""
    plan.out_dir.mkdir(parents=True, exist_ok=False)
    runs = [RunOutcome(r.workers, r.run_id, "not run") for r in plan.runs]
    interrupted = False
    started = clock()
    for i, (run, outcome) in enumerate(zip(plan.runs, runs, strict=True), start=1):
        if should_stop():
            interrupted = True
            break
        label = f"[{i}/{len(plan.runs)}] workers={run.workers} "
        say(f"{label}run {run.run_id}; log {plan.log(run)}")
        t0 = clock()
        code = runner(BENCH_PLAYBOOK, run.extravars, label=label, log=plan.log(run))
        outcome.exit_code, outcome.seconds = code, round(clock() - t0, 1)
        outcome.status = _status(code)
        # run.json for a phase, search.json for -e phase=search
        outcome.left_results = result_kind(plan.run_dir(run)) is not None
        say(
            f"{label}{outcome.status} (exit {code}) in {outcome.seconds:.0f} s; "
            f"scale-out elapsed {clock() - started:.0f} s"
        )
        if code == EXIT_INTERRUPTED or should_stop():
            interrupted = True
            break
    _write_runs(plan, runs, interrupted)
    notes: list[str] = []
    if interrupted:
        missing = [str(r.workers) for r in runs if r.status in ("not run", "interrupted")]
        notes.append(
            "Partial: the scale-out was interrupted; "
            + (
                f"worker count(s) {', '.join(missing)} did not complete."
                if missing
                else "every run had ended, the workers were not started again."
            )
        )
        write_text_atomic(plan.out_dir / PARTIAL_FILE, notes[0] + "\n")
    failed = [r for r in runs if r.status == "failed"]
    if failed:
        notes.append(
            "Failed: "
            + "; ".join(
                f"workers={r.workers} exit {r.exit_code} (bench-w{r.workers}.log)" for r in failed
            )
            + "."
        )
    result = Outcome(plan, runs, interrupted, report_code=EXIT_FAILED, restore_code=None)
    done = [plan.run_dir(p) for p, r in zip(plan.runs, runs, strict=True) if r.left_results]
    if not done:
        result.problems.append("no run left results: no scale-out report")
    else:
        try:
            result.report_dir, answer = write_report(
                done,
                plan.results_root,
                out=plan.out_dir,
                target=plan.target,
                noise=noise,
                phases=phases,
                notes=notes,
                partial=interrupted,
            )
            result.sentence = answer["sentence"]
            result.report_code = EXIT_OK
        except (ScaleoutError, ResultsError) as exc:
            result.problems.append(f"scale-out report: {exc}")
    if restore and not interrupted:
        label = "every worker back: "
        result.restore_code = runner(
            WORKERS_PLAYBOOK, {}, label=label, log=plan.out_dir / "workers.log"
        )
        if result.restore_code != EXIT_OK:
            result.problems.append(
                f"{WORKERS_PLAYBOOK} exited {result.restore_code} (see "
                f"{plan.out_dir / 'workers.log'}); start the workers with site.yml"
            )
    return result


def summary_lines(outcome: Outcome, inventory: Path) -> Sequence[str]:
    """What the command prints at its end: each count's run, the answer, where things are."""
    plan = outcome.plan
    lines = [
        f"workers={r.workers}: {r.status}"
        + (f" (exit {r.exit_code})" if r.exit_code is not None else "")
        + (f", results/{r.run_id}" if r.left_results else "")
        for r in outcome.runs
    ]
    if outcome.sentence:
        lines.append(outcome.sentence)
    lines += outcome.problems
    if outcome.report_dir is not None:
        lines.append(f"report: {outcome.report_dir / 'report.md'}")
    if outcome.interrupted:
        lines.append(
            f"interrupted: {plan.out_dir / PARTIAL_FILE} written; the workers stopped for a run "
            f"stay stopped: ansible-playbook -i {inventory} {WORKERS_PLAYBOOK} starts them"
        )
    return lines
