"""Restarts during a run, from every host's supervisord restart log.

The kit's supervisord event listener (roles/resource_limits/files/restart-listener.py, whose
docstring fixes the line format and what each time measures) writes one line per unexpected
exit, one when the program is RUNNING again (with the recovery time), and, for programs with a
readiness check such as the HDFS DataNode, one when it is back in service. bench.yml
(playbooks/tasks/collect_restarts.yml) copies each host's log after the load into the run
directory, one file per host: `restart-logs/<host>.log` (empty when the host has no log: no
unexpected exit since the kit installed it) or `restart-logs/<host>.error` (why the log could
not be read: host unreachable, file unreadable). Then

    python -m benchlab.restarts collect --run-dir D --logs-dir D/restart-logs [--host H ...]

keeps the exits inside the run window (run.json `created` .. `finished`) with their
follow-up lines and writes D/restarts.json; `benchlab report` shows it. A host named by
--host without a file in the logs directory is reported as an error for that host.

Times come from the host that restarted the program; a recovery time is a difference on that
one host's clock, so it holds on a multi-host lab even when the hosts' clocks differ a little.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchlab.results import ResultsError, open_run_dir, read_json, write_json

RESTARTS_FILE = "restarts.json"
LOG_SUFFIX = ".log"
ERROR_SUFFIX = ".error"


@dataclass(frozen=True)
class LogLine:
    time: float
    stamp: str
    fields: dict[str, str]
    text: str

    @property
    def event(self) -> str:
        # Lines written before recovery times were recorded carry no event: they are exits.
        return self.fields.get("event", "exit")

    @property
    def service(self) -> str | None:
        # exit lines name it `service=`, the lines that follow an exit `program=`
        return self.fields.get("service") or self.fields.get("program")

    @property
    def is_exit(self) -> bool:
        """One unexpected exit (what benchlab_service_restarts_total counts)."""
        return self.event == "exit" and "service" in self.fields


def parse_iso(text: str) -> float:
    """Epoch seconds of an ISO time from run.json (UTC when it has no offset)."""
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()


# The restart log's own stamps (`2026-11-22T16:01:02.345Z`) always carry the Z.
parse_stamp = parse_iso


def parse_line(line: str) -> LogLine | None:
    parts = line.strip().split(None, 1)
    if len(parts) != 2:
        return None
    try:
        t = parse_stamp(parts[0])
    except ValueError:
        return None
    fields = dict(item.split("=", 1) for item in parts[1].split() if "=" in item)
    if "service" not in fields and "program" not in fields:
        return None
    return LogLine(t, parts[0], fields, line.strip())


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def restarts_in_window(
    host: str, text: str, start: float, end: float
) -> tuple[list[dict[str, Any]], list[str]]:
    """The exits of `text` (one host's log) with start <= exit <= end, each with what followed.

    Returns (restarts, raw lines kept): an exit's running / ready / fatal lines are kept even
    when they come after `end` (the run finished before the program was back).
    """
    lines = [p for p in (parse_line(raw) for raw in text.splitlines()) if p is not None]
    entries: list[dict[str, Any]] = []
    kept: list[str] = []
    by_exit: dict[tuple[str, int], dict[str, Any]] = {}  # (service, exit time in ms)
    # service -> its latest exit not yet RUNNING (None: that exit is outside the window)
    open_exit: dict[str, dict[str, Any] | None] = {}
    for line in lines:
        service = line.service or "?"
        if line.event == "exit":
            entry = None
            if start <= line.time <= end:
                entry = {
                    "host": host,
                    "service": service,
                    "group": line.fields.get("group"),
                    "exit_time": line.stamp,
                    "exit_pid": line.fields.get("pid"),
                    "from_state": line.fields.get("from_state"),
                    "respawn_s": None,
                    "running_time": None,
                    "running_pid": None,
                    "recovery_s": None,
                    "ready_check": None,
                    "ready_time": None,
                    "ready_s": None,
                    "state": "not back",
                }
                entries.append(entry)
                by_exit[(service, round(line.time * 1000))] = entry
                kept.append(line.text)
            open_exit[service] = entry
            continue
        try:
            exit_ms = round(parse_stamp(line.fields["exit_time"]) * 1000)
        except (KeyError, ValueError):
            exit_ms = None
        entry = by_exit.get((service, exit_ms)) if exit_ms is not None else open_exit.get(service)
        if entry is None:
            if line.event == "running":
                open_exit.pop(service, None)
            continue
        kept.append(line.text)
        if line.event == "running":
            open_exit.pop(service, None)
            entry.update(
                running_time=line.stamp,
                running_pid=line.fields.get("pid"),
                respawn_s=_float(line.fields.get("respawn_s")),
                recovery_s=_float(line.fields.get("recovery_s")),
                state="running" if entry["ready_time"] is None else entry["state"],
            )
        elif line.event in ("ready", "ready_timeout"):
            entry["ready_check"] = line.fields.get("check")
            if line.event == "ready":
                entry.update(
                    ready_time=line.stamp,
                    ready_s=_float(line.fields.get("ready_s")),
                    state="in service",
                )
            else:
                entry["state"] = "running, readiness check timed out"
        elif line.event == "fatal":
            open_exit.pop(service, None)
            entry["state"] = "gave up (FATAL)"
    entries.sort(key=lambda e: (parse_stamp(e["exit_time"]), e["host"], e["service"]))
    return entries, kept


def run_window(run: dict[str, Any], now: float | None = None) -> tuple[float, float]:
    """[created, finished] of run.json, whole seconds widened outwards; open end: now."""
    start = float(int(parse_iso(run["created"])))
    finished = run.get("finished")
    end = parse_iso(finished) + 1.0 if finished else (time.time() if now is None else now)
    return start, end


def collect(run_dir: Path, logs: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """Write run_dir/restarts.json from {host: {"text": str, "error": str | None}}."""
    open_run_dir(run_dir)
    run = read_json(run_dir / "run.json") or {}
    if not run.get("created"):
        raise ResultsError(f"{run_dir}/run.json has no `created` time: no run window")
    start, end = run_window(run, now)
    hosts: dict[str, Any] = {}
    restarts: list[dict[str, Any]] = []
    for host in sorted(logs):
        item = logs[host] if isinstance(logs[host], dict) else {"text": str(logs[host])}
        entries, kept = restarts_in_window(host, item.get("text") or "", start, end)
        hosts[host] = {"error": item.get("error"), "lines": kept}
        restarts.extend(entries)
    restarts.sort(key=lambda e: (parse_stamp(e["exit_time"]), e["host"], e["service"]))
    doc = {
        "window": {
            "start": start,
            "end": end,
            "start_utc": datetime.fromtimestamp(start, tz=UTC).isoformat().replace("+00:00", "Z"),
            "end_utc": datetime.fromtimestamp(end, tz=UTC).isoformat().replace("+00:00", "Z"),
        },
        "hosts": hosts,
        "restarts": restarts,
    }
    write_json(run_dir / RESTARTS_FILE, doc)
    return doc


def read_logs_dir(logs_dir: Path, hosts: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """{host: {"text", "error"}} from `logs_dir`'s <host>.log and <host>.error files.

    A .error file (its text, or "unreadable" when empty) makes that host's error; a host of
    `hosts` with neither file is an error too, so a log that was not transferred is never
    taken for "no restarts". Other files are ignored.
    """
    if not logs_dir.is_dir():
        raise ResultsError(f"{logs_dir} is not a directory of restart logs")
    logs: dict[str, dict[str, Any]] = {}
    for path in sorted(logs_dir.iterdir()):
        if not path.is_file() or path.suffix not in (LOG_SUFFIX, ERROR_SUFFIX):
            continue
        item = logs.setdefault(path.stem, {"text": "", "error": None})
        # The listener writes ASCII; a damaged byte must not cost the other lines.
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == LOG_SUFFIX:
            item["text"] = text
        else:
            item["error"] = text.strip() or "unreadable"
    for host in hosts or []:
        logs.setdefault(host, {"text": "", "error": f"no restart log in {logs_dir}"})
    return logs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchlab.restarts",
        description="Keep every host's restart log lines of a run's window (restarts.json)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("collect", help="read <host>.log / <host>.error files of a directory")
    p.add_argument("--run-dir", required=True, type=Path)
    p.add_argument(
        "--logs-dir",
        required=True,
        type=Path,
        help="one <host>.log (the host's restart log) or <host>.error (why not) per host",
    )
    p.add_argument(
        "--host",
        action="append",
        default=[],
        help="a host whose log is expected (repeat); missing from --logs-dir: an error for it",
    )
    args = parser.parse_args(argv)
    try:
        open_run_dir(args.run_dir)  # the run directory's error first, as before the logs
        doc = collect(args.run_dir, read_logs_dir(args.logs_dir, args.host))
    except (OSError, ValueError, ResultsError) as exc:
        print(f"benchlab.restarts: {exc}", file=sys.stderr)
        return 2
    print(
        f"{len(doc['restarts'])} restart(s) in {args.run_dir.name} on {len(doc['hosts'])} host(s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
