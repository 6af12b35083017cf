"""The backend suite against the real apps and the lab's real PostgreSQL: backend.yml deploys
the three backends (seeded schema, cgroups, supervisord), builds vegeta, and runs the
shortest DB scenario (04-db-write, 3 s after a 1 s warm-up) against each, one at a time.

One scenario, a few seconds of load per backend, on the lab the session's `lab` fixture
already brought up. Figures asserted are the run's own: every request due was sent, answered
201 and committed (the rows are in the suite's database). The run takes about 3 minutes with
the apps and vegeta already installed, more on a fresh machine (their packages, the vegeta
build): it is in `make test-long` (pytest -m long), outside CI's 30-minute budget, which
keeps the refusal of a backend the inventory does not deploy."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from conftest import REPO, Lab, run_playbook

BACKENDS = ("fastapi_pragmatic", "fastapi_strict", "django_drf")
RATE, DURATION = 50, 3


def _posts() -> int:
    out = subprocess.run(
        ["runuser", "-u", "postgres", "--", "psql", "-h", "/run/benchlab/postgresql", "-At",
         "-d", "benchlab_backend", "-c", "SELECT count(*) FROM posts"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return int(out.stdout.strip() or -1)


def test_unknown_backend_stops_before_any_change() -> None:
    run = run_playbook("backend.yml", "-e", "backends=fastapi_pragmatic,nosuch", timeout=300)
    assert run.returncode == 2
    assert "backend 'nosuch' is not deployed by this inventory; fix: -e backends=" in run.stdout
    assert run.recap()["localhost"]["changed"] == 0


@pytest.fixture(scope="module")
def backend_run(lab: Lab) -> dict:
    started = time.monotonic()
    before_results = set((REPO / "results").iterdir())
    run = run_playbook(
        "backend.yml", "-e", "scenario=04-db-write", "-e", f"rate={RATE}",
        "-e", f"duration={DURATION}", "-e", "warmup=1", timeout=1200,
    )  # fmt: skip
    assert run.returncode == 0, f"backend.yml failed:\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
    new = [p for p in set((REPO / "results").iterdir()) - before_results if "-backend-" in p.name]
    assert len(new) == 1, f"expected one new backend run folder, got {new}"
    doc = json.loads((new[0] / "results.json").read_text())
    doc["_dir"] = str(new[0])
    doc["_wall_s"] = time.monotonic() - started
    return doc


@pytest.mark.long
def test_each_backend_served_every_write_from_the_schedule(backend_run: dict) -> None:
    by = {m["backend"]: m for m in backend_run["measurements"]}
    assert set(by) == set(BACKENDS)
    for name, m in by.items():
        assert "error" not in m, f"{name}: {m.get('error')}"
        f = m["figures"]
        assert f["due"] == RATE * DURATION and f["dropped"] == 0, (name, f)
        assert f["failed"] == 0 and f["status_codes"] == {"201": RATE * DURATION}, (name, f)
        assert 0 < f["latency_ms"]["p50"] <= f["latency_ms"]["p95"] <= f["latency_ms"]["p99"]
        assert f["throughput_per_s"] == pytest.approx(RATE, rel=0.15), (name, f)
        assert (Path(backend_run["_dir"]) / m["dir"] / "vegeta.json").is_file()
        # the backend's own cgroup was scraped: it worked (CPU > 0) under its limit
        res = m["resources"][f"backend-{name}"]
        assert res["cpu_limit_cores_peak"] == pytest.approx(1.0)
        assert res["cpu_cores_mean"] is not None and res["cpu_cores_mean"] > 0


@pytest.mark.long
def test_the_writes_are_in_the_suites_database(backend_run: dict) -> None:
    # the seed (100,000 users) is there, and at least this run's 3 x 150 posts (plus warm-ups)
    assert _posts() >= len(BACKENDS) * RATE * DURATION


@pytest.mark.long
def test_report_sets_the_backends_side_by_side(backend_run: dict) -> None:
    report = (Path(backend_run["_dir"]) / "report.md").read_text()
    assert "## basic/04-db-write" in report
    assert "Against fastapi_pragmatic:" in report
    for name in BACKENDS:
        assert f"| {name} | " in report
    print(f"backend run wall-clock: {backend_run['_wall_s']:.0f} s")
