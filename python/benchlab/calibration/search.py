"""The sustainable put rate search, run on the data node (issue 12, SPEC.md section 8).

    python3 -m benchlab.calibration.search --runner R --db-bench B --work-dir W --out-dir O
        --workload A --key-size 16 --value-size 1000 --num N --burst-stdout O/dbbench.stdout
        [--repeats 2] [--tolerance 0.05] [--max-trials 8] -- <db_bench flags of the fill>

Each trial is one ``fillrandom,stats`` of N keys into a fresh database at
``--benchmark_write_rate_limit`` (the LOG dumps its compaction stats every second), run
through the calibration role's recorder R; the trial's raw files are
``O/trial-<workload>-<repeat>-<nn>.{stdout,stderr,proc.json,report.csv,LOG}`` (the LOG
trimmed to what the judge reads). :mod:`sustain` judges each trial and picks the next
rate: coarse steps down from 0.7 x burst, bisection to the tolerance, then a second repeat
that starts at the first one's result. ``O/search-<workload>.json`` records every trial,
its verdict and both results.

Standard library only (the role copies this package's stdlib modules to the host).
Exit 0 when every trial ran (whatever the verdicts), 1 when db_bench failed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import sustain
from .parsers import (
    MIB,
    ParseError,
    db_bench_summary,
    parse_compaction_stats,
    parse_db_stats,
    parse_options,
    parse_report_csv,
    read_text,
    trim_log,
)


def trial_input(stem: Path, target_mib_s: float, bytes_per_op: int) -> sustain.TrialInput:
    """Read one trial's stdout and trimmed LOG (also used by the controller's report)."""
    stdout_path = stem.with_name(stem.name + ".stdout")
    log_path = stem.with_name(stem.name + ".LOG")
    stdout = read_text(stdout_path)
    summary = db_bench_summary(stdout, stdout_path)
    log = read_text(log_path)
    stalls = parse_db_stats(stdout, stdout_path)
    ops = summary.operations or 0
    seconds = summary.seconds or (ops / summary.ops_per_sec if summary.ops_per_sec else 0.0)
    achieved = (
        summary.mib_per_sec
        if summary.mib_per_sec is not None
        else summary.ops_per_sec * bytes_per_op / MIB
    )
    csv_path = stem.with_name(stem.name + ".report.csv")
    if csv_path.exists():
        # the judged window: db_bench's whole-fill figure includes its start-up
        rate = sustain.second_half_rate(parse_report_csv(read_text(csv_path), csv_path), seconds)
        if rate is not None:
            achieved = rate * bytes_per_op / MIB
    return sustain.TrialInput(
        target_mib_s=target_mib_s,
        achieved_mib_s=achieved,
        seconds=seconds,
        stall_seconds=stalls[-1].stall_seconds if stalls else 0.0,
        user_bytes=float(ops * bytes_per_op),
        tables=parse_compaction_stats(log, log_path),
        options=sustain.LsmOptions.from_log_options(parse_options(log)),
    )


def burst_mib_s(path: Path, bytes_per_op: int) -> float:
    summary = db_bench_summary(read_text(path), path)
    if summary.mib_per_sec is not None:
        return summary.mib_per_sec
    return summary.ops_per_sec * bytes_per_op / MIB


def run_trial(args: argparse.Namespace, stem: Path, target_mib_s: float) -> int:
    db = Path(args.work_dir) / "db-trial"
    shutil.rmtree(db, ignore_errors=True)
    limit = sustain.rate_limit_bytes(target_mib_s, args.key_size, args.value_size)
    command = [
        sys.executable,
        args.runner,
        "--out",
        str(stem),
        "--path",
        args.work_dir,
        "--",
        args.db_bench,
        *args.db_bench_args,
        "--benchmarks=fillrandom,stats",
        "--stats_dump_period_sec=1",
        f"--key_size={args.key_size}",
        f"--value_size={args.value_size}",
        f"--num={args.num}",
        f"--benchmark_write_rate_limit={limit}",
        f"--db={db}",
        f"--wal_dir={db}",
        f"--report_file={stem}.report.csv",
    ]
    code = subprocess.call(command)
    log = db / "LOG"
    if log.exists():
        Path(f"{stem}.LOG").write_text(trim_log(log.read_text(errors="replace")))
    shutil.rmtree(db, ignore_errors=True)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m benchlab.calibration.search")
    parser.add_argument("--runner", required=True)
    parser.add_argument("--db-bench", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--workload", required=True)
    parser.add_argument("--key-size", type=int, required=True)
    parser.add_argument("--value-size", type=int, required=True)
    parser.add_argument("--num", type=int, required=True)
    parser.add_argument("--burst-stdout", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--tolerance", type=float, default=sustain.TOLERANCE)
    parser.add_argument("--max-trials", type=int, default=8)
    parser.add_argument("--start-fraction", type=float, default=0.7)
    parser.add_argument("--step", type=float, default=0.7)
    parser.add_argument("--max-stall", type=float, default=sustain.MAX_STALL)
    parser.add_argument("--min-achieved", type=float, default=sustain.MIN_ACHIEVED)
    parser.add_argument("db_bench_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.db_bench_args[:1] == ["--"]:
        args.db_bench_args = args.db_bench_args[1:]
    out = Path(args.out_dir)
    record_path = out / f"search-{args.workload}.json"
    bytes_per_op = args.key_size + args.value_size
    try:
        burst = burst_mib_s(args.burst_stdout, bytes_per_op)
    except ParseError as exc:
        print(f"search: {exc}", file=sys.stderr)
        return 1
    record: dict = {
        "workload": args.workload,
        "key_size": args.key_size,
        "value_size": args.value_size,
        "num": args.num,
        "burst_mib_s": burst,
        "criteria": {
            "max_stall": args.max_stall,
            "min_achieved": args.min_achieved,
            "tolerance": args.tolerance,
            "t_crit": sustain.T_CRIT,
        },
        "started": time.time(),
        "repeats": [],
    }
    anchor = None
    for repeat in range(1, args.repeats + 1):
        plan = sustain.SearchPlan(
            burst_mib_s=burst,
            start_fraction=args.start_fraction,
            step=args.step,
            tolerance=args.tolerance,
            max_trials=args.max_trials,
            anchor_mib_s=anchor,
        )
        history: list[tuple[float, bool]] = []
        trials = []
        while (target := sustain.next_rate(plan, history)) is not None:
            stem = out / f"trial-{args.workload}-{repeat}-{len(history) + 1:02d}"
            code = run_trial(args, stem, target)
            if code != 0:
                record["error"] = f"db_bench exited {code} in {stem.name}"
                record_path.write_text(json.dumps(record, indent=2) + "\n")
                print(f"search: {record['error']}", file=sys.stderr)
                return 1
            verdict = sustain.judge(
                trial_input(stem, target, bytes_per_op),
                max_stall=args.max_stall,
                min_achieved=args.min_achieved,
                tolerance=args.tolerance,
            )
            history.append((target, verdict.sustained))
            trials.append({"stem": stem.name, **verdict.as_dict()})
            print(
                f"{stem.name}: target {target:.1f} MiB/s achieved {verdict.achieved_mib_s:.1f} "
                f"stall {verdict.stall_fraction * 100:.1f} % -> "
                f"{'sustained' if verdict.sustained else '; '.join(verdict.reasons)}",
                flush=True,
            )
        res = sustain.result(plan, history)
        record["repeats"].append(
            {
                "repeat": repeat,
                "anchor_mib_s": anchor,
                "sustained_mib_s": res.sustained_mib_s,
                "bracket": list(res.bracket),
                "converged": res.converged,
                "note": res.note,
                "trials": trials,
            }
        )
        anchor = res.sustained_mib_s or anchor
        record_path.write_text(json.dumps(record, indent=2) + "\n")
    record["ended"] = time.time()
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
