"""Storage calibration: fio + RocksDB db_bench parsers, write models v1/v2.1/v3, report.

SPEC.md section 8. Entry points: ``python -m benchlab.calibration`` (``cli.register``
adds the same commands under ``benchlab calibrate``) and :func:`latest_device_figures`
for the benchmark report.
"""

from __future__ import annotations

import json
from pathlib import Path

from .parsers import ParseError

__all__ = ["ParseError", "latest_device_figures"]


def latest_device_figures(results_root: Path, host: str, *, strict: bool = False) -> dict | None:
    """The newest calibration's device figures for ``host``, or None.

    Returns ``{"calibration_id", "B_w", "B_r", "B_eff", "B_mix", "sustained"}`` in MiB/s
    (B_eff and B_mix may be None when phase B or the mixed fio run is missing;
    ``sustained`` lists each searched workload's S_sustained and record size, and is
    empty for calibrations without a search). Unreadable
    calibrations are skipped, never raised: the benchmark report must not fail on them.
    With ``strict`` (``python -m benchlab.calibration figures``, bench.yml's lookup) the
    newest calibration of the host that cannot be read raises ParseError naming the file
    and the fix, instead of an older calibration being used without a word.
    """
    from . import analysis  # local import keeps `import benchlab.calibration` light

    root = Path(results_root)
    if not root.is_dir():
        return None
    for run_dir in sorted(root.glob("calibration-*"), key=lambda p: p.name, reverse=True):
        host_dir = run_dir / host
        report = host_dir / "report.json"
        try:
            if report.exists():
                doc = json.loads(report.read_text())
                dev = doc["device"]
                return {
                    "calibration_id": run_dir.name.removeprefix("calibration-"),
                    "B_w": dev["B_w"],
                    "B_r": dev["B_r"],
                    "B_eff": dev.get("B_eff"),
                    "B_mix": dev.get("B_mix"),
                    "sustained": _sustained(doc),
                }
            device = analysis.load_device(host_dir) if host_dir.is_dir() else None
        except (ParseError, OSError, ValueError, KeyError, TypeError) as exc:
            if strict:
                raise _unreadable(run_dir, host_dir, report, exc) from exc
            continue
        if device is not None:
            return {
                "calibration_id": run_dir.name.removeprefix("calibration-"),
                "B_w": device.b_w,
                "B_r": device.b_r,
                "B_eff": None,
                "B_mix": device.b_mix,
            }
    return None


def _sustained(doc: dict) -> list[dict]:
    """Each workload's S_sustained (MiB/s of key + value) with its record size; none for a
    quick calibration (calibration_quick: its one-trial search is a smoke test)."""
    if ((doc.get("facts") or {}).get("config") or {}).get("quick"):
        return []
    out = []
    for workload, search in sorted((doc.get("searches") or {}).items()):
        if not isinstance(search, dict) or not search.get("sustained_mib_s"):
            continue
        out.append(
            {
                "workload": workload,
                "mib_s": float(search["sustained_mib_s"]),
                "spread_mib_s": search.get("spread_mib_s"),
                "record_bytes": int(search["key_size"]) + int(search["value_size"]),
            }
        )
    return out


def _unreadable(run_dir: Path, host_dir: Path, report: Path, exc: Exception) -> ParseError:
    if isinstance(exc, ParseError):
        what = str(exc)
    elif isinstance(exc, json.JSONDecodeError):
        what = f"{report}:{exc.lineno}: not valid JSON ({exc.msg})"
    elif isinstance(exc, KeyError | TypeError):
        what = f"{report}: no device figures (device.B_w, device.B_r)"
    else:
        what = f"{host_dir}: {exc}"
    return ParseError(
        what,
        f"the newest calibration of this host cannot be read; fix: rerun "
        f"benchlab calibrate report --run-dir {run_dir} (or calibrate.yml), or move "
        f"{run_dir} out of the results folder",
    )
