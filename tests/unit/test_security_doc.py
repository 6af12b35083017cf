"""docs/security.md's port table is held to group_vars/all: every port, its number, its group
and where it listens, so the page cannot drift from what the roles bind."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "security.md"
PORTS = yaml.safe_load((REPO / "group_vars/all/ports.yml").read_text())
KIT = yaml.safe_load((REPO / "group_vars/all/kit.yml").read_text())
ROW = re.compile(r"^\| `(\w+)` \| (\d+) \| (\w+) \| (lab address|loopback) \| (.+) \|$")


def table() -> dict[str, tuple[int, str, str]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        if match := ROW.match(line):
            name, port, group, where, _ = match.groups()
            assert name not in rows, f"docs/security.md lists {name} twice"
            rows[name] = (int(port), group, where)
    return rows


def group_of(name: str) -> str:
    groups = [group for group, ports in KIT["benchlab_group_ports"].items() if name in ports]
    assert len(groups) == 1, f"{name}: in benchlab_group_ports of {groups}, expected exactly one"
    return groups[0]


def test_every_port_is_in_the_table_as_configured() -> None:
    rows = table()
    assert set(rows) == set(PORTS), (
        f"docs/security.md's port table and group_vars/all/ports.yml differ: "
        f"missing {sorted(set(PORTS) - set(rows))}, unknown {sorted(set(rows) - set(PORTS))}"
    )
    for name, port in PORTS.items():
        where = "loopback" if name in KIT["benchlab_loopback_ports"] else "lab address"
        expected = (port, group_of(name), where)
        assert rows[name] == expected, f"docs/security.md, {name}: {rows[name]} != {expected}"


def test_loopback_ports_are_ports_of_the_kit() -> None:
    assert set(KIT["benchlab_loopback_ports"]) <= set(PORTS)


def test_readme_links_the_page() -> None:
    assert "(docs/security.md)" in (REPO / "README.md").read_text()
