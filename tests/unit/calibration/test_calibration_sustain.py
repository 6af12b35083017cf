"""The sustained-rate judge and search (benchlab.calibration.sustain): pure arithmetic."""

from __future__ import annotations

import pytest

from benchlab.calibration import sustain
from benchlab.calibration.parsers import CompactionTable, LevelStats

MIB = 1024 * 1024
OPTS = sustain.LsmOptions(l0_trigger=4, level_base=16 * MIB, multiplier=10.0, num_levels=7)


def level(name: str, files: int, size_mib: float) -> LevelStats:
    return LevelStats(name, 0.0, 0.0, 0.0, 0.0, 0.0, None, 0, 0.0, files, size_mib * MIB)


def table(t: float, *levels: tuple[int, float]) -> CompactionTable:
    rows = [level(f"L{i}", f, s) for i, (f, s) in enumerate(levels)]
    return CompactionTable(rows, None, 1, "x", t)


def test_trend_flat_noise_is_not_up() -> None:
    xs = [float(x) for x in range(10)]
    ys = [5, 7, 4, 6, 5, 7, 4, 6, 5, 6]
    tr = sustain.trend(xs, [float(y) for y in ys], threshold=2.0)
    assert not tr.up


def test_trend_needs_significance_and_materiality() -> None:
    xs = [float(x) for x in range(10)]
    steep = sustain.trend(xs, [2.0 * x for x in xs], threshold=5.0)
    assert steep.up and steep.t_stat > 1e6 and steep.rise == pytest.approx(18.0)
    tiny = sustain.trend(xs, [0.01 * x for x in xs], threshold=5.0)  # significant, immaterial
    assert tiny.t_stat > 1e6 and not tiny.up
    assert not sustain.trend([0.0, 1.0], [0.0, 9.0], threshold=0.0).up  # too few points


def test_pending_bytes_follows_rocksdb_estimate() -> None:
    # L0 below its trigger, every level within target: nothing pending
    assert sustain.pending_compaction_bytes(table(1, (2, 4), (3, 12), (40, 150)), OPTS) == 0
    # L0 at its trigger: L0 and the base level count whole
    pend = sustain.pending_compaction_bytes(table(1, (4, 8), (3, 12), (40, 150)), OPTS)
    # L1 12 + 8 pushed = 20 > 16: 4 MiB excess with fan-out 150/20 + 1
    assert pend == pytest.approx((8 + 12 + 4 * (150 / 20 + 1)) * MIB)
    # a level over target above an empty level counts its excess once
    pend = sustain.pending_compaction_bytes(table(1, (0, 0), (3, 10), (60, 250)), OPTS)
    assert pend == pytest.approx(90 * MIB)


def test_required_level_from_targets() -> None:
    assert sustain.required_level(table(1, (1, 2), (3, 10)), OPTS) == 1
    assert sustain.required_level(table(1, (1, 2), (3, 16), (40, 100)), OPTS) == 2
    assert sustain.required_level(table(1, (1, 2), (3, 16), (40, 170)), OPTS) == 3


def trial(series: list[CompactionTable], **kw: float) -> sustain.TrialInput:
    base = {
        "target_mib_s": 20.0,
        "achieved_mib_s": 19.9,
        "seconds": 20.0,
        "stall_seconds": 0.0,
        "user_bytes": 400.0 * MIB,
    }
    base.update(kw)
    return sustain.TrialInput(tables=series, options=OPTS, **base)


def steady(l2_growth: float = 0.0) -> list[CompactionTable]:
    out = []
    for t in range(0, 21):
        l0 = (1, 2, 3, 2)[t % 4]
        out.append(table(float(t), (l0, l0 * 2.0), (4, 14), (40, 150 + l2_growth * t), (10, 50)))
    return out


def test_judge_sustained_and_each_failure() -> None:
    ok = sustain.judge(trial(steady()))
    assert ok.sustained and ok.depth_ok and ok.deepest_level == 3 and not ok.reasons
    stall = sustain.judge(trial(steady(), stall_seconds=1.0))
    assert not stall.sustained and "stall 5.0 %" in stall.reasons[0]
    slow = sustain.judge(trial(steady(), achieved_mib_s=19.0))
    assert not slow.sustained and "achieved 95.0 %" in slow.reasons[0]
    growing = sustain.judge(trial(steady(l2_growth=10.0)))
    assert not growing.sustained and growing.pending.up
    assert "pending compaction bytes rising" in growing.reasons[0]


def test_judge_flags_a_trial_too_short_for_its_depth() -> None:
    series = [table(float(t), (2, 4), (4, 14), (40, 150)) for t in range(0, 15)]
    series += [table(float(t), (2, 4), (4, 14), (40, 150), (5, 20)) for t in range(15, 21)]
    v = sustain.judge(trial(series))
    assert v.deepest_level == 3 and v.deepest_reached_s == 15.0 and not v.depth_ok
    assert v.sustained  # validity is reported beside the verdict, not mixed into it
    assert "trial too short" in v.reasons[-1]


def test_rate_limit_is_set_in_user_bytes() -> None:
    assert sustain.rate_limit_bytes(30.0, 16, 1000) == 30 * MIB
    assert sustain.rate_limit_bytes(12.5, 16, 400) == int(12.5 * MIB)


def test_second_half_rate_skips_start_and_partial_last_second() -> None:
    series = [(1.0, 10.0), (2.0, 100.0), (3.0, 100.0), (4.0, 100.0), (5.0, 20.0)]
    assert sustain.second_half_rate(series, 5.2) == pytest.approx(100.0)
    assert sustain.second_half_rate(series[:2], 2.0) is None


def run_search(plan: sustain.SearchPlan, truth: float) -> list[tuple[float, bool]]:
    history: list[tuple[float, bool]] = []
    while (rate := sustain.next_rate(plan, history)) is not None:
        history.append((rate, rate <= truth))
    return history


def test_search_coarse_then_bisection_within_tolerance() -> None:
    plan = sustain.SearchPlan(burst_mib_s=50.0)
    history = run_search(plan, truth=22.0)
    assert history[0] == (35.0, False)
    assert history[1] == (pytest.approx(24.5), False)
    assert history[2] == (pytest.approx(17.15), True)
    res = sustain.result(plan, history)
    assert res.converged and res.sustained_mib_s <= 22.0
    lo, hi = res.bracket
    assert hi / lo <= 1.05 and lo <= 22.0 < hi
    assert len(history) <= plan.max_trials


def test_search_repeat_starts_at_the_anchor() -> None:
    plan = sustain.SearchPlan(burst_mib_s=50.0, anchor_mib_s=21.0)
    history = run_search(plan, truth=22.0)
    assert history[0] == (21.0, True)
    assert history[1][0] == pytest.approx(23.1)
    res = sustain.result(plan, history)
    assert res.converged and 21.0 <= res.sustained_mib_s <= 22.0


def test_search_up_to_burst_and_down_to_floor() -> None:
    plan = sustain.SearchPlan(burst_mib_s=50.0)
    history = run_search(plan, truth=100.0)  # everything sustained: stops below burst
    res = sustain.result(plan, history)
    assert res.converged and res.sustained_mib_s * 1.05 >= 50.0 > res.sustained_mib_s
    plan = sustain.SearchPlan(burst_mib_s=50.0, max_trials=20)
    history = run_search(plan, truth=0.0)
    assert sustain.result(plan, history).sustained_mib_s is None
    assert min(r for r, _ in history) >= 50.0 * plan.floor_fraction * plan.step


def test_search_stops_at_max_trials() -> None:
    plan = sustain.SearchPlan(burst_mib_s=50.0, max_trials=2)
    history = run_search(plan, truth=22.0)
    assert len(history) == 2
    res = sustain.result(plan, history)
    assert not res.converged and res.note == "stopped after 2 trials, none sustained"
    plan = sustain.SearchPlan(burst_mib_s=50.0, max_trials=3)
    res = sustain.result(plan, run_search(plan, truth=22.0))
    assert res.sustained_mib_s == pytest.approx(17.15) and "stopped after 3 trials" in res.note
