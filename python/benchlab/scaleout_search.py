"""Scale-out by the sustainable-throughput search: the sustainable rate per worker count.

`benchlab scaleout run -e phase=search` runs `bench.yml -e phase=search -e workers=N` once per
count; each leaves `results/<run id>/search.json` (benchlab.search.run). A fixed phase only
shows whether that offered rate was kept up with; the search finds the highest rate the
target sustains at each count, so comparing those answers "does adding a worker node raise
the distributed throughput?". benchlab.scaleout.write_report comes here when every run
given is a search; this module writes `report.md` (templates/scaleout_search.md.j2),
`report.json` and `scaleout.png` by the rule in SEARCH_RULE.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchlab.render import fmt_num, fmt_pct, render_template
from benchlab.results import SEARCH_FILE, read_json, utc_iso
from benchlab.scaleout import (
    QUESTION,
    WORKER_SERVICES,
    ScaleoutError,
    finite_float,
    new_report_dir,
    worker_count,
    write_outputs,
    write_plot,
)
from benchlab.search.judge import CLIENT, reproduced
from benchlab.search.settings import SearchSettings

SEARCH_RULE = (
    "Each search gives the target's sustainable rate at one worker count: the highest offered "
    "rate that passed every rule of the search (docs/architecture.md, 'Sustainable "
    "throughput'), its first failing rate and the best rate's reruns. A search that did not "
    "complete, or whose target sustained no rate, is named in the notes and left out. Per "
    "count the sustainable rate is the median over its searches (usually one). The noise of "
    "a comparison between two counts is the largest of: the searches' bisection precision "
    "(search.precision), the bracket (first failing - sustainable) / sustainable when a search "
    "stopped wider than that, and the relative spread (max - min) / median of the best rate's "
    "reruns (and of the searches at one count) at either count; --noise, when given, is a "
    "floor. gain = S(more workers) / S(fewer) - 1: above +noise the rate rose, below -noise "
    "it fell, in between it did not rise beyond noise. The answer compares the fewest and the "
    "most workers; the table shows each step. It cannot be answered with fewer than two "
    "counts, or when at the fewest workers no rate failed (the ceiling was not reached: raise "
    "search.max_rate) or the client was the ceiling (the load generator, not the workers). "
    "At the most workers either of those makes its rate a lower bound: a gain beyond noise "
    "still answers, anything else cannot."
)


@dataclass
class SearchPoint:
    """One search of the target at one worker count."""

    run_id: str
    run_dir: str
    workers: int
    worker_hosts: dict[str, list[str]]
    status: str  # search.json status: complete, partial, running
    precision: float
    sustainable_per_s: float | None
    first_failing_per_s: float | None
    best_runs: int | None
    best_runs_passed: int | None
    median_per_s: float | None  # stored rate of the best rate's runs
    spread_per_s: float | None  # max - min of those
    failure_modes: list[str] = field(default_factory=list)  # "mode (detail)" at the first fail
    failure_causes: list[str] = field(default_factory=list)  # resource causes there
    limit: str | None = None  # whose limit the first failing rate met (judge.py): client, server
    # service -> {"cores", "limit_cores", "pct_of_limit", "throttled_ratio", "hosts"} at best
    cpu: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def reproduced(self) -> bool:
        """Most runs of the best rate passed (a rate one run in three holds is not one)."""
        return reproduced(self.best_runs or 0, self.best_runs_passed or 0)

    @property
    def usable(self) -> bool:
        # the search writes None when nothing passed; 0 would be no rate either
        return self.status == "complete" and bool(self.sustainable_per_s) and self.reproduced

    @property
    def spread_ratio(self) -> float:
        """The reruns' relative spread; 0 with one run or no figures."""
        if not self.median_per_s or self.spread_per_s is None:
            return 0.0
        return self.spread_per_s / self.median_per_s

    @property
    def bracket_ratio(self) -> float | None:
        """(first failing - sustainable) / sustainable: where the capacity lies."""
        if not self.sustainable_per_s or self.first_failing_per_s is None:
            return None
        return self.first_failing_per_s / self.sustainable_per_s - 1.0

    @property
    def ceiling(self) -> str | None:
        """Why this count's rate is only a lower bound, or None when the workers' is known."""
        if self.first_failing_per_s is None:
            return "no rate failed: the ceiling was not reached (raise search.max_rate)"
        if self.limit == CLIENT:
            return (
                f"the client was the ceiling at {fmt_num(self.first_failing_per_s)} records/s "
                "(the load generator was behind while the workers had CPU to spare)"
            )
        return None

    @property
    def limited_by(self) -> str:
        """What broke at the first failing rate, resource causes first."""
        if self.ceiling is not None:
            return self.ceiling
        shown = self.failure_causes or [m.split(" (")[0] for m in self.failure_modes]
        return "; ".join(shown) or "not recorded"


def _cpu_at_best(
    resources: dict[str, Any], hosts: dict[str, list[str]], services: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """CPU of each scaled service at the best rate, summed over the search's active hosts.

    `resources` is keyed "service@host" (benchlab.search.run.target_resources); the stopped
    workers' cgroups are exported too, at ~0 CPU, and are left out.
    """
    out: dict[str, dict[str, Any]] = {}
    for service, group in WORKER_SERVICES.items():
        active = hosts.get(group)
        mine = {
            host: fig
            for key, fig in resources.items()
            for name, _, host in [key.rpartition("@")]
            if name == service and (active is None or host in active)
        }
        cores = [finite_float(f.get("cpu_cores")) for f in mine.values()]
        if not mine or None in cores:
            continue
        limit_each = finite_float((services.get(service) or {}).get("cpu_limit"))
        limits = [finite_float(f.get("cpu_limit_cores")) or limit_each for f in mine.values()]
        limit = sum(x for x in limits if x) if all(limits) else None
        throttled = [
            t for f in mine.values() if (t := finite_float(f.get("throttled_ratio"))) is not None
        ]
        used = sum(c for c in cores if c is not None)
        out[service] = {
            "cores": used,
            "limit_cores": limit,
            "pct_of_limit": 100.0 * used / limit if limit else None,
            "throttled_ratio": max(throttled, default=None),
            "hosts": sorted(mine),
        }
    return out


def load_search_point(run_dir: Path, target: str = "pipeline") -> SearchPoint:
    """The scale-out figures of one search; ScaleoutError when it cannot be used at all."""
    doc = read_json(run_dir / SEARCH_FILE)
    if not isinstance(doc, dict) or doc.get("kind") != "search":
        raise ScaleoutError(
            f"{run_dir}/{SEARCH_FILE} is not a search record (kind 'search'); fix: give the "
            "directories `bench.yml -e phase=search` left in results/"
        )
    config = doc.get("config") or {}
    run_id = str(doc.get("run_id") or run_dir.name)
    count, hosts = worker_count(config, run_id)
    names = [str(t.get("name") or t.get("target")) for t in config.get("targets") or []]
    if target not in names:
        raise ScaleoutError(
            f"search {run_id} did not search {target!r} (it searched {', '.join(names)}); fix: "
            f"use searches made with -e target={target} or target=all"
        )
    settings = doc.get("settings") or {}
    precision = finite_float(settings.get("precision"))
    found = (doc.get("targets") or {}).get(target)
    status = str(doc.get("status") or "unknown")
    point = SearchPoint(
        run_id=run_id,
        run_dir=str(run_dir),
        workers=count,
        worker_hosts=hosts,
        status=status,
        precision=precision if precision is not None else SearchSettings().precision,
        sustainable_per_s=None,
        first_failing_per_s=None,
        best_runs=None,
        best_runs_passed=None,
        median_per_s=None,
        spread_per_s=None,
    )
    if precision is None:
        point.notes.append(
            f"settings.precision missing: the default {SearchSettings().precision:.0%} assumed"
        )
    if status != "complete":
        point.notes.append(f"search status {status}: left out of the answer")
    if not isinstance(found, dict):
        point.notes.append(f"the search has no result for {target}: left out of the answer")
        return point
    failure = found.get("failure") or {}
    point.sustainable_per_s = finite_float(found.get("sustainable_per_s"))
    point.first_failing_per_s = finite_float(found.get("first_failing_per_s"))
    point.best_runs = found.get("best_runs")
    point.best_runs_passed = found.get("best_runs_passed")
    point.median_per_s = finite_float(found.get("best_stored_median_per_s"))
    point.spread_per_s = finite_float(found.get("best_stored_spread_per_s"))
    point.failure_modes = [
        f"{m.get('mode')} ({m.get('detail')})" if m.get("detail") else str(m.get("mode"))
        for m in failure.get("modes") or []
    ]
    point.failure_causes = [str(c) for c in failure.get("causes") or []]
    point.limit = failure.get("limit")
    point.cpu = _cpu_at_best(found.get("resources_at_best") or {}, hosts, doc.get("services") or {})
    if not point.sustainable_per_s:
        lowest = f" ({fmt_num(point.first_failing_per_s)} records/s failed)"
        point.notes.append(
            "no sustainable rate: the lowest rate tried failed"
            + (lowest if point.first_failing_per_s is not None else "")
            + "; left out of the answer"
        )
    if point.sustainable_per_s and not point.reproduced:
        point.notes.append(
            f"its best rate passed {point.best_runs_passed} of {point.best_runs} runs: not "
            "reproduced; left out of the answer"
        )
    if not point.cpu:
        point.notes.append("no CPU figures at the best rate (no Prometheus?)")
    return point


def _by_count(points: Sequence[SearchPoint]) -> dict[int, list[SearchPoint]]:
    out: dict[int, list[SearchPoint]] = {}
    for p in sorted(points, key=lambda p: (p.workers, p.run_id)):
        out.setdefault(p.workers, []).append(p)
    return out


def count_figures(group: Sequence[SearchPoint]) -> dict[str, Any]:
    """One worker count's figures from its usable searches (usually one)."""
    rates = [p.sustainable_per_s for p in group if p.sustainable_per_s is not None]
    rate = statistics.median(rates)
    between = (max(rates) - min(rates)) / rate if len(rates) > 1 and rate else 0.0
    spread = max([p.spread_ratio for p in group] + [between])
    brackets = [b for p in group if (b := p.bracket_ratio) is not None]
    fails = [p.first_failing_per_s for p in group if p.first_failing_per_s is not None]
    ceilings = [p.ceiling for p in group if p.ceiling is not None]
    return {
        "workers": group[0].workers,
        "searches": [p.run_id for p in group],
        "sustainable_per_s": rate,
        "first_failing_per_s": statistics.median(fails) if fails else None,
        "spread_ratio": spread,
        "spread_per_s": spread * rate,
        "precision": max(p.precision for p in group),
        "bracket_ratio": max(brackets, default=None),
        "lower_bound": ceilings[0] if ceilings else None,
        "limited_by": "; ".join(dict.fromkeys(p.limited_by for p in group)),
    }


def step_noise(
    lo: dict[str, Any],
    hi: dict[str, Any],
    floor: float | None,
    where: tuple[str, str] | None = None,
) -> tuple[float, str]:
    """The noise of comparing two counts (SEARCH_RULE) and what set it; `where` names the
    two sides in that text (default "at N worker(s)")."""
    names = where or tuple(f"at {c['workers']} worker(s)" for c in (lo, hi))
    sides = list(zip((lo, hi), names, strict=True))
    candidates = [
        (max(lo["precision"], hi["precision"]), "the search's bisection precision"),
        *[
            (c["bracket_ratio"], f"the search bracket {at}")
            for c, at in sides
            if c["bracket_ratio"] is not None
        ],
        *[(c["spread_ratio"], f"the reruns' spread {at}") for c, at in sides],
    ]
    if floor is not None:
        candidates.append((floor, "--noise"))
    return max(candidates, key=lambda c: c[0])


def per_count(points: Sequence[SearchPoint], floor: float | None = None) -> list[dict[str, Any]]:
    """Each count's figures and its gain over the previous count, beyond noise or not."""
    rows: list[dict[str, Any]] = []
    for group in _by_count([p for p in points if p.usable]).values():
        row = count_figures(group)
        row["gain_vs_previous"] = row["noise_vs_previous"] = row["beyond_noise"] = None
        if rows:
            prev = rows[-1]
            gain = row["sustainable_per_s"] / prev["sustainable_per_s"] - 1.0
            noise, _ = step_noise(prev, row, floor)
            row.update(gain_vs_previous=gain, noise_vs_previous=noise)
            row["beyond_noise"] = abs(gain) > noise
        rows.append(row)
    return rows


def _adding(lo: int, hi: int) -> str:
    return "Adding a worker" if hi - lo == 1 else f"Adding {hi - lo} workers ({lo} to {hi})"


def answer(
    points: Sequence[SearchPoint], target: str = "pipeline", floor: float | None = None
) -> dict[str, Any]:
    """The verdict and its one sentence by SEARCH_RULE, with the figures behind it."""
    rows = per_count(points, floor)
    base: dict[str, Any] = {
        "gain": None,
        "noise": None,
        "noise_source": None,
        "limits": {str(r["workers"]): r["limited_by"] for r in rows},
    }
    whose = f"the {target}'s sustainable rate"
    if len(rows) < 2:
        counts = ", ".join(str(r["workers"]) for r in rows) or "none"
        why = (
            f"the usable searches cover {len(rows)} worker count(s) ({counts}); run `benchlab "
            "scaleout run -e phase=search` with at least two counts, e.g. --workers 1,2"
        )
        return {**base, "verdict": "unanswered", "sentence": _unanswered(whose, why)}
    lo, hi = rows[0], rows[-1]
    noise, source = step_noise(lo, hi, floor)
    x, y = lo["sustainable_per_s"], hi["sustainable_per_s"]
    gain = y / x - 1.0
    figures = {
        **base,
        "gain": gain,
        "noise": noise,
        "noise_source": source,
        "fewest": lo["workers"],
        "most": hi["workers"],
        "sustainable_fewest_per_s": x,
        "sustainable_most_per_s": y,
    }
    adding = _adding(lo["workers"], hi["workers"])
    move = f"from {fmt_num(x)} to {fmt_num(y)} records/s ({fmt_pct(gain, 1, signed=True)})"
    if lo["lower_bound"] is not None:
        why = f"with {lo['workers']} worker(s) {lo['lower_bound']}"
        return {**figures, "verdict": "unanswered", "sentence": _unanswered(whose, why)}
    if gain > noise:
        bound = (
            f"; at least, since with {hi['workers']} workers {hi['lower_bound']}"
            if hi["lower_bound"] is not None
            else ""
        )
        sentence = (
            f"{adding} raised {whose} {move}, beyond the noise of {fmt_pct(noise, 1)} "
            f"({source}){bound}."
        )
        return {**figures, "verdict": "raised", "sentence": sentence}
    if hi["lower_bound"] is not None:
        why = (
            f"with {hi['workers']} workers {hi['lower_bound']}, so its "
            f"{fmt_num(y)} records/s is a lower bound"
        )
        return {**figures, "verdict": "unanswered", "sentence": _unanswered(whose, why)}
    if gain < -noise:
        sentence = (
            f"{adding} did not raise {whose}: it fell {move}, beyond the noise of "
            f"{fmt_pct(noise, 1)} ({source})."
        )
        return {**figures, "verdict": "fell", "sentence": sentence}
    sentence = (
        f"{adding} did not raise {whose} beyond noise ({fmt_num(x)} vs {fmt_num(y)} "
        f"records/s, {fmt_pct(gain, 1, signed=True)}, noise {fmt_pct(noise, 1)} from {source})."
    )
    return {**figures, "verdict": "not-beyond-noise", "sentence": sentence}


def _unanswered(whose: str, why: str) -> str:
    return f"Whether adding a worker raises {whose} could not be answered: {why}."


def render_markdown(
    report_id: str,
    target: str,
    points: Sequence[SearchPoint],
    result: dict[str, Any],
    plot: str | None,
    notes: Sequence[str] = (),
    floor: float | None = None,
) -> str:
    rows = per_count(points, floor)
    return render_template(
        "scaleout_search.md.j2",
        {
            "report_id": report_id,
            "target": target,
            "result": result,
            "points": list(points),
            "rows": sorted(points, key=lambda p: (p.workers, p.run_id)),
            "counts": rows,
            "by_count": {r["workers"]: r for r in rows},
            "worker_groups": list(WORKER_SERVICES.values()),
            "worker_services": list(WORKER_SERVICES),
            "floor": floor,
            "plot": plot,
            "rule": SEARCH_RULE,
            "notes": list(notes),
        },
    )


def plot_png(path: Path, points: Sequence[SearchPoint]) -> None:
    """Sustainable rate against worker count (error bar: the spread), first failing rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = per_count(points)
    counts = [r["workers"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(
        counts,
        [r["sustainable_per_s"] for r in rows],
        # the bar's length is the spread (max - min), centred on the rate
        yerr=[r["spread_per_s"] / 2 for r in rows],
        fmt="o-",
        capsize=5,
        label="sustainable rate (bar: spread)",
    )
    failing = [(r["workers"], r["first_failing_per_s"]) for r in rows if r["first_failing_per_s"]]
    if failing:
        ax.plot(*zip(*failing, strict=True), "rv", label="first failing rate")
    if any(len(r["searches"]) > 1 for r in rows):  # each search beside the median
        usable = [p for p in points if p.usable]
        ax.plot(
            [p.workers for p in usable], [p.sustainable_per_s for p in usable], "x", color="grey"
        )
    for r in rows:
        ax.annotate(
            f"{r['sustainable_per_s']:,.0f}",
            (r["workers"], r["sustainable_per_s"]),
            textcoords="offset points",
            xytext=(8, -12),
        )
    ax.margins(x=0.2)
    ax.set_xlabel("workers")
    ax.set_ylabel("records/s")
    ax.set_title("sustainable rate against worker count")
    ax.set_xticks(counts or [p.workers for p in points])
    ax.set_ylim(bottom=0)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_search_report(
    run_dirs: Sequence[Path],
    results_root: Path,
    *,
    out: Path | None = None,
    target: str = "pipeline",
    floor: float | None = None,
    notes: Sequence[str] = (),
    partial: bool = False,
) -> tuple[Path, dict[str, Any]]:
    """Read the searches, decide, write report.md / report.json / scaleout.png / report.html."""
    points = [load_search_point(d, target) for d in run_dirs]
    if len({p.run_id for p in points}) != len(points):
        raise ScaleoutError("a search is given twice; fix: list each search once")
    result = answer(points, target, floor)
    path, report_id = new_report_dir(results_root, out)
    plot = write_plot(path, plot_png, points)
    write_outputs(
        path,
        render_markdown(report_id, target, points, result, plot, notes, floor),
        {
            "id": report_id,
            "generated": utc_iso(),
            "kind": "search",
            "target": target,
            "partial": partial,
            "notes": list(notes),
            "question": QUESTION,
            "answer": result,
            "rule": SEARCH_RULE,
            "per_count": per_count(points, floor),
            "runs": [{**asdict(p), "usable": p.usable, "limited_by": p.limited_by} for p in points],
            "plot": plot,
        },
    )
    return path, result
