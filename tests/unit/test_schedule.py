"""Open-loop scheduler: fixed due times, late batches counted, nothing silently skipped."""

from __future__ import annotations

import pytest

from benchlab.loadgen.schedule import FakeClock, Tick, run_open_loop, ticks


def test_ticks_are_fixed_times_and_partition_between_workers() -> None:
    all_ticks = list(ticks(100.0, 0.5, 7))
    assert [t.due for t in all_ticks] == [100.0 + k * 0.5 for k in range(7)]
    share0 = [t.index for t in ticks(100.0, 0.5, 7, worker=0, workers=2)]
    share1 = [t.index for t in ticks(100.0, 0.5, 7, worker=1, workers=2)]
    assert share0 == [0, 2, 4, 6]
    assert share1 == [1, 3, 5]


def test_fast_sink_sends_every_batch_on_time() -> None:
    clock = FakeClock(0.0)
    sent: list[tuple[int, float]] = []

    def send(tick: Tick, _p: object, send_time: float, lag: float, late: bool) -> None:
        sent.append((tick.index, send_time))
        clock.advance(0.001)  # 1 ms sink

    stats = run_open_loop(ticks(1.0, 0.6, 10), clock, send, late_after_s=0.01)
    assert [i for i, _ in sent] == list(range(10))
    assert [t for _, t in sent] == pytest.approx([1.0 + 0.6 * k for k in range(10)])
    assert stats.sent == 10 and stats.late == 0 and stats.not_sent == 0


def test_slow_sink_does_not_delay_the_schedule_and_late_batches_are_counted() -> None:
    """Batch 2 takes 2 s (over 3 intervals): the next batches go out late, back to back,
    each measured from its own due time; none is skipped (no coordinated omission)."""
    clock = FakeClock(0.0)
    interval = 0.6
    latencies: dict[int, float] = {}
    lags: dict[int, float] = {}

    def send(tick: Tick, _p: object, send_time: float, lag: float, late: bool) -> None:
        clock.advance(2.0 if tick.index == 2 else 0.01)
        latencies[tick.index] = clock.now() - tick.due  # ack time - due time
        lags[tick.index] = lag

    stats = run_open_loop(ticks(0.0, interval, 10), clock, send, late_after_s=0.010)
    assert stats.sent == 10 and stats.not_sent == 0
    # batch 2 sent at 1.2, acked at 3.2; batches 3, 4, 5 were due at 1.8, 2.4, 3.0
    assert lags[3] == pytest.approx(3.2 - 1.8)
    assert lags[4] == pytest.approx(3.21 - 2.4)
    assert lags[5] == pytest.approx(3.22 - 3.0)
    assert latencies[3] == pytest.approx(3.21 - 1.8)
    assert stats.late == 3  # batches 3, 4, 5; batch 6 (due 3.6) is on time again
    assert lags[6] == pytest.approx(0.0)
    assert stats.max_lag_s == pytest.approx(1.4)


def test_prepare_runs_before_the_due_time() -> None:
    clock = FakeClock(0.0)
    prepared_at: list[float] = []
    sent_payloads: list[object] = []

    def prepare(tick: Tick) -> str:
        prepared_at.append(clock.now())
        return f"batch-{tick.index}"

    def send(tick: Tick, payload: object, send_time: float, lag: float, late: bool) -> None:
        sent_payloads.append(payload)

    run_open_loop(ticks(5.0, 1.0, 3), clock, send, prepare=prepare)
    assert sent_payloads == ["batch-0", "batch-1", "batch-2"]
    assert prepared_at[0] < 5.0


def test_drain_deadline_counts_unsent_batches() -> None:
    clock = FakeClock(0.0)

    def send(tick: Tick, _p: object, send_time: float, lag: float, late: bool) -> None:
        clock.advance(10.0)  # hopeless sink

    stats = run_open_loop(ticks(0.0, 1.0, 10), clock, send, deadline=15.0)
    assert stats.sent == 2  # at 0 and at 10; at 20 the deadline has passed
    assert stats.not_sent == 8
    assert stats.not_sent_reason == "drain deadline passed"
    assert stats.first_not_sent == 2


def test_stop_leaves_the_rest_unsent_and_counted() -> None:
    clock = FakeClock(0.0)
    sent: list[int] = []

    def send(tick: Tick, _p: object, send_time: float, lag: float, late: bool) -> None:
        sent.append(tick.index)

    stats = run_open_loop(ticks(0.0, 1.0, 10), clock, send, should_stop=lambda: len(sent) >= 4)
    assert sent == [0, 1, 2, 3]
    assert stats.not_sent == 6 and stats.not_sent_reason == "stopped"
