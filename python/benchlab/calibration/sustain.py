"""Is a fixed write rate sustained, and which rate to try next (issue 12, SPEC.md section 8).

Pure functions, standard library only: the search driver (``search.py``) runs them on the
data node between db_bench trials, and the report runs them again on the controller over
the same raw files, so the verdict printed is the verdict the search acted on.

A trial is one db_bench ``fillrandom`` of a fixed number of keys into a fresh database at
``--benchmark_write_rate_limit``. It *sustained* its target when all of these hold:

- stall under ``max_stall`` (2 %) of the fill (``Cumulative stall`` of db_bench's stats);
- achieved put rate at least ``min_achieved`` (98 %) of the target;
- neither the L0 file count nor the estimated pending compaction bytes trends up over the
  second half of the fill (:func:`trend`: least-squares slope, significant *and* material);

and it is *valid* (long enough to judge) when the deepest level the LSM has at the end
already held data at the start of that second half (:func:`depth`): the judged half ran
with the LSM's full depth, so every level's compaction was part of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .parsers import CompactionTable

MIB = 1024 * 1024

# Defaults of the criteria (issue 12); the role passes the same values.
MAX_STALL = 0.02
MIN_ACHIEVED = 0.98
T_CRIT = 2.0  # one-sided, about 97.5 % for the 8+ points of a second half
TOLERANCE = 0.05


# ------------------------------------------------------------------ LSM shape


@dataclass(frozen=True)
class LsmOptions:
    """The options RocksDB's own pending-compaction estimate uses (read from the LOG)."""

    l0_trigger: int = 4
    l0_slowdown: int = 20
    l0_stop: int = 36
    level_base: float = 256 * MIB
    multiplier: float = 10.0
    num_levels: int = 7
    dynamic: bool = False

    @classmethod
    def from_log_options(cls, opts: dict[str, str]) -> LsmOptions:
        def num(name: str, default: float) -> float:
            try:
                return float(opts[name])
            except (KeyError, ValueError):
                return default

        d = cls()
        return cls(
            l0_trigger=int(num("level0_file_num_compaction_trigger", d.l0_trigger)),
            l0_slowdown=int(num("level0_slowdown_writes_trigger", d.l0_slowdown)),
            l0_stop=int(num("level0_stop_writes_trigger", d.l0_stop)),
            level_base=num("max_bytes_for_level_base", d.level_base),
            multiplier=num("max_bytes_for_level_multiplier", d.multiplier),
            num_levels=int(num("num_levels", d.num_levels)),
            dynamic=opts.get("level_compaction_dynamic_level_bytes", "0") in ("1", "true"),
        )

    def target(self, level: int) -> float:
        """MaxBytesForLevel of a level >= 1 (static level sizes, base level L1)."""
        return self.level_base * self.multiplier ** (level - 1)


def pending_compaction_bytes(table: CompactionTable, opts: LsmOptions) -> float:
    """RocksDB's ``estimate-pending-compaction-bytes`` from one compaction-stats dump.

    The same arithmetic as VersionStorageInfo::EstimateCompactionBytesNeeded (static level
    sizes): L0 counts whole once it reached its trigger (and the base level with it); each
    level over its target pushes the excess down, weighted by the fan-out into the next.
    db_bench 7.8 does not print the property, but every LOG dump has the level sizes.
    """
    sizes = {lv.level: float(lv.size_bytes or 0.0) for lv in table.levels}
    files0 = next((lv.files or 0 for lv in table.levels if lv.level == "L0"), 0)
    size0 = sizes.get("L0", 0.0)
    pending = 0.0
    down = 0.0
    l0_triggered = files0 >= opts.l0_trigger or size0 >= opts.level_base
    if l0_triggered:
        pending = size0
        down = size0
    for level in range(1, max(opts.num_levels - 1, 1)):
        size = sizes.get(f"L{level}", 0.0)
        if level == 1 and l0_triggered:
            pending += size
        size += down
        down = 0.0
        target = opts.target(level)
        if size > target:
            down = size - target
            below = sizes.get(f"L{level + 1}", 0.0)
            # RocksDB adds nothing while the next level is empty; the excess still has
            # to move down, so it counts once here (a debt RocksDB's estimate misses:
            # a level piling up over an empty one while compaction is elsewhere).
            pending += down * (below / size + 1.0) if below > 0 else down
    return pending


def required_level(table: CompactionTable, opts: LsmOptions) -> int:
    """The deepest level the data below L0 needs by the level targets: the smallest k
    with size(L1..) <= target(L1) + ... + target(Lk)."""
    size = sum(float(lv.size_bytes or 0.0) for lv in table.levels if lv.level != "L0")
    if size <= 0:
        return 0
    level, room = 1, opts.target(1)
    while size > room and level < opts.num_levels - 1:
        level += 1
        room += opts.target(level)
    return level


@dataclass(frozen=True)
class Sample:
    """One LOG dump during the fill: seconds since the DB opened, L0 files, pending bytes,
    and the deepest level holding files."""

    t: float
    l0_files: int
    pending_bytes: float
    deepest: int
    required: int


def samples(tables: list[CompactionTable], opts: LsmOptions) -> list[Sample]:
    out = []
    for table in tables:
        if table.uptime_s is None:
            continue
        l0 = next((lv.files or 0 for lv in table.levels if lv.level == "L0"), 0)
        deepest = max((int(lv.level[1:]) for lv in table.levels if (lv.files or 0) > 0), default=0)
        out.append(
            Sample(
                table.uptime_s,
                l0,
                pending_compaction_bytes(table, opts),
                deepest,
                required_level(table, opts),
            )
        )
    return out


# ------------------------------------------------------------------ slope test


@dataclass(frozen=True)
class Trend:
    """Least-squares line through the second half: slope per second, its t statistic,
    and the rise the line makes over the window."""

    points: int
    slope: float
    t_stat: float
    rise: float
    threshold: float

    @property
    def up(self) -> bool:
        return self.points >= 4 and self.t_stat > T_CRIT and self.rise > self.threshold


def trend(xs: list[float], ys: list[float], threshold: float) -> Trend:
    """Slope test: up only when the slope is significant (t > T_CRIT) and the rise over
    the window exceeds ``threshold`` (a trend too small to matter is no trend)."""
    n = len(xs)
    if n < 3:
        return Trend(n, 0.0, 0.0, 0.0, threshold)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx <= 0:
        return Trend(n, 0.0, 0.0, 0.0, threshold)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    resid = sum((y - my - slope * (x - mx)) ** 2 for x, y in zip(xs, ys, strict=True))
    se = math.sqrt(resid / (n - 2) / sxx) if n > 2 else 0.0
    t_stat = slope / se if se > 0 else math.copysign(math.inf, slope) if slope else 0.0
    return Trend(n, slope, t_stat, slope * (max(xs) - min(xs)), threshold)


# ------------------------------------------------------------------ one trial


@dataclass(frozen=True)
class TrialInput:
    """What the judge needs from one trial's raw files (see analysis.load_trial)."""

    target_mib_s: float
    achieved_mib_s: float
    seconds: float
    stall_seconds: float
    user_bytes: float
    tables: list[CompactionTable]
    options: LsmOptions


@dataclass
class Verdict:
    target_mib_s: float
    achieved_mib_s: float
    seconds: float
    stall_fraction: float
    l0: Trend
    pending: Trend
    deepest_level: int
    deepest_reached_s: float | None
    depth_ok: bool
    sustained: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def achieved_fraction(self) -> float:
        return self.achieved_mib_s / self.target_mib_s if self.target_mib_s else 0.0

    def as_dict(self) -> dict:
        return {
            "target_mib_s": self.target_mib_s,
            "achieved_mib_s": self.achieved_mib_s,
            "achieved_fraction": self.achieved_fraction,
            "seconds": self.seconds,
            "stall_percent": self.stall_fraction * 100,
            "l0_slope_per_s": self.l0.slope,
            "l0_t": _finite(self.l0.t_stat),
            "l0_rise": self.l0.rise,
            "l0_up": self.l0.up,
            "pending_slope_mib_per_s": self.pending.slope / MIB,
            "pending_t": _finite(self.pending.t_stat),
            "pending_rise_mib": self.pending.rise / MIB,
            "pending_threshold_mib": self.pending.threshold / MIB,
            "pending_up": self.pending.up,
            "points": self.pending.points,
            "deepest_level": self.deepest_level,
            "deepest_reached_s": self.deepest_reached_s,
            "depth_ok": self.depth_ok,
            "sustained": self.sustained,
            "reasons": self.reasons,
        }


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def depth(series: list[Sample], seconds: float) -> tuple[int, float | None, bool]:
    """(deepest level of the LSM at the end, when the data first needed it, by mid-fill?).

    The deepest level is the larger of the deepest level holding files and the deepest the
    data needs by the level targets (a level can lag behind while compaction is busy
    elsewhere; the data still needs it). The trial is long enough when the data needed
    that level already at mid-fill: the judged second half ran with the LSM's full depth.
    """
    during = [s for s in series if s.t <= seconds + 1.0]
    if not during:
        return 0, None, False
    deepest = max(during[-1].deepest, during[-1].required)
    first = next((s.t for s in during if max(s.deepest, s.required) >= deepest), None)
    return deepest, first, first is not None and first <= seconds / 2


def judge(
    trial: TrialInput,
    *,
    max_stall: float = MAX_STALL,
    min_achieved: float = MIN_ACHIEVED,
    tolerance: float = TOLERANCE,
) -> Verdict:
    """Sustained or not, with every reason; see the module docstring for the rules.

    Materiality of a trend: L0 must rise by at least half its compaction trigger (files
    arrive a memtable at a time; less is the sawtooth of flush and L0->L1), pending bytes by
    more than ``tolerance`` of the bytes put over the window (a debt growing slower than
    the search's resolution cannot be told from noise by a search of that resolution).
    """
    seconds = trial.seconds
    stall = min(trial.stall_seconds / seconds, 1.0) if seconds > 0 else 1.0
    series = samples(trial.tables, trial.options)
    half = [s for s in series if seconds / 2 <= s.t <= seconds + 1.0]
    xs = [s.t for s in half]
    window = (max(xs) - min(xs)) if len(xs) > 1 else 0.0
    put_in_window = trial.user_bytes / seconds * window if seconds > 0 else 0.0
    l0 = trend(xs, [float(s.l0_files) for s in half], max(1.0, trial.options.l0_trigger / 2))
    pending = trend(xs, [s.pending_bytes for s in half], tolerance * put_in_window)
    deepest, reached, depth_ok = depth(series, seconds)
    reasons = []
    if stall >= max_stall:
        reasons.append(f"stall {stall * 100:.1f} % >= {max_stall * 100:.0f} %")
    achieved = trial.achieved_mib_s / trial.target_mib_s if trial.target_mib_s else 0.0
    if achieved < min_achieved:
        reasons.append(f"achieved {achieved * 100:.1f} % of target < {min_achieved * 100:.0f} %")
    if l0.up:
        reasons.append(f"L0 files rising ({l0.rise:+.1f} over the second half, t {l0.t_stat:.1f})")
    if pending.up:
        reasons.append(
            f"pending compaction bytes rising ({pending.rise / MIB:+.0f} MiB over the second "
            f"half, t {pending.t_stat:.1f})"
        )
    if len(half) < 4:
        reasons.append(f"only {len(half)} LOG dumps in the second half: no slope test")
    sustained = not reasons
    if not depth_ok:
        reasons.append(
            f"trial too short: deepest level L{deepest} first needed at "
            f"{reached if reached is not None else '?'} s of {seconds:.0f} s"
        )
    return Verdict(
        target_mib_s=trial.target_mib_s,
        achieved_mib_s=trial.achieved_mib_s,
        seconds=seconds,
        stall_fraction=stall,
        l0=l0,
        pending=pending,
        deepest_level=deepest,
        deepest_reached_s=reached,
        depth_ok=depth_ok,
        sustained=sustained,
        reasons=reasons,
    )


# ------------------------------------------------------------------ the search


@dataclass(frozen=True)
class SearchPlan:
    """Coarse steps from ``start`` (a fraction of burst) by ``step``, then bisection
    until the bracket is within ``tolerance``; at most ``max_trials`` trials."""

    burst_mib_s: float
    start_fraction: float = 0.7
    step: float = 0.7
    tolerance: float = TOLERANCE
    max_trials: int = 8
    anchor_mib_s: float | None = None  # a repeat starts at the first result ...
    anchor_step: float = 1.1  # ... and steps by this factor
    floor_fraction: float = 0.02  # below this fraction of burst: give up


@dataclass(frozen=True)
class SearchResult:
    sustained_mib_s: float | None
    bracket: tuple[float | None, float | None]
    trials: int
    converged: bool
    note: str


def bracket(history: list[tuple[float, bool]]) -> tuple[float | None, float | None]:
    """(highest sustained rate, lowest failing rate above it)."""
    passed = [r for r, ok in history if ok]
    lo = max(passed) if passed else None
    failed = [r for r, ok in history if not ok and (lo is None or r > lo)]
    return lo, (min(failed) if failed else None)


def next_rate(plan: SearchPlan, history: list[tuple[float, bool]]) -> float | None:
    """The next target (MiB/s), or None when the search is done."""
    if len(history) >= plan.max_trials:
        return None
    if not history:
        if plan.anchor_mib_s:
            return plan.anchor_mib_s
        return plan.burst_mib_s * plan.start_fraction
    lo, hi = bracket(history)
    step = 1.0 / plan.anchor_step if plan.anchor_mib_s else plan.step
    if lo is None:
        nxt = min(r for r, _ in history) * step
        return nxt if nxt >= plan.burst_mib_s * plan.floor_fraction else None
    if hi is None:
        hi_bound = plan.burst_mib_s  # nothing faster than an unthrottled fill
        if lo * (1 + plan.tolerance) >= hi_bound:
            return None
        return min(lo / step, math.sqrt(lo * hi_bound))
    if hi / lo <= 1 + plan.tolerance:
        return None
    return math.sqrt(lo * hi)


def result(plan: SearchPlan, history: list[tuple[float, bool]]) -> SearchResult:
    lo, hi = bracket(history)
    top = hi if hi is not None else plan.burst_mib_s
    converged = lo is not None and top / lo <= 1 + plan.tolerance
    if lo is None:
        if not history:
            note = "no trial"
        elif len(history) >= plan.max_trials:
            note = f"stopped after {len(history)} trials, none sustained"
        else:
            note = "no rate sustained down to the floor"
    elif converged:
        note = f"bracket {lo:.1f} .. {top:.1f} MiB/s is within {plan.tolerance * 100:.0f} %"
    else:
        note = f"stopped after {len(history)} trials, bracket {lo:.1f} .. {top:.1f} MiB/s"
    return SearchResult(lo, (lo, hi), len(history), converged, note)


def rate_limit_bytes(target_mib_s: float, key_size: int, value_size: int) -> int:
    """--benchmark_write_rate_limit for a target in user (key + value) MiB/s: db_bench's
    writer charges its limiter key + value bytes per put. (Measured here: charging the
    WriteBatch size instead, 16 B more per put, made 16 + 400 B trials run 3 % over.)"""
    del key_size, value_size  # the limiter counts exactly the user bytes
    return int(target_mib_s * MIB)


def second_half_rate(series: list[tuple[float, float]], seconds: float) -> float | None:
    """Mean ops/s of db_bench's --report_file rows in the second half of the fill (the
    window the slope tests judge; the last, partial second left out), or None."""
    rows = [qps for t, qps in series if seconds / 2 <= t <= seconds - 1]
    return sum(rows) / len(rows) if len(rows) >= 2 else None
