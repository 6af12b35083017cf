"""Report, CLI and latest_device_figures on a real (short) calibration of this machine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchlab.calibration import latest_device_figures
from benchlab.calibration.cli import main

HOST = Path(__file__).parent / "samples" / "host-localhost"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "results" / "calibration-20261122T161004Z-6f9e"
    shutil.copytree(HOST, run / "localhost")
    return run


def test_report_from_raw_outputs(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--run-dir", str(run_dir)]) == 0
    host = run_dir / "localhost"
    doc = json.loads((host / "report.json").read_text())
    assert doc["engine"]["mib_s"] == pytest.approx(59.3)
    assert doc["device"]["B_w"] > 0 and doc["device"]["B_r"] > 0
    assert {lv["level"] for lv in doc["levels"]} >= {"L0", "L1"}
    for name in ("v1", "v2.1", "v3"):
        assert doc["predictions"][name]["mib_s"] > 0
        assert doc["predictions"][name]["bottleneck"]
    assert set(doc["validation"]) == {"090", "100", "110"}
    assert (host / "throughput.png").stat().st_size > 1000
    text = (host / "report.md").read_text()
    assert "| v3 |" in text and "error" in text
    assert (run_dir / "report.md").exists()
    assert "v3" in capsys.readouterr().out


def test_mixread_and_predict(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    host = run_dir / "localhost"
    assert main(["mixread", "--host-dir", str(host)]) == 0
    assert 1 <= int(capsys.readouterr().out) <= 99
    assert main(["predict", "--host-dir", str(host)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"v1", "v2.1", "v3"} <= set(doc["predictions"])
    assert doc["predictions"]["v3"]["mib_s"] > 0
    # never overwritten
    assert main(["predict", "--host-dir", str(host)]) == 2
    assert "never overwritten" in capsys.readouterr().err


def test_garbage_is_a_clear_error(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    host = run_dir / "localhost"
    (host / "fio-write.json").write_text("garbage\n")
    assert main(["report", "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "fio-write.json:1" in err and "Traceback" not in err


def test_missing_dir_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--run-dir", str(tmp_path / "nope")]) == 2
    assert "nope" in capsys.readouterr().err


def test_latest_device_figures(run_dir: Path) -> None:
    root = run_dir.parent
    figures = latest_device_figures(root, "localhost")
    assert figures is not None and figures["B_w"] > 0 and figures["B_eff"] is None
    main(["report", "--run-dir", str(run_dir)])
    figures = latest_device_figures(root, "localhost")
    assert figures["calibration_id"] == "20261122T161004Z-6f9e"
    assert figures["B_eff"] > 0
    assert latest_device_figures(root, "otherhost") is None
    assert latest_device_figures(root / "missing", "localhost") is None
