"""The fault matrix on the local lab, as a user runs it (README, "Faults"):

    benchlab faults run --faults postgresql_kill,kafka_kill --duration 60 --at 20

Each fault's run must lose no acknowledged record and record the kit's supervisord restart of
its victim; the matrix's faults.json names each run folder. Marked `long` (two bench runs with
the pipeline's streaming job, ~10 min on a 2-core machine).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO, VENV_BIN, Lab

pytestmark = pytest.mark.long


def test_postgresql_and_kafka_kill_lose_nothing_and_are_restarted(lab: Lab) -> None:
    before = {p.name for p in (REPO / "results").glob("faults-*")}
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "python"),
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "benchlab.cli", "faults", "run", "--quiet",
         "--faults", "postgresql_kill,kafka_kill", "--duration", "60", "--at", "20"],
        cwd=REPO, capture_output=True, text=True, timeout=3600, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    (matrix,) = [p for p in (REPO / "results").glob("faults-*") if p.name not in before]
    doc = json.loads((matrix / "faults.json").read_text())
    rows = {row["fault"]: row for row in doc["rows"]}
    assert set(rows) == {"postgresql_kill", "kafka_kill"}
    for name, row in rows.items():
        assert row["verdict"] == "PASS", row
        assert row["lost"] == 0 and row["acknowledged"] > 0, row
        assert row["restarted_by"] and row["restarted_by"].startswith("supervisord"), row
        assert (REPO / "results" / row["run_id"] / "run.json").is_file(), name
    assert "| postgresql_kill | PASS |" in (matrix / "faults.md").read_text()
