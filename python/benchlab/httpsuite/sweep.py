"""A sweep of one backend parameter with everything else fixed: one ``backend.yml`` run per
value (each redeploys the backends with it), then one table of every run's figures.

    python -m benchlab.httpsuite sweep --param backend_workers --values 1,2,4,8,5 \\
        -- -e scenario=01-lightweight -e backends=fastapi_pragmatic,django_drf
    python -m benchlab.httpsuite sweep --param backend_db_pool_size --values 5,10,20,50 -- ...

The runs are ordinary backend runs (results/<id>/, never overwritten); the sweep writes
results/sweep-<UTC stamp>-<4 hex>/sweep.md and sweep.json naming them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchlab.httpsuite.report import fmt
from benchlab.results import new_report_id, write_json, write_text_atomic

PARAMS = ("backend_workers", "backend_db_pool_size")


def _run_dirs(results: Path) -> set[Path]:
    return {p for p in results.iterdir() if "-backend-" in p.name} if results.exists() else set()


def run_sweep(repo: Path, param: str, values: list[int], extra: list[str]) -> int:
    results = repo / "results"
    playbook = Path(sys.executable).parent / "ansible-playbook"
    runs: list[dict[str, Any]] = []
    for value in values:
        before = _run_dirs(results)
        argv = [str(playbook), "backend.yml", "-e", f"{param}={value}", *extra]
        print(f"sweep {param}={value}: {' '.join(argv[1:])}", flush=True)
        done = subprocess.run(argv, cwd=repo, check=False, env={**os.environ})
        new = sorted(_run_dirs(results) - before)
        runs.append({"value": value, "exit": done.returncode, "run": new[-1].name if new else None})
    sweep_dir = results / f"sweep-{new_report_id()}"
    sweep_dir.mkdir(parents=True)
    doc = {"param": param, "values": values, "extra": extra, "runs": runs}
    rows = []
    for r in runs:
        path = results / str(r["run"]) / "results.json"
        if not r["run"] or not path.exists():
            rows.append(f"| {r['value']} | (run failed, exit {r['exit']}) | | | | | |")
            continue
        for m in json.loads(path.read_text())["measurements"]:
            f = m.get("figures")
            if not f:
                continue
            res = next(
                (v for k, v in m.get("resources", {}).items() if k.startswith("backend")), {}
            )
            rows.append(
                f"| {r['value']} | {m['scenario']} {m['variant']} | {m['backend']} "
                f"| {fmt(f['throughput_per_s'])} | {fmt(f['latency_ms']['p95'], 2)} "
                f"| {fmt(f['latency_from_schedule_ms']['p99'], 2)} "
                f"| {fmt(res.get('cpu_cores_mean'), 2)} |"
            )
    text = "\n".join(
        [
            f"# Sweep of {param}: {', '.join(map(str, values))}\n",
            "One backend.yml run per value, everything else fixed "
            f"(`{' '.join(extra) or 'defaults'}`); runs: "
            + ", ".join(f"{r['value']}: {r['run']}" for r in runs)
            + ".\n",
            f"| {param} | scenario | backend | ok/s | p95 ms | p99 from schedule ms | CPU cores |",
            "|---:|---|---|---:|---:|---:|---:|",
            *rows,
            "",
        ]
    )
    write_json(sweep_dir / "sweep.json", doc)
    write_text_atomic(sweep_dir / "sweep.md", text)
    print(text)
    print(f"sweep: {sweep_dir / 'sweep.md'}")
    return 0 if all(r["exit"] == 0 for r in runs) else 1
