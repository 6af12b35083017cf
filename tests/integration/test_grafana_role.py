"""The grafana role in check mode (Grafana cannot be installed here: its apt repository is
unreachable), against a throw-away inventory whose `grafana` group is this machine.

The repository key comes from a local file (grafana_apt_key_url accepts file://) for the same
reason; the role reports the install it would do, and renders its provisioning files, which
--diff shows. No lab needed: a few seconds.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from conftest import LOCAL, REPO, run_playbook


def _inventory(tmp_path: Path, groups: dict[str, dict[str, object]]) -> Path:
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump({"all": {"children": groups}}))
    return path


def test_grafana_play_passes_in_check_mode_and_provisions_the_kit(tmp_path: Path) -> None:
    key = tmp_path / "grafana.asc"
    key.write_text(
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\nnot used\n-----END PGP PUBLIC KEY BLOCK-----\n"
    )
    inventory = _inventory(
        tmp_path,
        {
            "benchlab": {"hosts": {"localhost": LOCAL}},
            "prometheus": {"hosts": {"localhost": None}},
            "grafana": {"hosts": {"localhost": None}},
        },
    )
    run = run_playbook(
        "-i", str(inventory), "playbooks/grafana.yml", "--check", "--diff",
        "-e", f"grafana_apt_key_url=file://{key}", "-e", f"grafana_secrets_dir={tmp_path}",
        timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    recap = run.recap()["localhost"]
    assert recap["failed"] == 0 and recap["unreachable"] == 0, recap
    # the data source is the inventory's Prometheus; the provider reads the copied dashboards
    assert "url: http://127.0.0.1:9090" in run.stdout
    assert "path: /etc/benchlab/grafana/dashboards" in run.stdout
    for dashboard in sorted((REPO / "dashboards").glob("*.json")):
        assert f"(item={dashboard.name})" in run.stdout


def test_without_a_grafana_group_the_play_does_nothing() -> None:
    run = run_playbook("playbooks/grafana.yml", "--check", timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "skipping: no hosts matched" in run.stdout
    assert "grafana :" not in run.stdout


def test_the_role_stops_without_a_prometheus_to_read(tmp_path: Path) -> None:
    inventory = _inventory(
        tmp_path,
        {"benchlab": {"hosts": {"localhost": LOCAL}}, "grafana": {"hosts": {"localhost": None}}},
    )
    run = run_playbook("-i", str(inventory), "playbooks/grafana.yml", "--check", timeout=300)
    assert run.returncode != 0
    assert "the grafana role needs the inventory's `prometheus` group" in run.stdout
