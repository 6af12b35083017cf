"""Plan and run the matrix: one bench.yml run per fault, the fault struck mid-load, the table.

Names: matrix id ``<UTC %Y%m%dT%H%M%SZ>-<4 hex>`` in ``results/faults-<id>/`` (never
overwritten) with faults.md, faults.json, ``<fault>.log`` (that run's ansible-playbook
output) and ``PARTIAL`` when interrupted; each fault's run is ``results/<run id>/`` with run id
``<stamp>-p<phase>-<target>-<fault>-<hex>``.

Exit code: 130 interrupted (what ran is kept and reported), else 10 when a fault is FAIL (it
lost acknowledged records, its run could not be audited, or its data verdict FAILed), else 1
when a run or an injection failed, else 0.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from benchlab.exitcodes import EXIT_DATA_FAILED, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from benchlab.faults import report
from benchlab.faults.analysis import FaultRow, analyse
from benchlab.faults.catalogue import PARTITION, Fault, FaultError, parse_faults
from benchlab.faults.inject import Injection, group_hosts, inject, prepare
from benchlab.faults.timing import Striker
from benchlab.results import utc_stamp, write_text_atomic
from benchlab.runparams import ParamError, load_phases, resolve

BENCH_PLAYBOOK = "bench.yml"
DEFAULT_PHASE = "2"
PARTIAL_FILE = "PARTIAL"
# set by this command for each run: -e target / duration would contradict the catalogue
SET_HERE = ("target", "duration", "benchlab_run_id")
# The load must go on this long after the injection for a recovery to be seen.
MIN_AFTER_S = 10.0
# How long a strike still under way when its run ended may take to finish (OOM: 30 s hold).
STRIKE_WAIT_S = 120.0


class BenchRunner(Protocol):
    """Runs bench.yml to its end, passing each progress line to `on_progress`; exit code."""

    def __call__(
        self,
        extravars: Mapping[str, Any],
        *,
        label: str,
        log: Path,
        on_progress: Callable[[str], None],
    ) -> int: ...


InjectFn = Callable[[Fault, str, str], Injection]  # (fault, victim host, run id)
PrepareFn = Callable[[Fault, str], tuple[bool, str]]  # (fault, victim host) -> (ok, output)


@dataclass(frozen=True)
class PlannedFault:
    fault: Fault
    host: str
    run_id: str
    extravars: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    matrix_id: str
    phase: str
    at_s: float
    duration_s: float
    inventory: Path
    results_root: Path
    faults: tuple[PlannedFault, ...]
    skipped: tuple[str, ...] = ()

    @property
    def out_dir(self) -> Path:
        return self.results_root / f"faults-{self.matrix_id}"


@dataclass
class Outcome:
    plan: Plan
    rows: list[FaultRow] = field(default_factory=list)
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        if any(r.verdict == "FAIL" for r in self.rows):
            return EXIT_DATA_FAILED
        if any(r.verdict != "PASS" or r.exit_code not in (EXIT_OK, None) for r in self.rows):
            return EXIT_FAILED
        return EXIT_OK


def has_veth(host: str) -> bool:
    """Whether `host` is a virtual-lab node: its veth in this machine's root namespace."""
    return Path(f"/sys/class/net/bv-{host}").exists()


def make_plan(
    repo: Path,
    results_root: Path,
    inventory: Path,
    faults_text: str | None,
    at_s: float,
    duration_s: float,
    extra: Mapping[str, str],
    *,
    now: datetime | None = None,
    token: str | None = None,
    veth: Callable[[str], bool] = has_veth,
) -> Plan:
    """Check every input and name the matrix and its runs; FaultError/ParamError on the first
    problem, before anything is created or run."""
    faults = parse_faults(faults_text)
    if not at_s > 0:
        raise FaultError(f"--at {at_s:g} must be > 0 s; fix: e.g. --at 30")
    if at_s + MIN_AFTER_S > duration_s:
        raise FaultError(
            f"--at {at_s:g} leaves under {MIN_AFTER_S:.0f} s of load after the fault with "
            f"--duration {duration_s:g}; fix: --duration {at_s + 60:g} or an earlier --at"
        )
    given = dict(extra)
    phase = str(given.pop("phase", DEFAULT_PHASE))
    for name in SET_HERE:
        if name in given:
            raise FaultError(
                f"-e {name}={given[name]} is set for each fault by this command; fix: drop it"
                + (" and pass --duration" if name == "duration" else "")
            )
    phases = load_phases(repo)
    stamp, rand = utc_stamp(now), token or secrets.token_hex(2)
    planned: list[PlannedFault] = []
    skipped: list[str] = []
    for fault in faults:
        params = {**given, "target": fault.target, "duration": f"{duration_s:g}"}
        resolve(phases, phase, params)  # ParamError names the field and the fix
        hosts = group_hosts(inventory, fault.group)
        if not hosts:
            raise FaultError(
                f"--faults {fault.name}: inventory {inventory} has no host in group "
                f"{fault.group}; fix: use the kit's inventories (inventory/local, virtual)"
            )
        if fault.kind == PARTITION and not veth(hosts[0]):
            skipped.append(
                f"{fault.name}: skipped, inventory {inventory} is not the virtual lab (no "
                f"link bv-{hosts[0]} on this machine); run it with -i inventory/virtual"
            )
            continue
        run_id = f"{stamp}-p{phase}-{fault.target}-{fault.name.replace('_', '-')}-{rand}"
        extravars = {**params, **dict(fault.extravars), "phase": phase, "benchlab_run_id": run_id}
        planned.append(PlannedFault(fault, hosts[0], run_id, extravars))
    plan = Plan(
        f"{stamp}-{rand}",
        phase,
        at_s,
        duration_s,
        inventory,
        results_root,
        tuple(planned),
        tuple(skipped),
    )
    for path in [plan.out_dir, *(results_root / p.run_id for p in planned)]:
        if path.exists():
            raise ParamError(
                "results", f"{path} exists", "faults never overwrite results: run again (new id)"
            )
    return plan


def _doc(plan: Plan, status: str, injections: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": plan.matrix_id,
        "status": status,
        "inventory": str(plan.inventory),
        "phase": plan.phase,
        "at_s": plan.at_s,
        "duration_s": plan.duration_s,
        "skipped": list(plan.skipped),
        "injections": injections,
    }


def note_exit(row: FaultRow, code: int | None, log: Path) -> None:
    row.exit_code = code
    if code == EXIT_INTERRUPTED:
        row.notes.append("interrupted: the run's partial result, as it was fetched")
    elif code not in (EXIT_OK, EXIT_DATA_FAILED, None):
        row.notes.append(f"bench.yml exited {code}: see {log}")


def execute(
    plan: Plan,
    runner: BenchRunner,
    strike: InjectFn,
    should_stop: Callable[[], bool],
    say: Callable[[str], None],
    prepare: PrepareFn | None = None,
) -> Outcome:
    plan.out_dir.mkdir(parents=True, exist_ok=False)
    outcome = Outcome(plan)
    injections: dict[str, Any] = {}
    for line in plan.skipped:
        say(line)
    for i, item in enumerate(plan.faults, start=1):
        if should_stop():
            outcome.interrupted = True
            break
        label = f"[{i}/{len(plan.faults)}] {item.fault.name} "
        log = plan.out_dir / f"{item.fault.name}.log"
        say(f"{label}run {item.run_id} (target {item.fault.target}, victim {item.host}); log {log}")
        if prepare is not None:
            ready, output = prepare(item.fault, item.host)
            if output:
                say(f"{label}{output.splitlines()[-1]}")
            if not ready:
                row = FaultRow(item.fault.name, item.fault.target, item.run_id, "NOT RUN",
                               host=item.host)  # fmt: skip
                row.notes.append(f"its prepare step failed on {item.host}: {output[-300:]}")
                outcome.rows.append(row)
                report.write(plan.out_dir, _doc(plan, "running", injections), outcome.rows)
                continue
        done: list[Injection] = []
        lock = threading.Lock()

        def fire(
            item: PlannedFault = item, done: list[Injection] = done, lock: threading.Lock = lock
        ) -> None:
            result = strike(item.fault, item.host, item.run_id)
            with lock:
                done.append(result)
            say(
                f"{item.fault.name}: {'injected' if result.ok else 'NOT injected'} on "
                f"{item.host} (rc {result.rc}): {result.output.splitlines()[-1:] or ''}"
            )

        striker = Striker(item.fault.target, plan.at_s, fire)
        t0 = time.monotonic()
        code = runner(item.extravars, label=label, log=log, on_progress=striker.feed)
        striker.cancel()
        striker.wait(STRIKE_WAIT_S)
        injection = done[0] if done else None
        if injection is not None:
            injections[item.fault.name] = injection.as_dict()
        row = analyse(plan.results_root / item.run_id, item.fault, injection)
        note_exit(row, code, log)
        outcome.rows.append(row)
        say(
            f"{label}{row.verdict} in {time.monotonic() - t0:.0f} s: lost {row.lost}, first "
            f"write {row.first_write_s} s, restarted by {row.restarted_by}"
        )
        report.write(plan.out_dir, _doc(plan, "running", injections), outcome.rows)
        if code == EXIT_INTERRUPTED or should_stop():
            outcome.interrupted = True
            break
    status = "PARTIAL" if outcome.interrupted else "complete"
    if outcome.interrupted:
        ran = {r.fault for r in outcome.rows}
        left = [p.fault.name for p in plan.faults if p.fault.name not in ran]
        write_text_atomic(
            plan.out_dir / PARTIAL_FILE,
            "interrupted; not run: " + (", ".join(left) or "none") + "\n",
        )
    report.write(plan.out_dir, _doc(plan, status, injections), outcome.rows)
    return outcome


def rewrite(out_dir: Path, results_root: Path) -> Outcome:
    """The table of a matrix again from its faults.json (the injections, the run ids) and the
    runs' folders as they are now: after the analysis changed, or a run was re-fetched."""
    from benchlab.faults.catalogue import BY_NAME
    from benchlab.results import read_json

    doc = read_json(out_dir / report.FAULTS_JSON)
    if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list):
        raise FaultError(f"{out_dir}: no faults.json with rows; fix: give results/faults-<id>")
    rows: list[FaultRow] = []
    planned: list[PlannedFault] = []
    for old in doc["rows"]:
        fault = BY_NAME[old["fault"]]
        found = (doc.get("injections") or {}).get(fault.name)
        injection = Injection(**found) if found else None
        row = analyse(results_root / old["run_id"], fault, injection)
        note_exit(row, old.get("exit_code"), out_dir / f"{fault.name}.log")
        rows.append(row)
        planned.append(PlannedFault(fault, str(old.get("host")), old["run_id"], {}))
    plan = Plan(
        str(doc["id"]), str(doc["phase"]), float(doc["at_s"]), float(doc["duration_s"]),
        Path(doc["inventory"]), results_root, tuple(planned), tuple(doc.get("skipped") or []),
    )  # fmt: skip
    status = str(doc.get("status") or "complete")
    report.write(out_dir, _doc(plan, status, doc.get("injections") or {}), rows)
    return Outcome(plan, rows, interrupted=doc.get("status") == "PARTIAL")


def summary_lines(outcome: Outcome) -> Sequence[str]:
    lines = [
        f"{r.fault}: {r.verdict}, lost {r.lost}, duplicates {r.duplicates}, results/{r.run_id}"
        for r in outcome.rows
    ]
    lines.append(f"matrix: {outcome.plan.out_dir / report.FAULTS_MD}")
    return lines


def default_prepare(repo: Path, inventory: Path) -> PrepareFn:
    def ready(fault: Fault, host: str) -> tuple[bool, str]:
        try:
            return prepare(fault, repo, inventory, host)
        except Exception as exc:  # the row says the fault was not run, and why
            return False, f"{type(exc).__name__}: {exc}"

    return ready


def default_strike(repo: Path, inventory: Path) -> InjectFn:
    def strike(fault: Fault, host: str, run_id: str) -> Injection:
        try:
            return inject(fault, repo, inventory, host, run_id)
        except Exception as exc:  # the run goes on; the row says the fault was not injected
            return Injection(
                fault.name, host, time.time(), None, None, f"{type(exc).__name__}: {exc}"
            )

    return strike
