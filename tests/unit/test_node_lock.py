"""requirements-node.lock (what remote hosts install) must agree with requirements.lock."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_every_node_pin_is_the_controller_pin() -> None:
    controller = _pins(ROOT / "requirements.lock")
    node = _pins(ROOT / "requirements-node.lock")
    assert node, "requirements-node.lock is empty"
    # pip freeze (requirements.lock) leaves out the packaging tools themselves.
    unpinned_by_freeze = {"pip", "setuptools", "wheel"}
    differing = {
        n: (v, controller.get(n))
        for n, v in node.items()
        if n not in unpinned_by_freeze and controller.get(n) != v
    }
    assert not differing, f"node pins differ from requirements.lock (node, controller): {differing}"


@pytest.mark.parametrize("needed", ["pyspark", "psycopg", "confluent-kafka", "prometheus-client"])
def test_node_lock_carries_what_the_hosts_run(needed: str) -> None:
    assert needed in _pins(ROOT / "requirements-node.lock")
