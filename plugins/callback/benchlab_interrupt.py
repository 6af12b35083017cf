"""Stop and fetch an interrupted bench run when ansible-playbook ends (benchlab.interrupt)."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from ansible import context
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: benchlab_interrupt
type: aggregate
short_description: stop and fetch a bench run that ansible-playbook leaves behind
description:
  - Remembers the in-progress marker playbooks/bench_run.yml writes on the controller
    (results/.in-progress/<run id>.json) before it starts the load as an async job.
  - When ansible-playbook exits (Ctrl-C, SIGTERM, a failure) while that marker is still
    there, runs playbooks/interrupt.yml for the run, which stops the load on the load
    generator, writes its report, fetches the partial result and removes the marker.
  - Once a run is marked, turns SIGTERM of the main process into what Ctrl-C does, so the
    exit handler runs.
  - Prints nothing otherwise. Enabled in ansible.cfg (callbacks_enabled).
requirements:
  - the benchlab package in the repository's python/ directory
"""

REPO = Path(__file__).resolve().parents[2]
# This checkout's benchlab, as playbooks/run_params.yml runs it (PYTHONPATH=<repo>/python).
if str(REPO / "python") not in sys.path:
    sys.path.insert(0, str(REPO / "python"))

from benchlab.interrupt import InterruptWatch, Marker, cleanup_argv  # noqa: E402


def ansible_playbook_command() -> list[str]:
    """How to start ansible-playbook again: this process's interpreter and script."""
    script = Path(sys.argv[0]) if sys.argv else Path()
    if script.name == "ansible-playbook" and script.is_file():
        return [sys.executable, str(script)]
    return [shutil.which("ansible-playbook") or "ansible-playbook"]


def _fd(stream: Any) -> int | None:
    """The stream's file descriptor (None: the child inherits what there is)."""
    try:
        return int(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None


class CallbackModule(CallbackBase):  # type: ignore[misc]
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "benchlab_interrupt"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._main_pid = os.getpid()
        self._watch = InterruptWatch()
        self._previous_term: Any = None
        atexit.register(self._at_exit)

    # -- results --------------------------------------------------------------------------
    def v2_runner_on_ok(self, result: Any) -> None:
        marker = self._watch.observe(getattr(result, "result", None) or result._result)
        if marker is not None and self._previous_term is None:
            # From the first marker on, SIGTERM goes Ctrl-C's way. The task queue manager's
            # handler (it tells the workers, then ends this process by SIGTERM's default
            # action: no exit handlers) is replaced in the main process only.
            self._previous_term = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, self._on_sigterm)

    # -- signals and exit -----------------------------------------------------------------
    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self._main_pid:  # a forked child: what it had before
            previous = self._previous_term
            if callable(previous):
                previous(signum, frame)
                return
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        # As Ctrl-C: the SIGINT handler tells the workers and raises KeyboardInterrupt, and
        # ansible-playbook exits 99 through sys.exit, so _at_exit runs.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends it at once
        on_int = signal.getsignal(signal.SIGINT)
        if callable(on_int):
            on_int(signal.SIGINT, frame)
        raise KeyboardInterrupt

    def _at_exit(self) -> None:
        if os.getpid() != self._main_pid:
            return
        self._watch.clean_up(self._run_interrupt, self._say)

    @staticmethod
    def _say(line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def _run_interrupt(self, marker: Marker) -> int:
        argv = cleanup_argv(marker, REPO, ansible_playbook_command(), context.CLIARGS)
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        # Its own session: a second Ctrl-C ends this process, not the clean-up. ansible-playbook
        # marks its standard streams close-on-exec: hand them over explicitly.
        process = subprocess.Popen(
            argv,
            cwd=REPO,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=_fd(sys.stdout),
            stderr=_fd(sys.stderr),
        )
        try:
            return process.wait()
        except KeyboardInterrupt:
            self._say(
                f"benchlab: the clean-up of run {marker.run_id} goes on in the background "
                f"(pid {process.pid})"
            )
            return 0
