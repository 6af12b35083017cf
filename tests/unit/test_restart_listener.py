"""The supervisord restart listener (roles/resource_limits/files/restart-listener.py), driven
through supervisord's event listener protocol on stdin/stdout in a subprocess, and its log
read back by the exporter's counter and by benchlab.restarts."""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchlab.restarts import parse_stamp, restarts_in_window
from benchlab.service_exporter import count_restarts

LISTENER = Path(__file__).resolve().parents[2] / "roles/resource_limits/files/restart-listener.py"


class Supervisord:
    """The supervisord side of the protocol: READY, an event, RESULT ... OK, READY, ..."""

    def __init__(self, log: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(LISTENER), str(log), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.serial = 0
        assert self._readline() == "READY\n"

    def _readline(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline()

    def send(self, eventname: str, payload: str) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.serial += 1
        header = (
            f"ver:3.0 server:supervisor serial:{self.serial} pool:benchlab_restart_listener "
            f"poolserial:{self.serial} eventname:{eventname} len:{len(payload)}\n"
        )
        self.proc.stdin.write(header + payload)
        self.proc.stdin.flush()
        assert self._readline() == "RESULT 2\n"
        assert self.proc.stdout.read(2) == "OK"
        assert self._readline() == "READY\n"

    def close(self) -> tuple[int, str]:
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.close()  # supervisord gone: the listener exits
        code = self.proc.wait(timeout=10)
        return code, self.proc.stderr.read()


def state(process: str, **fields: object) -> str:
    extra = " ".join(f"{k}:{v}" for k, v in fields.items())
    return f"processname:{process} groupname:{process} {extra}"


def kill_and_restart(sv: Supervisord, name: str, down_s: float) -> None:
    """What supervisord sends for a kill -9 and the autorestart that follows."""
    sv.send("PROCESS_STATE_EXITED", state(name, from_state="RUNNING", expected=0, pid=4242))
    sv.send("PROCESS_STATE_STARTING", state(name, from_state="EXITED", tries=0))
    time.sleep(down_s)
    sv.send("PROCESS_STATE_RUNNING", state(name, from_state="STARTING", pid=4343))


def fields(line: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in line.split()[1:])


def test_unexpected_exit_then_running_logs_the_recovery_time(tmp_path: Path) -> None:
    log = tmp_path / "restarts.log"
    sv = Supervisord(log)
    # a normal start and a clean stop are not restarts
    sv.send("PROCESS_STATE_STARTING", state("kafka", from_state="STOPPED", tries=0))
    sv.send("PROCESS_STATE_RUNNING", state("kafka", from_state="STARTING", pid=10))
    sv.send("PROCESS_STATE_EXITED", state("kafka", from_state="RUNNING", expected=1, pid=10))
    kill_and_restart(sv, "hdfs-datanode", 0.3)
    assert sv.close() == (0, "")

    lines = log.read_text().splitlines()
    assert len(lines) == 2, lines
    exit_line, running = (fields(line) for line in lines)
    assert exit_line == {
        "service": "hdfs-datanode", "group": "hdfs-datanode", "pid": "4242",
        "from_state": "RUNNING", "event": "exit",
    }  # fmt: skip
    assert running["event"] == "running" and running["pid"] == "4343"
    assert running["exit_pid"] == "4242" and running["exit_time"] == lines[0].split()[0]
    assert 0.3 <= float(running["recovery_s"]) < 5
    assert 0 <= float(running["respawn_s"]) < float(running["recovery_s"])
    # sub-second times, consistent with recovery_s
    t_exit, t_running = (parse_stamp(line.split()[0]) for line in lines)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", lines[0].split()[0])
    assert t_running - t_exit == pytest.approx(float(running["recovery_s"]), abs=0.002)
    # the exporter counts the exit once, not the recovery line; so does the exporter of the
    # format before (every `service=` line is one restart), still running after an upgrade
    assert count_restarts(lines) == {"hdfs-datanode": 1}
    assert [line for line in lines if re.search(r"\bservice=", line)] == lines[:1]


def test_gave_up_and_old_format_lines(tmp_path: Path) -> None:
    log = tmp_path / "restarts.log"
    old = "2026-11-22T16:00:00Z service=postgresql group=postgresql pid=12 from_state=RUNNING\n"
    log.write_text(old)
    sv = Supervisord(log)
    sv.send("PROCESS_STATE_EXITED", state("spark-worker", from_state="RUNNING", expected=0, pid=7))
    sv.send("PROCESS_STATE_STARTING", state("spark-worker", from_state="EXITED", tries=0))
    sv.send("PROCESS_STATE_BACKOFF", state("spark-worker", from_state="STARTING", tries=0))
    sv.send("PROCESS_STATE_FATAL", state("spark-worker", from_state="BACKOFF"))
    # the exit restored from the log (listener restarted meanwhile) gets its recovery line
    sv.send("PROCESS_STATE_RUNNING", state("postgresql", from_state="STARTING", pid=13))
    assert sv.close()[0] == 0
    lines = log.read_text().splitlines()
    assert fields(lines[2])["event"] == "fatal"
    assert fields(lines[2])["exit_time"] == lines[1].split()[0]
    pg = fields(lines[3])
    assert pg["event"] == "running" and pg["exit_time"] == "2026-11-22T16:00:00.000Z"
    assert count_restarts(lines) == {"postgresql": 1, "spark-worker": 1}
    entries, _ = restarts_in_window("h", log.read_text(), 0, time.time() + 60)
    assert [(e["service"], e["state"]) for e in entries] == [
        ("postgresql", "running"), ("spark-worker", "gave up (FATAL)"),
    ]  # fmt: skip


@pytest.fixture
def jmx() -> Iterator[tuple[str, list[int]]]:
    """A DataNode JMX stand-in: CONNECTING for the first 3 requests, then RUNNING."""
    hits = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits[0] += 1
            actor = "RUNNING" if hits[0] > 3 else "CONNECTING"
            body = json.dumps(
                {"beans": [{"BPServiceActorInfo": json.dumps([{"ActorState": actor}])}]}
            ).encode()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jmx", hits
    server.shutdown()


def test_readiness_check_times_back_in_service(tmp_path: Path, jmx: tuple[str, list[int]]) -> None:
    url, hits = jmx
    ready = tmp_path / "ready.d"
    ready.mkdir()
    (ready / "hdfs-datanode.json").write_text(
        json.dumps(
            {"check": "namenode-registration", "url": url, "match": r"ActorState\W+RUNNING",
             "interval_s": 0.1, "timeout_s": 30}
        )
    )  # fmt: skip
    log = tmp_path / "restarts.log"
    sv = Supervisord(log, "--ready-dir", str(ready))
    kill_and_restart(sv, "hdfs-datanode", 0.1)
    deadline = time.monotonic() + 10
    while "event=ready" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sv.close()[0] == 0
    lines = log.read_text().splitlines()
    assert [fields(line)["event"] for line in lines] == ["exit", "running", "ready"]
    ready_line = fields(lines[2])
    assert ready_line["check"] == "namenode-registration"
    assert hits[0] == 4  # polled until the fourth answer said RUNNING
    assert float(ready_line["ready_s"]) >= float(fields(lines[1])["recovery_s"]) + 0.25
    (entry,), kept = restarts_in_window("worker1", log.read_text(), 0, time.time())
    assert entry["state"] == "in service" and entry["ready_s"] == float(ready_line["ready_s"])
    assert len(kept) == 3
