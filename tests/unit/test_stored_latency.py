"""The pipeline's latency per record: a Parquet file's micro-batch is the first commit at or
after the file closed, and the steady window's records are counted apart."""

from __future__ import annotations

import pytest

from benchlab.targets.pipeline.stored_latency import commit_of, file_commits, histograms

T0 = 1_795_000_000.0


def test_a_file_belongs_to_the_first_commit_after_it_closed() -> None:
    commits = [T0 + 5.0, T0 + 10.0, T0 + 15.0]
    assert commit_of(T0 + 4.2, commits) == T0 + 5.0
    assert commit_of(T0 + 5.0, commits) == T0 + 5.0  # closed in the commit's millisecond
    assert commit_of(T0 + 5.001, commits) == T0 + 5.0  # rounding slack
    assert commit_of(T0 + 5.5, commits) == T0 + 10.0
    assert commit_of(T0 + 15.5, commits) is None  # never committed as far as we know


def test_files_after_the_last_commit_are_left_out() -> None:
    closed = {"a.parquet": T0 + 1.0, "b.parquet": T0 + 6.0, "c.parquet": T0 + 30.0}
    # commits arrive in any order (a restarted job's lines follow the first job's)
    assert file_commits(closed, [T0 + 10.0, T0 + 5.0]) == {
        "a.parquet": T0 + 5.0,
        "b.parquet": T0 + 10.0,
    }


def test_percentiles_are_per_record_and_the_window_is_counted_apart() -> None:
    # 98 records at 1 s, one at 9 s in the window; 100 at 20 s in the warm-up (out of it)
    everything, steady = histograms([(True, 1000, 98), (True, 9000, 1), (False, 20000, 100)])
    assert everything.count == 199
    assert steady.count == 99
    assert steady.percentile_ms(50) == pytest.approx(1000, rel=1e-3)
    assert steady.percentile_ms(99) == pytest.approx(1000, rel=1e-3)
    assert steady.summary().max_ms == pytest.approx(9000, rel=1e-3)
    assert everything.percentile_ms(99) == pytest.approx(20000, rel=1e-3)
