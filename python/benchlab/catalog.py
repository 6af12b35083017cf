"""What is under results/: one summary per directory of any kind (`benchlab results list`).

Kinds: a phase run (run.json), a search (search.json), a soak (soak.json), a scale-out report
(scaleout-<id>/report.json), a calibration (calibration-<id>/<host>/report.json) and a
comparison (compare-<id>/compare.json). Each summary holds the kind, the phase, the targets,
the headline figure per target (a phase run's throughput after the warm-up, a search's
sustainable rate) and the data verdict per target (a run's `data_verdict`; a search's from
its trials' audits, benchlab.search.judge.data_failures). Unreadable directories are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchlab.render import fmt_mib, fmt_num
from benchlab.results import (
    PARTIAL_MARKER,
    RUN_FILE,
    SEARCH_FILE,
    ResultsError,
    read_json,
)
from benchlab.search.judge import data_failures

COMPARE_FILE = "compare.json"
SOAK_FILE = "soak.json"  # benchlab.soak.run.SOAK_FILE
REPORT_FILE = "report.json"
PASS, FAIL = "PASS", "FAIL"


@dataclass
class Entry:
    """One results directory, summarised."""

    id: str
    kind: str  # run, search, soak, scaleout, calibration, compare
    path: str
    phase: str | None = None
    status: str | None = None
    created: str | None = None
    targets: list[str] = field(default_factory=list)
    headline_label: str = ""  # what `headline` measures
    headline: dict[str, float | None] = field(default_factory=dict)  # target -> records/s
    summary: str = ""  # the headline in words, for kinds without one figure per target
    data_verdict: dict[str, str] = field(default_factory=dict)  # target -> PASS / FAIL
    criteria: dict[str, str] = field(default_factory=dict)  # phase runs: target -> overall

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def headline_text(self) -> str:
        if self.summary:
            return self.summary
        figures = ", ".join(f"{t}: {fmt_num(v)}" for t, v in self.headline.items())
        return f"{self.headline_label} {figures}" if figures else "n/a"


def _record(path: Path, doc: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """What a run.json and a search.json both say of themselves."""
    status = str(doc.get("status") or "unknown")
    return {
        "id": str(doc.get("run_id") or path.name),
        "kind": kind,
        "path": str(path),
        "phase": doc.get("phase"),
        "status": status + (" (PARTIAL)" if (path / PARTIAL_MARKER).exists() else ""),
        "created": doc.get("created"),
    }


def run_entry(path: Path, run: Mapping[str, Any]) -> Entry:
    figures = run.get("figures") or {}
    verdicts = run.get("data_verdict") or {
        t: f["data_verdict"] for t, f in figures.items() if f.get("data_verdict")
    }
    return Entry(
        **_record(path, run, "run"),
        targets=list(run.get("targets") or []),
        headline_label="throughput/s",
        headline={t: f.get("throughput_per_s") for t, f in figures.items()},
        data_verdict={t: str(v.get("status")) for t, v in verdicts.items()},
        criteria={t: str(f.get("overall")) for t, f in figures.items()},
    )


def search_entry(path: Path, doc: Mapping[str, Any]) -> Entry:
    found = doc.get("targets") or {}
    trials = doc.get("trials") or []
    return Entry(
        **_record(path, doc, "search"),
        targets=[str(t.get("name")) for t in (doc.get("config") or {}).get("targets") or []],
        headline_label="sustainable/s",
        headline={t: f.get("sustainable_per_s") for t, f in found.items()},
        data_verdict={t: FAIL if data_failures(trials, t) else PASS for t in found},
    )


def soak_entry(path: Path, doc: Mapping[str, Any]) -> Entry:
    """A soak: the offered rate per target, and per target its memory and latency verdicts."""
    found = doc.get("targets") or {}
    verdicts = doc.get("data_verdict") or {}
    words = []
    for t, f in found.items():
        memory = ", ".join(
            f"{key} {fmt_num(m.get('slope_mib_per_h'), 1, signed=True)} MiB/h"
            for key, m in (f.get("memory") or {}).items()
        )
        words.append(
            f"{t} {fmt_num(f.get('offered_per_s'))}/s: {f.get('leak', 'not judged')}"
            + (f" ({memory})" if memory else "")
            + f", latency {(f.get('latency') or {}).get('verdict', 'not judged')}"
        )
    return Entry(
        **_record(path, doc, "soak"),
        targets=[str(t.get("name")) for t in (doc.get("config") or {}).get("targets") or []],
        headline_label="offered/s",
        headline={t: f.get("offered_per_s") for t, f in found.items()},
        summary="; ".join(words),
        data_verdict={t: str(v.get("status")) for t, v in verdicts.items()},
    )


def scaleout_entry(path: Path, doc: Mapping[str, Any]) -> Entry:
    answer = doc.get("answer") or {}
    rates = ", ".join(
        f"{row.get('workers')} worker(s): "
        f"{fmt_num(row.get('sustainable_per_s', row.get('stored_per_s')))}"
        for row in doc.get("per_count") or []
    )
    what = "sustainable/s" if doc.get("kind") == "search" else "stored/s"
    return Entry(
        id=path.name,
        kind="scaleout",
        path=str(path),
        phase="search" if doc.get("kind") == "search" else None,
        status="partial" if doc.get("partial") else "complete",
        created=doc.get("generated"),
        targets=[str(doc.get("target"))],
        summary=f"{answer.get('verdict', '?')}; {what} {rates}" if rates else "",
    )


def calibration_entry(path: Path) -> Entry | None:
    hosts = {}
    for report in sorted(path.glob(f"*/{REPORT_FILE}")):
        doc = read_json(report)
        if isinstance(doc, dict) and isinstance(doc.get("device"), dict):
            hosts[report.parent.name] = doc["device"].get("B_w")
    if not hosts and not (path / "report.md").is_file():
        return None
    return Entry(
        id=path.name,
        kind="calibration",
        path=str(path),
        status="complete" if hosts else "no host report",
        targets=list(hosts),
        summary="; ".join(f"{h}: B_w {fmt_mib(bw * 2**20, 1)}/s" for h, bw in hosts.items()),
    )


def compare_entry(path: Path, doc: Mapping[str, Any]) -> Entry:
    sides = doc.get("sides") or []
    lines = []
    for t in doc.get("targets") or []:
        head = next((r for r in t.get("rows") or [] if r.get("key") == t.get("headline")), None)
        for vs, noise in zip((head or {}).get("vs") or [], t.get("noise") or [], strict=False):
            lines.append(f"{t['target']} {vs['label']} vs A {vs['shown']} ({noise['status']})")
    return Entry(
        id=path.name,
        kind="compare",
        path=str(path),
        phase=", ".join(dict.fromkeys(str(s.get("phase")) for s in sides)) or None,
        status=f"{len(sides)} {doc.get('kind', '?')}s",
        created=doc.get("generated"),
        targets=[str(t.get("target")) for t in doc.get("targets") or []],
        summary="; ".join(lines),
    )


# What a directory holds, by the file that marks it (first match wins).
READERS: tuple[tuple[str, Callable[[Path, Any], Entry]], ...] = (
    (RUN_FILE, run_entry),
    (SEARCH_FILE, search_entry),
    (SOAK_FILE, soak_entry),
    (COMPARE_FILE, compare_entry),
)


def entry(path: Path) -> Entry | None:
    """The summary of one results directory, or None when it is none of the kinds."""
    try:
        for name, reader in READERS:
            doc = read_json(path / name)
            if isinstance(doc, dict):
                return reader(path, doc)
        if path.name.startswith("scaleout-"):
            doc = read_json(path / REPORT_FILE)
            return scaleout_entry(path, doc) if isinstance(doc, dict) else None
        if path.name.startswith("calibration-"):
            return calibration_entry(path)
    except (ResultsError, AttributeError, KeyError, TypeError, ValueError):
        return None
    return None


def list_results(root: Path) -> list[Entry]:
    """Every results directory under root, by name (oldest first: ids start with UTC time)."""
    if not root.is_dir():
        return []
    found = (entry(p) for p in sorted(root.iterdir()) if p.is_dir())
    return [e for e in found if e is not None]
