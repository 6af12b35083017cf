"""The results directory of a run (docs/architecture.md, "Results directory").

A run directory is created once (exist_ok=False) and never reused by another run; only
run.json and report.md are rewritten, by the run itself and by `benchlab report`.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PARTIAL_MARKER = "PARTIAL"


class ResultsError(RuntimeError):
    """A results directory problem (exists already, missing, unreadable)."""


def utc_iso(ts: float | None = None) -> str:
    t = datetime.now(tz=UTC) if ts is None else datetime.fromtimestamp(ts, tz=UTC)
    return t.isoformat(timespec="seconds").replace("+00:00", "Z")


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
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultsError(f"cannot read {path}: {exc}") from exc


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
    if not (path / "run.json").is_file():
        raise ResultsError(f"{path} is not a benchlab run directory (no run.json)")
    return path


def list_runs(root: Path) -> list[dict[str, Any]]:
    """One summary per run directory under root, oldest first."""
    runs: list[dict[str, Any]] = []
    if not root.is_dir():
        return runs
    for path in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            run = read_json(path / "run.json")
        except ResultsError:
            run = None
        if not isinstance(run, dict):
            continue
        figures = run.get("figures") or {}
        runs.append(
            {
                "run_id": run.get("run_id", path.name),
                "path": str(path),
                "phase": run.get("phase"),
                "status": run.get("status"),
                "partial": (path / PARTIAL_MARKER).exists(),
                "created": run.get("created"),
                "targets": run.get("targets", []),
                "overall": {t: f.get("overall") for t, f in figures.items()},
                "throughput": {t: f.get("throughput_per_s") for t, f in figures.items()},
            }
        )
    return runs
