"""Facts the Ansible side and the Python side both need are defined once, or checked equal.

group_vars/all/ loads for every kit playbook and outranks role defaults, so a role default
repeating a kit-wide value is a second copy nobody reads; it only drifts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from benchlab.service_exporter import SUPERVISOR_CONFIG

REPO = Path(__file__).resolve().parents[2]
KIT_VARS = REPO / "group_vars" / "all"


def _yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def _kit(name: str) -> dict[str, Any]:
    return _yaml(KIT_VARS / name)


def test_supervisord_config_path_agrees_with_the_kit_variable() -> None:
    assert _kit("kit.yml")["benchlab_supervisor_conf"] == SUPERVISOR_CONFIG
