from __future__ import annotations

from datetime import UTC, datetime

import pytest

from benchlab.records import COLUMNS, RecordFactory, text_size
from benchlab.sinks.postgres import copy_text

T0 = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("size", [200, 300, 1000, 4096])
def test_record_size_follows_record_bytes(size: int) -> None:
    rows = RecordFactory("20261122T160102Z-p2-postgresql-3f9a", size).rows(0, 2000, T0, 0.001)
    mean = sum(text_size(r) for r in rows) / len(rows)
    assert abs(mean - size) / size < 0.1, mean


def test_records_are_unique_and_carry_run_id_and_seq() -> None:
    rows = RecordFactory("run-a", 300).rows(1000, 5000, T0, 0.0001)
    assert [r[1] for r in rows] == list(range(1000, 6000))
    assert {r[0] for r in rows} == {"run-a"}
    assert len({r[8] for r in rows}) == 5000  # messages name their seq
    assert len(rows[0]) == len(COLUMNS)
    assert rows[-1][2] > rows[0][2]


def test_deterministic_by_seed() -> None:
    a = RecordFactory("r", 300, seed=1).rows(0, 100, T0)
    b = RecordFactory("r", 300, seed=1).rows(0, 100, T0)
    c = RecordFactory("r", 300, seed=2).rows(0, 100, T0)
    assert a == b
    assert a != c


def test_fields_vary() -> None:
    rows = RecordFactory("r", 300).rows(0, 2000, T0)
    assert len({r[3] for r in rows}) == 12
    assert {r[4] for r in rows} == {"INFO", "DEBUG", "WARN", "ERROR"}
    assert len({r[6] for r in rows}) > 1500


def test_copy_text_has_one_line_of_nine_fields_per_record() -> None:
    rows = RecordFactory("r", 300).rows(0, 50, T0, 0.01)
    lines = copy_text(rows).decode().splitlines()
    assert len(lines) == 50
    assert all(len(line.split("\t")) == 9 for line in lines)
    assert lines[0].split("\t")[2].startswith("2026-11-22 16:00:00")
