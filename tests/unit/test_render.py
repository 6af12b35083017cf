"""The kit's one set of number formatters and the renderer every report goes through."""

from __future__ import annotations

import pytest
from jinja2 import UndefinedError

from benchlab.render import (
    fmt_mib,
    fmt_num,
    fmt_pct,
    fmt_seconds,
    render_template,
    template_environment,
)

NAN = float("nan")
INF = float("inf")


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (1234.56, 1, "1,234.6"),
        (1234, 0, "1,234"),
        (0.0, 2, "0.00"),
        (-3.25, 1, "-3.2"),
        (None, 1, "n/a"),
        (NAN, 1, "n/a"),
        (INF, 1, "inf"),
        (-INF, 1, "-inf"),
        ("worker1", 1, "worker1"),
    ],
)
def test_numbers_have_separators_missing_is_na(value: object, digits: int, expected: str) -> None:
    assert fmt_num(value, digits) == expected


def test_signed_numbers_and_percentages() -> None:
    assert fmt_num(728.66, 1, signed=True) == "+728.7"
    assert fmt_num(-8.8, 1, signed=True) == "-8.8"
    assert fmt_pct(0.027, 1, signed=True) == "+2.7 %"
    assert fmt_pct(-0.3, 1, signed=True) == "-30.0 %"


def test_percent_mib_and_seconds() -> None:
    assert fmt_pct(0.9) == "90.00 %"
    assert fmt_pct(0.1, 0) == "10 %"
    assert fmt_mib(1536 * 1024**2) == "1,536 MiB"
    assert fmt_mib(2.5 * 1024**2, 1) == "2.5 MiB"
    assert fmt_seconds(4.21) == "4.2 s"
    assert fmt_seconds(1.4789, 2) == "1.48 s"
    for fmt in (fmt_pct, fmt_mib, fmt_seconds):
        assert fmt(None) == "n/a"
        assert fmt(NAN) == "n/a"


@pytest.mark.parametrize("name", ["report.md.j2", "scaleout.md.j2", "scaleout_search.md.j2"])
def test_every_report_template_is_packaged_and_compiles(name: str) -> None:
    assert name in template_environment().list_templates()
    template_environment().get_template(name)


def test_templates_get_the_formatters_as_filters_and_refuse_unknown_names() -> None:
    env = template_environment()
    assert {"num", "pct", "mib", "seconds"} <= set(env.filters)
    source = "{{ x | num(1) }} / {{ r | pct(1) }} / {{ b | mib }} / {{ t | seconds }}"
    text = env.from_string(source).render(x=1234.5, r=0.5, b=2 * 1024**2, t=None)
    assert text == "1,234.5 / 50.0 % / 2 MiB / n/a"
    with pytest.raises(UndefinedError):
        render_template("calibration_run.md.j2", {})
