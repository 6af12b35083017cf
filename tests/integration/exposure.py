"""What a host exposes, judged against docs/security.md: listeners, PostgreSQL's door, secrets.

Shared by the local suite (tests/integration), molecule's virtual checks (molecule/virtual/tests,
which also copy this file to each node for node_snapshot.py) and the unit tests that prove each
judgement fails when it should (tests/unit/test_exposure.py). Standard library only.
"""

from __future__ import annotations

import os
import re
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

WILDCARD = frozenset({"0.0.0.0", "::", "*"})
LOOPBACK = frozenset({"127.0.0.1", "::1"})
# Shorter than this, a "secret" would match by chance (and an empty one matches everything).
MIN_SECRET_CHARS = 16


@dataclass(frozen=True)
class Listener:
    address: str  # IPv4-mapped IPv6 addresses as IPv4; "*" for ss's dual-stack wildcard
    port: int
    pid: int | None = None  # with `ss -p` only


def kit_ports(kit: dict) -> dict[int, str]:
    """port -> variable name, for every port of benchlab_group_ports (kit.yml + ports.yml)."""
    return {kit[name]: name for names in kit["benchlab_group_ports"].values() for name in names}


def loopback_ports(kit: dict) -> set[int]:
    return {kit[name] for name in kit["benchlab_loopback_ports"]}


def parse_ss(text: str) -> list[Listener]:
    """Listening sockets from `ss -Htln` or `ss -Htlnp` (header-less)."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4 or not fields[3][-1:].isdigit():
            continue
        address, _, port = fields[3].rpartition(":")
        address = address.strip("[]").split("%")[0].removeprefix("::ffff:")
        pid = re.search(r"\bpid=(\d+)", line)
        out.append(Listener(address, int(port), int(pid.group(1)) if pid else None))
    return out


def misplaced(
    listeners: list[Listener],
    *,
    kit_ports: dict[int, str],
    loopback_ports: set[int],
    host_address: str,
    kit_pids: set[int] | None = None,
) -> list[str]:
    """One line per kit socket that listens where docs/security.md says it must not.

    A kit socket is one on a port of group_vars/all/ports.yml (`kit_ports`: port -> variable
    name) or, when `kit_pids` is given, any socket of those processes (Spark's driver and
    block managers take random ports); `kit_pids=None` counts every socket as the kit's (a
    virtual node's namespace holds only the kit and sshd, which listens on the node address).
    Each listens on `host_address` (benchlab_host_address) or loopback, never on a wildcard;
    the ports in `loopback_ports` on loopback only.
    """
    problems = []
    for sock in listeners:
        name = kit_ports.get(sock.port)
        if name is None and kit_pids is not None and sock.pid not in kit_pids:
            continue
        what = f"{name} {sock.port}" if name else f"port {sock.port} (pid {sock.pid})"
        where = "every interface" if sock.address in WILDCARD else sock.address
        if sock.port in loopback_ports and sock.address not in LOOPBACK:
            problems.append(f"{what} listens on {where}, not on loopback only")
        elif sock.address not in LOOPBACK | {host_address}:
            problems.append(f"{what} listens on {where}, not on {host_address} or loopback")
    return problems


def descendants(root: int, proc: Path = Path("/proc")) -> set[int]:
    """`root` and every process below it (the kit's supervisord and what it runs)."""
    children: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        ppid = re.search(r"^PPid:\s+(\d+)", status, re.MULTILINE)
        if ppid:
            children.setdefault(int(ppid.group(1)), []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def kit_pids(supervisord_pidfile: Path, proc: Path = Path("/proc")) -> set[int]:
    """The kit's processes on this host: its supervisord's tree, and the tree of every process
    whose command line names benchlab (`benchlab run` and the streaming driver it submits)."""
    roots = {int(supervisord_pidfile.read_text().strip())}
    for entry in proc.iterdir():
        try:
            if entry.name.isdigit() and b"benchlab" in (entry / "cmdline").read_bytes():
                roots.add(int(entry.name))
        except OSError:
            continue
    return set().union(*(descendants(root, proc) for root in roots))


def pg_first_reply(host: str, port: int, user: str, database: str, timeout: float = 5.0) -> str:
    """PostgreSQL's answer to a startup packet, before any password is sent.

    "scram-sha-256": the server asks for SCRAM, i.e. pg_hba.conf lets this address try;
    "rejected: <message>": no pg_hba.conf entry (or another error); "auth <code>": any other
    authentication request (trust = 0, cleartext = 3, md5 = 5: all wrong for the kit).
    """
    body = struct.pack("!i", 196608)  # protocol 3.0
    body += b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in
                     (("user", user), ("database", database)))  # fmt: skip
    body += b"\0"
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.sendall(struct.pack("!i", len(body) + 4) + body)
        kind = conn.recv(1)
        length = struct.unpack("!i", _read(conn, 4))[0]
        payload = _read(conn, length - 4)
    if kind == b"R":
        code = struct.unpack("!i", payload[:4])[0]
        if code == 10 and b"SCRAM-SHA-256" in payload:
            return "scram-sha-256"
        return f"auth {code}"
    if kind == b"E":
        fields = dict((part[:1], part[1:]) for part in payload.split(b"\0") if part)
        return "rejected: " + fields.get(b"M", b"?").decode(errors="replace")
    return f"unexpected {kind!r}"


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError(f"PostgreSQL closed the connection after {len(data)} bytes")
        data += chunk
    return data


def secret_leaks(secret: str, texts: dict[str, str], folders: list[Path]) -> list[str]:
    """Where `secret` appears: the names of `texts` holding it, and files under `folders`."""
    if len(secret) < MIN_SECRET_CHARS:
        raise ValueError(
            f"secret: {len(secret)} characters, too short to search for; "
            f"pass the generated password ({MIN_SECRET_CHARS}+ characters)"
        )
    needle = secret.encode()
    found = [name for name, text in texts.items() if secret in text]
    for folder in folders:
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such folder to search for the secret")
        for dirpath, _, files in os.walk(folder):
            for name in files:
                path = Path(dirpath) / name
                if not path.is_symlink() and needle in path.read_bytes():
                    found.append(str(path))
    return found
