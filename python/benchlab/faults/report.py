"""The matrix as one table: results/faults-<id>/faults.md and faults.json."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchlab.faults.analysis import RATE_FRACTION, RATE_WINDOW_S, FaultRow
from benchlab.faults.catalogue import BY_NAME
from benchlab.results import utc_iso, write_json, write_text_atomic

FAULTS_MD = "faults.md"
FAULTS_JSON = "faults.json"


def _s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _n(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def _errors(errors: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(errors.items())) or "none"


def table(rows: Sequence[FaultRow]) -> list[str]:
    lines = [
        "| fault | verdict | run | errors by kind | first write (s) | acked back (s) | "
        "stored back (s) | restarted by (recovery s) | acknowledged | found | lost | "
        "duplicates |",
        "|---|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        restart = r.restarted_by or "none"
        if r.restart_s is not None:
            restart += f" ({r.restart_s:.1f})"
        lines.append(
            f"| {r.fault} | {r.verdict} | {r.run_id or 'n/a'} | {_errors(r.errors)} | "
            f"{_s(r.first_write_s)} | {_s(r.acked_back_s)} | {_s(r.stored_back_s)} | "
            f"{restart} | {_n(r.acknowledged)} | {_n(r.found)} | {_n(r.lost)} | "
            f"{_n(r.duplicates)} |"
        )
    return lines


def markdown(doc: dict[str, Any], rows: Sequence[FaultRow]) -> str:
    out = [
        f"# Fault matrix {doc['id']}",
        "",
        f"Inventory {doc['inventory']}, phase {doc['phase']}, load {doc['duration_s']:.0f} s "
        f"per fault, injected at {doc['at_s']:.0f} s of load. Status: {doc['status']}.",
        "",
        *table(rows),
        "",
        "Times are seconds after the injection (the victim host's clock). First write: the "
        "first acknowledgement of a batch due after the injection (upper bound, 1 s "
        f"resolution). Acked back: the end of the first {RATE_WINDOW_S} s window whose "
        f"acknowledged records reach {RATE_FRACTION:.0%} of the records the schedule made due "
        "in it (whole batches). Stored back: "
        "PostgreSQL = acked back (commit = acknowledgement); pipeline: the first HDFS commit, "
        "from the worst one after the fault, whose backlog is back at its level of the 30 s "
        "before it. n/a: not reached within the run, or not measurable. Recovery s: "
        "supervisord's time to RUNNING (or to in service, where the service has a readiness "
        "check); the pipeline session's time from the kill to the job running again. Pipeline "
        "runs: a fault that took the streaming job down shows `job: pipeline session`, which "
        "restarts it from its checkpoint once the load has ended.",
        "",
        "## Per fault",
        "",
    ]
    for r in rows:
        fault = BY_NAME.get(r.fault)
        head = f"- **{r.fault}** ({fault.action if fault else ''}; on {r.host or 'n/a'}"
        if r.injected_at_load_s is not None:
            head += f", at {r.injected_at_load_s:.1f} s of load"
        if r.pre_fault_acked_fraction is not None:
            head += f"; acked/offered before it {r.pre_fault_acked_fraction:.0%}"
        out.append(head + f"): {r.verdict}, data verdict {r.data_verdict or 'n/a'}.")
        out += [f"  - {note}" for note in r.notes]
    if doc.get("skipped"):
        out += ["", "## Skipped", ""]
        out += [f"- {line}" for line in doc["skipped"]]
    return "\n".join(out) + "\n"


def write(out_dir: Path, doc: dict[str, Any], rows: Sequence[FaultRow]) -> Path:
    """faults.json and faults.md (rewritten after each fault: a cut-short matrix keeps them)."""
    full = {**doc, "written": utc_iso(), "rows": [r.as_dict() for r in rows]}
    write_json(out_dir / FAULTS_JSON, full)
    write_text_atomic(out_dir / FAULTS_MD, markdown(doc, rows))
    return out_dir / FAULTS_MD
