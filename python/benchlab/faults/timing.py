"""When to strike: bench.yml's progress line says where the load stands, every
benchlab_progress_every_s (10 s by default); the first line of the target's `load` stage
fixes the load's start, and a timer strikes at start + --at to the second, between polls."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# benchlab.progress.LiveFigures.line: "<target> [<step>] <stage> M:SS/M:SS · due N · ..."
LINE = re.compile(
    r"^(?P<target>\S+)(?: \[[^\]]*\])? (?P<stage>prepare|load|finish|audit) "
    r"(?P<elapsed>\d+:\d\d)/(?P<total>\d+:\d\d)"
)


@dataclass(frozen=True)
class Progress:
    target: str
    stage: str
    elapsed_s: int
    total_s: int


def _seconds(clock: str) -> int:
    minutes, seconds = clock.split(":")
    return int(minutes) * 60 + int(seconds)


def parse_line(line: str) -> Progress | None:
    """The figures of one progress line; None for "starting" and other lines."""
    found = LINE.match(line.strip())
    if found is None:
        return None
    return Progress(
        found["target"], found["stage"], _seconds(found["elapsed"]), _seconds(found["total"])
    )


class Striker:
    """Fed every progress line of a run; calls `strike` once, at load elapsed == `at_s`.

    The line's elapsed is at most a few seconds old (the run refreshes its figures every
    2 s), so the strike may come that much late; the injection records its own wall time and
    the analysis measures from it, not from `at_s`.
    """

    def __init__(
        self,
        target: str,
        at_s: float,
        strike: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target, self.at_s, self.strike, self.clock = target, at_s, strike, clock
        self.timer: threading.Timer | None = None
        self.fired = threading.Event()
        self.lock = threading.Lock()

    def _fire(self) -> None:
        with self.lock:
            if self.fired.is_set():
                return
            self.fired.set()
        self.strike()

    def feed(self, line: str) -> None:
        seen = parse_line(line)
        if seen is None or seen.target != self.target or seen.stage != "load":
            return
        with self.lock:
            if self.fired.is_set() or self.timer is not None:
                return
            delay = max(0.0, self.at_s - seen.elapsed_s)
            self.timer = threading.Timer(delay, self._fire)
            self.timer.daemon = True
            self.timer.start()

    def cancel(self) -> None:
        """No strike from now on (one already under way goes on: wait() for it)."""
        with self.lock:
            if self.timer is not None and not self.fired.is_set():
                self.timer.cancel()
            self.fired.set()

    def wait(self, timeout_s: float | None = None) -> None:
        """Until a strike under way has ended (an OOM strike puts the limit back at its end)."""
        timer = self.timer
        if timer is not None and timer.is_alive():
            timer.join(timeout_s)
