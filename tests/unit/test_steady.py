"""benchlab.steady.stored_view: the one reader of a target's stored side after the warm-up."""

from __future__ import annotations

from benchlab.steady import stored_view


def test_the_stored_side_is_read_from_stored_steady_when_the_target_measured_it() -> None:
    figures = {
        "steady": {"warmup_s": 10.0, "window_s": 30.0, "acked_per_s": 1000.0},
        "stored_steady": {
            "stored_per_s": 990.0,
            "latency_ms": {"p50_ms": 4800.0, "p99_ms": 8100.0},
            "latency": "record to HDFS commit",
            "backlog": [[10, 5.0], [20, 6.0]],
        },
    }
    view = stored_view(figures)
    assert (view.stored_per_s, view.p50_ms, view.p99_ms) == (990.0, 4800.0, 8100.0)
    assert view.latency == "record to HDFS commit" and view.backlog == [(10.0, 5.0), (20.0, 6.0)]


def test_results_written_before_per_record_latency_still_give_their_p99() -> None:
    figures = {"steady": {}, "stored_steady": {"stored_per_s": 500.0, "latency_p99_ms": 4800.0}}
    assert stored_view(figures).p99_ms == 4800.0


def test_without_a_stored_side_the_acknowledgements_are_the_stored_side() -> None:
    view = stored_view({"steady": {"acked_per_s": 250.0, "warmup_s": 0.0}})
    assert view.stored_per_s == 250.0
