"""Parsers on fixed samples: db_bench 7.8.3 (real output of this kit), an older
release's format, fio JSON, and garbage (ParseError naming file and line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchlab.calibration.parsers import (
    ParseError,
    db_bench_summary,
    last_compaction_table,
    parse_compaction_stats,
    parse_db_bench_summaries,
    parse_db_stats,
    parse_fio_json,
    parse_report_csv,
    parse_statistics,
)

SAMPLES = Path(__file__).parent / "samples"
NEW = SAMPLES / "db_bench-7.8.3.stdout"
OLD = SAMPLES / "db_bench-old.stdout"


def text(path: Path) -> str:
    return path.read_text()


def test_summary_new_form() -> None:
    s = db_bench_summary(text(NEW), NEW)
    assert s.ops_per_sec == 61200
    assert s.seconds == pytest.approx(4.085)
    assert s.operations == 250000
    assert s.mib_per_sec == pytest.approx(59.3)
    assert s.micros_per_op == pytest.approx(16.338)


def test_summary_old_form() -> None:
    s = db_bench_summary(text(OLD), OLD)
    assert s.ops_per_sec == 195198
    assert s.seconds is None and s.operations is None
    assert s.mib_per_sec == pytest.approx(189.6)


def test_summary_both_forms_inline() -> None:
    lines = (
        "fillseq      :       2.000 micros/op 500000 ops/sec;  480.0 MB/s\n"
        "overwrite    :       4.000 micros/op 250000 ops/sec 8.000 seconds 2000000 operations;"
        "  240.0 MB/s (1000 of 2000 found)\n"
    )
    found = parse_db_bench_summaries(lines, "inline")
    assert [s.name for s in found] == ["fillseq", "overwrite"]
    assert found[1].operations == 2000000
    assert found[1].mib_per_sec == 240.0


def test_statistics_block() -> None:
    stats = parse_statistics(text(NEW), NEW)
    assert stats.get("rocksdb.number.keys.written") == 250000
    assert stats.get("rocksdb.flush.write.bytes") > 0
    write = stats.histograms["rocksdb.db.write.micros"]
    assert write["COUNT"] == 250000
    assert {"P50", "P95", "P99", "P100", "SUM"} <= set(write)
    old = parse_statistics(text(OLD), OLD)
    assert old.get("rocksdb.memtable.payload.bytes.at.flush") == 1073741824


def test_compaction_stats_new_takes_last_cumulative_block() -> None:
    tables = parse_compaction_stats(text(NEW), NEW)
    assert len(tables) == 2  # Priority tables are skipped
    last = last_compaction_table(text(NEW), NEW)
    assert last == tables[-1]
    assert [lv.level for lv in last.levels] == ["L0", "L1", "L2"]
    l1 = last.level("L1")
    assert l1.comp_sec == pytest.approx(4.18)
    assert l1.comp_merge_cpu_sec == pytest.approx(1.95)
    assert l1.w_amp == pytest.approx(2.1)
    assert l1.read_gb == pytest.approx(0.3)
    assert last.total.comp_sec == pytest.approx(6.52)  # not 5.04 + 6.52
    assert last.total.w_amp == pytest.approx(3.3)


def test_compaction_stats_old_header_mapped_by_name() -> None:
    table = last_compaction_table(text(OLD), OLD)
    assert [lv.level for lv in table.levels] == ["L0", "L1", "L2"]
    l1 = table.level("L1")
    assert (l1.read_gb, l1.rn_gb, l1.write_gb, l1.w_amp, l1.comp_sec, l1.comp_cnt) == (
        0.9,
        0.4,
        0.8,
        2.0,
        6.0,
        2,
    )
    assert l1.comp_merge_cpu_sec is None  # column absent in that release
    assert table.total.w_amp == 3.0
    assert table.uptime_s == pytest.approx(5.2)


def test_db_stats_stall() -> None:
    stalls = parse_db_stats(text(NEW), NEW)
    assert stalls[0].stall_seconds == pytest.approx(0.507)
    assert stalls[0].stall_percent_reported == pytest.approx(12.4)
    old = parse_db_stats(text(OLD), OLD)
    assert old[-1].stall_seconds == pytest.approx(1.2)


def test_fio_json() -> None:
    path = SAMPLES / "fio-write.json"
    result = parse_fio_json(text(path), path)
    assert result.write_bw_bytes > 0
    assert result.read_bw_bytes == 0
    assert result.write_mib_s == pytest.approx(result.write_bw_bytes / 1048576)


def test_fio_json_with_leading_warning() -> None:
    doc = (
        '{"fio version": "fio-3.33", '
        '"jobs": [{"read": {"bw_bytes": 10}, "write": {"bw_bytes": 20}}]}'
    )
    result = parse_fio_json("fio: some warning\n" + doc, "x.json")
    assert (result.read_bw_bytes, result.write_bw_bytes) == (10, 20)


def test_report_csv() -> None:
    rows = parse_report_csv("secs_elapsed,interval_qps\n1,100\n2,200\n", "r.csv")
    assert rows == [(1.0, 100.0), (2.0, 200.0)]


@pytest.mark.parametrize(
    ("call", "content", "where"),
    [
        (parse_fio_json, "not json at all", "g.txt:1"),
        (parse_fio_json, '{"jobs": [\n{"read": \n', "g.txt:3"),
        (parse_fio_json, '{"jobs": [{"read": {}}]}', "g.txt"),
        (lambda t, s: db_bench_summary(t, s), "garbage\n\x00\xff\n", "g.txt"),
        (parse_statistics, "STATISTICS:\nrocksdb.foo COUNT : nope\n", "g.txt:2"),
        (parse_statistics, "nothing here", "g.txt"),
        (parse_report_csv, "secs_elapsed,interval_qps\n1,abc\n", "g.txt:2"),
        (
            parse_compaction_stats,
            "** Compaction Stats [default] **\nLevel Files Size Score\n---\n  L0 1/0 1.0 MB 0.0\n",
            "g.txt:2",
        ),
        (
            parse_compaction_stats,
            (
                "** Compaction Stats [default] **\nLevel Read(GB) Write(GB) W-Amp Comp(sec)\n"
                "-----\n  L0 0.0 x 1.0 2.0\n"
            ),
            "g.txt:4",
        ),
        (
            parse_compaction_stats,
            (
                "** Compaction Stats [default] **\nLevel Read(GB) Write(GB) W-Amp Comp(sec)\n"
                "-----\n  L0 0.0 1.0 2.0\n"
            ),
            "g.txt:4",
        ),
    ],
)
def test_garbage_gives_parse_error_with_file_and_line(call, content: str, where: str) -> None:
    with pytest.raises(ParseError) as info:
        call(content, "g.txt")
    assert str(info.value).startswith(where + ":")
