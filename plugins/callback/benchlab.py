"""Ansible's default screen output, with bench.yml's live progress lines (benchlab.progress)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ansible import constants as C
from ansible.plugins.callback.default import CallbackModule as DefaultCallback

DOCUMENTATION = """
name: benchlab
type: stdout
short_description: default output, plus a live progress line while a bench run loads
description:
  - Ansible's default stdout callback, unchanged but for the polls of a benchlab run's
    progress (the `Progress` task of playbooks/bench_run.yml, which runs `benchlab progress`
    until the run's async job ends).
  - Each poll prints its one line of figures (target, elapsed / total, records due,
    acknowledged and stored, acknowledged rate, p99 so far, errors) instead of the
    "FAILED - RETRYING" line a retried task gets.
  - Set as the stdout callback in ansible.cfg.
extends_documentation_fragment:
  - default_callback
  - result_format_callback
requirements:
  - the benchlab package in the repository's python/ directory
"""

REPO = Path(__file__).resolve().parents[2]
# This checkout's benchlab, as playbooks/run_params.yml runs it (PYTHONPATH=<repo>/python).
if str(REPO / "python") not in sys.path:
    sys.path.insert(0, str(REPO / "python"))

from benchlab.progress import is_progress_command  # noqa: E402


def _result(result: Any) -> dict[str, Any]:
    return getattr(result, "result", None) or result._result


class CallbackModule(DefaultCallback):  # type: ignore[misc]
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "benchlab"

    def _progress_line(self, result: Any) -> str | None:
        res = _result(result)
        if not is_progress_command(res.get("cmd")):
            return None
        return f"  [{self.host_label(result)}] {str(res.get('stdout') or '').strip()}"

    def v2_runner_retry(self, result: Any) -> None:
        line = self._progress_line(result)
        if line is None:
            super().v2_runner_retry(result)
            return
        self._display.display(line, color=C.COLOR_OK)

    def v2_runner_on_ok(self, result: Any) -> None:
        line = self._progress_line(result)
        if line is not None:
            self._display.display(line, color=C.COLOR_OK)
        super().v2_runner_on_ok(result)
