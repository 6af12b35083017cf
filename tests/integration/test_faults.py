"""The fault matrix on the local lab, as a user runs it (README, "Faults").

- CI: the PostgreSQL postmaster killed mid-load (a smoke-rate run, bench.yml without its lab
  plays: --skip-lab): nothing acknowledged is lost and the kit's supervisord restart is
  recorded. The broker kill runs in
  test_targets.py, on the inventory without PostgreSQL, and the partition on the virtual lab
  (molecule/virtual/tests/test_smoke_bench.py).
- `long`: the disk-full fault, whose run writes into a table on a 256 MiB tmpfs that is
  filled for 20 s, then freed.

Every fault's run must lose no acknowledged record; the matrix's faults.json names each run
folder and faults.md has the table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, VENV_BIN, Lab


def run_matrix(*args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`benchlab faults run ARGS` from the repo; its output and the new matrix folder."""
    before = {p.name for p in (REPO / "results").glob("faults-*")}
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "python"),
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "benchlab.cli", "faults", "run", "--quiet", *args],
        cwd=REPO, capture_output=True, text=True, timeout=3600, env=env, check=False,
    )  # fmt: skip
    made = [p for p in (REPO / "results").glob("faults-*") if p.name not in before]
    assert len(made) == 1, done.stdout[-3000:] + done.stderr[-2000:]
    return done, made[0]


def rows_of(matrix: Path) -> dict[str, dict[str, Any]]:
    doc = json.loads((matrix / "faults.json").read_text())
    return {row["fault"]: row for row in doc["rows"]}


def test_postgresql_kill_loses_nothing_and_is_restarted(lab: Lab) -> None:
    # the session's lab is up as site.yml left it: its plays are not applied again
    done, matrix = run_matrix(
        "--faults", "postgresql_kill", "--duration", "20", "--at", "8", "-e", "phase=smoke",
        "--skip-lab",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    row = rows_of(matrix)["postgresql_kill"]
    assert row["verdict"] == "PASS", row
    assert row["lost"] == 0 and row["duplicates"] == 0 and row["acknowledged"] > 0, row
    assert row["acknowledged"] == row["found"], row
    assert row["restarted_by"] and row["restarted_by"].startswith("supervisord"), row
    # writes came back within the run: the first acknowledgement of a batch due after the kill
    assert row["first_write_s"] is not None and row["first_write_s"] < 12, row
    assert (REPO / "results" / row["run_id"] / "run.json").is_file()
    assert f"| postgresql_kill | PASS | {row['run_id']} |" in (matrix / "faults.md").read_text()


@pytest.mark.long
def test_a_full_disk_fails_writes_until_space_is_freed_and_loses_nothing(lab: Lab) -> None:
    done, matrix = run_matrix(
        "--faults", "postgresql_disk_full", "--duration", "60", "--at", "15", "-e", "phase=2"
    )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    row = rows_of(matrix)["postgresql_disk_full"]
    assert row["verdict"] == "PASS", row
    assert row["lost"] == 0 and row["acknowledged"] == row["found"] > 0, row
    # the load's batches failed for lack of space (SQLSTATE class 53), then committed again
    assert (row["errors"] or {}).get("resource", 0) > 0, row
    assert row["first_write_s"] is not None and row["first_write_s"] >= 15, row
    run = json.loads((REPO / "results" / row["run_id"] / "run.json").read_text())
    assert run["config"]["targets"][0]["sink"]["table"] == "events_disk_full"
