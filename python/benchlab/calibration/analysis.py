"""Turn one host's raw calibration outputs into model inputs and measurements.

Layout of a host directory (``results/calibration-<id>/<host>/``), written by the
calibration role:

    host.json                 host facts and the db_bench/fio configuration used
    dbbench.stdout|.LOG|.report.csv|.proc.json     phase B (fill, stats, debt payoff)
    fio-write.json fio-read.json fio-mixed.json     phase A
    dbbench-B.stdout|.LOG|.report.csv|.proc.json     workload B's burst fill (out of sample)
    search-<A|B>.json                               the sustainable-rate search of a workload
    trial-<A|B>-<repeat>-<nn>.stdout|.LOG|...       its fixed-rate trials (LOG trimmed)
    validate-<pct>.stdout|.report.csv|.proc.json    v3 validation runs of older calibrations
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import sustain
from .models import Codec, KeyCounts, LevelInput, ModelInputs, V3Inputs, harmonic_beff
from .parsers import (
    MIB,
    BenchSummary,
    CompactionTable,
    FioResult,
    ParseError,
    Statistics,
    db_bench_summary,
    parse_compaction_stats,
    parse_db_bench_summaries,
    parse_db_stats,
    parse_fio_json,
    parse_json_file,
    parse_report_csv,
    parse_statistics,
    read_text,
)

GIB = 1024 * MIB


@dataclass
class DeviceFigures:
    b_w: float
    b_r: float
    b_mix: float | None
    mix_read_percent: int | None
    fio_version: str


@dataclass
class EngineRun:
    """One db_bench fill: what was measured and what it cost."""

    summary: BenchSummary
    bytes_per_op: int
    user_bytes: float
    stall_seconds: float
    tables: list[CompactionTable]
    table_source: str
    proc: dict
    series: list[tuple[float, float]]

    @property
    def seconds(self) -> float:
        if self.summary.seconds:
            return self.summary.seconds
        ops = self.summary.operations or 0
        return ops / self.summary.ops_per_sec if self.summary.ops_per_sec else 0.0

    @property
    def mib_s(self) -> float:
        if self.summary.mib_per_sec is not None:
            return self.summary.mib_per_sec
        return self.summary.ops_per_sec * self.bytes_per_op / MIB

    @property
    def stall_fraction(self) -> float:
        return min(self.stall_seconds / self.seconds, 1.0) if self.seconds > 0 else 0.0

    @property
    def final(self) -> CompactionTable:
        return self.tables[-1]

    def series_mib_s(self) -> list[tuple[float, float]]:
        return [(t, qps * self.bytes_per_op / MIB) for t, qps in self.series]


@dataclass
class Trial:
    stem: str
    repeat: int
    verdict: sustain.Verdict


@dataclass
class Search:
    """One workload's search: its trials re-judged from their raw files."""

    workload: str
    key_size: int
    value_size: int
    num: int
    burst_mib_s: float
    repeats: list[dict]
    trials: list[Trial]
    record: dict

    @property
    def results(self) -> list[float]:
        """Per repeat, the put rate its highest sustained trial achieved (second half of
        the fill; the target it was set to can differ by the limiter's accounting)."""
        out = []
        for rep in self.repeats:
            lo = rep.get("sustained_mib_s")
            if not lo:
                continue
            match = [
                t.verdict.achieved_mib_s
                for t in self.trials
                if t.repeat == rep.get("repeat")
                and t.verdict.sustained
                and abs(t.verdict.target_mib_s - lo) < 1e-6 * lo
            ]
            out.append(match[0] if match else lo)
        return out

    @property
    def sustained_mib_s(self) -> float | None:
        vals = self.results
        return sum(vals) / len(vals) if vals else None

    @property
    def spread_mib_s(self) -> float | None:
        vals = self.results
        return max(vals) - min(vals) if len(vals) > 1 else None

    @property
    def bytes_per_op(self) -> int:
        return self.key_size + self.value_size


@dataclass
class HostCalibration:
    host: str
    directory: Path
    facts: dict
    device: DeviceFigures | None = None
    engine: EngineRun | None = None
    stats: Statistics | None = None
    validations: dict[str, EngineRun] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    engine_b: EngineRun | None = None
    stats_b: Statistics | None = None
    searches: dict[str, Search] = field(default_factory=dict)


def load_device(directory: Path) -> DeviceFigures | None:
    write_path, read_path = directory / "fio-write.json", directory / "fio-read.json"
    if not write_path.exists() or not read_path.exists():
        return None
    write = parse_fio_json(read_text(write_path), write_path)
    read = parse_fio_json(read_text(read_path), read_path)
    if write.write_bw_bytes <= 0:
        raise ParseError(write_path, "fio sequential write measured 0 bytes/s")
    if read.read_bw_bytes <= 0:
        raise ParseError(read_path, "fio sequential read measured 0 bytes/s")
    mixed: FioResult | None = None
    mix_pct = None
    mixed_path = directory / "fio-mixed.json"
    if mixed_path.exists():
        mixed = parse_fio_json(read_text(mixed_path), mixed_path)
        match = re.search(r'"rwmixread"\s*:\s*"(\d+)"', read_text(mixed_path))
        mix_pct = int(match[1]) if match else None
    return DeviceFigures(
        b_w=write.write_mib_s,
        b_r=read.read_mib_s,
        b_mix=mixed.total_mib_s if mixed else None,
        mix_read_percent=mix_pct,
        fio_version=write.fio_version,
    )


def _proc(path: Path) -> dict:
    return parse_json_file(path) if path.exists() else {}


def load_engine_run(directory: Path, stem: str, bytes_per_op: int) -> EngineRun:
    stdout_path = directory / f"{stem}.stdout"
    stdout = read_text(stdout_path)
    summary = db_bench_summary(stdout, stdout_path)
    tables = parse_compaction_stats(stdout, stdout_path)
    table_source = stdout_path.name
    log_path = directory / f"{stem}.LOG"
    if not tables and log_path.exists():
        tables = parse_compaction_stats(read_text(log_path), log_path)
        table_source = log_path.name
    if not tables:
        raise ParseError(stdout_path, "no compaction-stats table in stdout or LOG")
    stalls = parse_db_stats(stdout, stdout_path)
    # Stalls only happen while writing: the last cumulative figure covers the fill.
    stall_seconds = stalls[-1].stall_seconds if stalls else 0.0
    series_path = directory / f"{stem}.report.csv"
    series = parse_report_csv(read_text(series_path), series_path) if series_path.exists() else []
    operations = summary.operations
    if operations is None:
        operations = round(summary.ops_per_sec * (summary.seconds or 0)) or None
    user_bytes = float((operations or 0) * bytes_per_op)
    return EngineRun(
        summary=summary,
        bytes_per_op=bytes_per_op,
        user_bytes=user_bytes,
        stall_seconds=stall_seconds,
        tables=tables,
        table_source=table_source,
        proc=_proc(directory / f"{stem}.proc.json"),
        series=series,
    )


def load_host(directory: Path) -> HostCalibration:
    facts_path = directory / "host.json"
    facts = parse_json_file(facts_path)
    config = facts.get("config", {})
    try:
        bytes_per_op = int(config["key_size"]) + int(config["value_size"])
    except (KeyError, TypeError, ValueError):
        raise ParseError(facts_path, "config.key_size/value_size missing or not integers") from None
    cal = HostCalibration(
        host=str(facts.get("host", directory.name)), directory=directory, facts=facts
    )
    cal.device = load_device(directory)
    if (directory / "dbbench.stdout").exists():
        cal.engine = load_engine_run(directory, "dbbench", bytes_per_op)
        if cal.engine.user_bytes <= 0:
            # The old summary form has no operation count: fall back on the config.
            cal.engine.user_bytes = float(int(config.get("num", 0)) * bytes_per_op)
        path = directory / "dbbench.stdout"
        cal.stats = parse_statistics(read_text(path), path)
    if (directory / "dbbench-B.stdout").exists():
        value_b = int(config.get("oos_value_size", 0))
        bpo_b = int(config["key_size"]) + value_b
        cal.engine_b = load_engine_run(directory, "dbbench-B", bpo_b)
        if cal.engine_b.user_bytes <= 0:
            cal.engine_b.user_bytes = float(int(config.get("oos_num", 0)) * bpo_b)
        path = directory / "dbbench-B.stdout"
        cal.stats_b = parse_statistics(read_text(path), path)
    for path in sorted(directory.glob("search-*.json")):
        search = load_search(directory, path)
        cal.searches[search.workload] = search
    for path in sorted(directory.glob("validate-*.stdout")):
        stem = path.name.removesuffix(".stdout")
        cal.validations[stem.removeprefix("validate-")] = load_engine_run(
            directory, stem, bytes_per_op
        )
    return cal


def load_search(directory: Path, path: Path) -> Search:
    """A search record and its trials, each judged again from its raw files (the same
    :func:`sustain.judge` the search ran on the host)."""
    from .search import trial_input

    record = parse_json_file(path)
    try:
        key, value = int(record["key_size"]), int(record["value_size"])
        criteria = record.get("criteria") or {}
        trials = []
        for rep in record["repeats"]:
            for row in rep["trials"]:
                stem = directory / row["stem"]
                verdict = sustain.judge(
                    trial_input(stem, float(row["target_mib_s"]), key + value),
                    max_stall=float(criteria.get("max_stall", sustain.MAX_STALL)),
                    min_achieved=float(criteria.get("min_achieved", sustain.MIN_ACHIEVED)),
                    tolerance=float(criteria.get("tolerance", sustain.TOLERANCE)),
                )
                trials.append(Trial(row["stem"], int(rep["repeat"]), verdict))
        return Search(
            workload=str(record["workload"]),
            key_size=key,
            value_size=value,
            num=int(record["num"]),
            burst_mib_s=float(record["burst_mib_s"]),
            repeats=list(record["repeats"]),
            trials=trials,
            record=record,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ParseError(path, f"not a search record ({exc})") from None


# ------------------------------------------------------------------ derived


def compression_ratio(cal: HostCalibration) -> float:
    stats = cal.stats
    if stats:
        flushed = stats.get("rocksdb.flush.write.bytes")
        payload = stats.get("rocksdb.memtable.payload.bytes.at.flush")
        if flushed > 0 and payload > 0:
            return flushed / payload
    cal.notes.append("CR from the configured --compression_ratio (no flush statistics)")
    return float(cal.facts.get("config", {}).get("compression_ratio", 1.0))


def wa_from_statistics(cal: HostCalibration) -> float | None:
    if not cal.stats:
        return None
    written = cal.stats.get("rocksdb.bytes.written")
    if written <= 0:
        return None
    sst = cal.stats.get("rocksdb.flush.write.bytes") + cal.stats.get("rocksdb.compact.write.bytes")
    return sst / written


def device_io(cal: HostCalibration, run: EngineRun) -> tuple[float, float, str]:
    """(read bytes, write bytes, source) the run moved on the device."""
    io = run.proc.get("proc_io") or {}
    if io.get("write_bytes") is not None:
        written = float(io["write_bytes"]) - float(io.get("cancelled_write_bytes", 0))
        return float(io.get("read_bytes", 0)), max(written, 0.0), "/proc/<pid>/io"
    disk = run.proc.get("diskstats") or {}
    if disk.get("write_bytes") is not None:
        return (
            float(disk["read_bytes"]),
            float(disk["write_bytes"]),
            f"/proc/diskstats {disk.get('device')}",
        )
    if cal.stats:
        s = cal.stats
        reads = float(s.get("rocksdb.compact.read.bytes"))
        writes = float(
            s.get("rocksdb.wal.bytes")
            + s.get("rocksdb.flush.write.bytes")
            + s.get("rocksdb.compact.write.bytes")
        )
        return reads, writes, "RocksDB statistics (no device counters)"
    raise ParseError(cal.directory / "dbbench.proc.json", "no device counters and no statistics")


def read_fraction(cal: HostCalibration) -> tuple[float, float, str]:
    """(rho_r, rho_w, source): read and write fractions of phase B device traffic."""
    if not cal.engine:
        raise ParseError(cal.directory / "dbbench.stdout", "phase B output missing")
    reads, writes, source = device_io(cal, cal.engine)
    total = reads + writes
    if total <= 0:
        raise ParseError(cal.directory / "dbbench.proc.json", "phase B moved no device bytes")
    return reads / total, writes / total, source


def mix_read_percent(cal: HostCalibration) -> int:
    """fio rwmixread for the mixed run: phase B's read share, clamped to 1..99 so
    the run stays mixed (fio takes whole percents)."""
    rho_r, _, _ = read_fraction(cal)
    return min(99, max(1, round(rho_r * 100)))


def model_inputs(cal: HostCalibration) -> ModelInputs:
    if not cal.device or not cal.engine:
        raise ParseError(cal.directory, "need both phase A (fio) and phase B (db_bench) outputs")
    rho_r, rho_w, _ = read_fraction(cal)
    final = cal.engine.final
    wa = final.total.w_amp if final.total else 0.0
    levels = [
        LevelInput(lv.level, lv.w_amp, lv.read_write_ratio)
        for lv in final.levels
        if lv.write_gb > 0 or lv.comp_cnt > 0
    ]
    return ModelInputs(
        b_w=cal.device.b_w,
        b_r=cal.device.b_r,
        cr=compression_ratio(cal),
        wa=wa,
        rho_r=rho_r,
        rho_w=rho_w,
        p_stall=cal.engine.stall_fraction,
        levels=levels,
        value_bytes=cal.engine.bytes_per_op,
    )


def v3_inputs(cal: HostCalibration) -> V3Inputs:
    if not cal.device or not cal.engine:
        raise ParseError(cal.directory, "need both phase A (fio) and phase B (db_bench) outputs")
    run = cal.engine
    final = run.final
    config = cal.facts.get("config", {})
    reads, writes, _ = device_io(cal, run)
    l0 = final.level("L0")
    below = [lv for lv in final.levels if lv.level != "L0"]
    base = next((lv for lv in below if lv.comp_sec > 0 or lv.rn_gb > 0), None)
    merge_cpu = (
        final.total.comp_merge_cpu_sec
        if final.total and final.total.comp_merge_cpu_sec is not None
        else sum(lv.comp_merge_cpu_sec or 0.0 for lv in final.levels)
    )
    cpu = float(run.proc.get("utime_s", 0.0)) + float(run.proc.get("stime_s", 0.0))
    if cpu <= 0:
        cal.notes.append("no process CPU time recorded: CPU bounds omitted")
    return V3Inputs(
        b_w=cal.device.b_w,
        b_r=cal.device.b_r,
        user_bytes=run.user_bytes,
        device_write_bytes=writes,
        device_read_bytes=reads,
        flush_sec=l0.comp_sec if l0 else 0.0,
        base_sec=base.comp_sec if base else 0.0,
        compaction_sec=sum(lv.comp_sec for lv in below),
        cpu_sec=cpu,
        merge_cpu_sec=merge_cpu,
        max_background_jobs=int(config.get("max_background_jobs", 2)),
        cores=float(cal.facts.get("cores", 1)),
        base_level=base.level if base else "L1",
        subcompactions=max(1, int(config.get("subcompactions", 1))),
    )


def device_figures_dict(device: DeviceFigures, rho_r: float | None, rho_w: float | None) -> dict:
    out = {"B_w": device.b_w, "B_r": device.b_r, "B_mix": device.b_mix}
    out["B_eff"] = (
        harmonic_beff(device.b_r, device.b_w, rho_r, rho_w) if rho_r is not None else None
    )
    return out


# ------------------------------------------------------------------ other fills


def as_workload_b(cal: HostCalibration) -> HostCalibration | None:
    """The calibration as if workload B's burst fill were phase B (for fits on B)."""
    if cal.engine_b is None:
        return None
    config = dict(cal.facts.get("config", {}))
    config["value_size"] = config.get("oos_value_size", config.get("value_size"))
    config["num"] = config.get("oos_num", config.get("num"))
    return replace(
        cal,
        facts={**cal.facts, "config": config},
        engine=cal.engine_b,
        stats=cal.stats_b,
        notes=cal.notes,
    )


def as_trial(cal: HostCalibration, search: Search, stem: str) -> HostCalibration:
    """The calibration as if one fixed-rate trial of ``search`` were phase B (a fit on a
    fill in the throttled regime: no stall, L0->L1 at its trigger)."""
    run = load_engine_run(cal.directory, stem, search.bytes_per_op)
    path = cal.directory / f"{stem}.stdout"
    config = dict(cal.facts.get("config", {}))
    config["value_size"] = search.value_size
    config["num"] = search.num
    return replace(
        cal,
        facts={**cal.facts, "config": config},
        engine=run,
        stats=parse_statistics(read_text(path), path),
        notes=cal.notes,
    )


# ------------------------------------------------------- record-size transfer (v3)


def codec(cal: HostCalibration) -> Codec | None:
    """Byte costs of a compaction on this host: phase D's codec speed (db_bench compress /
    uncompress, MiB/s of uncompressed blocks), phase A's B_r and B_w, and the fill's
    compression ratio (bytes on disk per uncompressed byte)."""
    path = cal.directory / "codec.stdout"
    if not path.exists():
        return None
    found = {s.name: s for s in parse_db_bench_summaries(read_text(path), path)}
    speeds = []
    for name in ("compress", "uncompress"):
        summary = found.get(name)
        if summary is None or not summary.mib_per_sec:
            raise ParseError(path, f"no '{name} : ... MB/s' summary line")
        speeds.append(summary.mib_per_sec)
    if cal.device is None:
        return Codec(*speeds)
    return Codec(
        *speeds,
        read_mib_s=cal.device.b_r,
        write_mib_s=cal.device.b_w,
        compressed_fraction=compression_ratio(cal),
    )


def key_counts(cal: HostCalibration) -> KeyCounts:
    """Entries the fill moved (puts; KeyIn and KeyIn - KeyDrop below L0 and at the base)."""
    if not cal.engine:
        raise ParseError(cal.directory / "dbbench.stdout", "phase B output missing")
    final = cal.engine.final
    below = [lv for lv in final.levels if lv.level != "L0"]
    base = next((lv for lv in below if lv.comp_sec > 0 or lv.rn_gb > 0), None)

    def io(rows: list) -> tuple[float, float]:
        n_in = sum(lv.key_in or 0.0 for lv in rows)
        return n_in, n_in - sum(lv.key_drop or 0.0 for lv in rows)

    c_in, c_out = io(below)
    b_in, b_out = io([base] if base else [])
    return KeyCounts(
        user_keys=cal.engine.user_bytes / cal.engine.bytes_per_op,
        compaction_in=c_in,
        compaction_out=c_out,
        base_in=b_in,
        base_out=b_out,
        record_bytes=cal.engine.bytes_per_op,
    )


def marginal_fit(cal: HostCalibration, stem: str) -> tuple[V3Inputs, KeyCounts, dict]:
    """v3's inputs from the second half of a fixed-rate fill: the cost of a put once the
    LSM has its full depth (the whole-fill average includes the cheap start, when the
    data fits in L1 and L2). From the trial's LOG dumps (cumulative Comp(sec) per level,
    every second): seconds of flush, of the base level and of all compaction below L0
    between mid-fill and the end, per user byte put in between. Entries compacted (KeyIn,
    KeyDrop) scale with the compaction seconds: a deeper LSM rewrites each put more often.
    Device bytes and CPU stay whole-fill averages."""
    inp = v3_inputs(cal)
    keys = key_counts(cal)
    run = cal.engine
    log_path = cal.directory / f"{stem}.LOG"
    tables = [
        t
        for t in parse_compaction_stats(read_text(log_path), log_path)
        if t.uptime_s is not None and t.uptime_s <= run.seconds + 0.5
    ]
    half = [t for t in tables if t.uptime_s >= run.seconds / 2]
    if len(half) < 2:
        raise ParseError(log_path, "fewer than two compaction-stats dumps in the second half")
    first, last = half[0], half[-1]
    window_mib = run.mib_s * (last.uptime_s - first.uptime_s)
    whole_mib = run.user_bytes / MIB

    def secs(table: CompactionTable, pick) -> float:
        return sum(lv.comp_sec for lv in table.levels if pick(lv.level))

    base = inp.base_level

    def per_whole(pick) -> float:
        return (secs(last, pick) - secs(first, pick)) / window_mib * whole_mib

    compaction = per_whole(lambda name: name != "L0")
    scale = compaction / inp.compaction_sec if inp.compaction_sec > 0 else 1.0
    fitted = replace(
        inp,
        flush_sec=per_whole(lambda name: name == "L0"),
        base_sec=per_whole(lambda name: name == base),
        compaction_sec=compaction,
    )
    scaled = replace(
        keys,
        compaction_in=keys.compaction_in * scale,
        compaction_out=keys.compaction_out * scale,
        base_in=keys.base_in * (fitted.base_sec / inp.base_sec if inp.base_sec > 0 else 1.0),
        base_out=keys.base_out * (fitted.base_sec / inp.base_sec if inp.base_sec > 0 else 1.0),
    )
    window = {
        "from_s": first.uptime_s,
        "to_s": last.uptime_s,
        "user_mib": window_mib,
        "compaction_s_per_gib": compaction / whole_mib * 1024,
        "whole_fill_compaction_s_per_gib": inp.compaction_sec / whole_mib * 1024,
    }
    return fitted, scaled, window
