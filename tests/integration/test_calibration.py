"""calibrate.yml end to end on this machine: real fio and db_bench, briefly.

Runs `ansible-playbook calibrate.yml -e @tests/integration/calibration-short.yml`
(calibration_quick: about 1.5 minutes here) and checks the report carries real, positive figures.
Independent of the `lab` fixture: calibration needs only the local inventory.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid

from conftest import REPO, run_playbook


def test_calibrate_playbook_produces_report() -> None:
    run = run_playbook(
        "calibrate.yml", "-e", "@tests/integration/calibration-short.yml", timeout=900
    )
    assert run.returncode == 0, f"calibrate.yml failed:\n{run.stdout[-6000:]}\n{run.stderr[-3000:]}"
    assert re.search(r"localhost\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=0", run.stdout)
    match = re.search(r"report: (\S+/calibration-[^/\s]+)/report\.md", run.stdout)
    assert match, run.stdout[-3000:]
    run_dir = REPO / "results" / match[1].rsplit("/", 1)[-1]
    assert (run_dir / "report.md").exists()
    host = run_dir / "localhost"
    doc = json.loads((host / "report.json").read_text())

    device, engine = doc["device"], doc["engine"]
    assert device["B_w"] > 0 and device["B_r"] > 0 and device["B_mix"] > 0
    assert engine["mib_s"] > 0 and engine["ops_s"] > 0
    assert 0 < engine["CR"] <= 1.0
    assert engine["WA_log"] >= 1.0
    assert engine["device_write_bytes"] > 0 and engine["cpu_seconds"] > 0
    assert 0.0 <= engine["stall_percent"] <= 100.0
    levels = {lv["level"]: lv for lv in doc["levels"]}
    assert "L0" in levels and "L1" in levels, levels.keys()
    assert levels["L1"]["comp_sec"] > 0
    for name in ("v1", "v2.1", "v3"):
        prediction = doc["predictions"][name]
        assert prediction["mib_s"] > 0, name
        assert prediction["bottleneck"], name
    # the sustainable-rate search ran for both workloads (quick: one trial each)
    assert set(doc["searches"]) == {"A", "B"}
    for search in doc["searches"].values():
        assert search["burst_mib_s"] > 0 and search["trials"]
        for trial in search["trials"]:
            assert trial["achieved_mib_s"] > 0 and trial["points"] >= 1
    assert doc["searches"]["B"]["value_size"] != doc["searches"]["A"]["value_size"]
    assert doc["burst_b"]["mib_s"] > 0
    assert (host / "throughput.png").stat().st_size > 1000
    # raw outputs fetched, nothing left behind on the host's data directory
    for name in (
        "dbbench.stdout",
        "dbbench.LOG",
        "fio-write.json",
        "fio-mixed.json",
        "host.json",
        "dbbench-B.stdout",
        "search-A.json",
        "trial-A-1-01.LOG",
    ):
        assert (host / name).stat().st_size > 0, name


def test_calibrate_refuses_existing_id() -> None:
    calibration_id = f"pytest-refusal-{uuid.uuid4().hex[:8]}"
    existing = REPO / "results" / f"calibration-{calibration_id}"
    existing.mkdir(parents=True)
    try:
        run = run_playbook("calibrate.yml", "-e", f"calibration_id={calibration_id}", timeout=300)
    finally:
        shutil.rmtree(existing)
    assert run.returncode != 0
    assert "never overwritten" in " ".join(run.stdout.split())
    assert not (REPO / "results" / f"calibration-{calibration_id}" / "localhost").exists()
