"""The calibration report: predictions of v1, v2.1 and v3 against the measurement."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from . import analysis
from .models import Prediction, error_percent, model_v1, model_v3, model_v21
from .parsers import ParseError

VALIDATION_FACTORS = (0.9, 1.0, 1.1)


def factor_tag(factor: float) -> str:
    """0.9 -> '090' (file names of the validation runs)."""
    return f"{round(factor * 100):03d}"


def predict(cal: analysis.HostCalibration) -> dict[str, Prediction]:
    inputs = analysis.model_inputs(cal)
    return {
        "v1": model_v1(inputs),
        "v2.1": model_v21(inputs),
        "v3": model_v3(analysis.v3_inputs(cal)),
    }


def validation_rates(v3_mib_s: float) -> dict[str, int]:
    """--benchmark_write_rate_limit (bytes/s) for each validation factor."""
    return {factor_tag(f): int(f * v3_mib_s * 1024 * 1024) for f in VALIDATION_FACTORS}


def _validation_row(tag: str, run: analysis.EngineRun, v3: float, slots: int) -> dict:
    factor = int(tag) / 100
    target = factor * v3
    first = run.tables[0].total
    last = run.tables[-1].total
    debt_s = (last.comp_sec - first.comp_sec) if first and last else 0.0
    catch_up = debt_s / max(slots, 1)
    achieved = run.mib_s
    stall = run.stall_fraction
    sustained = achieved >= 0.95 * target and stall < 0.02
    return {
        "factor": factor,
        "target_mib_s": target,
        "achieved_mib_s": achieved,
        "ops_s": run.summary.ops_per_sec,
        "seconds": run.seconds,
        "stall_percent": stall * 100,
        "compaction_debt_s": debt_s,
        "catch_up_s": catch_up,
        "catch_up_percent_of_run": catch_up / run.seconds * 100 if run.seconds else 0.0,
        "verdict": (
            "sustained"
            if sustained
            else "not sustained (stalls)"
            if stall >= 0.02
            else "inconclusive: below target without stalls (writer starved, e.g. CPU contention)"
        ),
    }


def host_report(cal: analysis.HostCalibration) -> dict:
    if not cal.device or not cal.engine:
        raise ParseError(cal.directory, "phase A or phase B outputs missing; nothing to report")
    preds = predict(cal)
    engine = cal.engine
    measured = engine.mib_s
    rho_r, rho_w, io_source = analysis.read_fraction(cal)
    reads, writes, _ = analysis.device_io(cal, engine)
    inputs = analysis.model_inputs(cal)
    final = engine.final
    total_write = sum(lv.write_gb for lv in final.levels) or 1.0
    v3_terms = preds["v3"].terms
    slots = int(v3_terms["compaction slots"])
    # Stall explained for this finite fill: the background works through
    # slots x T seconds plus the debt it carried past the end; the writer, able to
    # put S_fg, is held back for the rest.
    first_total, last_total = engine.tables[0].total, engine.final.total
    debt_s = (
        last_total.comp_sec - first_total.comp_sec
        if first_total and last_total and len(engine.tables) > 1
        else 0.0
    )
    s_fg = v3_terms["S_foreground writer thread"]
    s_bg = min(
        v for k, v in v3_terms.items() if k.startswith("S_") and k != "S_foreground writer thread"
    )
    finite_stall = None
    if engine.seconds > 0 and 0 < s_fg < float("inf"):
        finite_stall = 1.0 - (s_bg / s_fg) * (1.0 + debt_s / (engine.seconds * max(slots, 1)))
        finite_stall = min(max(finite_stall, 0.0), 1.0)
    doc = {
        "host": cal.host,
        "calibration_id": cal.facts.get("calibration_id"),
        "facts": cal.facts,
        "device": {
            **analysis.device_figures_dict(cal.device, rho_r, rho_w),
            "mix_read_percent": cal.device.mix_read_percent,
            "fio_version": cal.device.fio_version,
        },
        "engine": {
            "mib_s": measured,
            "ops_s": engine.summary.ops_per_sec,
            "seconds": engine.seconds,
            "operations": engine.summary.operations,
            "user_bytes": engine.user_bytes,
            "CR": inputs.cr,
            "WA_log": inputs.wa,
            "WA_statistics": analysis.wa_from_statistics(cal),
            "stall_percent": engine.stall_fraction * 100,
            "stall_seconds": engine.stall_seconds,
            "rho_r": rho_r,
            "rho_w": rho_w,
            "device_read_bytes": reads,
            "device_write_bytes": writes,
            "device_io_source": io_source,
            "cpu_seconds": float(engine.proc.get("utime_s", 0))
            + float(engine.proc.get("stime_s", 0)),
            "wall_seconds": engine.proc.get("wall_s"),
            "compaction_table_source": engine.table_source,
            "steady_tail_mib_s": _tail_mean(engine.series_mib_s()),
            "compaction_debt_s": debt_s,
            "stall_explained_steady_percent": v3_terms["predicted stall fraction"] * 100,
            "stall_explained_finite_percent": (
                finite_stall * 100 if finite_stall is not None else None
            ),
        },
        "levels": [
            {
                **asdict(lv),
                "share_of_writes": lv.write_gb / total_write,
                "read_write_ratio": lv.read_write_ratio,
            }
            for lv in final.levels
        ],
        "predictions": {
            name: {
                "mib_s": p.mib_s,
                "ops_s": p.ops_s(engine.bytes_per_op),
                "error_percent": error_percent(p.mib_s, measured),
                "bottleneck": p.bottleneck,
                "terms": p.terms,
            }
            for name, p in preds.items()
        },
        "validation": {
            tag: _validation_row(tag, run, preds["v3"].mib_s, slots)
            for tag, run in sorted(cal.validations.items())
        },
        "notes": cal.notes,
    }
    return doc


def _tail_mean(series: list[tuple[float, float]]) -> float | None:
    if len(series) < 4:
        return None
    tail = series[len(series) // 2 :]
    return sum(v for _, v in tail) / len(tail)


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if value == float("inf"):
        return "inf"
    return f"{value:,.{digits}f}"


def render_markdown(doc: dict) -> str:
    dev, eng = doc["device"], doc["engine"]
    lines = [
        f"# Calibration report: {doc['host']} ({doc.get('calibration_id') or '?'})",
        "",
        "## Phase A: device (fio, direct I/O)",
        "",
        f"- B_w {_fmt(dev['B_w'])} MiB/s, B_r {_fmt(dev['B_r'])} MiB/s, "
        f"B_mix {_fmt(dev['B_mix'])} MiB/s measured at {dev['mix_read_percent']} % reads, "
        f"harmonic B_eff {_fmt(dev['B_eff'])} MiB/s (rho_r {eng['rho_r']:.6f})",
        "",
        "## Phase B: engine (db_bench fillrandom)",
        "",
        f"- measured {_fmt(eng['mib_s'])} MiB/s, {_fmt(eng['ops_s'], 0)} ops/s over "
        f"{_fmt(eng['seconds'])} s; second-half mean {_fmt(eng['steady_tail_mib_s'])} MiB/s",
        f"- CR {_fmt(eng['CR'], 3)}, WA (LOG Sum W-Amp) {_fmt(eng['WA_log'], 2)}, "
        f"WA (statistics, SST bytes per user byte) {_fmt(eng['WA_statistics'], 2)}",
        f"- stall {_fmt(eng['stall_percent'])} % ({_fmt(eng['stall_seconds'])} s of the fill)",
        f"- device read {_fmt(eng['device_read_bytes'] / 2**20)} MiB, written "
        f"{_fmt(eng['device_write_bytes'] / 2**20)} MiB ({eng['device_io_source']}); "
        f"process CPU {_fmt(eng['cpu_seconds'])} s over {_fmt(eng['wall_seconds'])} s wall",
        "",
        f"## Phase C: levels (last cumulative table, from {eng['compaction_table_source']})",
        "",
        "| level | Read(GB) | Rn(GB) | Write(GB) | W-Amp | Comp(sec) | CompMergeCPU(sec) "
        "| share of writes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for lv in doc["levels"]:
        lines.append(
            f"| {lv['level']} | {lv['read_gb']:.1f} | {lv['rn_gb']:.1f} | {lv['write_gb']:.1f} | "
            f"{lv['w_amp']:.1f} | {lv['comp_sec']:.2f} | {_fmt(lv['comp_merge_cpu_sec'], 2)} | "
            f"{lv['share_of_writes'] * 100:.1f} % |"
        )
    lines += [
        "",
        "## Predictions",
        "",
        "| model | predicted MiB/s | ops/s | measured MiB/s | error | bottleneck named |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, p in doc["predictions"].items():
        lines.append(
            f"| {name} | {_fmt(p['mib_s'])} | {_fmt(p['ops_s'], 0)} | {_fmt(eng['mib_s'])} | "
            f"{p['error_percent']:+.1f} % | {p['bottleneck']} |"
        )
    v3 = doc["predictions"]["v3"]["terms"]
    lines += [
        "",
        "### v3 bounds (MiB/s) and per-user-byte costs",
        "",
    ]
    for key, value in v3.items():
        lines.append(f"- {key}: {_fmt(value, 3)}")
    lines += [
        "",
        f"Stall explained: in steady state the writer (alone it could put "
        f"{_fmt(v3['S_foreground writer thread'])} MiB/s) must be held back "
        f"{v3['predicted stall fraction'] * 100:.1f} % of the time, because the background "
        f"sustains only {_fmt(doc['predictions']['v3']['mib_s'])} MiB/s. This fill left "
        f"{eng['compaction_debt_s']:.2f} s of compaction unpaid at its end (done during "
        f"waitforcompaction); counting that, the expected stall for this finite run is "
        f"{_fmt(eng['stall_explained_finite_percent'])} %; measured "
        f"{eng['stall_percent']:.1f} %. The rest is the start of the fill, before L0 "
        f"reaches its slowdown trigger, when compaction is not yet busy all the time.",
    ]
    if doc["validation"]:
        lines += [
            "",
            "## Validation at fixed write rates (--benchmark_write_rate_limit)",
            "",
            "| x v3 | target MiB/s | achieved MiB/s | stall % | compaction debt s "
            "| catch-up % of run | verdict |",
            "|---:|---:|---:|---:|---:|---:|---|",
        ]
        for row in doc["validation"].values():
            lines.append(
                f"| {row['factor']:.1f} | {_fmt(row['target_mib_s'])} | "
                f"{_fmt(row['achieved_mib_s'])} | "
                f"{row['stall_percent']:.1f} | {row['compaction_debt_s']:.2f} | "
                f"{row['catch_up_percent_of_run']:.1f} | {row['verdict']} |"
            )
    if doc["notes"]:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in doc["notes"]]
    lines += ["", "![throughput over time](throughput.png)", ""]
    return "\n".join(lines)


def plot(cal: analysis.HostCalibration, doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5))
    peak = 0.0
    if cal.engine and cal.engine.series:
        xs, ys = zip(*cal.engine.series_mib_s(), strict=True)
        ax.plot(xs, ys, label="phase B fillrandom (unthrottled)", color="black")
        peak = max(peak, *ys)
    colours = {"090": "tab:green", "100": "tab:blue", "110": "tab:red"}
    for tag, run in sorted(cal.validations.items()):
        if run.series:
            xs, ys = zip(*run.series_mib_s(), strict=True)
            ax.plot(
                xs,
                ys,
                label=f"validation {int(tag) / 100:.1f}x v3",
                color=colours.get(tag),
                alpha=0.7,
            )
            peak = max(peak, *ys)
    measured = doc["engine"]["mib_s"]
    ax.axhline(measured, color="black", linestyle=":", label=f"measured mean {measured:.1f}")
    styles = {"v1": "tab:orange", "v2.1": "tab:purple", "v3": "tab:blue"}
    top = max(peak, measured) * 1.4 or 1.0
    for name, p in doc["predictions"].items():
        value = p["mib_s"]
        label = f"{name} prediction {value:.1f}" + (" (off scale)" if value > top else "")
        ax.axhline(min(value, top * 0.98), color=styles[name], linestyle="--", label=label)
    ax.set_ylim(0, top)
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("MiB/s (key + value)")
    ax.set_title(f"{doc['host']}: measured throughput vs model predictions")
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_host_report(directory: Path) -> dict:
    cal = analysis.load_host(directory)
    doc = host_report(cal)
    (directory / "report.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    (directory / "report.md").write_text(render_markdown(doc))
    plot(cal, doc, directory / "throughput.png")
    return doc


def write_run_report(run_dir: Path) -> list[dict]:
    hosts = sorted(p for p in run_dir.iterdir() if p.is_dir() and (p / "host.json").exists())
    if not hosts:
        raise ParseError(run_dir, "no host directories with host.json")
    docs = [write_host_report(h) for h in hosts]
    lines = [
        f"# Calibration {run_dir.name}",
        "",
        "| host | B_w | B_r | measured MiB/s | v1 | v2.1 | v3 | v3 error | stall % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for doc in docs:
        p = doc["predictions"]
        lines.append(
            f"| [{doc['host']}]({doc['host']}/report.md) | {doc['device']['B_w']:.1f} | "
            f"{doc['device']['B_r']:.1f} | {doc['engine']['mib_s']:.1f} | {p['v1']['mib_s']:.1f} | "
            f"{p['v2.1']['mib_s']:.1f} | {p['v3']['mib_s']:.1f} | "
            f"{p['v3']['error_percent']:+.1f} % | "
            f"{doc['engine']['stall_percent']:.1f} |"
        )
    (run_dir / "report.md").write_text("\n".join(lines) + "\n")
    return docs
