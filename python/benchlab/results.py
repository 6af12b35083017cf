"""The results directory of a run (docs/architecture.md, "Results directory").

A run directory is created once (exist_ok=False) and never reused by another run; only
run.json and report.md are rewritten, by the run itself and by `benchlab report`.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PARTIAL_MARKER = "PARTIAL"
RUN_FILE = "run.json"  # a phase run's record
SEARCH_FILE = "search.json"  # a sustainable-throughput search's record


class ResultsError(RuntimeError):
    """A results directory problem (exists already, missing, unreadable)."""


def utc_iso(ts: float | None = None) -> str:
    t = datetime.now(tz=UTC) if ts is None else datetime.fromtimestamp(ts, tz=UTC)
    return t.isoformat(timespec="seconds").replace("+00:00", "Z")


def utc_stamp(now: datetime | None = None) -> str:
    """The UTC timestamp that starts every run, search and report id: 20261130T221051Z."""
    return (now or datetime.now(tz=UTC)).strftime("%Y%m%dT%H%M%SZ")


def new_report_id() -> str:
    """A report's id: the UTC timestamp and 4 random hex digits (20261130T221051Z-baa8)."""
    return f"{utc_stamp()}-{secrets.token_hex(2)}"


def check_new_run_dir(root: Path, run_id: str) -> Path:
    path = root / run_id
    if path.exists():
        raise ResultsError(
            f"results for run {run_id} already exist at {path}; a run never overwrites another: "
            "use a new run_id"
        )
    return path


def create_run_dir(root: Path, run_id: str) -> Path:
    path = check_new_run_dir(root, run_id)
    root.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(exist_ok=False)
    except FileExistsError as exc:
        raise ResultsError(f"results for run {run_id} already exist at {path}") from exc
    for sub in ("latency", "timeseries", "metrics", "acked"):
        (path / sub).mkdir()
    return path


def write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as exc:
        raise ResultsError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            f"fix: restore it from a copy of that results directory, or move the directory "
            "out of the results folder"
        ) from exc
    except OSError as exc:
        raise ResultsError(f"cannot read {path}: {exc.strerror or exc}") from exc


def result_kind(run_dir: Path) -> str | None:
    """What the directory holds: "run" (run.json), "search" (search.json) or None."""
    if (run_dir / RUN_FILE).is_file():
        return "run"
    if (run_dir / SEARCH_FILE).is_file():
        return "search"
    return None


def resolve_result_dir(item: str, results_root: Path) -> Path:
    """A run or search directory given as a path or as a run id under results_root."""
    path = Path(item)
    for candidate in (path, results_root / item):
        if result_kind(candidate) is not None:
            return candidate
    raise ResultsError(
        f"run {item!r}: no {RUN_FILE} or {SEARCH_FILE} at {path} or {results_root / item}; "
        "fix: give results/<run_id> directories (see `benchlab results list`)"
    )


def read_throughput_csv(path: Path) -> list[dict[str, float]]:
    """timeseries/<target>-throughput.csv: one row per second of load (second, unix_time,
    records_sent, records_acked, batches_failed, latency_max_ms); [] when missing or
    unreadable. An empty cell (no batch in that second) is left out of its row."""
    rows: list[dict[str, float]] = []
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                rows.append({k: float(v) for k, v in row.items() if k and v not in (None, "")})
    except (OSError, ValueError):
        return []
    return rows


def open_run_dir(path: Path) -> Path:
    if not (path / RUN_FILE).is_file():
        raise ResultsError(f"{path} is not a benchlab run directory (no run.json)")
    return path
