"""Bad input stops in preflight with one clear message, a non-zero exit, nothing changed."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from conftest import run_playbook

CASES = [
    (["-e", "phase=7"], "phase '7' is unknown"),
    (
        ["-e", "phase=2", "-e", "duration=abc"],
        "-e duration=abc is not a positive number",
    ),
    (
        ["-e", "phase=2", "-e", "batch_size=-5"],
        "-e batch_size=-5 is not a positive integer",
    ),
    (["-e", "phase=2", "-e", "interval=0"], "-e interval=0 is not a positive number"),
    (["-e", "pg_write_method=upsert"], "-e pg_write_method=upsert is unknown"),
    (["-e", "target=mongodb"], "-e target=mongodb is not available"),
    (["-e", "postgresql_cpu_limit=64"], "postgresql limit 64 CPU"),
    (["-e", "postgresql_memory_limit_mb=99999999"], "is larger than the host"),
    (
        ["-e", "phase=3", "-e", "duration=9999999", "-e", "record_bytes=100000"],
        "GiB free under",
    ),
    (["-e", "workers=abc"], "-e workers=abc is not a positive integer"),
    (["-e", "workers=2"], "-e workers=2 is more than this inventory has"),
]


def assert_stopped(run, message: str) -> None:
    assert run.returncode != 0, run.stdout[-3000:]
    assert message in run.stdout.replace("\n", " "), run.stdout[-3000:]
    for host, counters in run.recap().items():
        assert counters["changed"] == 0, host


@pytest.mark.parametrize(("args", "message"), CASES, ids=[c[1][:30] for c in CASES])
def test_bad_input_stops_before_any_change(args: list[str], message: str) -> None:
    assert_stopped(run_playbook("bench.yml", *args, timeout=300), message)


def test_missing_inventory_group(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  children:\n    benchlab:\n      hosts:\n        localhost:\n"
        "          ansible_connection: local\n"
        '          ansible_python_interpreter: "{{ ansible_playbook_python }}"\n'
        "    prometheus:\n      hosts:\n        localhost:\n"
        "    loadgen:\n      hosts:\n        localhost:\n"
    )
    run = run_playbook("site.yml", "-i", str(inventory), timeout=300)
    assert_stopped(run, "group 'postgresql' is missing or empty")


def test_busy_port_held_by_a_foreign_process() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", 9105))
        squatter.listen(1)
        run = run_playbook("bench.yml", "-e", "phase=smoke", timeout=300)
    assert_stopped(run, "port 9105 (held by pid")
