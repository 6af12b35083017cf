"""Exit codes of the `benchlab` command line, in one place for the CLI and `benchlab run`.

0 done (criteria may still FAIL: that is a result), 1 a driven playbook or a target failed
(the kit could not do the run), 2 bad input (nothing changed), 3 sink unreachable,
10 data verdict FAIL (the run completed and the audit found lost records, duplicates on an
exactly-once sink, or could not complete: benchlab.verdict), 130 interrupted (partial
result kept).

Only the data verdict changes the exit code: a criteria FAIL that is not about data (p99 over
its threshold, success rate under its threshold, OOM kills) leaves it at 0. When several
apply, 130 wins over 1, and 1 over 10.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3
# Like k6's 99 for failed thresholds, but clear of ansible-playbook's own codes (1-8, 99, 250),
# which `benchlab bench` passes through.
EXIT_DATA_FAILED = 10
# 128 + SIGINT, as a shell reports a process ended by Ctrl-C.
EXIT_INTERRUPTED = 130

# How bench.yml's verdict task starts its message; `benchlab bench` maps it to EXIT_DATA_FAILED.
DATA_VERDICT_PREFIX = "benchlab data verdict: FAIL"

__all__ = [
    "DATA_VERDICT_PREFIX",
    "EXIT_BAD_INPUT",
    "EXIT_DATA_FAILED",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_UNREACHABLE",
]
