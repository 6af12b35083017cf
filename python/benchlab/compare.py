"""`benchlab compare`: a baseline and its contenders side by side (esrally compare's model).

The first run given is the baseline; every other (a contender) is compared with it. All are
phase runs (run.json) or all are searches (search.json): a fixed-rate run's throughput and a
sustainable rate are not compared. The report says first which settings differ (each one
makes the comparison less fair: limits, versions, phase, load, writers, inventory, workers,
host facts, search settings), then each target's headline figures with the difference
against the baseline, and last whether a difference is beyond noise (NOISE_RULE).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from benchlab.render import fmt_mib, fmt_num, fmt_pct, fmt_value, is_missing, render_template
from benchlab.results import (
    RUN_FILE,
    SEARCH_FILE,
    new_report_id,
    read_json,
    resolve_result_dir,
    result_kind,
    utc_iso,
    write_json,
    write_text_atomic,
)
from benchlab.scaleout import ScaleoutError
from benchlab.scaleout_search import SearchPoint, count_figures, load_search_point, step_noise
from benchlab.search.judge import data_failures

OUTPUT_FILES = ("compare.md", "compare.json")
KIND_NAMES = {"run": f"phase run ({RUN_FILE})", "search": f"search ({SEARCH_FILE})"}
SINGLE_RUN = "single run, no noise estimate"
NOISE_RULE = (
    "A difference is called beyond noise only where repeated measurements give its noise. A "
    "phase run is measured once: its differences are shown with no noise estimate and none is "
    "called beyond noise. A search reruns its best rate (search.reruns): the sustainable "
    "rate's noise is the largest of the bisection precision, the search bracket (first failing "
    "- sustainable) / sustainable and the reruns' relative spread (max - min) / median, of "
    "either side (as the scale-out report judges worker counts). It is judged only when both "
    "sides ran their best rate more than once and most of those runs passed; a side whose "
    "ceiling was not found (no rate failed, or the client was the ceiling) holds a lower "
    "bound, which decides only a difference in the bound's favour. The other figures of a "
    "search have no noise estimate."
)


class CompareError(ValueError):
    """Bad input for `benchlab compare`: names the field, the problem and the fix."""


@dataclass(frozen=True)
class Cell:
    """One figure of one side: the value differences are computed on, and how it prints."""

    value: Any
    shown: str


def _cell(value: Any, fmt: Callable[[Any], str] = fmt_value) -> Cell:
    return Cell(None if is_missing(value) else value, fmt(value))


@dataclass
class Side:
    """One run or search as compared: its configuration facts and its figures per target."""

    label: str  # A (the baseline), B, C, ...
    run_id: str
    path: str
    kind: str  # "run" or "search"
    phase: str
    created: str | None
    setup: dict[str, Cell]  # configuration fact -> value, in report order
    configured: list[str]  # the targets of its configuration (what setup's "<target>: " facts name)
    targets: dict[str, dict[str, Cell]]  # target -> figure key -> value
    points: dict[str, SearchPoint] = field(default_factory=dict)  # searches: per target
    notes: list[str] = field(default_factory=list)


# -- configuration facts ------------------------------------------------------------------
def _versions(doc: Mapping[str, Any]) -> dict[str, Any]:
    config = doc.get("config") or {}
    return {**(config.get("versions") or {}), **(doc.get("versions") or {})}


def setup_facts(doc: Mapping[str, Any], kind: str) -> dict[str, Cell]:
    """What a run was given, by name: every fact whose difference makes a comparison unfair."""
    config = doc.get("config") or {}
    load = config.get("load") or {}
    facts: dict[str, Cell] = {
        "phase": _cell(doc.get("phase") or config.get("phase")),
        "inventory": _cell(doc.get("inventory") or config.get("inventory")),
        "workers (count)": _cell((config.get("workers") or {}).get("count")),
        "targets": _cell(", ".join(t.get("name", "?") for t in config.get("targets") or [])),
    }
    for host, h in sorted((doc.get("host_facts") or config.get("host_facts") or {}).items()):
        facts[f"host {host}: cores"] = _cell(h.get("cores"))
        facts[f"host {host}: memory (MB)"] = _cell(h.get("memory_mb"))
    for name, svc in sorted((doc.get("services") or config.get("services") or {}).items()):
        facts[f"{name}: CPU limit (cores)"] = _cell(svc.get("cpu_limit"), lambda v: fmt_num(v, 2))
        facts[f"{name}: memory limit"] = _cell(svc.get("memory_limit_bytes"), fmt_mib)
        facts[f"{name}: instances"] = _cell(svc.get("instances"))
    for name, version in sorted(_versions(doc).items()):
        facts[f"version {name}"] = _cell(version)
    facts["record size (bytes)"] = _cell(load.get("record_bytes"))
    if kind == "run":
        batch, interval = load.get("batch_size"), load.get("interval_s")
        rate = batch / interval if batch and interval else None
        facts["offered rate (records/s)"] = _cell(rate, lambda v: fmt_num(v, 1))
        facts["batch size (records)"] = _cell(batch)
        facts["batch interval (s)"] = _cell(interval)
        facts["duration (s)"] = _cell(load.get("duration_s"))
        facts["warm-up (s)"] = _cell(_warmup(doc))
        facts["writers (0: auto)"] = _cell(load.get("processes"))
        for name, figures in sorted((doc.get("load") or {}).items()):
            facts[f"{name}: writer processes used"] = _cell(figures.get("processes"))
    else:
        for name, value in (doc.get("settings") or {}).items():
            facts[f"search.{name}"] = _cell(value)
    for target in config.get("targets") or []:
        name = target.get("name", "?")
        facts[f"{name}: write method"] = _cell((target.get("sink") or {}).get("method"))
        facts[f"{name}: micro-batch trigger (s)"] = _cell(
            (target.get("streaming") or {}).get("trigger_s")
        )
        for key, value in sorted((target.get("criteria") or {}).items()):
            facts[f"{name}: criterion {key}"] = _cell(value)
    return facts


def _warmup(run: Mapping[str, Any]) -> float | None:
    """The warm-up in force: the configured one, else what the load left out (steady)."""
    configured = ((run.get("config") or {}).get("load") or {}).get("warmup_s")
    if configured is not None:
        return configured
    used = [
        (figures.get("steady") or {}).get("warmup_s")
        for figures in (run.get("load") or {}).values()
    ]
    return max((u for u in used if u is not None), default=None)


# -- figures ------------------------------------------------------------------------------
RUN_FIGURES: tuple[tuple[str, str], ...] = (
    ("throughput_per_s", "throughput after the warm-up (records stored/s)"),
    ("p50_ms", "latency p50 (ms)"),
    ("p99_ms", "latency p99 (ms)"),
    ("success_rate", "success rate (audited)"),
    ("data_verdict", "data verdict"),
    ("lost", "lost (acknowledged, missing)"),
    ("duplicates", "duplicates"),
    ("criteria", "criteria"),
    ("cpu_of_limit", "CPU of limit, mean (busiest service)"),
    ("throttled", "CPU periods throttled, mean (most throttled service)"),
    ("oom_kills", "OOM kills"),
)
SEARCH_FIGURES: tuple[tuple[str, str], ...] = (
    ("sustainable_per_s", "sustainable rate (records/s)"),
    ("runs", "runs of it that passed"),
    ("spread", "reruns' spread (max - min) / median"),
    ("p99_ms", "p99 at the sustainable rate (ms)"),
    ("first_failing_per_s", "first failing rate (records/s)"),
    ("failed_how", "how it failed"),
    ("writers", "writers at the sustainable rate"),
    ("data_verdict", "data verdict (every trial's audit)"),
)
FIGURES = {"run": RUN_FIGURES, "search": SEARCH_FIGURES}


def _busiest(services: Sequence[Mapping[str, Any]], key: str, scale: float) -> Cell:
    """The largest `key` among a target's services (fraction), named; n/a when unrecorded."""
    rows = [(s[key] / scale, s.get("service", "?")) for s in services if s.get(key) is not None]
    if not rows:
        return Cell(None, "n/a")
    value, name = max(rows)
    return Cell(value, f"{fmt_pct(value, 1)} ({name})")


def run_figures(run: Mapping[str, Any], target: str) -> dict[str, Cell] | None:
    """A target's headline figures from run.json (what `benchlab report` completed)."""
    figures = (run.get("figures") or {}).get(target)
    if not figures:
        return None
    latency = figures.get("latency_ms") or {}
    audit = (run.get("audit") or {}).get(target) or figures.get("audit") or {}
    verdict = (run.get("data_verdict") or {}).get(target) or figures.get("data_verdict") or {}
    services = figures.get("services") or []
    return {
        "throughput_per_s": _cell(figures.get("throughput_per_s"), lambda v: fmt_num(v, 1)),
        "p50_ms": _cell(latency.get("p50_ms"), lambda v: fmt_num(v, 1)),
        "p99_ms": _cell(latency.get("p99_ms"), lambda v: fmt_num(v, 1)),
        "success_rate": _cell(figures.get("success_rate"), fmt_pct),
        "data_verdict": _cell(verdict.get("status")),
        "lost": _cell(audit.get("lost")),
        "duplicates": _cell(audit.get("duplicates")),
        "criteria": _cell(figures.get("overall")),
        "cpu_of_limit": _busiest(services, "cpu_pct_of_limit_mean", 100.0),
        "throttled": _busiest(services, "throttled_ratio_mean", 1.0),
        "oom_kills": _cell(figures.get("oom_kills")),
    }


def search_figures(doc: Mapping[str, Any], target: str, point: SearchPoint) -> dict[str, Cell]:
    """A target's headline figures from search.json, through the scale-out's SearchPoint."""
    found = (doc.get("targets") or {}).get(target) or {}
    failed = data_failures(doc.get("trials") or [], target)
    runs = f"{point.best_runs_passed} of {point.best_runs}" if point.best_runs else None
    spread = (
        Cell(
            point.spread_ratio,
            f"{fmt_pct(point.spread_ratio, 1)} ({fmt_num(point.spread_per_s)} records/s)",
        )
        if point.median_per_s
        else Cell(None, "n/a")
    )
    return {
        "sustainable_per_s": _cell(point.sustainable_per_s),
        "runs": _cell(runs),
        "spread": spread,
        "p99_ms": _cell(found.get("best_p99_ms"), lambda v: fmt_num(v, 1)),
        "first_failing_per_s": _cell(point.first_failing_per_s),
        "failed_how": _cell(point.limited_by if point.sustainable_per_s else None),
        "writers": _cell(found.get("writers")),
        "data_verdict": _cell(f"FAIL ({len(failed)} trials)" if failed else "PASS"),
    }


# -- reading ------------------------------------------------------------------------------
def side_label(index: int) -> str:
    return chr(ord("A") + index) if index < 26 else f"R{index + 1}"


def check_kinds(paths: Sequence[Path]) -> str:
    """Every directory's kind, "run" or "search"; CompareError on a mix (nothing written)."""
    kinds = [result_kind(p) for p in paths]
    first = kinds[0]
    for index, (path, kind) in enumerate(zip(paths, kinds, strict=True)):
        if kind is None:
            raise CompareError(
                f"run {path}: no {RUN_FILE} or {SEARCH_FILE}; fix: give results/<run_id> "
                "directories or run ids (see `benchlab results list`)"
            )
        if kind != first:
            raise CompareError(
                f"kind: {side_label(index)} ({path.name}) is a {KIND_NAMES[kind]} but the "
                f"baseline A ({paths[0].name}) is a {KIND_NAMES[str(first)]}: a "
                "fixed-rate throughput and a sustainable rate are not comparable; fix: compare "
                "phase runs with phase runs and searches with searches"
            )
    return str(first)


def read_side(index: int, path: Path, kind: str) -> Side:
    doc = read_json(path / (RUN_FILE if kind == "run" else SEARCH_FILE))
    if not isinstance(doc, dict):
        raise CompareError(f"run {path}: not a {KIND_NAMES[kind]} record; fix: rerun it")
    names = [str(t.get("name")) for t in (doc.get("config") or {}).get("targets") or []]
    side = Side(
        label=side_label(index),
        run_id=str(doc.get("run_id") or path.name),
        path=str(path),
        kind=kind,
        phase=str(doc.get("phase") or "?"),
        created=doc.get("created"),
        setup=setup_facts(doc, kind),
        configured=names,
        targets={},
    )
    if doc.get("status") != "complete":
        side.notes.append(f"status {doc.get('status')}: its figures cover what ran")
    for name in names:
        if kind == "run":
            cells = run_figures(doc, name)
            if cells is None:
                side.notes.append(
                    f"{name}: no report figures; fix: benchlab report --run-dir {path}"
                )
                continue
            side.targets[name] = cells
        else:
            try:
                point = load_search_point(path, name)
            except ScaleoutError as exc:
                side.notes.append(f"{name}: {exc}")
                continue
            side.points[name] = point
            side.targets[name] = search_figures(doc, name, point)
            side.notes.extend(
                f"{name}: {note.removesuffix('; left out of the answer')}"
                for note in point.notes
                if "CPU figures" not in note
            )
    return side


# -- comparing ----------------------------------------------------------------------------
HEADLINE = {"run": "throughput_per_s", "search": "sustainable_per_s"}
NOT_RECORDED = Cell(None, "not recorded")
UNJUDGED: Mapping[str, Any] = MappingProxyType(
    {"noise": None, "source": None, "gain": None, "beyond": None}
)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def difference(base: Cell, other: Cell) -> dict[str, Any]:
    """`other` against the baseline: relative for numbers, "same" / "differs" otherwise.

    A baseline of 0 has no relative difference: the absolute one is shown instead.
    """
    b, o = base.value, other.value
    if b is None or o is None:
        return {"relative": None, "shown": "n/a"}
    if _number(b) and _number(o):
        if b == 0:
            return {"relative": None, "shown": "same" if o == 0 else "baseline 0"}
        relative = o / b - 1.0
        return {"relative": relative, "shown": fmt_pct(relative, 1, signed=True)}
    return {"relative": None, "shown": "same" if b == o else "differs"}


def setup_differences(sides: Sequence[Side]) -> tuple[int, list[dict[str, Any]]]:
    """How many facts were compared, and those whose value differs from the baseline's.

    A target's own facts ("<target>: ...") count only when every side ran it: the targets
    fact already says that the sets differ.
    """
    everywhere = set.intersection(*(set(side.configured) for side in sides))
    elsewhere = {t for side in sides for t in side.configured} - everywhere
    names = [
        name
        for name in dict.fromkeys(name for side in sides for name in side.setup)
        if name.split(": ")[0] not in elsewhere
    ]
    out = []
    for name in names:
        cells = [side.setup.get(name, NOT_RECORDED) for side in sides]
        if any(c.value != cells[0].value for c in cells[1:]):
            out.append(
                {
                    "fact": name,
                    "values": [c.value for c in cells],
                    "shown": [c.shown for c in cells],
                }
            )
    return len(names), out


def search_noise(
    base: SearchPoint | None, other: SearchPoint | None, labels: Sequence[str]
) -> dict[str, Any]:
    """Whether the sustainable rates differ beyond noise (NOISE_RULE)."""
    judged = dict(UNJUDGED)
    if base is None or other is None or not base.sustainable_per_s or not other.sustainable_per_s:
        return {**judged, "status": "not judged", "why": "a side sustained no rate"}
    pair = ((base, labels[0]), (other, labels[1]))
    for point, label in pair:
        if (point.best_runs or 0) < 2:
            return {**judged, "status": SINGLE_RUN, "why": f"{label} ran its best rate once"}
    for point, label in pair:
        if not point.reproduced:
            why = (
                f"{label}'s best rate passed {point.best_runs_passed} of {point.best_runs} runs: "
                "not reproduced"
            )
            return {**judged, "status": "not judged", "why": why}
    where = (f"in {labels[0]}", f"in {labels[1]}")
    noise, source = step_noise(count_figures([base]), count_figures([other]), None, where)
    gain = other.sustainable_per_s / base.sustainable_per_s - 1.0
    judged.update(noise=noise, source=source, gain=gain)
    bounds = [(p.ceiling, label) for p, label in pair if p.ceiling is not None]
    # a lower bound decides only a difference in its favour: A >= a and B < a(1 - noise)
    decided = (
        abs(gain) > noise
        if not bounds
        else len(bounds) == 1 and (gain < -noise if base.ceiling else gain > noise)
    )
    if decided:
        return {**judged, "status": "beyond noise", "beyond": True, "why": source}
    if bounds:
        why = "; ".join(f"{label}'s rate is a lower bound: {ceiling}" for ceiling, label in bounds)
        return {**judged, "status": "not judged", "why": why}
    return {**judged, "status": "within noise", "beyond": False, "why": source}


def compare_target(name: str, sides: Sequence[Side]) -> dict[str, Any]:
    """One target's figures across the sides that have it, each against the baseline."""
    base, *others = sides
    rows = []
    for key, label in FIGURES[base.kind]:
        cells = [s.targets[name].get(key, NOT_RECORDED) for s in sides]
        rows.append(
            {
                "key": key,
                "label": label,
                "values": [c.value for c in cells],
                "shown": [c.shown for c in cells],
                "vs": [
                    {"label": s.label, **difference(cells[0], c)}
                    for s, c in zip(others, cells[1:], strict=True)
                ],
            }
        )
    noise = []
    for other in others:
        if base.kind == "search":
            judged = search_noise(
                base.points.get(name), other.points.get(name), (base.label, other.label)
            )
        else:
            judged = {**UNJUDGED, "status": SINGLE_RUN, "why": "a phase run is measured once"}
        noise.append({"label": other.label, **judged})
    return {
        "target": name,
        "sides": [s.label for s in sides],
        "headline": HEADLINE[base.kind],
        "rows": rows,
        "noise": noise,
    }


def build(sides: Sequence[Side], report_id: str) -> dict[str, Any]:
    """The comparison (compare.json): configuration differences first, then each target."""
    base = sides[0]
    compared, differences = setup_differences(sides)
    targets = []
    for name in dict.fromkeys(t for side in sides for t in side.targets):
        having = [s for s in sides if name in s.targets]
        if base in having and len(having) > 1:
            targets.append(compare_target(name, having))
    only = {
        name: [s.label for s in sides if name in s.targets]
        for name in dict.fromkeys(t for side in sides for t in side.targets)
        if name not in base.targets or all(name not in s.targets for s in sides[1:])
    }
    return {
        "id": report_id,
        "generated": utc_iso(),
        "kind": base.kind,
        "kind_name": KIND_NAMES[base.kind],
        "sides": [
            {
                "label": s.label,
                "role": "baseline" if s is base else "contender",
                "run_id": s.run_id,
                "path": s.path,
                "phase": s.phase,
                "created": s.created,
                "notes": s.notes,
            }
            for s in sides
        ],
        "setup": {"compared": compared, "same": not differences, "differences": differences},
        "targets": targets,
        "not_compared": only,
        "noise_rule": NOISE_RULE,
    }


def render(result: Mapping[str, Any]) -> str:
    return render_template("compare.md.j2", {"r": result})


def read_sides(items: Sequence[str], results_root: Path) -> list[Side]:
    """Resolve, check and read every run; CompareError or ResultsError before anything is
    written."""
    if len(items) < 2:
        raise CompareError(
            "runs: compare needs a baseline and at least one contender; fix: benchlab compare "
            "RUN_A RUN_B [RUN_C ...]"
        )
    paths = [resolve_result_dir(item, results_root) for item in items]
    if len({p.resolve() for p in paths}) != len(paths):
        raise CompareError("runs: a run is given twice; fix: list each run once")
    kind = check_kinds(paths)
    return [read_side(i, p, kind) for i, p in enumerate(paths)]


def new_compare_dir(results_root: Path, out: Path | None) -> tuple[Path, str]:
    """A new directory for compare.md and compare.json; never an existing one."""
    report_id = new_report_id()
    path = out if out is not None else results_root / f"compare-{report_id}"
    if path.exists():
        raise CompareError(
            f"--out: {path} exists; a comparison never overwrites a directory; fix: give a new "
            "--out directory or none (default results/compare-<id>/)"
        )
    path.mkdir(parents=True)
    return path, report_id if out is None else path.name.removeprefix("compare-")


def write_compare(
    items: Sequence[str], results_root: Path, out: Path | None = None
) -> tuple[Path, dict[str, Any], str]:
    """Compare the runs, write compare.md and compare.json; return the directory, the
    comparison and its markdown."""
    sides = read_sides(items, results_root)
    path, report_id = new_compare_dir(results_root, out)
    result = build(sides, report_id)
    text = render(result)
    write_text_atomic(path / "compare.md", text)
    write_json(path / "compare.json", result)
    return path, result, text
