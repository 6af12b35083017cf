"""Application-log-event records (SPEC.md section 3), deterministic by seed and cheap to make.

A record is a tuple in the column order of :data:`COLUMNS`. Everything but the event time is
a pure function of (seed, run_id, seq); sizes are tuned so that a record's text form (as COPY
text sends it) is about ``record_bytes`` long.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

COLUMNS: tuple[str, ...] = (
    "run_id",
    "seq",
    "event_time",
    "service",
    "level",
    "host",
    "user_id",
    "latency_ms",
    "message",
)

Row = tuple[str, int, datetime, str, str, str, int, float, str]

SERVICES = (
    "api-gateway", "auth", "billing", "catalog", "checkout", "inventory",
    "notifications", "orders", "payments", "search", "shipping", "users",
)  # fmt: skip
HOSTS = tuple(f"app-{i:02d}.lab" for i in range(1, 17))
LEVEL_WEIGHTS = (("INFO", 70), ("DEBUG", 15), ("WARN", 10), ("ERROR", 5))
WORDS = (
    "request", "completed", "user", "session", "cache", "miss", "hit", "upstream", "timeout",
    "retry", "order", "payment", "accepted", "rejected", "queue", "worker", "latency", "ok",
    "db", "query", "slow", "token", "refresh", "item", "cart", "stock", "reserved", "sent",
)  # fmt: skip
POOL_SIZE = 256
_GOLDEN = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1
# Approximate text size of everything but the message: tabs, newline, timestamp, numbers.
_TS_LEN = len("2026-11-22 16:01:02.123456+00:00")
MIN_MESSAGE = 24


class RecordFactory:
    """Makes batches of records for one run."""

    def __init__(self, run_id: str, record_bytes: int = 300, seed: int = 0) -> None:
        self.run_id = run_id
        self.record_bytes = record_bytes
        self.seed = seed
        rng = random.Random(f"{seed}:{run_id}")
        self._levels = tuple(lvl for lvl, weight in LEVEL_WEIGHTS for _ in range(weight))
        fixed = (
            len(run_id) + 9 + _TS_LEN + 10 + 5 + len(HOSTS[0]) + 6 + 6 + len(COLUMNS)
        )  # run_id, seq, ts, service, level, host, user_id, latency, separators
        self.message_len = max(MIN_MESSAGE, record_bytes - fixed)
        body_len = self.message_len - len("req 000000000000 ")
        self._messages = tuple(self._message(rng, body_len) for _ in range(POOL_SIZE))

    @staticmethod
    def _message(rng: random.Random, length: int) -> str:
        parts: list[str] = []
        size = 0
        while size < length:
            word = rng.choice(WORDS)
            parts.append(word)
            size += len(word) + 1
        return " ".join(parts)[:length]

    def rows(
        self, first_seq: int, count: int, event_time: datetime, spacing_s: float = 0.0
    ) -> list[Row]:
        """Records first_seq .. first_seq+count-1; event times spread from event_time by spacing."""
        run_id, seed, levels, messages = self.run_id, self.seed, self._levels, self._messages
        step = timedelta(seconds=spacing_s)
        out: list[Row] = []
        append = out.append
        t = event_time
        for seq in range(first_seq, first_seq + count):
            h = ((seq + seed + 1) * _GOLDEN) & _MASK
            append(
                (
                    run_id,
                    seq,
                    t,
                    SERVICES[h % 12],
                    levels[(h >> 8) % 100],
                    HOSTS[(h >> 16) & 15],
                    (h >> 20) % 1_000_000,
                    ((h >> 40) % 200_000) / 100.0,
                    f"req {seq:012d} {messages[(h >> 24) & 255]}",
                )
            )
            t = t + step
        return out


def text_size(row: Sequence[object]) -> int:
    """Length of the row in COPY text form (what record_bytes approximates)."""
    return sum(len(str(v)) for v in row) + len(row)


def utc_from_timestamp(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)
