"""`benchlab faults run`: the argument parsing and wiring of the fault matrix (matrix.py)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rich.console import Console

from benchlab.exitcodes import EXIT_BAD_INPUT
from benchlab.faults.catalogue import CATALOGUE

DESCRIPTION = (
    "For each fault, one bench.yml run (phase 2's rate by default, -e duration=--duration, "
    "the target the fault concerns) through ansible-runner; when the load reaches --at "
    "seconds the fault is injected on its victim host (ad-hoc ansible-runner call). Then one "
    "table for the matrix in results/faults-<id>/faults.md and faults.json. Faults: "
    + "; ".join(f"{f.name} ({f.action})" for f in CATALOGUE)
    + ". Exit: 0 every fault PASS, 1 a run or an injection failed, 2 bad input (nothing run), "
    "10 a fault lost acknowledged records or could not be audited, 130 interrupted."
)


def cmd_faults_run(args: argparse.Namespace, console: Console) -> int:
    from benchlab.cli import StopFlag, parse_extra_vars, run_playbook
    from benchlab.faults.catalogue import FaultError
    from benchlab.faults.matrix import (
        BENCH_PLAYBOOK,
        default_prepare,
        default_strike,
        execute,
        make_plan,
        summary_lines,
    )
    from benchlab.inventory import InventoryError, resolve_inventory
    from benchlab.runparams import ParamError

    repo = Path(args.repo).resolve()
    try:
        extra = parse_extra_vars(args.extra_vars or [])
        inventory = resolve_inventory(repo, args.inventory)
        plan = make_plan(
            repo, repo / "results", inventory, args.faults, args.at, args.duration, extra
        )
    except (ValueError, FaultError, InventoryError, ParamError) as exc:
        console.print(f"[bold red]benchlab:[/] {exc}", highlight=False, soft_wrap=True)
        return EXIT_BAD_INPUT
    stop = StopFlag()
    stop.install()
    cmdline = ["-i", str(inventory), *(["--skip-tags", "lab"] if args.skip_lab else [])]

    def runner(
        extravars: Mapping[str, Any],
        *,
        label: str,
        log: Path,
        on_progress: Callable[[str], None],
    ) -> int:
        def seen(line: str) -> None:
            on_progress(line)
            if not args.quiet:
                console.print(f"{label}{line}", highlight=False, soft_wrap=True)

        with log.open("w", encoding="utf-8") as handle:
            return run_playbook(
                repo, BENCH_PLAYBOOK, dict(extravars), cmdline, console, quiet=args.quiet,
                label=label, log=handle, cancel=stop, on_progress=seen,
            )  # fmt: skip

    def say(line: str) -> None:
        console.print(line, highlight=False, soft_wrap=True)

    say(
        f"faults {plan.matrix_id}: {', '.join(p.fault.name for p in plan.faults) or 'none'}; "
        f"phase {plan.phase}, {plan.duration_s:g} s each, fault at {plan.at_s:g} s; inventory "
        f"{inventory}; output {plan.out_dir}"
    )
    outcome = execute(
        plan, runner, default_strike(repo, inventory), stop, say, default_prepare(repo, inventory)
    )
    for line in summary_lines(outcome):
        say(line)
    return outcome.exit_code


def cmd_faults_report(args: argparse.Namespace, console: Console) -> int:
    from benchlab.faults.catalogue import FaultError
    from benchlab.faults.matrix import rewrite, summary_lines
    from benchlab.results import ResultsError

    out_dir = Path(args.matrix_dir)
    try:
        outcome = rewrite(out_dir, Path(args.results_root))
    except (FaultError, ResultsError, KeyError, TypeError) as exc:
        console.print(
            f"[bold red]benchlab:[/] {out_dir}: cannot rewrite the table ({exc}); fix: give "
            "a results/faults-<id> folder written by benchlab faults run",
            highlight=False, soft_wrap=True,
        )  # fmt: skip
        return EXIT_BAD_INPUT
    for line in summary_lines(outcome):
        console.print(line, highlight=False, soft_wrap=True)
    return outcome.exit_code


def register(sub: Any) -> None:
    p = sub.add_parser("faults", help="a fault matrix under load: kill, OOM, partition")
    fsub = p.add_subparsers(dest="faults_cmd", required=True, parser_class=type(p))
    r = fsub.add_parser("run", help="one bench.yml run per fault, the fault injected mid-load",
                        description=DESCRIPTION)  # fmt: skip
    r.add_argument("--faults", metavar="NAME,NAME,...|all", help="default: all")
    r.add_argument("-i", "--inventory", help="e.g. inventory/virtual (default: ansible.cfg's)")
    r.add_argument("--at", type=float, default=30.0, help="seconds into the load (default 30)")
    r.add_argument("--duration", type=float, default=90.0, help="load seconds (default 90)")
    r.add_argument("-e", "--extra-vars", action="append", metavar="K=V",
                   help="phase (default 2) or a run parameter but target and duration")  # fmt: skip
    r.add_argument("--repo", default=".", help="kit checkout (default: current directory)")
    r.add_argument("--quiet", action="store_true", help="no live progress")
    r.add_argument("--skip-lab", action="store_true",
                   help="bench.yml --skip-tags lab: the lab plays are not re-applied before "
                   "each fault's run (the lab is up as site.yml left it)")  # fmt: skip
    r.set_defaults(func=cmd_faults_run)
    w = fsub.add_parser("report", help="the table again from faults.json and the run folders")
    w.add_argument("matrix_dir", help="results/faults-<id>")
    w.add_argument("--results-root", default="results")
    w.set_defaults(func=cmd_faults_report)


__all__ = ["EXIT_BAD_INPUT", "cmd_faults_report", "cmd_faults_run", "register"]
