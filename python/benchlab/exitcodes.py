"""Exit codes of the `benchlab` command line, in one place for the CLI and `benchlab run`.

0 done (criteria may still FAIL: that is a result), 1 a driven playbook or a target failed,
2 bad input (nothing changed), 3 sink unreachable, 130 interrupted (partial result kept).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3
# 128 + SIGINT, as a shell reports a process ended by Ctrl-C.
EXIT_INTERRUPTED = 130

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_UNREACHABLE"]
