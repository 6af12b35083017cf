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
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, SUPERVISOR_CONFIG, VENV_BIN, PlaybookRun, run_playbook
from exposure import kit_pids, kit_ports, loopback_ports, misplaced, parse_ss, secret_leaks

SUPERVISORCTL = f"supervisorctl -c {SUPERVISOR_CONFIG}"
RESULTS_ON_LOADGEN = "/var/lib/benchlab/results"
KIT = {
    **yaml.safe_load((REPO / "group_vars/all/kit.yml").read_text()),
    **yaml.safe_load((REPO / "group_vars/all/ports.yml").read_text()),
}
_PG = yaml.safe_load((REPO / "roles/postgresql/defaults/main.yml").read_text())
# The generated password: on the controller (postgresql_secrets_dir is REPO/secrets) and
# on the PostgreSQL host and the load generators.
PASSWORD_ON_CONTROLLER = REPO / "secrets" / Path(_PG["postgresql_password_file"]).name
PASSWORD_ON_HOSTS = _PG["postgresql_password_file"]
# Where a host could write the password by mistake: the kit's logs, the runs' results and
# Ansible's async job files (bench.yml runs `benchlab run` as an async task).
HOST_LEAK_DIRS = ("/var/log/benchlab", RESULTS_ON_LOADGEN, "/root/.ansible_async")
_SUPERVISOR_PIDFILE = Path(
    yaml.safe_load((REPO / "roles/resource_limits/defaults/main.yml").read_text())[
        "resource_limits_supervisor_pidfile"
    ]
)
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
    postgresql_host: str = "localhost"
    hosts: tuple[str, ...] = ("localhost",)
    # The virtual lab's nodes are network namespaces of this machine, "<prefix><node>": their
    # sockets are read from here in milliseconds, mid-run, without an Ansible run.
    netns_prefix: str | None = None

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

    def listening(self) -> dict[str, str]:
        """`ss -Htlnp` of every host, now."""
        out = {}
        for host in self.hosts:
            if self.inventory is None:
                argv = ["ss", "-Htlnp"]
            elif self.netns_prefix:
                argv = ["ip", "netns", "exec", f"{self.netns_prefix}{host}", "ss", "-Htlnp"]
            else:
                out[host] = self.shell(host, "ss -Htlnp")
                continue
            out[host] = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        return out

    def address(self, host: str) -> str:
        """The host's benchlab_host_address."""
        if self.inventory is None:
            return "127.0.0.1"
        if self.netns_prefix:
            argv = ["ip", "netns", "exec", f"{self.netns_prefix}{host}", "ip", "-4", "-o", "addr",
                    "show", "eth0"]  # fmt: skip
            out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        else:
            out = self.shell(host, "ip -4 -o addr show scope global")
        return out.split()[3].split("/")[0]

    def password_leaks_on_hosts(self) -> list[str]:
        """Files on the hosts holding the password (each host greps with its own copy, so the
        password never travels): the PostgreSQL host and the load generator."""
        found = []
        for host in dict.fromkeys((self.postgresql_host, self.loadgen_host)):
            out = self.shell(
                host,
                # grep -f with an empty file would match nothing: no password, no proof.
                f"test -s {PASSWORD_ON_HOSTS} || {{ echo no password; exit 3; }}; "
                f"dirs=$(for d in {' '.join(HOST_LEAK_DIRS)}; do [ -d $d ] && echo $d; done); "
                f'[ -n "$dirs" ] || exit 0; '
                f"grep -rlF -f {PASSWORD_ON_HOSTS} $dirs; test $? -le 1",
            )
            found += [f"{host}:{line}" for line in out.splitlines() if line.strip()]
        return found


LOCAL = LabSite(None, "localhost", "localhost")
# the three-node virtual lab (molecule/virtual): the generator on master, PostgreSQL and the
# DataNode killed on worker1
VIRTUAL = LabSite(
    "inventory/virtual", "worker1", "master", postgresql_host="worker1",
    hosts=("master", "worker1", "worker2"), netns_prefix="benchlab-",
)  # fmt: skip


def virtual_lab_is_up() -> bool:
    """Whether the virtual lab's namespaces exist (roles/virtual_lab: <prefix><node>)."""
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    names = {line.split()[0] for line in done.stdout.splitlines() if line.strip()}
    return names >= {f"{VIRTUAL.netns_prefix}{host}" for host in VIRTUAL.hosts}


def poll_loadgen(
    site: LabSite,
    path: str,
    bench: Future[PlaybookRun],
    ready: Callable[[str], float | None],
    what: str,
    every_s: float = 1.0,
) -> None:
    """Read `path` on the load generator until `ready(text)` gives a number of seconds still
    to wait (slept, then done); None: not yet. Fails when the bench ends first, or after 900 s
    (bench.yml first brings the lab up, idempotent)."""
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        assert not bench.done(), bench.result().stdout[-4000:]
        wait = ready(site.shell(site.loadgen_host, f"cat {path} 2>/dev/null || true"))
        if wait is not None:
            time.sleep(max(0.0, wait))
            return
        time.sleep(every_s)
    pytest.fail(f"{what} within 900 s")


def wait_for_rows_in_hdfs(site: LabSite, run_id: str, bench: Future[PlaybookRun]) -> None:
    """Until the run's streaming job has committed a micro-batch with rows to HDFS."""
    poll_loadgen(
        site, f"{RESULTS_ON_LOADGEN}/{run_id}/streaming/pipeline/progress.jsonl", bench,
        lambda text: 0.0 if re.search(r'"num_input_rows": *[1-9]', text) else None,
        f"no rows reached HDFS in run {run_id}", every_s=2,
    )  # fmt: skip


@dataclass(frozen=True)
class BenchRun:
    """A bench.yml run and its results folder on the controller."""

    run: PlaybookRun
    run_dir: Path  # results/<run_id> on the controller

    def json(self, name: str) -> Any:
        return json.loads((self.run_dir / name).read_text())


@dataclass(frozen=True)
class KilledBench(BenchRun):
    """A smoke bench during which the DataNode was killed, and what came of it."""

    killed_pid: str
    pid_after: str  # the DataNode's pid once the bench was over
    # `ss -Htlnp` per host while the load ran (just before the kill), and the kit's pids then
    # on the local inventory (None: a virtual node's sockets are all the kit's or sshd's).
    listening: dict[str, str]
    kit_pids: frozenset[int] | None

    def report(self) -> str:
        return (self.run_dir / "report.md").read_text()

    def assert_audits_clean(self, expected: tuple[str, ...]) -> None:
        """The run drove exactly the `expected` targets, in order; each acknowledged
        records, and the audits lost and duplicated none."""
        audit = self.json("audit.json")
        targets = self.json("run.json")["targets"]
        assert targets == list(expected), targets
        for target in targets:
            assert audit[target]["acknowledged"] > 0, audit
            assert audit[target]["lost"] == 0, audit
            assert audit[target]["duplicates"] == 0, audit
        assert f"| figure | {' | '.join(expected)} |" in self.report()

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

    def assert_sockets_placed(self, site: LabSite) -> None:
        """While the load ran, every kit socket of every host (the generator's metrics port,
        the streaming driver's and executors' random ports included) listened on the host's
        address or loopback, never on a wildcard address (docs/security.md)."""
        problems = []
        for host, ss in self.listening.items():
            found = misplaced(
                parse_ss(ss), kit_ports=kit_ports(KIT), loopback_ports=loopback_ports(KIT),
                host_address=site.address(host), kit_pids=self.kit_pids,
            )  # fmt: skip
            problems += [f"{host}: {problem}" for problem in found]
        assert not problems, "; ".join(problems) + f"\n{self.listening}"
        # Taken mid-run: the generator's metrics endpoint was open on the load generator.
        port = KIT["benchlab_loadgen_metrics_port"]
        seen = {sock.port for sock in parse_ss(self.listening[site.loadgen_host])}
        assert port in seen, f"no listener on {port}: not taken mid-run?\n{self.listening}"

    def assert_password_not_leaked(self, site: LabSite) -> None:
        """The generated password is in none of: bench.yml's output, the run's results on
        the controller, the kit's logs, results and Ansible async files on the hosts."""
        secret = PASSWORD_ON_CONTROLLER.read_text().strip()
        leaks = secret_leaks(
            secret, {"bench.yml stdout": self.run.stdout, "bench.yml stderr": self.run.stderr},
            [self.run_dir],
        )  # fmt: skip
        leaks += site.password_leaks_on_hosts()
        assert not leaks, f"the PostgreSQL password appears in: {leaks}"

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
        listening = site.listening()
        pids = frozenset(kit_pids(_SUPERVISOR_PIDFILE)) if site.inventory is None else None
        killed = site.datanode_pid()
        assert killed.isdigit(), killed
        site.shell(site.datanode_host, f"kill -9 {killed}")
        run = bench.result()
    return KilledBench(run, REPO / "results" / run_id, killed, site.datanode_pid(), listening, pids)


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


def wait_for_load(
    site: LabSite, run_id: str, target: str, at_s: float, bench: Future[PlaybookRun]
) -> None:
    """Until `target`'s load in run `run_id` is `at_s` seconds old, from the run's progress
    file on the load generator (benchlab.progress, rewritten every 2 s)."""

    def ready(text: str) -> float | None:
        try:  # benchlab.progress.ProgressFile: the newest LiveFigures under "figures"
            now = json.loads(text).get("figures") or {}
        except (ValueError, AttributeError):
            return None
        if now.get("target") != target or now.get("stage") != "load":
            return None
        wait = at_s - float(now.get("elapsed_s") or 0)
        return wait if wait <= 2 else None

    poll_loadgen(
        site, f"{RESULTS_ON_LOADGEN}/.progress/{run_id}.json", bench, ready,
        f"run {run_id}: {target} never loaded",
    )  # fmt: skip


@dataclass(frozen=True)
class FaultedBench(BenchRun):
    """A bench.yml run into whose load the kit's fault matrix struck one fault, and the
    matrix's own reading of it (benchlab.faults.analysis)."""

    injection: Any  # benchlab.faults.inject.Injection
    row: Any  # benchlab.faults.analysis.FaultRow


def bench_with_fault(
    site: LabSite,
    run_id: str,
    fault_name: str,
    at_s: float,
    *bench_args: str,
    inventory: Path | None = None,
) -> FaultedBench:
    """Run bench.yml with `bench_args` and strike `fault_name` (benchlab.faults.catalogue)
    with the matrix's own injection once its target's load is `at_s` seconds old (read from
    the run's progress file on the load generator), then analyse the run as the matrix does.
    `inventory`: another inventory of the same hosts (default: the site's)."""
    from benchlab.faults.analysis import analyse
    from benchlab.faults.catalogue import BY_NAME
    from benchlab.faults.inject import group_hosts, inject

    fault = BY_NAME[fault_name]
    where = ["-i", str(inventory)] if inventory else site.inventory_args()
    inventory = inventory or REPO / (site.inventory or "inventory/local")
    victim = group_hosts(inventory, fault.group)[0]
    args = [*where, "bench.yml", "-e", f"benchlab_run_id={run_id}", *bench_args]
    with ThreadPoolExecutor(max_workers=1) as pool:
        bench = pool.submit(run_playbook, *args, timeout=2400)
        wait_for_load(site, run_id, fault.target, at_s, bench)
        injection = inject(fault, REPO, inventory, victim, run_id)
        run = bench.result()
    run_dir = REPO / "results" / run_id
    return FaultedBench(run, run_dir, injection, analyse(run_dir, fault, injection))


# The virtual smoke bench's targets (the Kafka-only target is CI's on the local lab).
VIRTUAL_BENCH_TARGETS = ("postgresql", "pipeline")


@dataclass(frozen=True)
class PartitionedBench(KilledBench):
    """The virtual smoke bench: a DataNode killed, then a node's link cut."""

    partition: Any  # benchlab.faults.inject.Injection
    partition_row: Any  # benchlab.faults.analysis.FaultRow


def bench_killing_datanode_then_partitioning(site: LabSite, run_id: str) -> PartitionedBench:
    """A smoke bench.yml of the two systems (target=postgresql,pipeline, 30 s of load each;
    the Kafka-only target is CI's on the local lab) on the virtual lab, with two faults:

    - 5 s into PostgreSQL's load, worker1's DataNode killed with SIGKILL (supervisord
      restarts it within seconds, long before the pipeline's load);
    - once the pipeline's first rows reach HDFS, the sockets of every host are read (driver
      and executors included), then the fault matrix's partition takes worker1's link
      (DataNode, Spark worker and executor) down for 30 s, generator, Kafka, NameNode and
      driver staying on master; the matrix's analysis reads the pipeline's run.
    """
    from benchlab.faults.analysis import analyse
    from benchlab.faults.catalogue import BY_NAME
    from benchlab.faults.inject import group_hosts, inject

    assert site.inventory is not None, "the partition needs the virtual lab's links"
    partition = BY_NAME["partition"]
    inventory = REPO / site.inventory
    victim = group_hosts(inventory, partition.group)[0]
    bench_args = [
        *site.inventory_args(), "bench.yml", "-e", "phase=smoke", "-e", "duration=30",
        "-e", f"target={','.join(VIRTUAL_BENCH_TARGETS)}", "-e", f"benchlab_run_id={run_id}",
    ]  # fmt: skip
    with ThreadPoolExecutor(max_workers=1) as pool:
        bench = pool.submit(run_playbook, *bench_args, timeout=2400)
        wait_for_load(site, run_id, "postgresql", 5, bench)
        killed = site.datanode_pid()
        assert killed.isdigit(), killed
        site.shell(site.datanode_host, f"kill -9 {killed}")
        wait_for_rows_in_hdfs(site, run_id, bench)
        listening = site.listening()
        cut = inject(partition, REPO, inventory, victim, run_id)
        run = bench.result()
    run_dir = REPO / "results" / run_id
    return PartitionedBench(
        run, run_dir, killed, site.datanode_pid(), listening, None,
        cut, analyse(run_dir, partition, cut),
    )  # fmt: skip
