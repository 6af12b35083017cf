"""Sets of sequence numbers kept as merged (first, count) ranges: 5M acked records in a few KB."""

from __future__ import annotations

from collections.abc import Iterable


class RangeSet:
    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        self._pending: list[tuple[int, int]] = []
        self._merged: list[tuple[int, int]] = []
        for first, count in ranges:
            self.add(first, count)

    def add(self, first: int, count: int) -> None:
        if count > 0:
            self._pending.append((first, count))

    def ranges(self) -> list[tuple[int, int]]:
        """Sorted, merged (first, count) ranges; overlapping adds are counted once."""
        if self._pending:
            items = sorted(self._merged + self._pending)
            merged: list[list[int]] = []
            for first, count in items:
                end = first + count
                if merged and first <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], end)
                else:
                    merged.append([first, end])
            self._merged = [(a, b - a) for a, b in merged]
            self._pending = []
        return list(self._merged)

    def total(self) -> int:
        return sum(n for _, n in self.ranges())

    def __contains__(self, seq: int) -> bool:
        return any(first <= seq < first + n for first, n in self.ranges())

    def to_json(self) -> list[list[int]]:
        return [[a, n] for a, n in self.ranges()]

    @classmethod
    def from_json(cls, data: Iterable[Iterable[int]]) -> RangeSet:
        return cls((int(a), int(n)) for a, n in data)
