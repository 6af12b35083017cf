"""`ansible-playbook bench.yml -e phase=smoke` (target=all: PostgreSQL, then the Kafka ->
Spark -> HDFS pipeline) writes results/<run_id>/ with a report holding both systems and
an audit that lost nothing on either."""

from __future__ import annotations

import json
import re

from conftest import REPO, Lab, run_playbook


def test_smoke_bench_produces_report_with_no_loss(lab: Lab) -> None:
    before = {p.name for p in (REPO / "results").iterdir()}
    run = run_playbook("bench.yml", "-e", "phase=smoke")
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    match = re.search(r"report: (\S+)/results/(\S+)/report\.md", run.stdout)
    assert match, run.stdout[-3000:]
    run_dir = REPO / "results" / match.group(2)
    assert run_dir.name not in before
    assert (run_dir / "report.md").stat().st_size > 0
    assert json.loads((run_dir / "run.json").read_text())
    audit = json.loads((run_dir / "audit.json").read_text())
    for target in ("postgresql", "pipeline"):
        assert audit[target]["acknowledged"] > 0, audit
        assert audit[target]["lost"] == 0, audit
        assert audit[target]["duplicates"] == 0, audit
    load = json.loads((run_dir / "load.json").read_text())
    streaming = load["pipeline"]["streaming"]
    assert streaming["drained"] is True, streaming
    assert streaming["rows_committed"] == audit["pipeline"]["acknowledged"]
    assert streaming["freshness_ms"]["p50"] > 0
    report = (run_dir / "report.md").read_text()
    assert "| figure | postgresql | pipeline |" in report
