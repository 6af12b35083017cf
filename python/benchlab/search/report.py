"""The search's report: report.md with the conclusion, search.png, search.json completed, and
report.html (benchlab.report_html)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchlab.config import parse_config
from benchlab.render import render_template
from benchlab.report_html import html_or_warning, write_search_html
from benchlab.results import (
    PARTIAL_MARKER,
    SEARCH_FILE,
    read_json,
    utc_iso,
    write_json,
    write_text_atomic,
)
from benchlab.search.conclusion import conclusion

PLOT_FILE = "search.png"


def plot(doc: dict[str, Any], path: Path) -> bool:
    """Stored throughput and p99 against offered load, every system on the same axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # a trial run again with more writers (the client was behind) is not a point of the curve
    trials = [t for t in doc.get("trials") or [] if not t.get("more_writers")]
    if not trials:
        return False
    fig, (ax_rate, ax_p99) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name in dict.fromkeys(t["target"] for t in trials):
        mine = sorted((t for t in trials if t["target"] == name), key=lambda t: t["rate"])
        rates = [t["rate"] for t in mine]
        stored = [t["verdict"]["stored_per_s"] for t in mine]
        p99 = [t["verdict"]["p99_ms"] for t in mine]
        (line,) = ax_rate.plot(rates, stored, marker="o", label=name)
        colour = line.get_color()
        failed = [
            (r, s)
            for r, s, t in zip(rates, stored, mine, strict=True)
            if not t["verdict"]["sustainable"]
        ]
        if failed:
            ax_rate.scatter(*zip(*failed, strict=True), marker="x", s=80, color=colour)
        points = [(r, p) for r, p in zip(rates, p99, strict=True) if p is not None]
        if points:
            ax_p99.plot(*zip(*points, strict=True), marker="o", color=colour, label=name)
    top = max(t["rate"] for t in trials)
    ax_rate.plot([0, top], [0, top], linestyle=":", color="grey", label="stored = offered")
    for ax, title, unit in ((ax_rate, "stored throughput", "records/s"), (ax_p99, "p99", "ms")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("offered load (records/s)")
        ax.set_ylabel(f"{title} ({unit})")
        ax.set_title(f"{title} against offered load (x: failed trial)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_search_report(search_dir: Path, doc: dict[str, Any] | None = None) -> Path:
    """report.md and search.png from search.json (or `doc`, its contents in memory, which
    gains the conclusion); search.json is rewritten with the conclusion; then report.html."""
    if doc is None:
        doc = read_json(search_dir / SEARCH_FILE)
    config = parse_config(doc["config"])
    answer = conclusion(config, doc)
    has_plot = plot(doc, search_dir / PLOT_FILE)
    context = {
        "doc": doc,
        "s": doc["settings"],
        "c": answer,
        "plot": PLOT_FILE if has_plot else None,
        "partial": (search_dir / PARTIAL_MARKER).exists(),
        "generated": utc_iso(),
    }
    write_text_atomic(search_dir / "report.md", render_template("search.md.j2", context))
    doc["conclusion"] = answer
    write_json(search_dir / SEARCH_FILE, doc)
    html_or_warning(lambda: write_search_html(search_dir, context))
    return search_dir / "report.md"
