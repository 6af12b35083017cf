"""A Prometheus stand-in that answers from a run's saved series: metrics/<name>.csv for the
range queries, run.json's `metrics` for OOM kills and restarts. With it `benchlab report`'s
code path runs in full on a run folder, with no Prometheus."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from benchlab.metrics import INCREASE_QUERIES, RANGE_QUERIES, RATE, read_series_csv

RATE_WINDOW = "30s"  # benchlab.metrics.collect's default


class SavedMetrics:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.names = {q.replace(RATE, RATE_WINDOW): name for name, q in RANGE_QUERIES.items()}
        run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        self.services = ((run.get("metrics") or {}).get("services") or {}).values()

    def custom_query_range(
        self, query: str, start_time: datetime, end_time: datetime, step: str
    ) -> list[dict[str, Any]]:
        name = self.names.get(query)
        if name is None:
            return []
        return [
            {"metric": s["metric"], "values": [[t, str(v)] for t, v in s["values"]]}
            for s in read_series_csv(self.run_dir / "metrics" / f"{name}.csv")
        ]

    def custom_query(
        self, query: str, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        at = (params or {}).get("time", 0)
        for figure, metric in INCREASE_QUERIES.items():
            if metric in query:
                return [
                    {
                        "metric": {"service": e["service"], "host": e.get("host", "")},
                        "value": [at, str(e[figure])],
                    }
                    for e in self.services
                    if e.get(figure) is not None
                ]
        return []
