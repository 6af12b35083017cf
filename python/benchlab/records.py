"""Application-log-event records (SPEC.md section 3), deterministic by seed and cheap to make.

A record is a tuple in the column order of :data:`COLUMNS`. Everything but the event time is
a pure function of (seed, run_id, seq); sizes are tuned so that a record's text form (as COPY
text sends it) is about ``record_bytes`` long.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property

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
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)
# Field choices by hash bits, the one definition both rows() and delimited() index:
# service h % 12, level (h >> 8) % 100, host (h >> 16) & 15, user (h >> 20) % 1e6,
# latency ((h >> 40) % 200_000) / 100, message (h >> 24) & 255.
LATENCY_STEPS = 200_000


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

    @cached_property
    def _text_tables(self) -> tuple[list[bytes], list[bytes], list[bytes]]:
        """Encoded field choices for delimited(): "service\tlevel\thost" by combined index,
        latency text by step (float repr, as str() of the row's value), message by index.
        Built on first use (about 70 ms, 8 MB): only an encoding sink's worker needs them."""
        levels = self._levels
        combos = [
            f"{SERVICES[s]}\t{levels[lv]}\t{HOSTS[h]}".encode()
            for s in range(12)
            for lv in range(100)
            for h in range(16)
        ]
        latencies = [repr(n / 100.0).encode() for n in range(LATENCY_STEPS)]
        return combos, latencies, [m.encode() for m in self._messages]

    def delimited(
        self, first_seq: int, count: int, event_time: datetime, spacing_s: float = 0.0
    ) -> tuple[list[bytes], list[int]]:
        """The same records as rows(), already in the wire text form: fields joined by tabs
        in COLUMNS order, the event time as integer epoch microseconds; and each record's
        event time in epoch milliseconds. One pass with no Row tuples or datetimes: what a
        sink that sends text (Kafka) builds its batches from, at a third of the CPU."""
        combos, latencies, messages = self._text_tables
        prefix = f"{self.run_id}\t".encode()
        seed1 = self.seed + 1
        base_us = (event_time - EPOCH) // ONE_MICROSECOND
        step_us = timedelta(seconds=spacing_s) // ONE_MICROSECOND
        values: list[bytes] = []
        stamps: list[int] = []
        value, stamp = values.append, stamps.append
        for k in range(count):
            seq = first_seq + k
            h = ((seq + seed1) * _GOLDEN) & _MASK
            micros = base_us + k * step_us
            value(
                b"%b%d\t%d\t%b\t%d\t%b\treq %012d %b"
                % (
                    prefix,
                    seq,
                    micros,
                    combos[(h % 12) * 1600 + ((h >> 8) % 100) * 16 + ((h >> 16) & 15)],
                    (h >> 20) % 1_000_000,
                    latencies[(h >> 40) % LATENCY_STEPS],
                    seq,
                    messages[(h >> 24) & 255],
                )
            )
            stamp(micros // 1000)
        return values, stamps

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
                    ((h >> 40) % LATENCY_STEPS) / 100.0,
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
