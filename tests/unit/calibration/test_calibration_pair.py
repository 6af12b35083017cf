"""v3 pinned on a recorded pair of runs from this project's 2-vCPU sandbox (issue 12).

Fixtures (tests/unit/fixtures/calibration/pair, trimmed by ../trim.py from the default
calibration named in truth.json): phase A's fio figures, phase D's codec speed, workload
A's fixed-rate fill that v3 is fitted on (stdout, per-second LOG dumps, recorder), a
sustained and an unsustained trial, and both workloads' S_sustained as the search found
them. Fit on A, predict B: the figures below are what the report printed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchlab.calibration import analysis, search, sustain
from benchlab.calibration.models import error_percent, model_v3, transfer_v3

PAIR = Path(__file__).parents[1] / "fixtures" / "calibration" / "pair"
TRUTH = json.loads((PAIR / "truth.json").read_text())


def _fit() -> tuple:
    facts = json.loads((PAIR / "host.json").read_text())
    cal = analysis.HostCalibration(host="localhost", directory=PAIR, facts=facts)
    cal.device = analysis.load_device(PAIR)
    a = TRUTH["A"]
    fill = analysis.Search(
        workload="A",
        key_size=a["key_size"],
        value_size=a["value_size"],
        num=a["num"],
        burst_mib_s=a["burst_mib_s"],
        repeats=[],
        trials=[],
        record={},
    )
    fitted = analysis.as_trial(cal, fill, TRUTH["fit_stem"])
    inputs, keys, window = analysis.marginal_fit(fitted, TRUTH["fit_stem"])
    return fitted, inputs, keys, window


def test_v3_fitted_on_a_predicts_b_out_of_sample() -> None:
    fitted, inputs, keys, window = _fit()
    # the fit: second half of a fixed-rate fill, at full LSM depth
    assert window["from_s"] >= window["to_s"] / 2 - 1
    assert window["compaction_s_per_gib"] > window["whole_fill_compaction_s_per_gib"]
    codec = analysis.codec(fitted)  # codec speed, fio B_r / B_w, the fill's compression
    assert codec is not None and codec.compress_mib_s > 0 and codec.uncompress_mib_s > 0
    in_sample = model_v3(inputs)
    b = TRUTH["B"]
    out = model_v3(transfer_v3(inputs, keys, codec, b["key_size"] + b["value_size"]))
    assert in_sample.bottleneck == out.bottleneck == "compaction slots"
    assert in_sample.mib_s == pytest.approx(TRUTH["pinned"]["v3_A_mib_s"], rel=1e-3)
    assert out.mib_s == pytest.approx(TRUTH["pinned"]["v3_B_mib_s"], rel=1e-3)
    err_a = error_percent(in_sample.mib_s, TRUTH["A"]["sustained_mib_s"])
    err_b = error_percent(out.mib_s, b["sustained_mib_s"])
    assert err_a == pytest.approx(TRUTH["pinned"]["v3_A_error_percent"], abs=0.1)
    assert err_b == pytest.approx(TRUTH["pinned"]["v3_B_error_percent"], abs=0.1)


def test_recorded_trials_are_judged_as_the_search_judged_them() -> None:
    for stem, row in TRUTH["trials"].items():
        verdict = sustain.judge(
            search.trial_input(PAIR / stem, row["target_mib_s"], row["record_bytes"])
        )
        assert verdict.sustained is row["sustained"], (stem, verdict.reasons)
        assert verdict.depth_ok, (stem, verdict.reasons)
