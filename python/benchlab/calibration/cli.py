"""``benchlab calibrate ...`` commands (also ``python -m benchlab.calibration ...``).

    mixread --host-dir D    print fio's rwmixread (whole percent) from phase B
    predict --host-dir D    write D/prediction.json; print v1, v2.1 and v3
    report  --run-dir R     write report.md/report.json/throughput.png per host + index
    figures --results-root D --host H [--host H2]
                            the newest calibration's device figures per host, as JSON

Exit codes (benchlab.exitcodes): 0 done, 2 bad input (message on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchlab.exitcodes import EXIT_BAD_INPUT, EXIT_OK

from .parsers import ParseError


def _mixread(args: argparse.Namespace) -> int:
    from . import analysis

    cal = analysis.load_host(args.host_dir)
    print(analysis.mix_read_percent(cal))
    return EXIT_OK


def _predict(args: argparse.Namespace) -> int:
    from . import analysis, report

    cal = analysis.load_host(args.host_dir)
    preds = report.predict(cal)
    doc = {
        "host": cal.host,
        "measured_mib_s": cal.engine.mib_s if cal.engine else None,
        "predictions": {
            k: {"mib_s": p.mib_s, "bottleneck": p.bottleneck} for k, p in preds.items()
        },
    }
    target = args.host_dir / "prediction.json"
    if target.exists() and not args.force:
        raise ParseError(target, "exists; a calibration's files are never overwritten")
    target.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc))
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from . import report

    docs = report.write_run_report(args.run_dir)
    for doc in docs:
        h = doc["headline"]
        truth = "; ".join(
            f"S_sustained {w} {s['mib_s']:.1f} MiB/s" for w, s in h["S"].items() if s["mib_s"]
        )
        judged = "; ".join(
            f"{m} " + ", ".join(f"{w} {r['error_percent']:+.1f} %" for w, r in rows.items())
            for m, rows in h["models"].items()
            if rows
        )
        if not judged:  # no search: only the burst to compare with (not the truth)
            judged = "; ".join(f"{k} {v['mib_s']:.1f}" for k, v in doc["predictions"].items())
            judged = f"predicted (no search, burst is no truth): {judged}"
        else:
            judged = f"errors against S_sustained: {judged}"
        print(
            f"{doc['host']}: burst {h['burst_mib_s']:.1f} MiB/s; {truth or 'no search'}; {judged}"
        )
    print(f"report: {args.run_dir / 'report.md'}")
    return EXIT_OK


def _figures(args: argparse.Namespace) -> int:
    from . import latest_device_figures

    print(
        json.dumps(
            {
                host: latest_device_figures(args.results_root, host, strict=True)
                for host in args.host
            }
        )
    )
    return EXIT_OK


def add_commands(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="calibrate_command", required=True)
    p = sub.add_parser("mixread", help="fio rwmixread percent from phase B's device traffic")
    p.add_argument("--host-dir", type=Path, required=True)
    p.set_defaults(calibrate_func=_mixread)
    p = sub.add_parser("predict", help="v1/v2.1/v3 predictions from phases A-C")
    p.add_argument("--host-dir", type=Path, required=True)
    p.add_argument("--force", action="store_true", help="replace an existing prediction.json")
    p.set_defaults(calibrate_func=_predict)
    p = sub.add_parser("report", help="the calibration report for results/calibration-<id>")
    p.add_argument("--run-dir", type=Path, required=True)
    p.set_defaults(calibrate_func=_report)
    p = sub.add_parser("figures", help="newest calibration's B_w/B_r per host (JSON)")
    p.add_argument("--results-root", type=Path, required=True)
    p.add_argument("--host", action="append", required=True)
    p.set_defaults(calibrate_func=_figures)
    parser.set_defaults(func=run)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``calibrate`` to the benchlab CLI; dispatch with ``args.func(args)``."""
    parser = subparsers.add_parser("calibrate", help="storage calibration (SPEC.md section 8)")
    add_commands(parser)
    return parser


def run(args: argparse.Namespace, console: object = None) -> int:
    """Dispatch; ``console`` is accepted for the benchlab CLI's calling convention."""
    try:
        return args.calibrate_func(args)
    except ParseError as exc:
        print(f"benchlab calibrate: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except FileNotFoundError as exc:
        print(f"benchlab calibrate: {exc.filename}: not found", file=sys.stderr)
        return EXIT_BAD_INPUT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchlab.calibration")
    add_commands(parser)
    args = parser.parse_args(argv)
    return run(args)
