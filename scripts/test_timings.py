"""The timing table scripts/test.sh prints last: each stage's seconds, then the ten slowest
tests of every pytest run (JUnit reports; a test's time includes its fixtures' set-up, so the
test that first asks for the lab carries site.yml), then one line of totals over all runs.

    python scripts/test_timings.py STAGES_TSV [JUNIT_XML ...]
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

SLOWEST = 10


def stages(path: Path) -> list[tuple[str, float, int]]:
    rows = []
    for line in path.read_text().splitlines():
        name, seconds, status = line.split("\t")
        rows.append((name, float(seconds), int(status)))
    return rows


def tests(reports: list[Path]) -> list[tuple[float, str]]:
    out = []
    for report in reports:
        if not report.exists() or report.stat().st_size == 0:
            continue
        for case in ET.parse(report).iter("testcase"):
            name = f"{case.get('classname', '')}::{case.get('name', '')}".lstrip(":")
            out.append((float(case.get("time") or 0), f"[{report.stem}] {name}"))
    return sorted(out, reverse=True)[:SLOWEST]


def counts(reports: list[Path]) -> tuple[int, int, int]:
    """(passed, failed, skipped) over every JUnit report; errors count as failed."""
    passed = failed = skipped = 0
    for report in reports:
        if not report.exists() or report.stat().st_size == 0:
            continue
        for suite in ET.parse(report).iter("testsuite"):
            total, bad = int(suite.get("tests", 0)), int(suite.get("failures", 0))
            bad += int(suite.get("errors", 0))
            skip = int(suite.get("skipped", 0))
            passed, failed, skipped = passed + total - bad - skip, failed + bad, skipped + skip
    return passed, failed, skipped


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def main(argv: list[str]) -> int:
    rows = stages(Path(argv[1]))
    print("\n=== test: timing (seconds)")
    width = max((len(name) for name, _, _ in rows), default=5)
    for name, seconds, status in rows:
        outcome = "ok" if status == 0 else f"FAILED (exit {status})"
        print(f"  {name:<{width}}  {seconds:8.1f}  {minutes(seconds):>8}  {outcome}")
    total = sum(seconds for _, seconds, _ in rows)
    print(f"  {'total':<{width}}  {total:8.1f}  {minutes(total):>8}")
    reports = [Path(arg) for arg in argv[2:]]
    slowest = tests(reports)
    if slowest:
        print(f"=== test: the {len(slowest)} slowest tests (seconds, fixtures included)")
        for seconds, name in slowest:
            print(f"  {seconds:8.1f}  {name}")
    passed, failed, skipped = counts(reports)
    print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
