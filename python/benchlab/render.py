"""The kit's one set of number formatters and its one markdown renderer.

Every report (the run report, the calibration report, the scale-out report) is a jinja2
template in `benchlab/templates/` rendered by `render_template`, with these formatters as
its filters: `num`, `pct`, `mib`, `seconds`, `value`. Markdown templates (`*.md.j2`) are rendered
as they are; HTML templates (`*.html.j2`, report.html) are autoescaped.

Missing values: None and NaN (what Prometheus answers for 0/0) print as "n/a"; an infinite
value is a value (a bound the model leaves open) and prints as "inf" / "-inf". Numbers carry
thousands separators ("1,234.5").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

MISSING = "n/a"
BYTES_PER_MIB = 1024**2


def is_missing(value: Any) -> bool:
    """None or NaN: a figure that was not measured."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_num(value: Any, digits: int = 0, *, signed: bool = False) -> str:
    """1234.5 -> '1,234.5' (`digits` decimals; `signed` adds '+' to positive values).

    Anything that is not a number (a string, a name) is printed as it is.
    """
    if is_missing(value):
        return MISSING
    if isinstance(value, int | float):
        sign = "+" if signed else ""
        return f"{value:{sign},.{digits}f}"
    return str(value)


def fmt_value(value: Any) -> str:
    """A setting as it was given: yes/no, 1,234, 0.99, a name; no rounding of a fraction."""
    if is_missing(value):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.6g}"
    return fmt_num(value)


def fmt_pct(fraction: Any, digits: int = 2, *, signed: bool = False) -> str:
    """A fraction as a percentage: 0.1234 -> '12.34 %'."""
    if is_missing(fraction):
        return MISSING
    return f"{fmt_num(fraction * 100, digits, signed=signed)} %"


def fmt_mib(num_bytes: Any, digits: int = 0) -> str:
    """Bytes in MiB: 3 * 2**20 -> '3 MiB'."""
    if is_missing(num_bytes):
        return MISSING
    return f"{fmt_num(num_bytes / BYTES_PER_MIB, digits)} MiB"


def fmt_seconds(seconds: Any, digits: int = 1) -> str:
    """A duration in seconds: 4.21 -> '4.2 s'."""
    if is_missing(seconds):
        return MISSING
    return f"{fmt_num(seconds, digits)} s"


FILTERS: Mapping[str, Callable[..., str]] = MappingProxyType(
    {"num": fmt_num, "pct": fmt_pct, "mib": fmt_mib, "seconds": fmt_seconds, "value": fmt_value}
)


def template_environment() -> Environment:
    """The environment every report template is rendered in (templates from the package)."""
    env = Environment(
        loader=PackageLoader("benchlab", "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # markdown is written as it is; report.html's templates escape every value
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
    )
    env.filters.update(FILTERS)
    return env


def render_template(name: str, context: Mapping[str, Any]) -> str:
    """Render the packaged template `benchlab/templates/<name>` with `context`."""
    return template_environment().get_template(name).render(**context)
