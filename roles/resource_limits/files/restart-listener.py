#!/usr/bin/python3
"""benchlab supervisord event listener: unexpected exits and how long each took to recover.

supervisord restarts a program that exits unexpectedly (autorestart). The listener writes
one line per event of interest to the restart log (default /var/log/benchlab/restarts.log);
benchlab-service-exporter counts the `event=exit` lines (and lines without `event=`, the
format before recovery times were recorded) as benchlab_service_restarts_total, and
`python -m benchlab.restarts` keeps a run's lines for its report.

A line is a UTC time with milliseconds, then space-separated key=value tokens:

  <time> service=<program> group=<group> pid=<pid> from_state=RUNNING event=exit
  <time> program=<program> group=<group> pid=<new pid> from_state=STARTING event=running
         exit_time=<time> exit_pid=<pid> respawn_s=<s> recovery_s=<s>
  <time> program=<program> group=<group> event=ready check=<name> exit_time=<time> ready_s=<s>
  <time> program=<program> group=<group> event=ready_timeout check=<name> exit_time=<time>
         waited_s=<s>
  <time> program=<program> group=<group> from_state=BACKOFF event=fatal exit_time=<time>

Only exit lines carry `service=`: a reader that counts `service=` lines (the exporter
before this format, still running on a host after an upgrade) counts restarts right.

What the times measure (all taken on this host's clock when the listener receives
supervisord's event; supervisord's loop turns once a second, it reaps a dead child and sends
the event on later turns, so an exit is logged up to about 2 s after the process died and a
RUNNING up to about 1 s after supervisord declared it):
- exit: supervisord reaped the process (PROCESS_STATE_EXITED, expected=0);
- respawn_s: exit -> supervisord spawned the replacement (first PROCESS_STATE_STARTING);
- recovery_s: exit -> the replacement reached RUNNING, i.e. it had stayed up for the
  program's `startsecs` (so recovery_s >= respawn_s + startsecs; failed attempts in between
  go through BACKOFF and are included);
- ready_s: exit -> the program's own readiness check passed. A program has one when its
  role registered it (resource_limits program.yml, resource_limits_program_ready), which
  writes <ready dir>/<program>.json {"check", "url", "match", "timeout_s", "interval_s"}:
  after RUNNING the listener polls `url` until its body matches the regular expression
  `match`. For the HDFS DataNode the check is the DataNode's own JMX view of its block pool
  service (ActorState RUNNING), which it reaches only after it has registered again with
  the NameNode: "back in service", not just "process up".
- fatal: supervisord gave up restarting it (startretries exhausted); it never came back.
"""

import argparse
import json
import os
import re
import sys
import threading
import time
import urllib.request
from datetime import datetime, timezone

RESTORE_BYTES = 256 * 1024


def stamp(t):
    """UTC ISO 8601 with milliseconds, e.g. 2026-11-22T16:01:02.345Z."""
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_stamp(text):
    """Seconds since the epoch from stamp() output or the older whole-second form."""
    text = text.rstrip("Z")
    fmt = "%Y-%m-%dT%H:%M:%S.%f" if "." in text else "%Y-%m-%dT%H:%M:%S"
    return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc).timestamp()


def tokens(text, sep=":"):
    return dict(item.split(sep, 1) for item in text.split() if sep in item)


class Listener:
    """Turns supervisord PROCESS_STATE events into restart log lines."""

    def __init__(self, log_path, ready_dir=None, clock=time.time):
        self.log_path = log_path
        self.ready_dir = ready_dir
        self.clock = clock
        self.lock = threading.Lock()
        # program -> {"exit_time", "exit_pid", "respawn_time", "generation"}
        self.pending = {}
        self.generation = {}
        self.restore()

    def restore(self):
        """Exits still waiting for their RUNNING when this listener was (re)started."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(max(0, os.fstat(log.fileno()).st_size - RESTORE_BYTES))
                lines = log.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return
        for line in lines:
            parts = line.split(None, 1)
            if len(parts) != 2:
                continue
            fields = tokens(parts[1], "=")
            name = fields.get("service") or fields.get("program")
            event = fields.get("event", "exit")
            if not name:
                continue
            if event == "exit":
                try:
                    exit_time = parse_stamp(parts[0])
                except ValueError:
                    continue
                self.pending[name] = {
                    "exit_time": exit_time, "exit_pid": fields.get("pid"), "respawn_time": None,
                }  # fmt: skip
            elif event in ("running", "fatal"):
                self.pending.pop(name, None)

    def write(self, t, **fields):
        line = stamp(t) + "".join(f" {k}={v}" for k, v in fields.items() if v is not None)
        with self.lock, open(self.log_path, "a", encoding="utf-8") as log:
            log.write(line + "\n")

    def handle(self, eventname, payload):
        now = self.clock()
        fields = tokens(payload.splitlines()[0] if payload else "")
        name = fields.get("processname")
        if not name:
            return
        group = fields.get("groupname")
        if eventname == "PROCESS_STATE_EXITED":
            if fields.get("expected") != "0":
                self.pending.pop(name, None)
                return
            gen = self.generation.get(name, 0) + 1
            self.generation[name] = gen
            self.pending[name] = {
                "exit_time": now, "exit_pid": fields.get("pid"), "respawn_time": None,
            }  # fmt: skip
            self.write(
                now, service=name, group=group, pid=fields.get("pid"),
                from_state=fields.get("from_state"), event="exit",
            )  # fmt: skip
        elif eventname == "PROCESS_STATE_STARTING":
            pending = self.pending.get(name)
            if pending is not None and pending["respawn_time"] is None:
                pending["respawn_time"] = now
        elif eventname == "PROCESS_STATE_RUNNING":
            pending = self.pending.pop(name, None)
            if pending is None:
                return
            exit_time = pending["exit_time"]
            respawn = pending["respawn_time"]
            self.write(
                now, program=name, group=group, pid=fields.get("pid"),
                from_state=fields.get("from_state"), event="running",
                exit_time=stamp(exit_time), exit_pid=pending["exit_pid"],
                respawn_s=f"{respawn - exit_time:.3f}" if respawn is not None else None,
                recovery_s=f"{now - exit_time:.3f}",
            )  # fmt: skip
            self.start_ready_check(name, group, exit_time)
        elif eventname == "PROCESS_STATE_FATAL":
            pending = self.pending.pop(name, None)
            if pending is not None:
                self.write(
                    now, program=name, group=group, from_state=fields.get("from_state"),
                    event="fatal", exit_time=stamp(pending["exit_time"]),
                )  # fmt: skip
        elif eventname == "PROCESS_STATE_STOPPED":
            self.pending.pop(name, None)  # stopped by hand before it came back

    def start_ready_check(self, name, group, exit_time):
        if not self.ready_dir:
            return
        try:
            with open(os.path.join(self.ready_dir, f"{name}.json"), encoding="utf-8") as fh:
                spec = json.load(fh)
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            print(f"restart-listener: bad readiness check for {name}: {exc}", file=sys.stderr)
            return
        gen = self.generation.get(name, 0)
        thread = threading.Thread(
            target=self.ready_check, args=(name, group, exit_time, gen, spec), daemon=True
        )
        thread.start()
        return thread

    def ready_check(self, name, group, exit_time, gen, spec):
        """Poll spec["url"] until spec["match"] matches; give up on time-out or a new exit."""
        check = str(spec.get("check", "ready"))
        pattern = re.compile(str(spec["match"]))
        interval = float(spec.get("interval_s", 0.5))
        deadline = exit_time + float(spec.get("timeout_s", 300))
        while self.generation.get(name, 0) == gen:
            try:
                with urllib.request.urlopen(spec["url"], timeout=max(0.5, interval * 2)) as resp:
                    body = resp.read(1 << 20).decode("utf-8", "replace")
            except (OSError, ValueError):
                body = ""
            now = self.clock()
            if pattern.search(body):
                self.write(
                    now, program=name, group=group, event="ready", check=check,
                    exit_time=stamp(exit_time), ready_s=f"{now - exit_time:.3f}",
                )  # fmt: skip
                return
            if now > deadline:
                self.write(
                    now, program=name, group=group, event="ready_timeout", check=check,
                    exit_time=stamp(exit_time), waited_s=f"{now - exit_time:.3f}",
                )  # fmt: skip
                return
            time.sleep(interval)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", nargs="?", default="/var/log/benchlab/restarts.log")
    parser.add_argument("--ready-dir", help="directory of <program>.json readiness checks")
    args = parser.parse_args(argv)
    listener = Listener(args.log, args.ready_dir)
    stdin, stdout = sys.stdin, sys.stdout
    while True:
        stdout.write("READY\n")
        stdout.flush()
        line = stdin.readline()
        if not line:
            return 0  # supervisord went away
        header = tokens(line)
        payload = stdin.read(int(header.get("len", "0")))
        try:
            listener.handle(header.get("eventname", ""), payload)
        except Exception as exc:  # never break the protocol over one event
            print(f"restart-listener: {type(exc).__name__}: {exc}", file=sys.stderr)
        stdout.write("RESULT 2\nOK")
        stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
