"""The controller's view of an Ansible inventory: which one a command uses, and group sizes.

Read in-process with Ansible's own inventory loader (the YAML, INI and directory forms the
playbooks accept), without contacting any host.
"""

from __future__ import annotations

import configparser
from collections.abc import Sequence
from pathlib import Path

ANSIBLE_CFG = "ansible.cfg"


class InventoryError(ValueError):
    """An inventory that cannot be used: names the option, the problem and the fix."""


def resolve_inventory(repo: Path, given: str | None) -> Path:
    """`given` (relative to the kit checkout unless absolute), else ansible.cfg's inventory."""
    if given is None:
        cfg = configparser.ConfigParser()
        cfg.read(repo / ANSIBLE_CFG, encoding="utf-8")
        given = cfg.get("defaults", "inventory", fallback=None)
        if not given:
            raise InventoryError(
                f"--inventory not given and {repo / ANSIBLE_CFG} names none; "
                "fix: pass -i inventory/<name>"
            )
    path = Path(given)
    path = path if path.is_absolute() else repo / path
    if not path.exists():
        raise InventoryError(
            f"--inventory {given}: {path} not found; fix: e.g. -i inventory/virtual"
        )
    return path


def group_sizes(inventory: Path, groups: Sequence[str]) -> dict[str, int]:
    """Host count of each of `groups` in the inventory (0 for a group it lacks)."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    manager = InventoryManager(loader=DataLoader(), sources=[str(inventory)])
    found = manager.get_groups_dict()
    if set(found) <= {"all", "ungrouped"} and not manager.hosts:
        raise InventoryError(
            f"--inventory {inventory}: no host could be read from it; "
            "fix: give an inventory directory holding hosts.yml (e.g. -i inventory/virtual)"
        )
    return {group: len(found.get(group, [])) for group in groups}
