"""`benchlab scaleout`: does adding a worker node raise the distributed throughput?

SPEC.md section 7 asks it of the Kafka -> Spark -> HDFS pipeline. `benchlab scaleout run`
(benchlab.scaleout_run) runs the same phase once per worker count (`bench.yml -e workers=N`:
the first N hosts of hdfs_datanodes and spark_workers, recorded as `workers` in each run's
configuration); this module reads those runs and writes `results/scaleout-<id>/` with
`report.md`, `report.json`, `scaleout.png` (throughput and end-to-end latency against the
worker count) and `report.html`.

This is the fixed-phase form: it shows whether the offered rate was kept up with at each
count. The form that answers the question is the search (`benchlab scaleout run -e
phase=search`): each count's sustainable rate, compared in benchlab.scaleout_search, which
write_report uses when every run given is a search.

The fixed-phase answer is one sentence decided by the rule below (also printed in the report):

1. A run *kept up* when the streaming job drained everything Kafka acknowledged within
   `max(3 x trigger, noise x duration)` seconds after the load stopped. A pipeline whose
   capacity C is below the offered rate R ends the load with (R - C) x duration records
   behind, which take (R - C) / C x duration to drain; so "kept up" means C >= R / (1 + noise):
   the run could not show more throughput than it was offered.
2. The noise threshold is the larger of `--noise` (default 10 %) and the largest relative
   spread (max - min) / median of stored throughput among repeated runs at one count.
3. Throughput is records stored in HDFS per second (the run report's figure); per count the
   median over its runs. gain = T(most workers) / T(fewest workers) - 1.
4. If the counts were offered different loads (rate or duration), the question is not
   answered (not like for like). If the fewest-workers runs kept up, the answer is "not at
   this load", naming the next phase whose rate is above the offered one. Otherwise gain above
   +noise is "yes", below -noise "no, it fell", in between "no measurable gain".
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchlab.render import fmt_num, render_template
from benchlab.report_html import html_or_warning, write_scaleout_html
from benchlab.results import (
    RUN_FILE,
    SEARCH_FILE,
    new_report_id,
    read_json,
    result_kind,
    utc_iso,
    write_json,
    write_text_atomic,
)

DEFAULT_NOISE = 0.10
# Scaled services and the inventory group whose first N hosts run them (group_vars/all/run.yml
# benchlab_worker_groups).
WORKER_SERVICES = {"hdfs-datanode": "hdfs_datanodes", "spark-worker": "spark_workers"}
OUTPUT_FILES = ("report.md", "report.json", "scaleout.png", "report.html")
QUESTION = "does adding a worker node raise the distributed throughput?"


class ScaleoutError(ValueError):
    """Bad input for the scale-out report: names the run or option and the fix."""


@dataclass
class Point:
    """One run of the target at one worker count."""

    run_id: str
    run_dir: str
    workers: int
    worker_hosts: dict[str, list[str]]
    phase: str
    status: str
    offered_per_s: float | None
    acked_per_s: float | None
    stored_per_s: float | None
    success_rate: float | None
    ack_p50_ms: float | None
    ack_p99_ms: float | None
    fresh_p50_ms: float | None
    fresh_p99_ms: float | None
    drained: bool | None
    drain_s: float | None
    duration_s: float | None
    trigger_s: float | None
    lost: int | None
    # service -> {"cores_mean", "pct_of_limit_mean", "hosts"}; empty without metrics
    cpu: dict[str, dict[str, Any]] = field(default_factory=dict)
    kept_up: bool | None = None
    input_limited: bool | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.status == "complete" and self.stored_per_s is not None


def finite_float(value: Any) -> float | None:
    """A finite number from a JSON field, else None."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def worker_count(config: dict[str, Any], run_id: str) -> tuple[int, dict[str, list[str]]]:
    """The run's worker count and hosts per group (config.workers, rendered by bench.yml)."""
    workers = config.get("workers") or {}
    count = workers.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ScaleoutError(
            f"run {run_id} does not record its worker count (config.workers); fix: rerun it with "
            "bench.yml -e workers=N (runs made before scale-out support cannot be used)"
        )
    hosts = {str(k): list(v) for k, v in (workers.get("hosts") or {}).items()}
    return count, hosts


def _cpu_figures(
    figures: dict[str, Any], hosts: dict[str, list[str]], services: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Mean CPU of each scaled service summed over the run's active hosts, and % of their limit."""
    out: dict[str, dict[str, Any]] = {}
    rows = figures.get("services") or []
    for service, group in WORKER_SERVICES.items():
        active = hosts.get(group)
        mine = [
            r
            for r in rows
            if r.get("service") == service
            and r.get("cpu_cores_mean") is not None
            and (active is None or r.get("host") in active)
        ]
        if not mine:
            continue
        cores = sum(float(r["cpu_cores_mean"]) for r in mine)
        limit_each = finite_float((services.get(service) or {}).get("cpu_limit"))
        n = len(active) if active is not None else len(mine)
        out[service] = {
            "cores_mean": cores,
            "pct_of_limit_mean": 100.0 * cores / (limit_each * n) if limit_each and n else None,
            "hosts": sorted(str(r.get("host")) for r in mine),
        }
    return out


def load_point(run_dir: Path, target: str = "pipeline") -> Point:
    """The scale-out figures of one run; ScaleoutError when the run cannot be used at all."""
    run = read_json(run_dir / RUN_FILE)
    if not isinstance(run, dict):
        raise ScaleoutError(f"{run_dir}/{RUN_FILE} is not a run record")
    config = run.get("config") or {}
    run_id = str(run.get("run_id") or run_dir.name)
    count, hosts = worker_count(config, run_id)
    load = (run.get("load") or {}).get(target)
    if not isinstance(load, dict):
        raise ScaleoutError(
            f"run {run_id} has no {target!r} target (it holds "
            f"{', '.join(run.get('targets', []))}); fix: use runs made with -e target={target} "
            "or target=all"
        )
    streaming = load.get("streaming") or {}
    target_cfg = next(
        (t for t in config.get("targets", []) if (t.get("target") or t.get("name")) == target),
        {},
    )
    audit = (run.get("audit") or {}).get(target) or {}
    figures = (run.get("figures") or {}).get(target) or {}
    # the pipeline's latency_ms is per record to the HDFS commit, its Kafka ack latency beside
    lat = load.get("ack_latency_ms") or load.get("latency_ms") or {}
    fresh = (load.get("latency_ms") or {}) if "ack_latency_ms" in load else {}
    lost = audit.get("lost")
    point = Point(
        run_id=run_id,
        run_dir=str(run_dir),
        workers=count,
        worker_hosts=hosts,
        phase=str(run.get("phase") or config.get("phase") or "?"),
        status=str(load.get("status") or run.get("status") or "unknown"),
        offered_per_s=finite_float(load.get("target_rate_per_s")),
        acked_per_s=finite_float(load.get("acked_throughput_per_s", load.get("throughput_per_s"))),
        stored_per_s=finite_float(load.get("throughput_per_s")),
        success_rate=finite_float(load.get("success_rate")),
        ack_p50_ms=finite_float(lat.get("p50_ms")),
        ack_p99_ms=finite_float(lat.get("p99_ms")),
        fresh_p50_ms=finite_float(fresh.get("p50_ms")),
        fresh_p99_ms=finite_float(fresh.get("p99_ms")),
        drained=streaming.get("drained"),
        drain_s=finite_float(streaming.get("drain_s")),
        duration_s=finite_float(load.get("duration_s")),
        trigger_s=finite_float((target_cfg.get("streaming") or {}).get("trigger_s")),
        lost=int(lost) if isinstance(lost, int | float) else None,
        cpu=_cpu_figures(figures, hosts, config.get("services") or {}),
    )
    if point.status != "complete":
        point.notes.append(f"status {point.status}: left out of the answer")
    if not streaming:
        point.notes.append("no streaming summary: stored throughput unknown")
    if not figures:
        point.notes.append("no report figures (run `benchlab report`): CPU n/a")
    if audit.get("error") or audit.get("skipped"):
        point.notes.append(f"audit: {audit.get('error') or audit.get('skipped')}")
    return point


def classify(point: Point, noise: float) -> None:
    """Set kept_up and input_limited (rule 1) from the run's own figures."""
    if point.drained is None or point.duration_s is None:
        point.kept_up = None
    else:
        allowance = max(3.0 * (point.trigger_s or 5.0), noise * point.duration_s)
        point.kept_up = bool(point.drained) and (point.drain_s or 0.0) <= allowance
    if point.offered_per_s and point.acked_per_s is not None:
        point.input_limited = point.acked_per_s < (1.0 - noise) * point.offered_per_s
    else:
        point.input_limited = None


def noise_threshold(points: list[Point], floor: float) -> tuple[float, str]:
    """Rule 2: the floor or the largest spread among repeated runs at one count."""
    spread, where = 0.0, ""
    for count, group in _by_count([p for p in points if p.usable]).items():
        values = [p.stored_per_s for p in group if p.stored_per_s is not None]
        if len(values) < 2:
            continue
        med = statistics.median(values)
        if med > 0 and (max(values) - min(values)) / med > spread:
            spread, where = (max(values) - min(values)) / med, f"{count} worker(s)"
    if spread > floor:
        return spread, f"largest spread among repeated runs ({where})"
    return floor, "floor (--noise)" + (f"; largest repeat spread {spread:.1%}" if where else "")


def _by_count(points: list[Point]) -> dict[int, list[Point]]:
    out: dict[int, list[Point]] = {}
    for p in sorted(points, key=lambda p: (p.workers, p.run_id)):
        out.setdefault(p.workers, []).append(p)
    return out


def _median(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def per_count(points: list[Point]) -> list[dict[str, Any]]:
    rows = []
    previous: float | None = None
    for count, group in _by_count([p for p in points if p.usable]).items():
        stored = _median([p.stored_per_s for p in group])
        rows.append(
            {
                "workers": count,
                "runs": [p.run_id for p in group],
                "offered_per_s": _median([p.offered_per_s for p in group]),
                "stored_per_s": stored,
                "fresh_p50_ms": _median([p.fresh_p50_ms for p in group]),
                "fresh_p99_ms": _median([p.fresh_p99_ms for p in group]),
                "ack_p99_ms": _median([p.ack_p99_ms for p in group]),
                "kept_up": all(p.kept_up for p in group),
                "gain_vs_previous": stored / previous - 1.0 if stored and previous else None,
            }
        )
        previous = stored
    return rows


def next_phase(offered: float, phases: dict[str, float], noise: float) -> str:
    """The phase with the lowest rate above what one worker kept up with."""
    above = sorted((rate, name) for name, rate in phases.items() if rate > offered * (1.0 + noise))
    if above:
        rate, name = above[0]
        return f"-e phase={name} ({rate:,.0f} records/s)"
    return (
        f"a rate above {offered:,.0f} records/s (more than any phase offers: raise "
        "-e batch_size or lower -e interval)"
    )


def answer(
    points: list[Point], noise_floor: float = DEFAULT_NOISE, phases: dict[str, float] | None = None
) -> dict[str, Any]:
    """Rule 4: the verdict and its one-sentence answer, with the figures behind it."""
    for p in points:
        classify(p, noise_floor)
    noise, noise_source = noise_threshold(points, noise_floor)
    for p in points:  # the final threshold may be larger than the floor
        classify(p, noise)
    usable = [p for p in points if p.usable]
    groups = _by_count(usable)
    base: dict[str, Any] = {"noise": noise, "noise_source": noise_source, "gain": None}
    if len(groups) < 2:
        counts = ", ".join(str(c) for c in groups) or "none"
        return {
            **base,
            "verdict": "insufficient",
            "sentence": (
                f"Cannot say: the usable runs cover {len(groups)} worker count(s) ({counts}); "
                "run `benchlab scaleout run` with at least two counts, e.g. --workers 1,2."
            ),
        }
    lo, hi = min(groups), max(groups)
    loads = {(p.offered_per_s, p.duration_s) for p in usable}
    if len(loads) > 1:
        shown = "; ".join(
            f"{c} worker(s): {fmt_num(g[0].offered_per_s)} records/s "
            f"for {fmt_num(g[0].duration_s)} s"
            for c, g in groups.items()
        )
        return {
            **base,
            "verdict": "insufficient",
            "sentence": (
                f"Cannot say: the worker counts were offered different loads ({shown}), so their "
                "throughputs are not comparable; rerun every count with the same phase."
            ),
        }
    t_lo = _median([p.stored_per_s for p in groups[lo]])
    t_hi = _median([p.stored_per_s for p in groups[hi]])
    gain = t_hi / t_lo - 1.0 if t_lo and t_hi is not None else None
    offered = groups[lo][0].offered_per_s or 0.0
    lo_kept_up = all(p.kept_up for p in groups[lo])
    hi_kept_up = all(p.kept_up for p in groups[hi])
    input_limited = any(p.input_limited for p in groups[lo])
    acked_lo = _median([p.acked_per_s for p in groups[lo]])
    drain_lo = _median([p.drain_s for p in groups[lo]])
    move = (
        f"going from {lo} to {hi} workers changed stored throughput from {fmt_num(t_lo, 1)} to "
        f"{fmt_num(t_hi, 1)} records/s ({gain:+.1%})"
        if gain is not None
        else f"stored throughput was {fmt_num(t_lo, 1)} and {fmt_num(t_hi, 1)} records/s"
    )
    lost = sum(p.lost or 0 for p in usable)
    lost_clause = f"; {lost:,} acknowledged records were lost across these runs" if lost else ""
    if input_limited and (lo_kept_up or gain is None or gain <= noise):
        verdict = "input-limited"
        sentence = (
            f"No measurable effect: Kafka acknowledged only {fmt_num(acked_lo)} of the offered "
            f"{fmt_num(offered)} records/s with {lo} worker(s), so the limit was before the "
            f"workers (Kafka or the load generator on the master) and {move}"
        )
    elif lo_kept_up:
        verdict = "not-saturated"
        suggestion = next_phase(offered, phases or {}, noise)
        sentence = (
            f"Not at this load: with {lo} worker(s) the pipeline already stored all of the offered "
            f"{fmt_num(offered)} records/s (drained {fmt_num(drain_lo, 1)} s after the load), so "
            f"another node could not raise throughput: {move}; phase {groups[lo][0].phase} does "
            f"not saturate one worker, rerun with {suggestion}"
        )
    elif gain is not None and gain > noise:
        verdict = "yes"
        cap = (
            f"; with {hi} workers it kept up with the offered {fmt_num(offered)} records/s, so the "
            "gain is capped by the offered load"
            if hi_kept_up
            else ""
        )
        sentence = (
            f"Yes: {move}, above the ±{noise:.0%} noise threshold, while {lo} worker(s) could not "
            f"keep up with the offered {fmt_num(offered)} records/s{cap}"
        )
    elif gain is not None and gain < -noise:
        verdict = "fell"
        sentence = (
            f"No, it fell: {move}, beyond the ±{noise:.0%} noise threshold, although {lo} "
            f"worker(s) could not keep up with the offered {fmt_num(offered)} records/s"
        )
    else:
        verdict = "no"
        sentence = (
            f"No measurable gain: {move}, within the ±{noise:.0%} noise threshold, although {lo} "
            f"worker(s) could not keep up with the offered {fmt_num(offered)} records/s"
        )
    return {
        **base,
        "verdict": verdict,
        "sentence": sentence + lost_clause + ".",
        "gain": gain,
        "fewest": lo,
        "most": hi,
        "stored_fewest_per_s": t_lo,
        "stored_most_per_s": t_hi,
        "offered_per_s": offered,
    }


RULE_TEXT = (
    "A run *kept up* when the streaming job drained everything Kafka acknowledged within "
    "max(3 x trigger, noise x duration) s after the load: with capacity C below the offered "
    "rate R the drain takes (R - C) / C x duration, so a run that kept up had C >= R / (1 + noise) "
    "and could not show more throughput than it was offered. Throughput is records stored in "
    "HDFS per second, median per worker count; gain = T(most workers) / T(fewest) - 1. The noise "
    "threshold is the larger of the floor (--noise) and the largest relative spread of repeated "
    "runs at one count. Different offered loads: no answer. Fewest-workers runs kept up: "
    "'not at this load' and the next phase to use. Kafka acknowledged less than (1 - noise) of "
    "the offered rate: the limit is before the workers. Otherwise gain > +noise is yes, "
    "< -noise is 'it fell', in between 'no measurable gain'."
)


def render_markdown(
    report_id: str,
    target: str,
    points: list[Point],
    result: dict[str, Any],
    plot: str | None,
    notes: Sequence[str] = (),
) -> str:
    gains = {r["workers"]: r["gain_vs_previous"] for r in per_count(points)}
    return render_template(
        "scaleout.md.j2",
        {
            "report_id": report_id,
            "target": target,
            "phases": sorted({p.phase for p in points}),
            "result": result,
            "points": points,
            "rows": sorted(points, key=lambda p: (p.workers, p.run_id)),
            "gains": gains,
            "worker_groups": list(WORKER_SERVICES.values()),
            "worker_services": list(WORKER_SERVICES),
            "plot": plot,
            "rule": RULE_TEXT,
            "notes": list(notes),
        },
    )


def plot_png(path: Path, points: list[Point]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = per_count(points)
    counts = [r["workers"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(counts, [r["stored_per_s"] for r in rows], "o-", label="stored in HDFS")
    ax1.plot(counts, [r["offered_per_s"] for r in rows], "k--", label="offered")
    for p in points:
        if p.usable:
            ax1.plot([p.workers], [p.stored_per_s], "x", color="grey")
    ax1.set_xlabel("workers")
    ax1.set_ylabel("records/s")
    ax1.set_title("throughput")
    ax1.set_ylim(bottom=0)
    ax1.legend()
    ax2.plot(counts, [r["fresh_p50_ms"] for r in rows], "o-", label="to HDFS commit p50")
    ax2.plot(counts, [r["fresh_p99_ms"] for r in rows], "o-", label="to HDFS commit p99")
    ax2.plot(counts, [r["ack_p99_ms"] for r in rows], "s--", label="Kafka ack p99")
    ax2.set_xlabel("workers")
    ax2.set_ylabel("ms")
    ax2.set_title("end-to-end latency")
    ax2.set_ylim(bottom=0)
    ax2.legend()
    for ax in (ax1, ax2):
        ax.set_xticks(counts)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def new_report_dir(results_root: Path, out: Path | None) -> tuple[Path, str]:
    """A new scaleout-<id> under results_root, or `out` if it holds no report yet."""
    if out is None:
        report_id = new_report_id()
        path = results_root / f"scaleout-{report_id}"
        results_root.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir(exist_ok=False)
        except FileExistsError as exc:
            raise ScaleoutError(f"{path} exists; a report never overwrites another") from exc
        return path, report_id
    existing = [f for f in OUTPUT_FILES if (out / f).exists()]
    if existing:
        raise ScaleoutError(
            f"{out} already holds a scale-out report ({', '.join(existing)}); a report never "
            "overwrites another: give a new --out or none"
        )
    out.mkdir(parents=True, exist_ok=True)
    return out, out.name.removeprefix("scaleout-")


def load_phase_rates(repo: Path) -> dict[str, float]:
    """Phase name -> records/s from group_vars/all/phases.yml (smoke left out, and the soak,
    whose rate is each target's own); {} if absent."""
    from benchlab.runparams import SOAK_PHASE, ParamError, load_phases

    try:
        phases = load_phases(repo)
        return {
            name: phases.rate_per_s(name)
            for name in phases.names()
            if name not in ("smoke", SOAK_PHASE)
        }
    except ParamError:
        return {}


def check_one_kind(run_dirs: Sequence[Path]) -> str:
    """What every directory holds, "run" or "search"; ScaleoutError on a mix or neither."""
    kinds = {d: result_kind(d) for d in run_dirs}
    neither = [str(d) for d, k in kinds.items() if k is None]
    if neither:
        raise ScaleoutError(
            f"{', '.join(neither)}: no {RUN_FILE} or {SEARCH_FILE}; fix: give results/<run_id> "
            "directories (see `benchlab results list`)"
        )
    if len(set(kinds.values())) > 1:
        searches = [d.name for d, k in kinds.items() if k == "search"]
        runs = [d.name for d, k in kinds.items() if k == "run"]
        raise ScaleoutError(
            f"runs: {', '.join(searches)} are searches (-e phase=search) and {', '.join(runs)} "
            "phase runs; a sustainable rate and a fixed-rate run's throughput are not compared; "
            "fix: give only searches or only runs of one phase"
        )
    return next(iter(kinds.values())) or "run"


PLOT_FILE = "scaleout.png"


def write_plot(path: Path, draw: Callable[[Path, Any], None], points: Sequence[Any]) -> str | None:
    """`draw(path/scaleout.png, points)`; its file name, or None with a note on the first
    point when it failed (a missing plot must not lose the report)."""
    try:
        draw(path / PLOT_FILE, points)
    except Exception as exc:
        points[0].notes.append(f"plot not written: {exc}")
        return None
    return PLOT_FILE


def write_outputs(path: Path, markdown: str, doc: dict[str, Any]) -> None:
    """report.md, then report.json (`doc`), then report.html from `doc` (its failure is a
    warning: the markdown report is already there)."""
    write_text_atomic(path / "report.md", markdown)
    write_json(path / "report.json", doc)
    html_or_warning(lambda: write_scaleout_html(path, doc))


def write_report(
    run_dirs: list[Path],
    results_root: Path,
    *,
    out: Path | None = None,
    target: str = "pipeline",
    noise: float | None = None,
    phases: dict[str, float] | None = None,
    notes: Sequence[str] = (),
    partial: bool = False,
) -> tuple[Path, dict[str, Any]]:
    """Read the runs, decide, write report.md / report.json / scaleout.png; return the dir.

    Searches (search.json) go to benchlab.scaleout_search; phase runs are read here.
    `noise`: the floor of the noise threshold (None: DEFAULT_NOISE for phase runs, the
    searches' own precision and spread for searches). `notes` are shown under the answer
    (e.g. which worker counts did not run); `partial` marks a scale-out that was interrupted
    (report.json `partial`).
    """
    if not run_dirs:
        raise ScaleoutError(
            "no runs given; fix: benchlab scaleout report results/<run1> results/<run2>"
        )
    if noise is not None and not 0 <= noise < 1:
        raise ScaleoutError(f"--noise {noise} must be a fraction in [0, 1), e.g. 0.1")
    if check_one_kind(run_dirs) == "search":
        # imported here: benchlab.scaleout_search builds on this module
        from benchlab.scaleout_search import write_search_report

        return write_search_report(
            run_dirs,
            results_root,
            out=out,
            target=target,
            floor=noise,
            notes=notes,
            partial=partial,
        )
    noise = DEFAULT_NOISE if noise is None else noise
    points = [load_point(d, target) for d in run_dirs]
    if len({p.run_id for p in points}) != len(points):
        raise ScaleoutError("a run is given twice; fix: list each run once")
    result = answer(points, noise, phases)
    path, report_id = new_report_dir(results_root, out)
    plot = write_plot(path, plot_png, points)
    write_outputs(
        path,
        render_markdown(report_id, target, points, result, plot, notes),
        {
            "id": report_id,
            "generated": utc_iso(),
            "target": target,
            "partial": partial,
            "notes": list(notes),
            "question": QUESTION,
            "answer": result,
            "rule": RULE_TEXT,
            "per_count": per_count(points),
            "runs": [asdict(p) for p in points],
            "plot": plot,
        },
    )
    return path, result
