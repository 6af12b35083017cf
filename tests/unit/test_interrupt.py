"""An interrupted bench: the in-progress marker, the callback plugin's decision, the CLI's
clean-up after a cancel (benchlab.interrupt; the live proof is
tests/integration/test_interrupt.py)."""

from __future__ import annotations

import importlib.util
import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, ClassVar

import jinja2
import pytest
import yaml

from benchlab.cli import main
from benchlab.exitcodes import EXIT_INTERRUPTED
from benchlab.interrupt import (
    IN_PROGRESS_DIR,
    INTERRUPT_PLAYBOOK,
    InterruptWatch,
    Marker,
    MarkerError,
    cleanup_argv,
    marker_path,
    read_marker,
    written_marker,
)

REPO = Path(__file__).resolve().parents[2]
RUN_ID = "20261130T231500Z-p1-postgresql-ab12"
DOC = {
    "run_id": RUN_ID,
    "inventory": ["/kit/inventory/local"],
    "loadgen": ["localhost"],
    "results_root": "/var/lib/benchlab/results",
    "config": f"/etc/benchlab/runs/{RUN_ID}.json",
    "command": "run",
}


def write_marker(results: Path, doc: dict[str, Any] | None = None) -> Path:
    path = marker_path(results, RUN_ID)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc or DOC))
    return path


def bench_run_task(name: str) -> dict[str, Any]:
    play = yaml.safe_load((REPO / "playbooks" / "bench_run.yml").read_text())[0]
    return next(t for t in play["tasks"] if t["name"].startswith(name))


# -- the marker -----------------------------------------------------------------------------
def test_the_marker_bench_run_writes_is_the_one_python_reads(tmp_path: Path) -> None:
    """Render bench_run.yml's marker task as Ansible would and read it back."""
    task = bench_run_task("Mark the run in progress")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters["to_nice_json"] = lambda v: json.dumps(v, indent=4, sort_keys=True)
    content = env.from_string(task["ansible.builtin.copy"]["content"]).render(
        benchlab_run_id=RUN_ID,
        ansible_inventory_sources=["/kit/inventory/local"],
        ansible_play_hosts=["localhost"],
        _bench_results_root="/var/lib/benchlab/results",
        _bench_config=f"/etc/benchlab/runs/{RUN_ID}.json",
        _bench_command="run",
    )
    path = write_marker(tmp_path)
    path.write_text(content)
    marker = read_marker(path)
    assert marker is not None and marker.as_dict() == DOC
    dest = task["ansible.builtin.copy"]["dest"]
    assert dest == "{{ benchlab_in_progress_dir }}/{{ benchlab_run_id }}.json"


def test_the_marker_directory_has_one_spelling() -> None:
    kit = yaml.safe_load((REPO / "group_vars" / "all" / "kit.yml").read_text())
    assert kit["benchlab_in_progress_dir"].endswith(f"/results/{IN_PROGRESS_DIR}")


def test_a_copy_result_into_the_marker_directory_is_a_marker_write() -> None:
    dest = f"/kit/results/{IN_PROGRESS_DIR}/{RUN_ID}.json"
    assert written_marker({"changed": True, "dest": dest}) == Path(dest)
    assert written_marker({"changed": False, "dest": dest}) == Path(dest)
    assert written_marker({"failed": True, "dest": dest}) is None
    assert written_marker({"dest": "/kit/results/x/run.json"}) is None
    assert written_marker({"dest": f"/kit/{IN_PROGRESS_DIR}/notes.txt"}) is None
    assert written_marker({"stdout": "", "rc": 0}) is None
    assert written_marker(None) is None


def test_a_missing_marker_is_none_and_a_bad_one_names_the_field(tmp_path: Path) -> None:
    assert read_marker(marker_path(tmp_path, RUN_ID)) is None
    for bad, field in (
        ({**DOC, "loadgen": []}, "`loadgen`"),
        ({**DOC, "command": "calibrate"}, "`command`"),
        ({k: v for k, v in DOC.items() if k != "results_root"}, "`results_root`"),
        ({**DOC, "run_id": "other"}, "`run_id`"),
    ):
        path = write_marker(tmp_path, bad)
        with pytest.raises(MarkerError, match=field) as err:
            read_marker(path)
        assert "fix:" in str(err.value)
    path.write_text("{not json")
    with pytest.raises(MarkerError, match="not JSON"):
        read_marker(path)


def test_the_clean_up_command_keeps_inventory_and_connection_options() -> None:
    marker = Marker(Path(f"/r/{RUN_ID}.json"), RUN_ID, ("/kit/inventory/virtual",),
                    ("master",), "/var/lib/benchlab/results", "/etc/x.json", "run")  # fmt: skip
    cli_args = {
        "remote_user": "root",
        "private_key_file": "/k/id",
        "extra_vars": ("phase=1", "@vars.yml"),
        "tags": ("x",),  # not passed on: it would skip the clean-up's tasks
        "become": False,
    }
    argv = cleanup_argv(marker, Path("/kit"), ["py", "ansible-playbook"], cli_args)
    assert argv == [
        "py", "ansible-playbook", "-i", "/kit/inventory/virtual", "--user", "root",
        "--private-key", "/k/id", "--extra-vars", "phase=1", "--extra-vars", "@vars.yml",
        f"/kit/{INTERRUPT_PLAYBOOK}", "-e", f"benchlab_run_id={RUN_ID}",
    ]  # fmt: skip


# -- the decision: clean up what this playbook marked and left ------------------------------
def test_the_watch_cleans_up_only_markers_still_there(tmp_path: Path) -> None:
    watch = InterruptWatch()
    path = write_marker(tmp_path)
    gone = tmp_path / IN_PROGRESS_DIR / "fetched-run.json"
    watch.observe({"dest": str(path)})
    watch.observe({"dest": str(path)})  # the same marker twice: once
    watch.observe({"dest": str(gone)})
    watch.observe({"dest": "/elsewhere/file.json"})
    ran: list[str] = []
    said: list[str] = []
    assert watch.clean_up(lambda m: ran.append(m.run_id) or 0, said.append) == [0]
    assert ran == [RUN_ID]
    assert len(said) == 1 and said[0].startswith(f"benchlab: interrupted: stopping run {RUN_ID}")
    assert watch.clean_up(lambda m: 1, said.append) == []  # done: nothing remembered


def test_a_normal_end_runs_nothing(tmp_path: Path) -> None:
    watch = InterruptWatch()
    path = write_marker(tmp_path)
    watch.observe({"dest": str(path)})
    path.unlink()  # finish_run.yml removed it after the fetch
    assert watch.clean_up(lambda m: pytest.fail("nothing to clean up"), print) == []


def test_a_failed_clean_up_says_how_to_finish_it(tmp_path: Path) -> None:
    watch = InterruptWatch()
    watch.observe({"dest": str(write_marker(tmp_path))})
    said: list[str] = []
    assert watch.clean_up(lambda m: 4, said.append) == [4]
    assert f"-e benchlab_run_id={RUN_ID}" in said[-1] and "exited 4" in said[-1]


# -- the callback plugin --------------------------------------------------------------------
@pytest.fixture
def own_signals() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch, own_signals: None) -> ModuleType:
    path = REPO / "plugins" / "callback" / "benchlab_interrupt.py"
    spec = importlib.util.spec_from_file_location("benchlab_interrupt_plugin", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    exits: list[Any] = []
    monkeypatch.setattr(module.atexit, "register", exits.append)
    module.registered = exits
    return module


class FakePopen:
    calls: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, argv: list[str], **kwargs: Any) -> None:
        FakePopen.calls.append({"argv": argv, **kwargs})
        self.pid = 4242

    def wait(self) -> int:
        return 0


def test_the_plugin_runs_interrupt_yml_at_exit_for_its_marker(
    plugin: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    callback = plugin.CallbackModule()
    assert plugin.registered == [callback._at_exit]
    path = write_marker(tmp_path)
    callback.v2_runner_on_ok(SimpleNamespace(result={"changed": True, "dest": str(path)}))
    callback.v2_runner_on_ok(SimpleNamespace(result={"changed": False, "msg": "other"}))
    FakePopen.calls = []
    monkeypatch.setattr(plugin.subprocess, "Popen", FakePopen)
    monkeypatch.setattr(plugin.context, "CLIARGS", {"extra_vars": ("phase=1",)})
    callback._at_exit()
    (call,) = FakePopen.calls
    assert call["start_new_session"] is True and call["cwd"] == plugin.REPO
    playbook = str(plugin.REPO / INTERRUPT_PLAYBOOK)
    assert call["argv"][-5:] == [
        "--extra-vars",
        "phase=1",
        playbook,
        "-e",
        f"benchlab_run_id={RUN_ID}",
    ]
    assert call["argv"][call["argv"].index("-i") + 1] == "/kit/inventory/local"


def test_the_plugin_is_silent_without_a_marker(
    plugin: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    callback = plugin.CallbackModule()
    monkeypatch.setattr(plugin.subprocess, "Popen", lambda *a, **k: pytest.fail("ran"))
    callback._at_exit()
    assert capsys.readouterr() == ("", "")


def test_the_plugin_turns_sigterm_into_ctrl_c_once_a_run_is_marked(
    plugin: ModuleType, tmp_path: Path
) -> None:
    """In the main process SIGTERM goes the way of Ctrl-C (KeyboardInterrupt: exit 99 with
    exit handlers), not SIGTERM's default death; before a run is marked nothing changes."""
    told: list[int] = []

    def on_int(signum: int, _frame: Any) -> None:  # stands for the task queue manager's
        told.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_int)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    callback = plugin.CallbackModule()
    callback.v2_runner_on_ok(SimpleNamespace(result={"changed": True, "dest": "/r/x.json"}))
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    callback.v2_runner_on_ok(SimpleNamespace(result={"dest": str(write_marker(tmp_path))}))
    assert signal.getsignal(signal.SIGTERM) != signal.SIG_DFL
    with pytest.raises(KeyboardInterrupt):
        signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)  # type: ignore[operator]
    assert told == [signal.SIGINT]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # a second one ends it at once


def test_ansible_cfg_enables_the_plugin() -> None:
    cfg = (REPO / "ansible.cfg").read_text()
    assert "callback_plugins = plugins/callback" in cfg
    assert "callbacks_enabled = benchlab_interrupt" in cfg
    assert sys.modules.get("benchlab.interrupt") is not None


# -- benchlab bench: a cancel is followed by interrupt.yml ----------------------------------
class FakeRunner:
    """ansible_runner.run: bench.yml marks its run and is cancelled; interrupt.yml fetches."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.calls: list[dict[str, Any]] = []

    def run(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        handler = kwargs["event_handler"]
        if kwargs["playbook"] == "bench.yml":
            path = write_marker(self.repo / "results")
            handler({"event": "runner_on_ok", "event_data": {
                "host": "localhost", "task": "Mark the run in progress",
                "res": {"changed": True, "dest": str(path)}}})  # fmt: skip
            signal.raise_signal(signal.SIGINT)  # Ctrl-C while the load runs
            assert kwargs["cancel_callback"]() is True
            return SimpleNamespace(status="canceled", rc=254)
        assert kwargs["playbook"] == INTERRUPT_PLAYBOOK
        run_dir = self.repo / "results" / kwargs["extravars"]["benchlab_run_id"]
        run_dir.mkdir(parents=True)
        (run_dir / "PARTIAL").write_text("interrupted\n")
        marker_path(self.repo / "results", RUN_ID).unlink()
        return SimpleNamespace(status="successful", rc=0)


def test_ctrl_c_on_benchlab_bench_stops_and_fetches_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_signals: None
) -> None:
    import ansible_runner

    repo = tmp_path / "kit"
    (repo / "group_vars" / "all").mkdir(parents=True)
    (repo / "group_vars" / "all" / "phases.yml").write_text(
        (REPO / "group_vars" / "all" / "phases.yml").read_text()
    )
    (repo / "bench.yml").write_text("---\n")
    fake = FakeRunner(repo)
    monkeypatch.setattr(ansible_runner, "run", fake.run)
    code = main(["bench", "--phase", "1", "--repo", str(repo), "--quiet"])
    assert code == EXIT_INTERRUPTED
    assert [c["playbook"] for c in fake.calls] == ["bench.yml", INTERRUPT_PLAYBOOK]
    cleanup = fake.calls[1]
    assert cleanup["extravars"] == {"benchlab_run_id": RUN_ID}
    assert cleanup["cmdline"] == "-i /kit/inventory/local"
    assert cleanup["cancel_callback"] is None
    assert (repo / "results" / RUN_ID / "PARTIAL").is_file()
    plugins = cleanup["envvars"]["ANSIBLE_CALLBACK_PLUGINS"]
    assert plugins == str(repo / "plugins" / "callback")


# -- the pipeline, interrupted: its streaming job commits what was acknowledged, then stops --
class FakeJob:
    def __init__(self) -> None:
        self.streaming = SimpleNamespace(drain_timeout_s=300.0)
        self.drains: list[tuple[float | None, bool]] = []
        self.stopped = 0
        self.restarts: list[Any] = []
        self.output = "hdfs://x/benchlab/run"
        self.starting_offsets = None

    def wait_drained(self, expected: int, end: float, should_stop: Any, timeout_s: Any = None):
        from benchlab.targets.pipeline.streaming_job import DrainResult

        self.drains.append((timeout_s, should_stop()))
        return DrainResult(True, expected, expected, 1.0)

    def stop(self) -> int:
        self.stopped += 1
        return 0

    def progress(self) -> list[dict[str, Any]]:
        return []


def pipeline_session(job: FakeJob) -> Any:
    from benchlab.targets.pipeline import PipelineSession

    session = PipelineSession.__new__(PipelineSession)
    session.job = job  # type: ignore[assignment]
    session.latency = lambda lines, result: {}  # type: ignore[method-assign]
    return session


def load_result() -> Any:
    return SimpleNamespace(
        records_acked=500, end_wall=100.0, t0_wall=90.0, per_second={},
        load=SimpleNamespace(warmup_s=0.0, duration_s=60.0),
        summary=lambda: {"throughput_per_s": 50.0, "latency_ms": {}},
    )  # fmt: skip


def test_an_interrupted_pipeline_drains_briefly_before_its_job_stops() -> None:
    from benchlab.targets.pipeline import INTERRUPTED_DRAIN_S

    job = FakeJob()
    after = pipeline_session(job).after_load(load_result(), lambda: True)
    # a bounded drain that the interrupt itself does not cut short, then the stop
    assert job.drains == [(INTERRUPTED_DRAIN_S, False)] and job.stopped == 1
    assert after.failed is None and after.figures["streaming"]["job_exit_code"] == 0
    job = FakeJob()
    pipeline_session(job).after_load(load_result(), lambda: False)
    assert job.drains == [(None, False)] and job.stopped == 1  # the normal drain
