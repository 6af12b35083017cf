"""A scaled-down soak of the local PostgreSQL as a user runs it (README "Soak").

`ansible-playbook bench.yml -e phase=soak -e target=postgresql -e soak_rate=2000
-e duration=180`, with the analysis' steps shortened (memory every 10 s, p99 per 15 s, 60 s
measured enough) so three minutes hold enough points to judge: the soak's figures are filled
from the real services (working set from Prometheus, latency per window from the generator),
the audit lost nothing, and soak.md, soak.png and the target's own run folder and report are
fetched to results/.

Marked `long` (make test-long): a soak is hours on a real lab; CI's budget is full. The rate
comes from -e soak_rate, so no search is needed first; the rule itself is unit-tested on
synthetic series (tests/unit/test_soak.py).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, Lab, PlaybookRun, run_playbook

pytestmark = pytest.mark.long

RATE = 2000
DURATION = 180


@pytest.fixture(scope="module")
def soaked(lab: Lab) -> tuple[PlaybookRun, Path]:
    run_id = f"it-soak-{uuid.uuid4().hex[:10]}"
    soak = yaml.safe_load((REPO / "group_vars/all/soak.yml").read_text())["benchlab_soak"]
    soak.update(step_s=10, window_s=15, min_span_s=60)
    run = run_playbook(
        "bench.yml", "-e", "phase=soak", "-e", "target=postgresql",
        "-e", f"soak_rate={RATE}", "-e", f"duration={DURATION}",
        "-e", f"benchlab_run_id={run_id}", "-e", json.dumps({"benchlab_soak": soak}),
        timeout=1800,
    )  # fmt: skip
    return run, REPO / "results" / run_id


def doc(soaked: tuple[PlaybookRun, Path]) -> dict[str, Any]:
    run, run_dir = soaked
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    return json.loads((run_dir / "soak.json").read_text())


def test_soak_fills_memory_trend_latency_drift_and_audit(soaked: tuple[PlaybookRun, Path]) -> None:
    d = doc(soaked)
    assert d["status"] == "complete" and d["kind"] == "soak"
    t = d["targets"]["postgresql"]
    assert t["rate"] == {"rate_per_s": RATE, "source": "-e soak_rate"}
    assert t["offered_per_s"] == RATE and t["duration_s"] == DURATION
    assert t["warmup_s"] == DURATION / 4  # at most a quarter of -e duration
    assert t["audit"]["lost"] == 0 and t["audit"]["duplicates"] == 0
    assert d["data_verdict"]["postgresql"]["status"] == "PASS"
    memory = t["memory"]["postgresql@localhost"]
    assert memory["points"] >= 12, memory
    for figure in ("slope_mib_per_h", "r2", "slope_stderr_mib_per_h", "tail_slope_mib_per_h",
                   "first_quarter_mib", "last_quarter_mib", "peak_pct_of_limit"):  # fmt: skip
        assert memory[figure] is not None, (figure, memory)
    assert memory["limit_bytes"] > 0
    assert memory["verdict"] in ("leak suspected", "no leak"), memory
    latency = t["latency"]
    assert len(latency["windows"]) == 9, latency["windows"]  # 135 s measured / 15 s
    assert all(w["batches"] > 0 and w["p99_ms"] > 0 for w in latency["windows"])
    assert latency["slope_ms_per_h"] is not None and latency["r2"] is not None
    assert latency["first_quarter_p99_ms"] > 0 and latency["last_quarter_p99_ms"] > 0
    assert latency["verdict"] in ("steady", "drifting")
    assert t["leak"] in ("leak suspected", "no leak")


def test_soak_report_chart_and_run_folder_are_fetched(soaked: tuple[PlaybookRun, Path]) -> None:
    run, run_dir = soaked
    d = doc(soaked)
    assert f"results/{run_dir.name}/soak.md" in run.stdout
    md = (run_dir / "soak.md").read_text()
    assert "**Leak rule**" in md and "| postgresql | postgresql@localhost |" in md
    assert "| postgresql | 2,000 | -e soak_rate | 0 / 0 | PASS |" in md
    assert (run_dir / "soak.png").stat().st_size > 10_000
    target_run = run_dir / d["targets"]["postgresql"]["run_dir"]
    assert (target_run / "report.md").is_file() and (target_run / "run.json").is_file()
    assert (run_dir / "postgresql-batch-latency.csv").is_file()
    assert not (REPO / "results" / ".in-progress" / f"{run_dir.name}.json").exists()
