from __future__ import annotations

from benchlab.audit import AuditResult, audit_in_memory
from benchlab.seqranges import RangeSet


def test_rangeset_merges_adjacent_and_overlapping() -> None:
    rs = RangeSet()
    rs.add(100, 50)
    rs.add(0, 100)
    rs.add(200, 10)
    rs.add(205, 10)  # overlaps
    assert rs.ranges() == [(0, 150), (200, 15)]
    assert rs.total() == 165
    assert 149 in rs and 150 not in rs and 214 in rs
    assert RangeSet.from_json(rs.to_json()).ranges() == rs.ranges()


def test_audit_arithmetic() -> None:
    acked = RangeSet([(0, 100), (200, 100)])  # 200 acknowledged
    found = [s for s in range(100) if s != 5]  # 5 lost
    found += list(range(200, 300))
    found += [7, 7, 250]  # seq 7 three times (2 extra), 250 twice (1 extra)
    found += [150, 151]  # written but never acknowledged
    r = audit_in_memory("postgresql", acked, found)
    assert r.acknowledged == 200
    assert r.rows_found == 99 + 100 + 3 + 2
    assert r.lost == 1 and r.lost_examples == [5]
    assert r.duplicates == 3 and r.duplicate_examples == [7, 250]
    assert r.unacknowledged_present == 2
    assert not r.ok
    d = r.as_dict()
    assert d["lost"] == 1 and d["found"] == 204 and d["ok"] is False


def test_clean_audit_is_ok() -> None:
    r = AuditResult("pg", acknowledged=10, rows_found=10, distinct_found=10, acked_found=10)
    assert r.ok and r.lost == 0 and r.duplicates == 0 and r.unacknowledged_present == 0
