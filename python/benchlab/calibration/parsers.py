"""Parsers for the raw outputs of a calibration run (SPEC.md section 8).

Every parser takes text plus the name of the file it came from; malformed input
raises :class:`ParseError` naming the file and (where it applies) the line, never a
bare ``KeyError``/``ValueError`` stack trace.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024
GIB = 1024 * MIB
_UNITS = {"B": 1, "KB": 1024, "MB": MIB, "GB": GIB, "TB": 1024 * GIB}


class ParseError(ValueError):
    """Input that is not what the parser expects; ``str()`` names file and line."""

    def __init__(self, source: str | Path, message: str, line: int | None = None) -> None:
        self.source = str(source)
        self.line = line
        where = f"{self.source}:{line}" if line is not None else self.source
        super().__init__(f"{where}: {message}")


def read_text(path: Path) -> str:
    """Read a raw output file; a missing/unreadable file is a ParseError."""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ParseError(path, f"cannot read: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------- fio


@dataclass(frozen=True)
class FioResult:
    """Aggregated bandwidth of one fio run (bytes/s summed over its jobs)."""

    read_bw_bytes: float
    write_bw_bytes: float
    read_io_bytes: int
    write_io_bytes: int
    runtime_ms: int
    jobs: int
    fio_version: str

    @property
    def read_mib_s(self) -> float:
        return self.read_bw_bytes / MIB

    @property
    def write_mib_s(self) -> float:
        return self.write_bw_bytes / MIB

    @property
    def total_mib_s(self) -> float:
        return (self.read_bw_bytes + self.write_bw_bytes) / MIB


def parse_fio_json(text: str, source: str | Path = "<fio>") -> FioResult:
    """fio ``--output-format=json``: ``jobs[].read.bw_bytes`` / ``jobs[].write.bw_bytes``.

    fio may print warnings before the JSON document; they are skipped.
    """
    start = text.find("{")
    if start < 0:
        raise ParseError(source, "no JSON object found (expected fio --output-format=json)", 1)
    try:
        doc = json.loads(text[start:])
    except json.JSONDecodeError as exc:
        line = text.count("\n", 0, start) + exc.lineno
        raise ParseError(source, f"invalid fio JSON: {exc.msg}", line) from None
    jobs = doc.get("jobs") if isinstance(doc, dict) else None
    if not isinstance(jobs, list) or not jobs:
        raise ParseError(source, "fio JSON has no 'jobs' list")
    rbw = wbw = 0.0
    rio = wio = 0
    runtime = 0
    for index, job in enumerate(jobs):
        try:
            rbw += float(job["read"]["bw_bytes"])
            wbw += float(job["write"]["bw_bytes"])
            rio += int(job["read"].get("io_bytes", 0))
            wio += int(job["write"].get("io_bytes", 0))
            runtime = max(
                runtime, int(job["read"].get("runtime", 0)), int(job["write"].get("runtime", 0))
            )
            if int(job.get("error", 0)):
                raise ParseError(source, f"fio job {index} reports error {job['error']}")
        except (KeyError, TypeError, ValueError) as exc:
            raise ParseError(source, f"fio job {index} lacks read/write bw_bytes ({exc})") from None
    return FioResult(rbw, wbw, rio, wio, runtime, len(jobs), str(doc.get("fio version", "?")))


# --------------------------------------------------------------------- db_bench

# fillrandom   :       8.862 micros/op 112832 ops/sec 2.659 seconds 300000 operations;  109.3 MB/s
# fillrandom   :       5.123 micros/op 195198 ops/sec;  189.6 MB/s            (older releases)
_SUMMARY_RE = re.compile(
    r"^(?P<name>[A-Za-z0-9_\[\]-]+)\s*:\s*(?P<micros>[\d.]+) micros/op\s+(?P<ops>[\d.]+) ops/sec"
    r"(?:\s+(?P<secs>[\d.]+) seconds\s+(?P<count>\d+) operations)?;"
    r"(?:\s*(?P<mbs>[\d.]+) MB/s)?"
)


@dataclass(frozen=True)
class BenchSummary:
    name: str
    micros_per_op: float
    ops_per_sec: float
    mib_per_sec: float | None
    seconds: float | None
    operations: int | None
    line: int


def parse_db_bench_summaries(text: str, source: str | Path = "<db_bench>") -> list[BenchSummary]:
    """Every benchmark summary line in db_bench stdout (old and new forms)."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        match = _SUMMARY_RE.match(line.strip())
        if not match:
            continue
        try:
            out.append(
                BenchSummary(
                    name=match["name"],
                    micros_per_op=float(match["micros"]),
                    ops_per_sec=float(match["ops"]),
                    mib_per_sec=float(match["mbs"]) if match["mbs"] else None,
                    seconds=float(match["secs"]) if match["secs"] else None,
                    operations=int(match["count"]) if match["count"] else None,
                    line=number,
                )
            )
        except ValueError as exc:
            raise ParseError(source, f"bad db_bench summary line: {exc}", number) from None
    return out


def db_bench_summary(text: str, source: str | Path, benchmark: str = "fillrandom") -> BenchSummary:
    """The summary line of one benchmark; ParseError if db_bench printed none."""
    found = [s for s in parse_db_bench_summaries(text, source) if s.name == benchmark]
    if not found:
        raise ParseError(source, f"no '{benchmark} : ... ops/sec' summary line found")
    return found[-1]


@dataclass
class Statistics:
    """The ``STATISTICS:`` block: tickers (COUNT) and histograms (P50.. COUNT SUM)."""

    tickers: dict[str, int] = field(default_factory=dict)
    histograms: dict[str, dict[str, float]] = field(default_factory=dict)

    def get(self, name: str, default: int = 0) -> int:
        return self.tickers.get(name, default)


_TICKER_RE = re.compile(r"^(rocksdb\.[\w.\-]+) COUNT : (\d+)$")
_HIST_RE = re.compile(r"^(rocksdb\.[\w.\-]+) ((?:\w+ : [-\d.e+]+ ?)+)$")


def parse_statistics(text: str, source: str | Path = "<db_bench>") -> Statistics:
    """The last ``STATISTICS:`` block of db_bench stdout."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == "STATISTICS:"]
    if not starts:
        raise ParseError(source, "no 'STATISTICS:' block (was db_bench run with --statistics?)")
    stats = Statistics()
    for index in range(starts[-1] + 1, len(lines)):
        line = lines[index].strip()
        if not line:
            continue
        if not line.startswith("rocksdb."):
            break
        match = _TICKER_RE.match(line)
        if match:
            stats.tickers[match[1]] = int(match[2])
            continue
        match = _HIST_RE.match(line)
        if not match:
            raise ParseError(source, f"unrecognised STATISTICS line: {line[:80]!r}", index + 1)
        fields = re.findall(r"(\w+) : ([-\d.e+]+)", match[2])
        try:
            stats.histograms[match[1]] = {key: float(value) for key, value in fields}
        except ValueError:
            raise ParseError(
                source, f"bad number in STATISTICS line: {line[:80]!r}", index + 1
            ) from None
    if not stats.tickers:
        raise ParseError(source, "STATISTICS block is empty", starts[-1] + 1)
    return stats


# ------------------------------------------------------------- compaction stats


@dataclass(frozen=True)
class LevelStats:
    """One row of the compaction-stats table; GB figures are GiB as RocksDB prints them."""

    level: str
    read_gb: float
    rn_gb: float
    write_gb: float
    w_amp: float
    comp_sec: float
    comp_merge_cpu_sec: float | None
    comp_cnt: int
    moved_gb: float
    files: int | None = None
    size_bytes: float | None = None
    key_in: float | None = None
    key_drop: float | None = None

    @property
    def read_write_ratio(self) -> float:
        return self.read_gb / self.write_gb if self.write_gb > 0 else 0.0


@dataclass(frozen=True)
class CompactionTable:
    levels: list[LevelStats]
    total: LevelStats | None
    line: int
    source: str
    uptime_s: float | None = None

    def level(self, name: str) -> LevelStats | None:
        return next((lv for lv in self.levels if lv.level == name), None)


_HEADER_ALIASES = {
    "read_gb": ("Read(GB)",),
    "rn_gb": ("Rn(GB)",),
    "write_gb": ("Write(GB)",),
    "w_amp": ("W-Amp",),
    "comp_sec": ("Comp(sec)",),
    "comp_merge_cpu_sec": ("CompMergeCPU(sec)",),
    "comp_cnt": ("Comp(cnt)",),
    "moved_gb": ("Moved(GB)",),
    "files": ("Files",),
    "size": ("Size",),
    "key_in": ("KeyIn",),
    "key_drop": ("KeyDrop",),
}
_REQUIRED = ("read_gb", "write_gb", "w_amp", "comp_sec")


def _row_tokens(line: str) -> list[str]:
    """Split a table row, joining '12.3 MB' size pairs into one token like the header."""
    raw = line.split()
    out: list[str] = []
    for token in raw:
        if token in _UNITS and out:
            out[-1] = f"{out[-1]} {token}"
        else:
            out.append(token)
    return out


def _is_row(line: str) -> bool:
    first = line.split(maxsplit=1)[:1]
    return bool(first) and (
        first[0] in ("Sum", "Int") or re.fullmatch(r"L\d+", first[0]) is not None
    )


def _number(token: str) -> float:
    """RocksDB prints counts like 7389K / 11M in KeyIn; plain floats elsewhere."""
    mult = {"K": 1e3, "M": 1e6, "G": 1e9}.get(token[-1:], 1)
    return float(token[:-1] if mult != 1 else token) * mult


def _size(token: str) -> float:
    """'33.68 MB' (a joined size pair, 1024-based like RocksDB prints it) -> bytes."""
    parts = token.split()
    if len(parts) == 2 and parts[1] in _UNITS:
        return float(parts[0]) * _UNITS[parts[1]]
    return float(token)


def parse_compaction_stats(text: str, source: str | Path = "<LOG>") -> list[CompactionTable]:
    """Every per-level ``** Compaction Stats [default] **`` table, in order of appearance.

    Columns are located by header name, so releases that add or drop columns
    (CompMergeCPU, Rblob, ...) parse alike. Priority tables are skipped.
    """
    lines = text.splitlines()
    tables: list[CompactionTable] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        up = re.match(r"^Uptime\(secs\): ([\d.]+) total", line.strip())
        if up and tables and tables[-1].uptime_s is None:
            tables[-1] = CompactionTable(
                tables[-1].levels,
                tables[-1].total,
                tables[-1].line,
                tables[-1].source,
                float(up[1]),
            )
        if not re.match(r"^\*\* Compaction Stats \[default\] \*\*", line.strip()):
            index += 1
            continue
        header_index = index + 1
        if header_index >= len(lines):
            raise ParseError(source, "compaction-stats heading without a table", index + 1)
        header = lines[header_index].split()
        if not header or header[0] != "Level":
            index = header_index
            continue  # the Priority table, or a different layout: not per-level
        columns = {}
        for key, names in _HEADER_ALIASES.items():
            for name in names:
                if name in header:
                    columns[key] = header.index(name)
        missing = [key for key in _REQUIRED if key not in columns]
        if missing:
            raise ParseError(
                source, f"compaction-stats header lacks {', '.join(missing)}", header_index + 1
            )
        levels: list[LevelStats] = []
        total: LevelStats | None = None
        row_index = header_index + 1
        if row_index < len(lines) and set(lines[row_index].strip()) <= {"-"}:
            row_index += 1
        while row_index < len(lines) and _is_row(lines[row_index]):
            tokens = _row_tokens(lines[row_index])
            if len(tokens) != len(header):
                raise ParseError(
                    source,
                    f"compaction-stats row has {len(tokens)} fields, header has {len(header)}",
                    row_index + 1,
                )
            try:
                row = LevelStats(
                    level=tokens[0],
                    read_gb=_number(tokens[columns["read_gb"]]),
                    rn_gb=_number(tokens[columns["rn_gb"]]) if "rn_gb" in columns else 0.0,
                    write_gb=_number(tokens[columns["write_gb"]]),
                    w_amp=_number(tokens[columns["w_amp"]]),
                    comp_sec=_number(tokens[columns["comp_sec"]]),
                    comp_merge_cpu_sec=(
                        _number(tokens[columns["comp_merge_cpu_sec"]])
                        if "comp_merge_cpu_sec" in columns
                        else None
                    ),
                    comp_cnt=int(_number(tokens[columns["comp_cnt"]]))
                    if "comp_cnt" in columns
                    else 0,
                    moved_gb=_number(tokens[columns["moved_gb"]]) if "moved_gb" in columns else 0.0,
                    files=(
                        int(tokens[columns["files"]].split("/")[0]) if "files" in columns else None
                    ),
                    size_bytes=_size(tokens[columns["size"]]) if "size" in columns else None,
                    key_in=_number(tokens[columns["key_in"]]) if "key_in" in columns else None,
                    key_drop=(
                        _number(tokens[columns["key_drop"]]) if "key_drop" in columns else None
                    ),
                )
            except ValueError:
                raise ParseError(
                    source,
                    f"non-numeric compaction-stats field in {lines[row_index].strip()[:60]!r}",
                    row_index + 1,
                ) from None
            if row.level == "Sum":
                total = row
            elif re.fullmatch(r"L\d+", row.level):
                levels.append(row)
            # 'Int' (interval) rows are deliberately ignored: we want cumulative figures.
            row_index += 1
        if not levels and total is None:
            raise ParseError(source, "compaction-stats table has no level rows", header_index + 1)
        tables.append(CompactionTable(levels, total, index + 1, str(source)))
        index = row_index
    return tables


def last_compaction_table(text: str, source: str | Path) -> CompactionTable:
    """The last cumulative table (tables are cumulative; summing dumps would double-count)."""
    tables = parse_compaction_stats(text, source)
    if not tables:
        raise ParseError(source, "no '** Compaction Stats [default] **' table found")
    return tables[-1]


# ------------------------------------------------------------------- DB stats

_STALL_RE = re.compile(r"^Cumulative stall: (\d+):(\d+):([\d.]+) H:M:S, ([\d.]+) percent")
_INGEST_RE = re.compile(r"^Cumulative writes: .* ingest: ([\d.]+) GB")


@dataclass(frozen=True)
class DbStats:
    stall_seconds: float
    stall_percent_reported: float
    ingest_gb: float | None
    line: int


def parse_db_stats(text: str, source: str | Path = "<db_bench>") -> list[DbStats]:
    """``Cumulative stall`` lines (with the ingest of the preceding ``Cumulative writes``)."""
    out = []
    ingest = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        match = _INGEST_RE.match(stripped)
        if match:
            ingest = float(match[1])
            continue
        match = _STALL_RE.match(stripped)
        if match:
            seconds = int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3])
            out.append(DbStats(seconds, float(match[4]), ingest, number))
    return out


# ------------------------------------------------------------ time series etc.


def parse_report_csv(text: str, source: str | Path = "<report.csv>") -> list[tuple[float, float]]:
    """db_bench ``--report_file``: ``secs_elapsed,interval_qps`` rows."""
    reader = csv.reader(io.StringIO(text))
    rows: list[tuple[float, float]] = []
    for number, row in enumerate(reader, 1):
        if not row or (number == 1 and row[0].strip() == "secs_elapsed"):
            continue
        try:
            rows.append((float(row[0]), float(row[1])))
        except (ValueError, IndexError):
            raise ParseError(
                source, f"expected 'secs_elapsed,interval_qps', got {row!r}", number
            ) from None
    return rows


def parse_json_file(path: Path) -> dict:
    text = read_text(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(path, f"invalid JSON: {exc.msg}", exc.lineno) from None
    if not isinstance(doc, dict):
        raise ParseError(path, "expected a JSON object", 1)
    return doc


# ------------------------------------------------------------------ LOG options

_OPTION_RE = re.compile(r"\bOptions\.([\w\[\]]+)\s*:\s*(\S+)\s*$")


def parse_options(text: str) -> dict[str, str]:
    """``Options.<name>: <value>`` lines of a RocksDB LOG (the first value of each name)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        match = _OPTION_RE.search(line)
        if match and match[1] not in out:
            out[match[1]] = match[2]
    return out


_KEEP_RE = re.compile(
    r"(\bOptions\.(level0_|max_bytes_for_level_|num_levels|level_compaction_dynamic|"
    r"write_buffer_size|target_file_size_base|max_background_)|^Uptime\(secs\)|"
    r"^Cumulative stall)"
)


def trim_log(text: str) -> str:
    """What the calibration reads from a RocksDB LOG, nothing else: the LSM options, every
    per-level compaction-stats table with the uptime line that dates it, and the stall
    lines. A LOG dumped every second with --statistics is megabytes; this is a few
    percent of it, and parses the same (parse_compaction_stats, parse_options)."""
    out: list[str] = []
    in_table = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("** Compaction Stats [default] **"):
            heading = line
            in_table = True
            continue
        if in_table:
            if stripped.startswith("Level"):
                out.extend([heading, line])
                continue
            if stripped.startswith("Priority"):
                in_table = False
                continue
            if set(stripped) <= {"-"} and stripped:
                continue
            if _is_row(line) and not stripped.startswith("Int"):
                out.append(line)
                continue
            in_table = False
        if _KEEP_RE.search(stripped):
            out.append(line)
    return "\n".join(out) + "\n"
