"""Facts the Ansible side and the Python side both need are defined once, or checked equal.

group_vars/all/ loads for every kit playbook and outranks role defaults, so a role default
repeating a kit-wide value is a second copy nobody reads; it only drifts.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchlab import targets as target_packages
from benchlab.runparams import OVERRIDABLE

REPO = Path(__file__).resolve().parents[2]
KIT_VARS = REPO / "group_vars" / "all"


def _yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def _kit(name: str) -> dict[str, Any]:
    return _yaml(KIT_VARS / name)


def test_supervisord_config_path_is_defined_once() -> None:
    """benchlab_supervisor_conf is the one place the path is written; everything else
    (roles, plays, the exporter's config, the tests) reads the variable."""
    path = _kit("kit.yml")["benchlab_supervisor_conf"]
    repo = KIT_VARS.parents[1]
    files = subprocess.run(
        ["git", "grep", "-l", "-F", path], cwd=repo, capture_output=True, text=True, check=False
    ).stdout.split()
    assert files == ["group_vars/all/kit.yml"], files


# -- ports: group_vars/all/ports.yml is the one definition ---------------------------------
ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "meta").is_dir())
KIT_WIDE = {
    name: (f"group_vars/all/{file}", value)
    for file in ("ports.yml", "kit.yml")
    for name, value in _kit(file).items()
}


@pytest.mark.parametrize("role", ROLES)
def test_role_defaults_do_not_repeat_kit_wide_values(role: str) -> None:
    problems = []
    for part in ("defaults", "vars"):
        path = REPO / "roles" / role / part / "main.yml"
        if not path.exists():
            continue
        for name, value in _yaml(path).items():
            if name not in KIT_WIDE:
                continue
            source, kit_value = KIT_WIDE[name]
            how = "disagrees with" if value != kit_value else "repeats"
            problems.append(
                f"roles/{role}/{part}/main.yml: {name} = {value!r} {how} {source} "
                f"({kit_value!r}); group_vars/all outranks role {part} in every kit playbook, "
                "so keep the one definition there"
            )
    assert not problems, "\n".join(problems)


def test_every_port_a_role_declares_is_kit_wide() -> None:
    ports = _kit("ports.yml")
    missing = []
    for role in ROLES:
        specs = REPO / "roles" / role / "meta" / "argument_specs.yml"
        if not specs.exists():
            continue
        for entry in _yaml(specs)["argument_specs"].values():
            missing += [
                f"roles/{role}: {name}"
                for name in entry.get("options", {})
                if name.endswith("_port") and name not in ports
            ]
    assert not missing, f"ports not in group_vars/all/ports.yml: {missing}"


def test_kit_ports_are_distinct_and_listed_per_group() -> None:
    ports = _kit("ports.yml")
    assert all(isinstance(v, int) and 0 < v < 65536 for v in ports.values()), ports
    assert len(set(ports.values())) == len(ports), "two kit services share a port"
    grouped = [name for names in _kit("kit.yml")["benchlab_group_ports"].values() for name in names]
    assert sorted(grouped) == sorted(ports), "benchlab_group_ports and ports.yml differ"


# -- limited services: benchlab_limited_services (kit.yml) is the one registry -------------
def _programs_in_a_cgroup() -> set[str]:
    """Programs a role runs through resource_limits with a literal `program_cgroup: true`."""
    names = set()
    for tasks in sorted((REPO / "roles").glob("*/tasks/*.yml")):
        for task in yaml.safe_load(tasks.read_text()) or []:
            params = task.get("vars", {}) if isinstance(task, dict) else {}
            if params.get("resource_limits_program_cgroup") is True:
                names.add(params["resource_limits_program_name"])
    return names


# The backend suite's HTTP backends (roles/backend) are a family named per inventory,
# backend-<name> (built-ins and the inventory's backend_extra): that role declares their
# cgroups itself (/etc/benchlab/cgroups.d/backend-<name>.conf, the suite's one pair of limits
# backend_cpu_limit / backend_memory_limit_mb), so they are not rows of the registry.
BACKEND_FAMILY = "backend-{{ item.key }}"


def test_the_backend_family_declares_its_own_cgroups() -> None:
    tasks = yaml.safe_load((REPO / "roles/backend/tasks/configure.yml").read_text())
    dests = [
        t["ansible.builtin.template"]["dest"] for t in tasks if "ansible.builtin.template" in t
    ]
    assert f"/etc/benchlab/cgroups.d/{BACKEND_FAMILY}.conf" in dests


def test_every_program_in_a_cgroup_is_a_registered_limited_service() -> None:
    registry = _kit("kit.yml")["benchlab_limited_services"]
    programs = _programs_in_a_cgroup() - {BACKEND_FAMILY}
    # resource_limits creates cgroups (and their limits) only for registered services.
    assert programs, "no role runs a program in a cgroup: the scan is broken"
    unregistered = programs - set(registry)
    assert not unregistered, f"not in benchlab_limited_services: {sorted(unregistered)}"
    targets = _kit("targets.yml")["benchlab_targets"]
    assert {s for t in targets.values() for s in t["services"]} <= set(registry)


# -- targets: each row of targets.yml is backed by its package, and names only known facts --
ROW_KEYS = {"available", "groups", "services", "data_groups", "disk_factor", "scrape",
            "version", "settings", "criteria", "hypothesis"}  # fmt: skip


def test_every_target_row_has_its_package_and_known_groups_and_ports() -> None:
    rows = _kit("targets.yml")["benchlab_targets"]
    ports = _kit("ports.yml")
    assert rows, "targets.yml has no target"
    for name, row in rows.items():
        assert name in target_packages.available(), f"no package benchlab.targets.{name}"
        package = target_packages.get(name)
        assert set(row) <= ROW_KEYS, f"{name}: unknown keys {sorted(set(row) - ROW_KEYS)}"
        assert set(row["data_groups"]) <= set(row["groups"]), name
        assert all(job["port"] in ports for job in row.get("scrape", [])), name
        assert all(job["group"] in row["groups"] for job in row.get("scrape", [])), name
        assert set(row["settings"]) <= set(package.keys), f"{name}: settings {row['settings']}"
        assert set(row["criteria"]) == set(row["hypothesis"]) == {"1", "2", "3", "search"}, name


# -- run parameters: benchlab.runparams is the source, run.yml holds checked copies --------
def test_overridable_run_parameters_agree_with_runparams() -> None:
    # playbooks/run_params.yml passes each of these to benchlab.runparams.
    assert _kit("run.yml")["benchlab_run_overridable"] == list(OVERRIDABLE)


# -- the virtual nodes' packages: virtual_lab installs what every role installs ------------
def test_virtual_lab_installs_every_roles_packages() -> None:
    """The virtual nodes share the machine's /usr and reach no mirror (roles/virtual_lab)."""

    def role(name: str, part: str = "defaults") -> dict[str, Any]:
        return _yaml(REPO / "roles" / name / part / "main.yml")

    pg_version = role("postgresql")["postgresql_version"]
    needed = {
        *role("common")["common_base_packages"],
        *role("calibration")["calibration_packages"],
        *role("resource_limits", "vars")["_resource_limits_packages"],
        # Every package the prometheus role may pick (it names them after their services).
        *role("prometheus", "vars")["_prometheus_debian_services"],
        *(
            p.replace("{{ postgresql_version }}", str(pg_version))
            for p in role("postgresql", "vars")["_postgresql_packages"]
        ),
    }
    missing = needed - set(role("virtual_lab")["virtual_lab_node_packages"])
    assert not missing, f"add to virtual_lab_node_packages: {sorted(missing)}"
