"""The soak's report: soak.md and soak.png from soak.json (benchlab.soak.run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchlab.render import fmt_num, fmt_value, render_template
from benchlab.results import PARTIAL_MARKER, ResultsError, read_json, utc_iso, write_text_atomic
from benchlab.soak.run import SOAK_FILE

PLOT_FILE = "soak.png"
REPORT_FILE = "soak.md"


def source_text(rate: dict[str, Any]) -> str:
    """Where a target's rate came from, in words."""
    if rate.get("source") == "search":
        share = fmt_num((rate.get("fraction") or 0) * 100)
        found = fmt_num(rate.get("sustainable_per_s"))
        return f"{share} % of {found}/s, search {rate.get('search_id')}"
    return str(rate.get("source") or "n/a")


def plot(doc: dict[str, Any], path: Path) -> bool:
    """Working set per service (with its least-squares line) and p99 per window, over time."""
    targets = list((doc.get("targets") or {}).values())
    memory = [
        (t, k, m) for t in targets for k, m in (t.get("memory") or {}).items() if m.get("series")
    ]
    latency = [t for t in targets if (t.get("latency") or {}).get("windows")]
    if not memory and not latency:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_mem, ax_lat) = plt.subplots(2, 1, figsize=(11, 8))
    for t, key, m in memory:
        warm = float(t.get("warmup_s") or 0)
        xs = [(warm + s) / 60 for s, _ in m["series"]]
        (line,) = ax_mem.plot(xs, [v for _, v in m["series"]], label=f"{key} ({m['verdict']})")
        if m.get("slope_mib_per_h") is not None and m.get("intercept_mib") is not None:
            ends = [m["series"][0][0], m["series"][-1][0]]
            ax_mem.plot(
                [(warm + s) / 60 for s in ends],
                [m["intercept_mib"] + m["slope_mib_per_h"] * s / 3600 for s in ends],
                linestyle="--",
                color=line.get_color(),
                label=f"{key}: {m['slope_mib_per_h']:+.1f} MiB/h, R² {m['r2'] or 0:.2f}",
            )
    for t in latency:
        rows = [w for w in t["latency"]["windows"] if w.get("p99_ms") is not None]
        ax_lat.plot(
            [(w["start_s"] + w["end_s"]) / 120 for w in rows],
            [w["p99_ms"] for w in rows],
            marker=".",
            label=f"{t['target']} p99 ({t['latency']['verdict']})",
        )
    ax_mem.set_title("working set after the warm-up (dashed: least-squares line)")
    ax_mem.set_ylabel("MiB")
    ax_lat.set_title(
        f"p99 acknowledgement latency per {fmt_value(doc['settings']['window_s'])} s window"
    )
    ax_lat.set_ylabel("ms")
    for ax in (ax_mem, ax_lat):
        ax.set_xlabel("minutes since the load started")
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def write_soak_report(soak_dir: Path, doc: dict[str, Any] | None = None) -> Path:
    """soak.md and soak.png from soak.json (or `doc`, its contents in memory)."""
    if doc is None:
        doc = read_json(soak_dir / SOAK_FILE)
    if not isinstance(doc, dict):
        raise ResultsError(f"no soak record {soak_dir / SOAK_FILE}")
    targets = []
    for t in (doc.get("targets") or {}).values():
        verdict = t.get("data_verdict") or {}
        targets.append(
            {
                **t,
                "source_text": source_text(t.get("rate") or {}),
                "data_text": (
                    f"{verdict.get('status')}"
                    + (f" ({verdict.get('line')})" if verdict.get("status") == "FAIL" else "")
                    if verdict
                    else "n/a"
                ),
            }
        )
    try:
        has_plot = plot(doc, soak_dir / PLOT_FILE)
    except Exception as exc:  # the chart is a convenience; soak.md says it is missing
        has_plot = False
        doc.setdefault("report_notes", []).append(f"soak.png not written: {exc}")
    load = (doc.get("config") or {}).get("load") or {}
    context = {
        "doc": doc,
        "s": doc["settings"],
        "load": {
            "duration_s": load.get("duration_s"),
            "warmup_s": load.get("warmup_s", 0),
            "interval_s": load.get("interval_s"),
        },
        "targets": targets,
        "plot": PLOT_FILE if has_plot else None,
        "partial": (soak_dir / PARTIAL_MARKER).exists(),
        "generated": utc_iso(),
    }
    path = soak_dir / REPORT_FILE
    write_text_atomic(path, render_template("soak.md.j2", context))
    return path


def reanalyse(soak_dir: Path, rules: dict[str, Any] | None = None) -> dict[str, Any]:
    """soak.json's figures computed again from what it keeps (each working-set series, the
    batch latencies in <target>-batch-latency.csv), with `rules` (soak.yml's benchlab_soak:
    the analysis keys) over the settings it ran with; soak.json rewritten. For a rule changed
    after the soak: `benchlab soak-report DIR --rules group_vars/all/soak.yml`."""
    import csv

    from benchlab.soak import analysis
    from benchlab.soak.settings import SoakSettings

    doc = read_json(soak_dir / SOAK_FILE)
    if not isinstance(doc, dict):
        raise ResultsError(f"no soak record {soak_dir / SOAK_FILE}")
    settings = SoakSettings.parse({**doc["settings"], **(rules or {})})
    doc["settings"] = settings.as_dict()
    leak, drift = analysis.leak_rule(settings), analysis.drift_rule(settings)
    doc["leak_rule"], doc["drift_rule"] = analysis.rule_dict(leak), analysis.rule_dict(drift)
    for name, t in (doc.get("targets") or {}).items():
        span = float(t.get("measured_s") or 0.0)
        for key, m in (t.get("memory") or {}).items():
            points = [(float(s), float(v) * analysis.MIB) for s, v in m.get("series") or []]
            keep = {k: m.get(k) for k in ("service", "host", "series", "oom_kills", "restarts")}
            t["memory"][key] = {
                **analysis.memory_trend(points, 0.0, span, m.get("limit_bytes"), leak),
                **keep,
            }
        path = soak_dir / f"{name}-batch-latency.csv"
        if path.is_file() and t.get("latency") is not None:
            with path.open(encoding="utf-8", newline="") as fh:
                rows = [(float(r["due_s"]), float(r["latency_ms"])) for r in csv.DictReader(fh)]
            warm = float(t.get("warmup_s") or 0.0)
            what = t["latency"].get("what")
            t["latency"] = analysis.latency_drift(
                rows, warm, warm + span, settings.window_s, drift,
                settings.min_points, settings.min_span_s,
            )  # fmt: skip
            t["latency"]["what"] = what
        verdicts = [m["verdict"] for m in t["memory"].values()]
        t["leaking_services"] = [k for k, m in t["memory"].items() if m["verdict"] == analysis.LEAK]
        t["leak"] = (
            analysis.LEAK
            if t["leaking_services"]
            else analysis.NO_LEAK
            if any(v != analysis.NOT_JUDGED for v in verdicts)
            else analysis.NOT_JUDGED
        )
    doc["reanalysed"] = utc_iso()
    from benchlab.results import write_json

    write_json(soak_dir / SOAK_FILE, doc)
    return doc
