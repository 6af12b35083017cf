"""How the integration tests reach a lab and disturb a bench while it runs.

Shared by the local suite (tests/integration) and molecule's virtual scenario
(molecule/virtual/tests), so both kill a DataNode the same way.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SUPERVISOR_CONFIG, VENV_BIN, PlaybookRun, run_playbook

SUPERVISORCTL = f"supervisorctl -c {SUPERVISOR_CONFIG}"
RESULTS_ON_LOADGEN = "/var/lib/benchlab/results"
# The play of playbooks/bench_run.yml: its tasks change by nature (a new run each time).
RUN_PLAY = "Run the benchmark from the load generator"
# bench.yml's live progress line (benchlab.progress.LiveFigures.line, printed by the stdout
# callback plugins/callback/benchlab.py for each poll while the run's job runs)
PROGRESS_LINE = re.compile(
    r"^  \[(?P<host>[^\]]+)\] (?P<target>[\w-]+) (?:\[[^\]]*\] )?"
    r"(?P<stage>prepare|load|finish|audit) (?P<elapsed>\d+:\d\d)/(?P<total>\d+:\d\d)"
    r" · due (?P<due>[\d,]+) · acked (?P<acked>[\d,]+) · stored (?P<stored>[\d,]+|n/a)"
    r" · (?P<rate>[\d,.]+|n/a) acked/s · p99 (?P<p99>[\d,.]+|n/a) ms · errors (?P<errors>[\d,]+)",
    re.MULTILINE,
)


def progress_lines(stdout: str) -> list[dict[str, str]]:
    """Every progress line of a bench's output, as its named figures."""
    return [m.groupdict() for m in PROGRESS_LINE.finditer(stdout)]


def count(figure: str) -> int:
    return int(figure.replace(",", ""))


@dataclass(frozen=True)
class LabSite:
    """Where the services run and how to reach a host of that lab."""

    inventory: str | None  # None: ansible.cfg's default inventory (local)
    datanode_host: str  # inventory name of the host whose DataNode is killed
    loadgen_host: str

    def inventory_args(self) -> list[str]:
        return ["-i", self.inventory] if self.inventory else []

    def shell(self, host: str, command: str, timeout: int = 60) -> str:
        """stdout of `command` (as root) on an inventory host."""
        if self.inventory is None:
            argv = ["bash", "-c", command]
        else:
            argv = [
                str(VENV_BIN / "ansible"), "-i", self.inventory, host, "--become", "-o",
                "-m", "ansible.builtin.shell", "-a", command,
            ]  # fmt: skip
        # Plain output whatever the caller's environment (molecule forces colour).
        env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"}
        done = subprocess.run(
            argv, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False, env=env
        )
        assert done.returncode == 0, f"{host}: {command}: {done.stdout}{done.stderr}"
        if self.inventory is None:
            return done.stdout
        # ansible -o: "<host> | CHANGED | rc=0 | (stdout) <text, \n escaped>[ (stderr) <text>]"
        out = done.stdout.split("(stdout) ", 1)[-1].split(" (stderr) ", 1)[0]
        return out.replace("\\n", "\n")

    def datanode_pid(self) -> str:
        return self.shell(self.datanode_host, f"{SUPERVISORCTL} pid hdfs-datanode").strip()


LOCAL = LabSite(None, "localhost", "localhost")
# the three-node virtual lab (molecule/virtual): the generator on master, DataNode on worker1
VIRTUAL = LabSite("inventory/virtual", "worker1", "master")
VIRTUAL_NAMESPACES = {"benchlab-master", "benchlab-worker1", "benchlab-worker2"}


def virtual_lab_is_up() -> bool:
    """Whether the virtual lab's namespaces exist (roles/virtual_lab: benchlab-<node>)."""
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    names = {line.split()[0] for line in done.stdout.splitlines() if line.strip()}
    return names >= VIRTUAL_NAMESPACES


def wait_for_rows_in_hdfs(site: LabSite, run_id: str, bench: Future[PlaybookRun]) -> None:
    """Until the run's streaming job has committed a micro-batch with rows to HDFS."""
    progress = f"{RESULTS_ON_LOADGEN}/{run_id}/streaming/pipeline/progress.jsonl"
    deadline = time.monotonic() + 900  # bench.yml first brings the lab up (idempotent)
    while time.monotonic() < deadline:
        assert not bench.done(), bench.result().stdout[-4000:]
        text = site.shell(site.loadgen_host, f"cat {progress} 2>/dev/null || true")
        if re.search(r'"num_input_rows": *[1-9]', text):
            return
        time.sleep(2)
    pytest.fail(f"no rows reached HDFS in run {run_id} within 900 s")


@dataclass(frozen=True)
class KilledBench:
    """A smoke bench during which the DataNode was killed, and what came of it."""

    run: PlaybookRun
    run_dir: Path  # results/<run_id> on the controller
    killed_pid: str
    pid_after: str  # the DataNode's pid once the bench was over

    def json(self, name: str) -> Any:
        return json.loads((self.run_dir / name).read_text())

    def report(self) -> str:
        return (self.run_dir / "report.md").read_text()

    def assert_audits_clean(self) -> None:
        """Every target of `-e target=all` acknowledged records; the audits lost and
        duplicated none."""
        audit = self.json("audit.json")
        targets = self.json("run.json")["targets"]
        assert targets == ["postgresql", "pipeline", "kafka"], targets
        for target in targets:
            assert audit[target]["acknowledged"] > 0, audit
            assert audit[target]["lost"] == 0, audit
            assert audit[target]["duplicates"] == 0, audit
        assert "| figure | postgresql | pipeline | kafka |" in self.report()

    def assert_pipeline_drained(self) -> None:
        audit = self.json("audit.json")
        load = self.json("load.json")["pipeline"]
        streaming = load["streaming"]
        assert streaming["drained"] is True, streaming
        # At least once: a micro-batch retried around the killed DataNode may count twice
        # here, while the audit proves HDFS holds each acknowledged record exactly once.
        assert streaming["rows_committed"] >= audit["pipeline"]["acknowledged"], streaming
        # latency per record to the HDFS commit: every stored record has one, and it is
        # longer than Kafka's acknowledgement (a record is acknowledged before it is stored)
        latency, ack = load["latency_ms"], load["ack_latency_ms"]
        assert latency["count"] == audit["pipeline"]["rows_found"], load
        assert load["records_without_commit"] == 0, load
        assert latency["p50_ms"] > ack["p50_ms"] > 0, load

    def assert_restart_reported(self, host: str) -> None:
        """The killed DataNode on `host` was restarted by supervisord, back in service, and
        restarts.json, run.json and the report's restart table all record it once."""
        assert self.pid_after.isdigit() and self.pid_after != self.killed_pid
        doc = self.json("restarts.json")
        wanted = (host, "hdfs-datanode", self.killed_pid)
        killed = [r for r in doc["restarts"] if (r["host"], r["service"], r["exit_pid"]) == wanted]
        assert len(killed) == 1, doc
        restart = killed[0]
        assert restart["running_pid"] == self.pid_after, restart
        assert restart["recovery_s"] > 0, restart
        assert restart["state"] == "in service", restart
        assert restart["ready_s"] >= restart["recovery_s"], restart
        section = self.report().split("## Restarts during the run", 1)[1].split("\n## ", 1)[0]
        row = (
            f"| {host} | hdfs-datanode | {restart['exit_time']} "
            f"| {restart['running_time']} | {restart['recovery_s']:.3f} |"
        )
        assert row in section, section
        assert self.json("run.json")["restarts"]["restarts"] == doc["restarts"]


def bench_killing_datanode(site: LabSite, run_id: str, *extra: str) -> KilledBench:
    """Run a smoke bench.yml on `site` and kill -9 its DataNode once rows reach HDFS.

    30 s of load per target: the first micro-batch commits rows within a few trigger
    intervals (5 s), so the kill lands mid-load, and the DataNode's restart (about 5 s to
    RUNNING) falls inside the load or the drain that follows it.
    """
    bench_args = [
        *site.inventory_args(), "bench.yml", "-e", "phase=smoke", "-e", "duration=30",
        "-e", f"benchlab_run_id={run_id}", *extra,
    ]  # fmt: skip
    with ThreadPoolExecutor(max_workers=1) as pool:
        bench = pool.submit(run_playbook, *bench_args, timeout=2400)
        wait_for_rows_in_hdfs(site, run_id, bench)
        killed = site.datanode_pid()
        assert killed.isdigit(), killed
        site.shell(site.datanode_host, f"kill -9 {killed}")
        run = bench.result()
    return KilledBench(run, REPO / "results" / run_id, killed, site.datanode_pid())


def changed_tasks(stdout: str) -> set[tuple[str, str, str]]:
    """(play, task or handler, host) of every `changed:` result in ansible-playbook's output."""
    out: set[tuple[str, str, str]] = set()
    play = task = ""
    for line in stdout.splitlines():
        if m := re.match(r"PLAY \[(.*)\] \*+", line):
            play = m.group(1)
        elif m := re.match(r"(?:TASK|RUNNING HANDLER) \[(.*)\] \*+", line):
            task = m.group(1)
        elif m := re.match(r"changed: \[([^\]]+)\]", line):
            out.add((play, task, m.group(1)))
    return out
