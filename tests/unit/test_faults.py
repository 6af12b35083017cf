"""benchlab faults: the catalogue, the CLI's argument errors (nothing run), the strike timing,
the actions' commands and the matrix around a faked bench.yml."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import benchlab.cli
from benchlab.cli import main
from benchlab.exitcodes import EXIT_BAD_INPUT, EXIT_DATA_FAILED, EXIT_INTERRUPTED, EXIT_OK
from benchlab.faults import actions
from benchlab.faults.catalogue import BY_NAME, CATALOGUE, FaultError, parse_faults
from benchlab.faults.inject import Injection, inject
from benchlab.faults.matrix import PARTIAL_FILE, execute, make_plan
from benchlab.faults.timing import Striker, parse_line

REPO = Path(__file__).resolve().parents[2]
LOCAL = REPO / "inventory" / "local"
NOW = datetime(2026, 12, 1, 3, 0, 0, tzinfo=UTC)


# -- catalogue ----------------------------------------------------------------------------
def test_catalogue_names_are_unique_and_complete() -> None:
    assert len({f.name for f in CATALOGUE}) == len(CATALOGUE) == 10
    for fault in CATALOGUE:
        assert fault.target in ("postgresql", "pipeline", "kafka")
        assert fault.action and fault.recovery


def test_parse_faults() -> None:
    assert parse_faults(None) == list(CATALOGUE)
    assert parse_faults("all") == list(CATALOGUE)
    assert [f.name for f in parse_faults("kafka_kill, postgresql_kill")] == [
        "kafka_kill",
        "postgresql_kill",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nope", "--faults nope: unknown fault; fix: use one of postgresql_kill"),
        ("kafka_kill,,postgresql_kill", "has an empty name"),
        ("kafka_kill,kafka_kill", "names a fault twice"),
        ("all,kafka_kill", "'all' stands alone"),
    ],
)
def test_parse_faults_errors(text: str, expected: str) -> None:
    with pytest.raises(FaultError, match=None) as caught:
        parse_faults(text)
    assert expected in str(caught.value) and "fix:" in str(caught.value)


# -- CLI: bad input is one line, exit 2, nothing run ----------------------------------------
@pytest.fixture
def no_playbook(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []

    def fake(*args: Any, **kwargs: Any) -> int:
        calls.append(args)
        raise AssertionError("no playbook may run on bad input")

    monkeypatch.setattr(benchlab.cli, "run_playbook", fake)
    return calls


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--faults", "nope"], "--faults nope: unknown fault"),
        (["--at", "85", "--duration", "90"], "leaves under 10 s of load after the fault"),
        (["--at", "0"], "--at 0 must be > 0 s"),
        (["-e", "target=kafka"], "-e target=kafka is set for each fault by this command"),
        (["-e", "duration=60"], "pass --duration"),
        (["-e", "phase=9"], "phase"),
        (["-i", "inventory/nowhere"], "inventory/nowhere"),
    ],
)
def test_cli_bad_input(
    argv: list[str],
    expected: str,
    no_playbook: list[Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["faults", "run", "--repo", str(REPO), *argv])
    out = capsys.readouterr().out
    assert code == EXIT_BAD_INPUT
    assert expected in out
    assert len(out.strip().splitlines()) == 1, out
    assert no_playbook == []


def test_cli_unknown_option_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["faults", "run", "--bogus"])
    assert caught.value.code == EXIT_BAD_INPUT


# -- timing -------------------------------------------------------------------------------
LINE = "postgresql load 0:12/1:30 · due 20,000 · acked 19,000 · stored 19,000 · 1,667 acked/s"


def test_parse_line() -> None:
    seen = parse_line(LINE)
    assert seen is not None
    assert (seen.target, seen.stage, seen.elapsed_s, seen.total_s) == ("postgresql", "load", 12, 90)
    step = parse_line("pipeline [trial 3, 20,000/s offered] finish 1:30/1:30 · due 1")
    assert step is not None and step.stage == "finish" and step.target == "pipeline"
    assert parse_line("starting (no figures yet)") is None


def test_striker_waits_for_the_load_line_of_its_target() -> None:
    fired = threading.Event()
    striker = Striker("postgresql", 12.0, fired.set)
    striker.feed("postgresql prepare 0:00/1:30 · due 0")
    striker.feed(LINE.replace("postgresql", "kafka"))
    assert striker.timer is None
    striker.feed(LINE)  # elapsed 12 >= at 12: at once
    striker.wait(5)
    assert fired.is_set()
    striker.feed(LINE)  # once only
    assert striker.fired.is_set()


def test_striker_cancel_before_the_moment() -> None:
    fired = threading.Event()
    striker = Striker("postgresql", 60.0, fired.set)
    striker.feed(LINE)  # 48 s to go
    striker.cancel()
    striker.wait(1)
    assert not fired.is_set()


# -- actions ------------------------------------------------------------------------------
def test_commands_name_their_victim() -> None:
    kill = actions.command(BY_NAME["kafka_kill"], run_id="r", supervisor_conf="/c", node="h")
    assert "supervisorctl -c /c pid kafka" in kill and 'kill -9 "$pid"' in kill
    driver = actions.command(BY_NAME["driver_kill"], run_id="r-1", supervisor_conf="/c", node="h")
    assert "[S]parkSubmit.*benchlab-streaming-r-1" in driver and 'kill -9 "-$pgid"' in driver
    oom = actions.command(BY_NAME["postgresql_oom"], run_id="r", supervisor_conf="/c", node="h")
    assert "trap restore EXIT" in oom and "/etc/benchlab/cgroups.d/postgresql.conf" in oom
    part = actions.command(BY_NAME["partition"], run_id="r", supervisor_conf="/c", node="worker1")
    assert "ip link set bv-worker1 down" in part and "trap" in part
    for cmd in (kill, driver, oom, part):
        assert actions.STAMP in cmd


def test_oom_limit_is_put_back_even_when_the_strike_fails(tmp_path: Path) -> None:
    calls: list[str] = []

    def shell(repo: Path, inv: Path, host: str, cmd: str) -> tuple[int | None, str]:
        calls.append(cmd)
        if len(calls) == 1:
            raise RuntimeError("connection lost")
        return 0, "restored"

    with pytest.raises(RuntimeError):
        inject(BY_NAME["postgresql_oom"], REPO, LOCAL, "localhost", "r", shell=shell)
    assert len(calls) == 2 and "MEMORY_LIMIT_BYTES" in calls[1]


def test_inject_reads_the_hosts_stamp() -> None:
    def shell(repo: Path, inv: Path, host: str, cmd: str) -> tuple[int | None, str]:
        return 0, "injected_at=1796076666.25\nkilled postgresql pid 1"

    done = inject(BY_NAME["postgresql_kill"], REPO, LOCAL, "localhost", "r", shell=shell)
    assert done.ok and done.injected_wall == 1796076666.25 and done.restored is None


# -- matrix -------------------------------------------------------------------------------
def fake_runner(results_root: Path, lost: int = 0) -> Callable[..., int]:
    def runner(
        extravars: Mapping[str, Any], *, label: str, log: Path, on_progress: Callable[[str], None]
    ) -> int:
        target = extravars["target"]
        on_progress(f"{target} load 0:25/1:00 · due 1")
        time.sleep(0.3)  # the strike's timer thread: a real run goes on for a minute
        run_dir = results_root / extravars["benchlab_run_id"]
        run_dir.mkdir()
        audit = {"acknowledged": 100, "found": 100 - lost, "lost": lost, "duplicates": 0}
        (run_dir / "run.json").write_text(
            json.dumps(
                {
                    "load": {
                        target: {
                            "start": 1000.0,
                            "target_rate_per_s": 10.0,
                            "duration_s": 60.0,
                            "errors": {},
                        }
                    },
                    "audit": {target: audit},
                    "data_verdict": {target: {"status": "FAIL" if lost else "PASS"}},
                }
            )
        )
        log.write_text("ok\n")
        return EXIT_DATA_FAILED if lost else EXIT_OK

    return runner


def strike(fault: Any, host: str, run_id: str) -> Injection:
    return Injection(fault.name, host, 1020.0, 1020.5, 0, "injected_at=1020.5")


def test_matrix_writes_one_table(tmp_path: Path) -> None:
    plan = make_plan(REPO, tmp_path, LOCAL, "postgresql_kill,kafka_kill", 20, 60, {},
                     now=NOW, token="beef")  # fmt: skip
    assert [p.run_id for p in plan.faults] == [
        "20261201T030000Z-p2-postgresql-postgresql-kill-beef",
        "20261201T030000Z-p2-pipeline-kafka-kill-beef",
    ]
    assert plan.faults[1].extravars == {
        "target": "pipeline", "duration": "60", "phase": "2",
        "benchlab_run_id": "20261201T030000Z-p2-pipeline-kafka-kill-beef",
    }  # fmt: skip
    outcome = execute(plan, fake_runner(tmp_path), strike, lambda: False, lambda _: None)
    assert outcome.exit_code == EXIT_OK
    doc = json.loads((plan.out_dir / "faults.json").read_text())
    assert doc["status"] == "complete"
    assert [r["verdict"] for r in doc["rows"]] == ["PASS", "PASS"]
    assert doc["rows"][0]["injected_at_load_s"] == 20.5
    md = (plan.out_dir / "faults.md").read_text()
    assert "| postgresql_kill | PASS | 20261201T030000Z-p2-postgresql-postgresql-kill-beef |" in md
    with pytest.raises(Exception, match="exists"):  # never overwritten
        make_plan(REPO, tmp_path, LOCAL, "postgresql_kill", 20, 60, {}, now=NOW, token="beef")


def test_matrix_lost_data_exits_10(tmp_path: Path) -> None:
    plan = make_plan(REPO, tmp_path, LOCAL, "postgresql_kill", 20, 60, {}, now=NOW, token="1")
    outcome = execute(plan, fake_runner(tmp_path, lost=3), strike, lambda: False, lambda _: None)
    assert outcome.rows[0].verdict == "FAIL"
    assert outcome.exit_code == EXIT_DATA_FAILED


def test_matrix_interrupted_keeps_what_ran(tmp_path: Path) -> None:
    plan = make_plan(REPO, tmp_path, LOCAL, "postgresql_kill,kafka_kill", 20, 60, {},
                     now=NOW, token="2")  # fmt: skip
    runs = fake_runner(tmp_path)
    stop = {"now": False}

    def runner(extravars: Mapping[str, Any], **kwargs: Any) -> int:
        code = runs(extravars, **kwargs)
        stop["now"] = True  # Ctrl-C during the first fault's run
        return code

    outcome = execute(plan, runner, strike, lambda: stop["now"], lambda _: None)
    assert outcome.exit_code == EXIT_INTERRUPTED
    assert [r.fault for r in outcome.rows] == ["postgresql_kill"]
    assert "not run: kafka_kill" in (plan.out_dir / PARTIAL_FILE).read_text()
    assert json.loads((plan.out_dir / "faults.json").read_text())["status"] == "PARTIAL"


def test_partition_skipped_off_the_virtual_lab(tmp_path: Path) -> None:
    plan = make_plan(REPO, tmp_path, LOCAL, "partition,postgresql_kill", 20, 60, {},
                     veth=lambda host: False)  # fmt: skip
    assert [p.fault.name for p in plan.faults] == ["postgresql_kill"]
    assert "partition: skipped" in plan.skipped[0]


def test_an_oom_strike_counts_from_the_kill() -> None:
    def shell(repo: Path, inv: Path, host: str, cmd: str) -> tuple[int | None, str]:
        if "oom_control" not in cmd:
            return 0, "restored"
        return 0, "injected_at=100.0\nstruck_at=107.5\noom_kills=1 lowest_limit=1"

    done = inject(BY_NAME["postgresql_oom"], REPO, LOCAL, "localhost", "r", shell=shell)
    assert done.injected_wall == 107.5 and done.restored == "rc 0: restored"


def test_report_rewrites_the_table_from_the_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = make_plan(REPO, tmp_path, LOCAL, "postgresql_kill", 20, 60, {}, now=NOW, token="3")
    execute(plan, fake_runner(tmp_path), strike, lambda: False, lambda _: None)
    run_json = tmp_path / plan.faults[0].run_id / "run.json"
    doc = json.loads(run_json.read_text())
    doc["audit"]["postgresql"]["lost"] = 7  # e.g. a re-fetched run
    run_json.write_text(json.dumps(doc))
    code = main(["faults", "report", str(plan.out_dir), "--results-root", str(tmp_path)])
    assert code == EXIT_DATA_FAILED
    rows = json.loads((plan.out_dir / "faults.json").read_text())["rows"]
    assert rows[0]["lost"] == 7 and rows[0]["verdict"] == "FAIL"
    assert rows[0]["injected_at_load_s"] == 20.5
    assert main(["faults", "report", str(tmp_path / "nope")]) == EXIT_BAD_INPUT


def test_a_stamp_then_a_failed_kill_is_no_injection() -> None:
    def shell(repo: Path, inv: Path, host: str, cmd: str) -> tuple[int | None, str]:
        return 5, "injected_at=100.0\nkill -9 -77 failed"

    done = inject(BY_NAME["driver_kill"], REPO, LOCAL, "localhost", "r", shell=shell)
    assert not done.ok and done.injected_wall is None


def test_driver_command_kills_a_process_group_under_dash(tmp_path: Path) -> None:
    """The command as /bin/sh (dash) runs it, against a stand-in job in its own session."""
    import shutil
    import subprocess

    if shutil.which("dash") is None:
        pytest.skip("no dash")
    stand_in = ["import time; time.sleep(300)", "SparkSubmit", "--name"]
    job = subprocess.Popen(
        [sys.executable, "-c", *stand_in, "benchlab-streaming-unit-run"], start_new_session=True
    )
    try:
        cmd = actions.driver_command("unit-run")
        done = subprocess.run(["dash", "-c", cmd], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert job.wait(timeout=5) == -9
    finally:
        if job.poll() is None:
            job.kill()


@pytest.mark.parametrize("fault", CATALOGUE, ids=lambda f: f.name)
def test_every_command_passes_ansible_argument_splitting(fault: Any) -> None:
    """ansible.builtin.shell's free-form argument is split by Ansible first: an unbalanced
    quote (an apostrophe in a comment) fails the strike before it reaches the shell."""
    from ansible.parsing.splitter import split_args

    cmd = actions.command(fault, run_id="r-1", supervisor_conf="/c", node="worker1")
    assert split_args(cmd)
    undo = actions.restore_command(fault)
    assert undo is None or split_args(undo)


def test_every_prepare_command_passes_ansible_argument_splitting() -> None:
    from ansible.parsing.splitter import split_args

    from benchlab.faults.inject import postgres_access

    made = [actions.prepare_command(f, postgres_access(REPO)) for f in CATALOGUE]
    assert [c for c in made if c is not None]
    for cmd in made:
        assert cmd is None or split_args(cmd)


# -- disk full ----------------------------------------------------------------------------
def test_disk_full_runs_its_load_into_a_table_on_the_small_filesystem(tmp_path: Path) -> None:
    plan = make_plan(REPO, tmp_path, LOCAL, "postgresql_disk_full", 20, 60, {}, now=NOW, token="d")
    (item,) = plan.faults
    assert item.extravars["benchlab_run_pg_table"] == "events_disk_full"
    assert item.extravars["target"] == "postgresql"
    from benchlab.faults.inject import postgres_access

    pg = postgres_access(REPO)
    assert (pg.socket_dir, pg.port, pg.database, pg.owner) == (
        "/run/benchlab/postgresql", 5432, "benchlab", "benchlab",
    )  # fmt: skip
    prep = actions.prepare_command(item.fault, pg)
    assert prep is not None
    assert f"mount -t tmpfs -o size={actions.DISK_SIZE}" in prep
    assert "CREATE TABLE events_disk_full (LIKE events INCLUDING ALL) TABLESPACE" in prep
    assert "OWNER TO benchlab" in prep
    strike_cmd = actions.command(item.fault, run_id="r", supervisor_conf="/c", node="h")
    assert actions.STAMP in strike_cmd and "ballast" in strike_cmd and "trap" in strike_cmd
    assert "ballast" in (actions.restore_command(item.fault) or "")


def test_a_fault_whose_prepare_step_fails_is_not_run(tmp_path: Path) -> None:
    plan = make_plan(REPO, tmp_path, LOCAL, "postgresql_disk_full,postgresql_kill", 20, 60, {},
                     now=NOW, token="e")  # fmt: skip
    ran: list[str] = []
    runs = fake_runner(tmp_path)

    def runner(extravars: Mapping[str, Any], **kwargs: Any) -> int:
        ran.append(extravars["benchlab_run_id"])
        return runs(extravars, **kwargs)

    def prepare(fault: Any, host: str) -> tuple[bool, str]:
        return (
            (False, "mount: permission denied") if fault.name.endswith("disk_full") else (True, "")
        )

    outcome = execute(plan, runner, strike, lambda: False, lambda _: None, prepare)
    assert [r.verdict for r in outcome.rows] == ["NOT RUN", "PASS"]
    assert "mount: permission denied" in outcome.rows[0].notes[0]
    assert ran == [plan.faults[1].run_id]
    assert outcome.exit_code == 1  # not every fault ran: the kit failed, not the data


def test_disk_full_fills_and_frees_a_real_filesystem(tmp_path: Path) -> None:
    """The strike's shell itself on a tiny tmpfs stand-in (a folder here): it stamps, leaves
    no room, and its trap frees the space when it is cut short."""
    import subprocess

    cmd = actions.disk_full_command().replace(actions.DISK_DIR, str(tmp_path))
    cmd = cmd.replace(f"mountpoint -q {tmp_path}", "true")
    cmd = cmd.replace("bs=64k", "bs=64k count=4").replace(f"sleep {actions.DISK_FULL_S}", "sleep 0")
    done = subprocess.run(
        ["sh", "-c", cmd], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "injected_at=" in done.stdout and "freed_at=" in done.stdout
    assert not (tmp_path / "ballast").exists()


def test_the_partition_runs_on_the_controller_with_the_kits_python(tmp_path: Path) -> None:
    """The veth links live in the controller's root namespace: its ad-hoc inventory names the
    kit's interpreter (discovery may pick a broken pyenv shim: rc 127, no injection)."""
    from benchlab.faults.inject import root_host

    text = root_host(tmp_path).read_text()
    assert "ansible_connection=local" in text
    assert "ansible_python_interpreter='{{ ansible_playbook_python }}'" in text
