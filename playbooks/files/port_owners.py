#!/usr/bin/env python3
"""Report who listens on the given TCP ports: port_owners.py <kit-supervisord-pidfile> PORT...

Prints JSON {port: {"pid": .., "cmd": .., "kit": bool}} for ports that are busy. A port
is the kit's own when the listening process is the kit's supervisord or one of its
descendants. Reads /proc only (changes nothing).
"""

import json
import os
import sys


def listening_inodes(ports):
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as handle:
                next(handle)
                for line in handle:
                    parts = line.split()
                    port = int(parts[1].rsplit(":", 1)[1], 16)
                    if parts[3] == "0A" and port in ports:
                        found[parts[9]] = port
        except OSError:
            continue
    return found


def parent(pid):
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("PPid:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


def main():
    pidfile, ports = sys.argv[1], {int(p) for p in sys.argv[2:]}
    try:
        kit = int(open(pidfile).read().strip())
    except (OSError, ValueError):
        kit = -1
    inodes = listening_inodes(ports)
    busy = {port: {"pid": None, "cmd": "?", "kit": False} for port in inodes.values()}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                port = inodes[target[8:-1]]
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    cmd = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
                ancestor, seen = int(pid), 0
                while ancestor > 1 and ancestor != kit and seen < 64:
                    ancestor, seen = parent(ancestor), seen + 1
                entry = busy[port]
                if entry["pid"] is None or ancestor == kit:
                    busy[port] = {"pid": int(pid), "cmd": cmd[:200], "kit": ancestor == kit}
    print(json.dumps({str(k): v for k, v in busy.items()}))


if __name__ == "__main__":
    main()
