"""The judgements of tests/integration/exposure.py fail when they should.

The lab tests (test_site.py, test_bench_smoke.py, molecule/virtual) only ever see a lab that
passes; here each judgement meets the exposure it exists to catch.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from exposure import (
    Listener,
    descendants,
    misplaced,
    parse_ss,
    pg_first_reply,
    secret_leaks,
)

SS = """\
LISTEN 0      128          0.0.0.0:2024      0.0.0.0:*
LISTEN 0      244        127.0.0.1:5432      0.0.0.0:*    users:(("postgres",pid=29595,fd=5))
LISTEN 0      50    [::ffff:127.0.0.1]:9092        *:*    users:(("java",pid=29590,fd=203))
LISTEN 0      50               *:4040              *:*    users:(("java",pid=700,fd=9))
LISTEN 0      4096            [::]:22             [::]:*
LISTEN 0      4096   127.0.0.53%lo:53          0.0.0.0:*
LISTEN 0      50      10.213.77.10:7077        0.0.0.0:*
"""
KIT_PORTS = {5432: "postgresql_port", 9092: "kafka_port", 7077: "spark_master_port",
             8080: "spark_master_webui_port"}  # fmt: skip


def test_parse_ss_reads_every_shape_of_address() -> None:
    assert parse_ss(SS) == [
        Listener("0.0.0.0", 2024, None),
        Listener("127.0.0.1", 5432, 29595),
        Listener("127.0.0.1", 9092, 29590),
        Listener("*", 4040, 700),
        Listener("::", 22, None),
        Listener("127.0.0.53", 53, None),
        Listener("10.213.77.10", 7077, None),
    ]


def judge(listeners: list[Listener], address: str, pids: set[int] | None) -> list[str]:
    return misplaced(
        listeners, kit_ports=KIT_PORTS, loopback_ports={8080}, host_address=address, kit_pids=pids
    )


def test_kit_port_on_a_wildcard_address_is_caught() -> None:
    for wildcard in ("0.0.0.0", "::", "*"):
        (problem,) = judge([Listener(wildcard, 9092)], "127.0.0.1", set())
        assert problem == "kafka_port 9092 listens on every interface, not on 127.0.0.1 or loopback"


def test_kit_port_on_another_hosts_address_is_caught() -> None:
    assert judge([Listener("192.0.2.2", 5432)], "10.213.77.11", set()) == [
        "postgresql_port 5432 listens on 192.0.2.2, not on 10.213.77.11 or loopback"
    ]


def test_loopback_port_on_the_lab_address_is_caught() -> None:
    assert judge([Listener("10.213.77.10", 8080)], "10.213.77.10", set()) == [
        "spark_master_webui_port 8080 listens on 10.213.77.10, not on loopback only"
    ]
    assert judge([Listener("127.0.0.1", 8080)], "10.213.77.10", set()) == []


def test_random_port_of_a_kit_process_counts_foreign_ones_do_not() -> None:
    listeners = parse_ss(SS)
    # pid 700 (a driver UI on *:4040) is the kit's; port 2024 and sshd are not
    assert judge(listeners, "127.0.0.1", {700}) == [
        "port 4040 (pid 700) listens on every interface, not on 127.0.0.1 or loopback",
        "spark_master_port 7077 listens on 10.213.77.10, not on 127.0.0.1 or loopback",
    ]
    # every socket counts (a virtual node): the wildcard ones are all caught
    caught = judge(listeners, "10.213.77.10", None)
    assert [p.split(" listens")[0] for p in caught] == [
        "port 2024 (pid None)",
        "port 4040 (pid 700)",
        "port 22 (pid None)",
        "port 53 (pid None)",
    ]


def test_a_placed_lab_passes() -> None:
    ok = [Listener("127.0.0.1", 5432), Listener("10.213.77.10", 7077), Listener("::1", 9092)]
    assert judge(ok, "10.213.77.10", None) == []


def test_descendants_walks_the_process_tree(tmp_path: Path) -> None:
    for pid, ppid in ((10, 1), (11, 10), (12, 11), (20, 1)):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "status").write_text(f"Name:\tx\nPPid:\t{ppid}\n")
    assert descendants(10, tmp_path) == {10, 11, 12}


SECRET = "Zq4x7PpL0aR2mW9sT1uV3yB5nC8dE6fG"


def test_secret_found_in_output_and_in_any_file(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "run.log").write_bytes(b"\x00binary " + SECRET.encode() + b" tail")
    (tmp_path / "run.json").write_text('{"password_file": "/etc/benchlab/secrets/x"}')
    found = secret_leaks(SECRET, {"stdout": f"ok: {SECRET}", "stderr": ""}, [tmp_path])
    assert found == ["stdout", str(tmp_path / "logs" / "run.log")]


def test_no_secret_no_finding(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text('{"password": "<redacted>"}')
    assert secret_leaks(SECRET, {"stdout": "changed=0"}, [tmp_path]) == []


@pytest.mark.parametrize("secret", ["", "short"])
def test_a_secret_too_short_to_mean_anything_is_refused(secret: str) -> None:
    with pytest.raises(ValueError, match="too short"):
        secret_leaks(secret, {}, [])


def test_a_missing_results_folder_is_an_error_not_a_pass(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such folder"):
        secret_leaks(SECRET, {}, [tmp_path / "absent"])


def fake_postgres(reply: bytes) -> int:
    """A one-shot server that reads a startup packet and answers `reply`; returns its port."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        with conn, server:
            length = struct.unpack("!i", conn.recv(4))[0]
            conn.recv(length - 4)
            conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1]


def message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (message(b"R", struct.pack("!i", 10) + b"SCRAM-SHA-256\0\0"), "scram-sha-256"),
        (message(b"R", struct.pack("!i", 0)), "auth 0"),  # trust: no password at all
        (message(b"R", struct.pack("!i", 5) + b"salt"), "auth 5"),  # md5
        (
            message(b"E", b'SFATAL\0C28000\0Mno pg_hba.conf entry for host "10.0.0.9"\0\0'),
            'rejected: no pg_hba.conf entry for host "10.0.0.9"',
        ),
    ],
)
def test_pg_first_reply_names_what_the_server_asked(reply: bytes, expected: str) -> None:
    assert pg_first_reply("127.0.0.1", fake_postgres(reply), "benchlab", "benchlab") == expected
