"""Tests and CI never select the real lab's inventory or its addresses (SPEC.md section 10)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = ("inventory/lab", "192.168.55.")
THIS = Path(__file__).resolve()


def _files() -> list[Path]:
    out: list[Path] = []
    # Everything tests and CI run: the tests, the molecule scenarios, CI, the test script
    # and the Makefile that CI's `make test` goes through.
    for top in ("tests", ".ci", "molecule", "scripts", "Makefile"):
        root = REPO / top
        for path in [root] if root.is_file() else root.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.resolve() != THIS:
                out.append(path)
    return out


def test_no_test_or_ci_file_points_at_the_lab() -> None:
    offenders = []
    for path in _files():
        try:
            text = path.read_text(errors="ignore")
        except OSError:
            continue
        offenders += [f"{path.relative_to(REPO)}: {word}" for word in FORBIDDEN if word in text]
    assert not offenders, f"tests/CI must never target the real lab: {offenders}"


def test_default_inventory_is_the_local_one() -> None:
    """ansible.cfg's default (what a bare `ansible-playbook` in CI selects) is loopback-only."""
    cfg = (REPO / "ansible.cfg").read_text()
    assert "inventory = inventory/local" in cfg
    local = (REPO / "inventory" / "local" / "hosts.yml").read_text()
    assert "ansible_connection: local" in local
    assert "ansible_host" not in local


def test_virtual_inventory_stays_inside_the_kit_subnet() -> None:
    """The inventory tests use for the multi-node lab names only the virtual lab's own /24."""
    text = "".join(p.read_text() for p in (REPO / "inventory" / "virtual").rglob("*.yml"))
    assert "192.168." not in text
    assert "virtual_lab_subnet: 10.213.77.0/24" in text
