"""Write models for RocksDB on a measured device (SPEC.md section 8).

Units: bandwidths and rates in MiB/s; "per user byte" quantities are ratios.
v1 and v2.1 reproduce the source report exactly; v3 is compaction-aware.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


def harmonic_beff(b_r: float, b_w: float, rho_r: float, rho_w: float) -> float:
    """Device bandwidth for a read/write mix: time-share of the two streams."""
    if rho_r + rho_w <= 0:
        raise ValueError("read and write fractions are both zero")
    return 1.0 / (rho_r / b_r + rho_w / b_w)


def fractions_from_ratio(read_write_ratio: float) -> tuple[float, float]:
    """(rho_r, rho_w) for a level whose reads are ``ratio`` times its writes."""
    return read_write_ratio / (1.0 + read_write_ratio), 1.0 / (1.0 + read_write_ratio)


@dataclass(frozen=True)
class LevelInput:
    name: str
    w_amp: float
    read_write_ratio: float


@dataclass(frozen=True)
class ModelInputs:
    """Inputs to v1 and v2.1 as the source report used them."""

    b_w: float
    b_r: float
    cr: float
    wa: float
    rho_r: float
    rho_w: float
    p_stall: float
    levels: list[LevelInput] = field(default_factory=list)
    value_bytes: int = 1024  # bytes per op, to quote ops/s


@dataclass(frozen=True)
class Prediction:
    model: str
    mib_s: float
    bottleneck: str
    terms: dict[str, float]

    def ops_s(self, bytes_per_op: int) -> float:
        return self.mib_s * 1024 * 1024 / bytes_per_op


def w_req(inp: ModelInputs) -> float:
    return inp.wa * inp.cr


def r_req(inp: ModelInputs) -> float:
    return (inp.wa - 1.0) * inp.cr


def model_v1(inp: ModelInputs) -> Prediction:
    """v1 as published: B_eff=(B_r+B_w)/2 is stated, but the figure reported equals
    B_w / (w_req + 1): the write bound with one extra WAL byte per user byte."""
    wq = w_req(inp)
    s = inp.b_w / (wq + 1.0)
    return Prediction(
        "v1",
        s,
        "device write bandwidth (w_req + 1 WAL byte per user byte)",
        {"w_req": wq, "B_eff_v1": (inp.b_r + inp.b_w) / 2.0, "S_v1": s},
    )


def model_v21(inp: ModelInputs) -> Prediction:
    wq, rq = w_req(inp), r_req(inp)
    terms: dict[str, float] = {"w_req": wq, "r_req": rq}
    b_eff = harmonic_beff(inp.b_r, inp.b_w, inp.rho_r, inp.rho_w)
    terms["B_eff"] = b_eff
    bounds: dict[str, float] = {
        "S_write": inp.b_w / wq,
        "S_read": inp.b_r / rq if rq > 0 else float("inf"),
        "S_mix": b_eff / (wq + rq),
    }
    for level in inp.levels:
        rho_r_l, rho_w_l = fractions_from_ratio(level.read_write_ratio)
        b_eff_l = harmonic_beff(inp.b_r, inp.b_w, rho_r_l, rho_w_l)
        terms[f"B_eff_{level.name}"] = b_eff_l
        bounds[f"S_level_{level.name}"] = b_eff_l / wq / (1.0 + level.w_amp)
    terms.update(bounds)
    name = min(bounds, key=lambda k: bounds[k])
    feasible = bounds[name]
    terms["feasible"] = feasible
    terms["p_stall"] = inp.p_stall
    final = feasible * (1.0 - inp.p_stall)
    terms["S_max"] = final
    return Prediction("v2.1", final, f"{name} x (1 - p_stall {inp.p_stall:.3f})", terms)


# --------------------------------------------------------------------------- v3


@dataclass(frozen=True)
class V3Inputs:
    """Per-user-byte costs measured on one host during one fill (plus its debt payoff).

    user_bytes: bytes the benchmark put (key + value per op, uncompressed).
    device_*_bytes: bytes the db_bench process moved to/from the device.
    flush_sec: Comp(sec) of the L0 row (flushes and intra-L0 work).
    base_sec: Comp(sec) of the base level (L0 -> base compactions, one at a time).
    compaction_sec: Comp(sec) of every level below L0 (all compaction work).
    cpu_sec: process user+system CPU; merge_cpu_sec: Sum CompMergeCPU(sec) (background).
    """

    b_w: float
    b_r: float
    user_bytes: float
    device_write_bytes: float
    device_read_bytes: float
    flush_sec: float
    base_sec: float
    compaction_sec: float
    cpu_sec: float
    merge_cpu_sec: float
    max_background_jobs: int
    cores: float
    base_level: str = "L1"
    subcompactions: int = 1


def background_slots(max_background_jobs: int) -> tuple[int, int]:
    """RocksDB's split of max_background_jobs: (flush slots, compaction slots)."""
    flushes = max(1, max_background_jobs // 4)
    return flushes, max(1, max_background_jobs - flushes)


def model_v3(inp: V3Inputs) -> Prediction:
    """Compaction-aware bound: the put rate is the smallest rate any resource sustains.

    Each bound is (capacity of the resource) / (its cost per user MiB), with every
    cost measured on the same host and including compaction debt paid after the fill.
    """
    mib = inp.user_bytes / (1024 * 1024)
    if mib <= 0:
        raise ValueError("no user bytes written")
    inf = float("inf")
    flush_slots, comp_slots = background_slots(inp.max_background_jobs)
    comp_slots_eff = min(comp_slots, inp.cores) if inp.cores > 0 else comp_slots
    d_w = inp.device_write_bytes / inp.user_bytes
    d_r = inp.device_read_bytes / inp.user_bytes
    dev_sec_per_mib = d_w / inp.b_w + (d_r / inp.b_r if inp.b_r > 0 else 0.0)
    fg_cpu = max(inp.cpu_sec - inp.merge_cpu_sec, 0.0)
    bounds = {
        "device": 1.0 / dev_sec_per_mib if dev_sec_per_mib > 0 else inf,
        "compaction slots": comp_slots_eff * mib / inp.compaction_sec
        if inp.compaction_sec > 0
        else inf,
        f"L0->{inp.base_level} serialisation": (
            inp.subcompactions * mib / inp.base_sec if inp.base_sec > 0 else inf
        ),
        "flush": flush_slots * mib / inp.flush_sec if inp.flush_sec > 0 else inf,
        "CPU": inp.cores * mib / inp.cpu_sec if inp.cpu_sec > 0 else inf,
        "foreground writer thread": mib / fg_cpu if fg_cpu > 0 else inf,
    }
    name = min(bounds, key=lambda k: bounds[k])
    rate = bounds[name]
    background = min(v for k, v in bounds.items() if k != "foreground writer thread")
    fg = bounds["foreground writer thread"]
    # Stall explained: an unthrottled writer could go at `fg`; if the background
    # sustains less, RocksDB must hold the writer back for the difference.
    stall = max(0.0, 1.0 - background / fg) if fg not in (0.0, inf) else 0.0
    terms = {
        "d_w (device bytes written / user byte)": d_w,
        "d_r (device bytes read / user byte)": d_r,
        "flush s/GiB": inp.flush_sec / mib * 1024,
        "compaction s/GiB": inp.compaction_sec / mib * 1024,
        "L0->base s/GiB": inp.base_sec / mib * 1024,
        "CPU s/GiB": inp.cpu_sec / mib * 1024,
        "foreground CPU s/GiB": fg_cpu / mib * 1024,
        "flush slots": flush_slots,
        "compaction slots": comp_slots_eff,
        "predicted stall fraction": stall,
    }
    terms.update({f"S_{k}": v for k, v in bounds.items()})
    return Prediction("v3", rate, name, terms)


def error_percent(predicted: float, measured: float) -> float:
    return (predicted - measured) / measured * 100.0


# ------------------------------------------------------- v3 on another record size

# Bytes RocksDB stores per entry beyond key and value: the 8-byte internal key trailer
# (sequence number and type). Block and index overheads are left out.
INTERNAL_KEY_TRAILER = 8


@dataclass(frozen=True)
class Codec:
    """What moving one byte through a compaction costs on this host: block codec speed
    (db_bench compress / uncompress, MiB/s of uncompressed data) and, optionally, the
    device's sequential bandwidth (fio B_r, B_w) for the compressed fraction of it."""

    compress_mib_s: float
    uncompress_mib_s: float
    read_mib_s: float = float("inf")
    write_mib_s: float = float("inf")
    compressed_fraction: float = 1.0  # bytes on disk per uncompressed byte (CR)

    def seconds_in(self, raw_bytes: float) -> float:
        """Read and decompress ``raw_bytes`` (uncompressed) of input."""
        mib = raw_bytes / (1024 * 1024)
        return mib / self.uncompress_mib_s + mib * self.compressed_fraction / self.read_mib_s

    def seconds_out(self, raw_bytes: float) -> float:
        """Compress and write ``raw_bytes`` (uncompressed) of output."""
        mib = raw_bytes / (1024 * 1024)
        return mib / self.compress_mib_s + mib * self.compressed_fraction / self.write_mib_s


@dataclass(frozen=True)
class KeyCounts:
    """Entries the fit fill moved: user puts, entries into compactions below L0 (KeyIn),
    and entries out of them (KeyIn - KeyDrop); record = key + value bytes."""

    user_keys: float
    compaction_in: float
    compaction_out: float
    base_in: float
    base_out: float
    record_bytes: int


def split_per_entry(
    seconds: float, entries_in: float, entries_out: float, entry_bytes: float, codec: Codec
) -> tuple[float, float]:
    """(per-entry seconds, per-byte seconds) of a stage that read ``entries_in`` and wrote
    ``entries_out`` entries of ``entry_bytes``: the byte part is what the measured codec
    and device speeds make of those bytes, the rest is charged per entry (merging,
    comparing, index and filter building). The byte part is capped at the stage's time."""
    byte_s = codec.seconds_in(entries_in * entry_bytes) + codec.seconds_out(
        entries_out * entry_bytes
    )
    byte_s = min(byte_s, seconds)
    return seconds - byte_s, byte_s


def transfer_v3(inp: V3Inputs, keys: KeyCounts, codec: Codec, record_bytes: int) -> V3Inputs:
    """v3's inputs fitted on one fill, carried to puts of ``record_bytes`` (key + value).

    Every background stage's time is a per-entry part and a per-byte part: compaction and
    L0->base read and decompress their input, compress and write their output (codec and
    device speed x entry bytes, entries counted by the LOG's KeyIn / KeyDrop), flush
    compresses and writes each put once; what those speeds do not explain is per entry
    and stays per entry. The rewrites per put
    (KeyIn / puts) are kept: the level geometry is the same. The foreground writer and
    process CPU stay per put; device bytes scale per user byte. The result describes a
    fill of as many puts as the fit fill, each of the new size.
    """
    old = keys.record_bytes + INTERNAL_KEY_TRAILER
    new = record_bytes + INTERNAL_KEY_TRAILER
    ratio = new / old

    def carry(seconds: float, n_in: float, n_out: float) -> float:
        entry_s, byte_s = split_per_entry(seconds, n_in, n_out, old, codec)
        return entry_s + byte_s * ratio

    bytes_ratio = record_bytes / keys.record_bytes
    return replace(
        inp,
        user_bytes=inp.user_bytes * bytes_ratio,
        device_write_bytes=inp.device_write_bytes * bytes_ratio,
        device_read_bytes=inp.device_read_bytes * bytes_ratio,
        flush_sec=carry(inp.flush_sec, 0.0, keys.user_keys),
        base_sec=carry(inp.base_sec, keys.base_in, keys.base_out),
        compaction_sec=carry(inp.compaction_sec, keys.compaction_in, keys.compaction_out),
    )
