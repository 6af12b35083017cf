"""v1 / v2.1 reproduce SPEC.md section 8's source figures; v3 arithmetic."""

from __future__ import annotations

import pytest

from benchlab.calibration.models import (
    LevelInput,
    ModelInputs,
    V3Inputs,
    background_slots,
    error_percent,
    harmonic_beff,
    model_v1,
    model_v3,
    model_v21,
    r_req,
    w_req,
)

SOURCE = ModelInputs(
    b_w=1484,
    b_r=2368,
    cr=0.54,
    wa=2.87,
    rho_r=0.000522,
    rho_w=0.999478,
    p_stall=0.453,
    levels=[
        LevelInput("L0", 0.0, 0.0009),
        LevelInput("L1", 0.0, 0.0018),
        LevelInput("L2", 22.6, 0.0002),
        LevelInput("L3", 0.9, 0.0002),
    ],
)


def r1(x: float) -> float:
    return round(x, 1)


def test_requirements_per_user_byte() -> None:
    assert round(w_req(SOURCE), 2) == 1.55
    assert round(r_req(SOURCE), 2) == 1.01


def test_v21_source_figures() -> None:
    p = model_v21(SOURCE)
    t = p.terms
    assert r1(t["B_eff"]) == 1484.3
    assert r1(t["S_write"]) == 957.5
    assert r1(t["S_read"]) == 2345.0
    assert r1(t["S_mix"]) == 579.9
    assert r1(t["S_level_L2"]) == 40.6
    assert r1(t["S_level_L3"]) == 504.0
    assert r1(t["feasible"]) == 40.6
    assert r1(p.mib_s) == 22.2
    assert p.bottleneck.startswith("S_level_L2")
    # "about 22,700 ops/s of 1 KB"
    assert round(p.ops_s(1024), -2) == 22700


def test_v1_source_figure() -> None:
    p = model_v1(SOURCE)
    assert r1(p.mib_s) == 582.0
    assert p.terms["B_eff_v1"] == pytest.approx((1484 + 2368) / 2)


def test_errors_against_source_measurement() -> None:
    measured = 187.1
    assert round(error_percent(model_v21(SOURCE).mib_s, measured)) == -88
    assert round(error_percent(model_v1(SOURCE).mib_s, measured)) == 211


def test_harmonic_beff_edges() -> None:
    assert harmonic_beff(100, 50, 0.0, 1.0) == 50
    assert harmonic_beff(100, 50, 1.0, 0.0) == 100
    assert harmonic_beff(100, 100, 0.5, 0.5) == pytest.approx(100)
    with pytest.raises(ValueError):
        harmonic_beff(1, 1, 0, 0)


@pytest.mark.parametrize(("jobs", "slots"), [(1, (1, 1)), (2, (1, 1)), (4, (1, 3)), (8, (2, 6))])
def test_background_slots_follow_rocksdb(jobs: int, slots: tuple[int, int]) -> None:
    assert background_slots(jobs) == slots


def _v3(**kw: float) -> V3Inputs:
    base: dict[str, float] = {
        "b_w": 1000.0,
        "b_r": 2000.0,
        "user_bytes": 1024 * 1024 * 1024.0,  # 1 GiB = 1024 MiB
        "device_write_bytes": 2 * 1024**3,
        "device_read_bytes": 1 * 1024**3,
        "flush_sec": 4.0,
        "base_sec": 10.0,
        "compaction_sec": 16.0,
        "cpu_sec": 30.0,
        "merge_cpu_sec": 20.0,
        "max_background_jobs": 2,
        "cores": 2.0,
    }
    base.update(kw)
    return V3Inputs(**base)


def test_v3_bounds_arithmetic() -> None:
    p = model_v3(_v3())
    t = p.terms
    # device: 1 / (2/1000 + 1/2000) = 400 MiB/s
    assert t["S_device"] == pytest.approx(400.0)
    # one compaction slot, 16 s per 1024 MiB -> 64 MiB/s
    assert t["S_compaction slots"] == pytest.approx(64.0)
    assert t["S_L0->L1 serialisation"] == pytest.approx(102.4)
    assert t["S_flush"] == pytest.approx(256.0)
    assert t["S_CPU"] == pytest.approx(2 * 1024 / 30)
    assert t["S_foreground writer thread"] == pytest.approx(102.4)
    assert p.mib_s == pytest.approx(64.0)
    assert p.bottleneck == "compaction slots"
    # stall explained: background 64 vs foreground 102.4 -> writer held back 37.5 %
    assert t["predicted stall fraction"] == pytest.approx(1 - 64 / 102.4)


def test_v3_more_slots_move_the_bottleneck() -> None:
    p = model_v3(_v3(max_background_jobs=8, cores=8.0))
    # 6 compaction slots -> 384 MiB/s; L0->L1 stays serial at 102.4, fg 102.4
    assert p.terms["S_compaction slots"] == pytest.approx(384.0)
    assert p.mib_s == pytest.approx(102.4)
    assert p.terms["predicted stall fraction"] == pytest.approx(0.0)


def test_v3_slots_capped_by_cores() -> None:
    p = model_v3(_v3(max_background_jobs=8, cores=2.0))
    assert p.terms["compaction slots"] == 2
    assert p.terms["S_compaction slots"] == pytest.approx(128.0)


def test_v3_device_bound_when_device_slow() -> None:
    p = model_v3(_v3(b_w=50.0, b_r=100.0))
    assert p.bottleneck == "device"
    assert p.mib_s == pytest.approx(1 / (2 / 50 + 1 / 100))


def test_v3_rejects_empty_run() -> None:
    with pytest.raises(ValueError):
        model_v3(_v3(user_bytes=0.0))


def test_transfer_splits_codec_time_from_per_entry_time() -> None:
    from benchlab.calibration.models import Codec, KeyCounts, split_per_entry, transfer_v3

    codec = Codec(compress_mib_s=256.0, uncompress_mib_s=1024.0)
    # 1 Mi entries of 1016 + 8 = 1024 B (1 GiB): decompress it at 1024 MiB/s (1 s) and
    # compress it at 256 MiB/s (4 s): 5 s of codec time; the rest is per entry
    entry_s, byte_s = split_per_entry(10.0, 2**20, 2**20, 1024, codec)
    assert byte_s == pytest.approx(5.0)
    assert entry_s == pytest.approx(10.0 - byte_s)
    # codec time larger than the stage: capped, nothing per entry
    assert split_per_entry(1.0, 2**20, 2**20, 1024, codec) == (0.0, 1.0)

    keys = KeyCounts(
        user_keys=2**20,
        compaction_in=2 * 2**20,
        compaction_out=2 * 2**20,
        base_in=2**20,
        base_out=2**20,
        record_bytes=1016,
    )
    inp = _v3(user_bytes=2**20 * 1016.0, compaction_sec=20.0, base_sec=10.0, flush_sec=8.0)
    same = transfer_v3(inp, keys, codec, 1016)
    assert same.compaction_sec == pytest.approx(20.0) and same.user_bytes == inp.user_bytes
    small = transfer_v3(inp, keys, codec, 408)  # entries of 416 B: 416 / 1024 of the bytes
    _, comp_bytes = split_per_entry(20.0, 2 * 2**20, 2 * 2**20, 1024, codec)
    assert small.compaction_sec == pytest.approx(20.0 - comp_bytes * (1 - 416 / 1024))
    assert small.user_bytes == pytest.approx(2**20 * 408)
    # flush compresses each put once: 4 s of its 8 s are codec time
    assert small.flush_sec == pytest.approx(4.0 + 4.0 * 416 / 1024)
    # per user MiB, smaller records cost more: the per-entry part is paid more often
    per_mib_big = inp.compaction_sec / (inp.user_bytes / 2**20)
    per_mib_small = small.compaction_sec / (small.user_bytes / 2**20)
    assert per_mib_small > per_mib_big
    assert model_v3(small).mib_s < model_v3(inp).mib_s
