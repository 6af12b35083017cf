"""The soak's settings: the run configuration's `soak` object.

bench.yml renders it from group_vars/all/soak.yml (`benchlab_soak`: the analysis and the leak
rule, the one place of those values) plus what preflight resolved (benchlab.runparams: the
fraction and each target's rate, benchlab.soak.plan). Every key is required: the defaults are
soak.yml's, not repeated here.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import Any

from benchlab import fields

# Bounds of each number (benchlab.fields.number's keywords).
BOUNDS: dict[str, dict[str, Any]] = {
    "fraction": {"minimum": 0, "exclusive_min": True, "maximum": 1},
    "step_s": {"minimum": 1, "maximum": 600},
    "window_s": {"minimum": 0.1, "maximum": 3600},
    "min_points": {"minimum": 3, "maximum": 10_000, "integer": True},
    "min_span_s": {"minimum": 0},
    "leak_min_slope_mib_per_h": {"minimum": 0},
    "leak_limit_pct_per_h": {"minimum": 0, "maximum": 100},
    "leak_min_r2": {"minimum": 0, "maximum": 1},
    "leak_tail_share": {"minimum": 0, "maximum": 1},
    "drift_ratio": {"minimum": 1},
    "drift_min_ms": {"minimum": 0},
    "drift_min_r2": {"minimum": 0, "maximum": 1},
}
RATE_KEYS = (
    "rate_per_s",
    "source",
    "search_id",
    "sustainable_per_s",
    "fraction",
    "search_created",
    "writers",
)


@dataclass(frozen=True)
class SoakSettings:
    """docs/architecture.md, "Soak": what each value means and why it has its default."""

    # share of the sustainable rate offered (informative once the rates are resolved)
    fraction: float
    # Prometheus range-query step of the memory series (seconds)
    step_s: float
    # latency: p99 per window of this many seconds of due time
    window_s: float
    # fewer points than this after the warm-up, or a shorter measured span: not judged
    min_points: int
    min_span_s: float
    # the leak rule (analysis.LeakRule)
    leak_min_slope_mib_per_h: float
    leak_limit_pct_per_h: float
    leak_min_r2: float
    leak_tail_share: float
    # latency drift: last quarter's p99 >= drift_ratio x the first's and >= drift_min_ms more
    drift_ratio: float
    drift_min_ms: float
    drift_min_r2: float
    # target -> {rate_per_s, source, search_id, sustainable_per_s, fraction, search_created}
    rates: dict[str, dict[str, Any]]

    @classmethod
    def parse(cls, data: Any, prefix: str = "soak") -> SoakSettings:
        if not isinstance(data, dict):
            raise fields.ConfigError(
                prefix, "is missing", "render the configuration with -e phase=soak"
            )
        fields.refuse_unknown(data, prefix, cls)
        values: dict[str, Any] = {}
        for f in dataclass_fields(cls):
            if f.name == "rates":
                continue
            bounds = dict(BOUNDS[f.name])
            integer = bool(bounds.pop("integer", False))
            values[f.name] = fields.number(data, prefix, f.name, integer=integer, **bounds)
        rates = fields.mapping(data, prefix, "rates")
        parsed: dict[str, dict[str, Any]] = {}
        for name, entry in rates.items():
            where = f"{prefix}.rates.{name}"
            if not isinstance(entry, dict):
                raise fields.ConfigError(where, "must be an object", "give rate_per_s and source")
            fields.refuse_unknown(entry, where, RATE_KEYS)
            parsed[str(name)] = {
                **entry,
                "rate_per_s": fields.number(
                    entry, where, "rate_per_s", minimum=0, exclusive_min=True
                ),
                "source": fields.string(entry, where, "source"),
            }
        return cls(rates=parsed, **values)

    def rate(self, target: str) -> dict[str, Any]:
        """The target's resolved rate; ConfigError when preflight did not resolve one."""
        if target not in self.rates:
            raise fields.ConfigError(
                f"soak.rates.{target}",
                "is missing",
                "render the configuration with bench.yml -e phase=soak (preflight resolves it)",
            )
        return self.rates[target]

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclass_fields(self)}
