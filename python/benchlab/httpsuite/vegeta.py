"""vegeta (github.com/tsenart/vegeta, MIT), the suite's load tool: command lines and outputs.

vegeta attacks at a constant rate (its ConstantPacer: request i is due at t0 + i / rate),
spawning workers as requests are outstanding (open model), up to ``-max-workers``. Each
result records when the request was actually sent (``timestamp``), its sequence number, its
latency, status code and error. ``report -type=json`` is the tool's own summary (kept as the
raw result: vegeta.json); ``encode -to=json`` gives the per-request rows the kit reads for
latency measured from the schedule, late and dropped requests (benchlab.httpsuite.figures).
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

# The version roles/vegeta builds (the Go module's tag); the report prints what the binary says.
VERSION = "v12.13.0"


class VegetaError(RuntimeError):
    pass


@dataclass(frozen=True)
class Attack:
    rate: float
    duration_s: float
    timeout_s: float
    max_in_flight: int

    def argv(self, vegeta: str, targets: Path, output: Path) -> list[str]:
        # rate as requests per second; a fractional rate is given per minute or hour exactly
        per_s = round(self.rate)
        rate = f"{per_s}/1s" if abs(per_s - self.rate) < 1e-9 else f"{round(self.rate * 60)}/1m"
        return [
            vegeta,
            "attack",
            "-format=json",
            f"-targets={targets}",
            f"-rate={rate}",
            f"-duration={self.duration_s:g}s",
            f"-timeout={self.timeout_s:g}s",
            "-workers=10",
            f"-max-workers={self.max_in_flight}",
            "-keepalive=true",
            "-max-body=256",
            f"-output={output}",
        ]


def write_targets(path: Path, targets: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for target in targets:
            fh.write(json.dumps(target, separators=(",", ":")) + "\n")


def run_attack(vegeta: str, attack: Attack, targets: Path, output: Path) -> None:
    proc = subprocess.run(
        attack.argv(vegeta, targets, output),
        capture_output=True,
        text=True,
        timeout=attack.duration_s + attack.timeout_s + 60,
        check=False,
    )
    if proc.returncode != 0:
        raise VegetaError(f"vegeta attack exited {proc.returncode}: {proc.stderr.strip()[-400:]}")


def report_json(vegeta: str, results: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [vegeta, "report", "-type=json", str(results)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise VegetaError(f"vegeta report exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
    return json.loads(proc.stdout)


def encode_rows(vegeta: str, results: Path) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [vegeta, "encode", "-to=json", str(results)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise VegetaError(f"vegeta encode exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
    return parse_encoded(proc.stdout)


def version(vegeta: str) -> str:
    try:
        proc = subprocess.run(
            [vegeta, "-version"], capture_output=True, text=True, check=False, timeout=10
        )
    except OSError as exc:
        raise VegetaError(f"{vegeta}: {exc}") from exc
    if proc.returncode != 0:
        raise VegetaError(f"{vegeta} -version exited {proc.returncode}")
    # `go install module@version` stamps no version into the binary (the Version line is
    # empty): the run configuration names the pinned one (roles/vegeta vegeta_version)
    for line in proc.stdout.splitlines():
        if line.lower().startswith("version:") and line.split(":", 1)[1].strip():
            return line.split(":", 1)[1].strip()
    return ""


def parse_time(text: str) -> float:
    """vegeta's RFC 3339 timestamp with nanoseconds -> unix seconds (float)."""
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    main, _, rest = text.partition(".")
    if rest:
        digits = re.match(r"\d*", rest).group(0)  # type: ignore[union-attr]
        tz = rest[len(digits) :]
        frac = float("0." + digits) if digits else 0.0
        base = datetime.fromisoformat(main + tz)
        return base.timestamp() + frac
    return datetime.fromisoformat(text).timestamp()


@dataclass(frozen=True)
class Row:
    seq: int
    sent: float  # unix seconds
    latency_s: float
    code: int
    error: str


def parse_encoded(text: str) -> list[Row]:  # type: ignore[override]
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        rows.append(
            Row(
                seq=int(r.get("seq", 0)),
                sent=parse_time(r["timestamp"]),
                latency_s=int(r.get("latency", 0)) / 1e9,
                code=int(r.get("code", 0)),
                error=str(r.get("error") or ""),
            )
        )
    rows.sort(key=lambda row: row.seq)
    return rows
