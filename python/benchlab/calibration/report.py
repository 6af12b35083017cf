"""The calibration report: predictions of v1, v2.1 and v3 against the measurement."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from benchlab.render import render_template

from . import analysis
from .models import (
    Codec,
    KeyCounts,
    Prediction,
    V3Inputs,
    error_percent,
    model_v1,
    model_v3,
    model_v21,
    transfer_v3,
)
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
        "searches": {w: search_doc(s) for w, s in sorted(cal.searches.items())},
        "judged": judged_predictions(cal),
        "notes": cal.notes,
    }
    doc["headline"] = headline(doc)
    speed = analysis.codec(cal)  # phase D: what v3 carries per byte to another record size
    doc["codec"] = (
        {"compress_mib_s": speed.compress_mib_s, "uncompress_mib_s": speed.uncompress_mib_s}
        if speed is not None
        else None
    )
    if cal.engine_b is not None:
        doc["burst_b"] = {
            "mib_s": cal.engine_b.mib_s,
            "ops_s": cal.engine_b.summary.ops_per_sec,
            "seconds": cal.engine_b.seconds,
            "stall_percent": cal.engine_b.stall_fraction * 100,
        }
    return doc


def search_doc(search: analysis.Search) -> dict:
    """One workload's sustainable-rate search for report.json."""
    trials = []
    for trial in search.trials:
        v = trial.verdict
        trials.append({"stem": trial.stem, "repeat": trial.repeat, **v.as_dict()})
    seconds = [t["seconds"] for t in trials]
    valid = [t for t in trials if t["depth_ok"]]
    return {
        "workload": search.workload,
        "key_size": search.key_size,
        "value_size": search.value_size,
        "num": search.num,
        "trial_mib": search.num * search.bytes_per_op / analysis.MIB,
        "burst_mib_s": search.burst_mib_s,
        "repeat_results_mib_s": search.results,
        "repeats": [
            {
                k: r.get(k)
                for k in (
                    "repeat",
                    "anchor_mib_s",
                    "sustained_mib_s",
                    "bracket",
                    "converged",
                    "note",
                )
            }
            for r in search.repeats
        ],
        "sustained_mib_s": search.sustained_mib_s,
        "sustained_ops_s": (
            search.sustained_mib_s * analysis.MIB / search.bytes_per_op
            if search.sustained_mib_s
            else None
        ),
        "spread_mib_s": search.spread_mib_s,
        "spread_percent": (
            search.spread_mib_s / search.sustained_mib_s * 100
            if search.spread_mib_s is not None and search.sustained_mib_s
            else None
        ),
        "trials": trials,
        "trial_seconds_min": min(seconds) if seconds else None,
        "trial_seconds_max": max(seconds) if seconds else None,
        "trials_deep_enough": len(valid),
        "wall_seconds": (
            search.record["ended"] - search.record["started"]
            if search.record.get("ended") and search.record.get("started")
            else None
        ),
        "criteria": search.record.get("criteria"),
    }


def fit_trial(search: analysis.Search) -> str | None:
    """The fixed-rate fill v3 is fitted on: the first sustained trial of the first repeat
    (a coarse step, chosen before any bisection)."""
    return next((t.stem for t in search.trials if t.repeat == 1 and t.verdict.sustained), None)


def _v3_for(
    inputs: V3Inputs, keys: KeyCounts, codec: Codec | None, record_bytes: int
) -> Prediction | None:
    """v3 fitted on one fill, for puts of ``record_bytes`` (None: no codec speed to carry
    the costs to another record size)."""
    if record_bytes == keys.record_bytes:
        return model_v3(inputs)
    if codec is None:
        return None
    return model_v3(transfer_v3(inputs, keys, codec, record_bytes))


def judged_predictions(cal: analysis.HostCalibration) -> list[dict]:
    """Every model, fitted on one fill, against each workload's S_sustained: in sample
    when fitted and judged on the same workload. v1 and v2.1 have no record size in them
    (their MiB/s carries over as is); v3 carries its costs to the other record size
    (models.transfer_v3, with phase D's codec speed). v3 is fitted on a burst fill (whole
    fill and its debt payoff, as before issue 12) and on a fixed-rate fill of each workload
    (second half only: analysis.marginal_fit)."""
    truth = {w: s for w, s in cal.searches.items() if s.sustained_mib_s}
    if not truth:
        return []
    fits = []
    for workload, fill in (("A", cal), ("B", analysis.as_workload_b(cal))):
        if fill is None:
            continue
        inputs, keys = analysis.v3_inputs(fill), analysis.key_counts(fill)
        general = predict(fill)
        fits.append((workload, "burst", f"burst fill {workload}", inputs, keys, general, fill))
    for workload, search in sorted(cal.searches.items()):
        stem = fit_trial(search)
        if stem is None:
            continue
        rate = next(t.verdict.target_mib_s for t in search.trials if t.stem == stem)
        fill = analysis.as_trial(cal, search, stem)
        inputs, keys, _ = analysis.marginal_fit(fill, stem)
        name = f"second half of fixed-rate fill {stem} ({rate:.1f} MiB/s)"
        fits.append((workload, "fixed-rate", name, inputs, keys, {}, fill))
    rows = []
    for fit_workload, kind, fit_name, inputs, keys, general, fill in fits:
        codec = analysis.codec(fill)  # the fill's own compression ratio
        for workload, search in sorted(truth.items()):
            preds: dict[str, Prediction | None] = {
                "v1": general.get("v1"),
                "v2.1": general.get("v2.1"),
                "v3": _v3_for(inputs, keys, codec, search.bytes_per_op),
            }
            for model, p in preds.items():
                if p is None:
                    continue
                s = search.sustained_mib_s
                rows.append(
                    {
                        "model": model,
                        "fit_kind": kind,
                        "fitted_on": fit_name,
                        "fit_workload": fit_workload,
                        "workload": workload,
                        "sample": "in" if workload == fit_workload else "out",
                        "predicted_mib_s": p.mib_s,
                        "sustained_mib_s": s,
                        "error_percent": error_percent(p.mib_s, s),
                        "bottleneck": p.bottleneck,
                    }
                )
    return rows


def headline(doc: dict) -> dict:
    """The figures a calibration is quoted by: S_sustained of A and B (with spread), burst,
    and each model fitted on workload A judged on A (in sample) and on B (out of sample).
    v1 and v2.1 are fitted on the burst fill (as published); v3 on the fixed-rate fill
    when the search found one, else on the burst fill."""
    searches = doc.get("searches") or {}
    rows = doc.get("judged") or []
    out: dict = {
        "burst_mib_s": doc["engine"]["mib_s"],
        "S": {
            w: {"mib_s": s.get("sustained_mib_s"), "spread_percent": s.get("spread_percent")}
            for w, s in searches.items()
        },
        "models": {},
    }
    for model in ("v1", "v2.1", "v3"):
        mine = [r for r in rows if r["model"] == model and r["fit_workload"] == "A"]
        fixed = [r for r in mine if r["fit_kind"] == "fixed-rate"]
        mine = fixed or [r for r in mine if r["fit_kind"] == "burst"]
        out["models"][model] = {
            r["workload"]: {
                "predicted_mib_s": r["predicted_mib_s"],
                "error_percent": r["error_percent"],
                "sample": r["sample"],
                "fitted_on": r["fitted_on"],
            }
            for r in mine
        }
    return out


def _tail_mean(series: list[tuple[float, float]]) -> float | None:
    if len(series) < 4:
        return None
    tail = series[len(series) // 2 :]
    return sum(v for _, v in tail) / len(tail)


def render_markdown(doc: dict) -> str:
    """report.md of one host from its report.json document."""
    return render_template("calibration_host.md.j2", {"doc": doc})


def render_run_markdown(name: str, docs: list[dict]) -> str:
    """The calibration run's report.md: one summary row per host."""
    return render_template("calibration_run.md.j2", {"name": name, "docs": docs})


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


def wall_seconds(run_dir: Path, hosts: list[Path]) -> float | None:
    """From the calibration's start (its id: <UTC time>-<hex>) to the last raw output
    (a search's end or a recorded command's end): the calibration's wall time, the same
    however late the report is rewritten."""
    import datetime as dt
    import re

    match = re.match(r"calibration-(\d{8}T\d{6}Z)", run_dir.name)
    if not match:
        return None
    start = dt.datetime.strptime(match[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC).timestamp()
    ends = []
    for host in hosts:
        for path in [*host.glob("*.proc.json"), *host.glob("search-*.json")]:
            try:
                ended = json.loads(path.read_text()).get("ended")
            except (OSError, ValueError):
                continue
            if isinstance(ended, int | float):
                ends.append(float(ended))
    return max(ends) - start if ends and max(ends) > start else None


def write_run_report(run_dir: Path) -> list[dict]:
    hosts = sorted(p for p in run_dir.iterdir() if p.is_dir() and (p / "host.json").exists())
    if not hosts:
        raise ParseError(run_dir, "no host directories with host.json")
    docs = [write_host_report(h) for h in hosts]
    text = render_run_markdown(run_dir.name, docs)
    wall = wall_seconds(run_dir, hosts)
    if wall is not None:
        text += (
            f"\nWall time: {wall / 60:.1f} min from the calibration's start to its last "
            "raw output (all phases and trials, every host).\n"
        )
    (run_dir / "report.md").write_text(text)
    return docs
