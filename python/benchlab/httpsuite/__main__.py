"""python -m benchlab.httpsuite {check,run}: the backend suite's entry points.

check: the -e suite / scenario / backends of backend.yml, before anything changes; prints
       the resolved selection as JSON, or one line and exit 2.
run:   one backend run from its configuration (rendered by backend.yml).
sweep: one backend.yml run per value of backend_workers or backend_db_pool_size.
report: report.md written again from a run folder's results.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchlab.fields import ConfigError
from benchlab.httpsuite import run as run_mod
from benchlab.httpsuite import scenarios, sweep


def check(
    repo: Path, suite: str, scenario: str | None, backends: str | None, known: list[str]
) -> int:
    root = repo / "scenarios"
    try:
        ids = scenarios.select(root, suite, scenario)
        if not ids:
            raise scenarios.SelectionError(
                f"suite '{suite}' has no scenario; fix: add scenarios/{suite}/<nn>-<name>.yml"
            )
        for sid in ids:
            scenarios.load(root, sid)
    except scenarios.SelectionError as exc:
        print(f"backend run: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"backend run: scenario file: {exc}", file=sys.stderr)
        return 2
    chosen = known
    if backends:
        chosen = [b.strip() for b in backends.split(",") if b.strip()]
        unknown = [b for b in chosen if b not in known]
        if unknown or not chosen:
            print(
                f"backend run: backend '{(unknown or [''])[0]}' is not deployed by this "
                f"inventory; fix: -e backends=<comma-separated, of {', '.join(known)}> "
                "(or add it to backend_extra)",
                file=sys.stderr,
            )
            return 2
    print(json.dumps({"scenarios": ids, "backends": chosen}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchlab.httpsuite")
    sub = parser.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("--repo", type=Path, required=True)
    c.add_argument("--suite", default="basic")
    c.add_argument("--scenario")
    c.add_argument("--backends")
    c.add_argument("--known", required=True, help="comma-separated backends the inventory deploys")
    w = sub.add_parser("sweep", help="one backend.yml run per value of one parameter")
    w.add_argument("--repo", type=Path, default=Path.cwd())
    w.add_argument("--param", required=True, choices=sweep.PARAMS)
    w.add_argument("--values", required=True, help="comma-separated positive integers")
    w.add_argument("extra", nargs="*", help="ansible-playbook arguments after --")
    rep = sub.add_parser("report", help="write report.md again from a run's results.json")
    rep.add_argument("run_dir", type=Path)
    r = sub.add_parser("run")
    r.add_argument("--config", type=Path, required=True)
    r.add_argument("--results-root", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.cmd == "check":
        known = [k for k in args.known.split(",") if k]
        return check(args.repo, args.suite, args.scenario, args.backends, known)
    if args.cmd == "report":
        from benchlab.httpsuite import report as report_mod
        from benchlab.results import write_text_atomic

        doc = json.loads((args.run_dir / "results.json").read_text())
        if "search_settings" not in doc:
            doc["search_settings"] = json.loads((args.run_dir / "config.json").read_text()).get(
                "search"
            )
        write_text_atomic(args.run_dir / "report.md", report_mod.render(doc))
        print(args.run_dir / "report.md")
        return 0
    if args.cmd == "sweep":
        try:
            values = [int(v) for v in args.values.split(",") if v.strip()]
        except ValueError:
            values = []
        if not values or min(values) < 1:
            print(
                f"sweep: --values {args.values}: fix: positive integers, e.g. 1,2,4,8",
                file=sys.stderr,
            )
            return 2
        return sweep.run_sweep(args.repo, args.param, values, args.extra)
    return run_mod.main_run(args.config, args.results_root)


if __name__ == "__main__":
    sys.exit(main())
