"""`bench.yml -e workers=1` on the local inventory (one worker, so 1 is every worker): the
worker-set play changes nothing, the run records its worker count, and the only changed
tasks are the run's own. Two workers (workers=1 vs 2) need inventory/virtual."""

from __future__ import annotations

import json
import re

from conftest import REPO, Lab, run_playbook

# The play of playbooks/bench_run.yml: its tasks change by nature (a new run each time).
RUN_PLAY = "Run the benchmark from the load generator"


def changed_tasks(stdout: str) -> set[tuple[str, str]]:
    """(play, task) of every task with a `changed:` result in ansible-playbook's output."""
    out: set[tuple[str, str]] = set()
    play = task = ""
    for line in stdout.splitlines():
        if m := re.match(r"PLAY \[(.*)\] \*+", line):
            play = m.group(1)
        elif m := re.match(r"TASK \[(.*)\] \*+", line):
            task = m.group(1)
        elif line.startswith("changed: ["):
            out.add((play, task))
    return out


def test_one_worker_bench_changes_only_the_run(lab: Lab) -> None:
    run = run_playbook("bench.yml", "-e", "phase=smoke", "-e", "target=pipeline", "-e", "workers=1")
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    assert "workers 1 of 1: DataNodes localhost; Spark workers localhost" in run.stdout
    outside = {(play, task) for play, task in changed_tasks(run.stdout) if play != RUN_PLAY}
    assert not outside, outside
    match = re.search(r"report: (\S+)/results/(\S+)/report\.md", run.stdout)
    assert match, run.stdout[-3000:]
    run_dir = REPO / "results" / match.group(2)
    config = json.loads((run_dir / "run.json").read_text())["config"]
    assert config["workers"] == {
        "count": 1,
        "of": 1,
        "hosts": {"hdfs_datanodes": ["localhost"], "spark_workers": ["localhost"]},
    }
    assert config["services"]["spark-worker"]["instances"] == 1
    report = (run_dir / "report.md").read_text()
    assert "| workers | 1 of 1; hdfs_datanodes: localhost; spark_workers: localhost |" in report
