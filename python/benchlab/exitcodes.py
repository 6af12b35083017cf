"""Exit codes of the `benchlab` command line, in one place for the CLI and `benchlab run`.

0 done (criteria may still FAIL: that is a result), 1 a driven playbook or a target failed
(the kit could not do the run), 2 bad input (nothing changed), 3 sink unreachable,
10 data verdict FAIL (the run completed and the audit found lost records, duplicates on an
exactly-once sink, or could not complete: benchlab.verdict), 130 interrupted (partial
result kept; `benchlab bench` and `benchlab scaleout run` first stop the run on the load
generator and fetch it: benchlab.interrupt). `benchlab progress --job-file` exits 75 while
the run's job still runs (bench.yml polls it). A plain `ansible-playbook bench.yml` interrupted
exits with ansible-playbook's own 99, after the same clean-up.

Only the data verdict changes the exit code: a criteria FAIL that is not about data (p99 over
its threshold, success rate under its threshold, OOM kills) leaves it at 0. When several
apply, 130 wins over 1, and 1 over 10.
"""

from __future__ import annotations

from collections.abc import Iterable

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3
# Like k6's 99 for failed thresholds, but clear of ansible-playbook's own codes (1-8, 99, 250),
# which `benchlab bench` passes through.
EXIT_DATA_FAILED = 10
# 128 + SIGINT, as a shell reports a process ended by Ctrl-C.
EXIT_INTERRUPTED = 130
# sysexits' EX_TEMPFAIL ("try again later"): `benchlab progress`, the run still runs.
EXIT_RUNNING = 75

# How bench.yml's verdict task starts its message; `benchlab bench` maps it to EXIT_DATA_FAILED.
DATA_VERDICT_PREFIX = "benchlab data verdict: FAIL"


def combined(codes: Iterable[int]) -> int:
    """One exit code for several steps (e.g. a scale-out's runs): 130, then 1, then 10, then 0.

    Any other non-zero code (bad input 2 or unreachable 3 met after something already ran,
    ansible-playbook's own 2, 4, ...) means a step could not do its work: EXIT_FAILED.
    """
    seen = set(codes)
    if EXIT_INTERRUPTED in seen:
        return EXIT_INTERRUPTED
    if seen - {EXIT_OK, EXIT_DATA_FAILED}:
        return EXIT_FAILED
    return EXIT_DATA_FAILED if EXIT_DATA_FAILED in seen else EXIT_OK


__all__ = [
    "DATA_VERDICT_PREFIX",
    "EXIT_BAD_INPUT",
    "EXIT_DATA_FAILED",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_RUNNING",
    "EXIT_UNREACHABLE",
    "combined",
]
