"""Which rate to try next: a geometric grid up to the first failure, then bisection.

Reproducible by construction: the sequence of rates depends only on the settings and on
each trial's pass/fail, never on timing. OMB's rate search re-adjusts on noisy feedback;
this one only narrows an interval [last pass, first fail].
"""

from __future__ import annotations

from dataclasses import dataclass, field

from benchlab.search.settings import SearchSettings


@dataclass
class RateSearch:
    settings: SearchSettings
    passed: list[float] = field(default_factory=list)
    failed: list[float] = field(default_factory=list)

    def record(self, rate: float, ok: bool) -> None:
        (self.passed if ok else self.failed).append(rate)

    @property
    def best(self) -> float | None:
        """The highest rate that passed below the lowest that failed."""
        ceiling = min(self.failed, default=float("inf"))
        under = [r for r in self.passed if r < ceiling]
        return max(under, default=None)

    @property
    def first_fail(self) -> float | None:
        best = self.best
        above = [r for r in self.failed if best is None or r > best]
        return min(above, default=None)

    def next_rate(self) -> float | None:
        """The next rate to try, or None when the search is over."""
        s = self.settings
        tried = len(self.passed) + len(self.failed)
        if tried >= s.max_trials:
            return None
        best, fail = self.best, self.first_fail
        if fail is None:  # still climbing the grid
            if best is None:
                return s.start_rate
            nxt = best * s.factor
            if best >= s.max_rate:
                return None
            return min(nxt, s.max_rate)
        if best is None:  # the first rate failed: down the grid, at most two steps
            low = fail / s.factor
            floor = s.start_rate / s.factor**2
            if low < floor * 0.999 or s.batch_size(low) == s.batch_size(fail):
                return None  # below the floor, or no lower rate to offer: nothing sustained
            return low
        if (fail - best) / best < s.precision:
            return None
        mid = (best + fail) / 2.0
        # the batch size is whole records: stop when the midpoint offers what a bound offers
        if s.batch_size(mid) in (s.batch_size(best), s.batch_size(fail)):
            return None
        return mid
