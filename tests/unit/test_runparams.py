"""benchlab.runparams: the one reader of phases.yml and the one set of run-parameter bounds.

The messages are preflight's (tests/integration/test_preflight*.py look for them in the
ansible-playbook output); here each is pinned whole, with every bound and the accepted form
of an -e value.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from benchlab.config import ConfigError, parse_load
from benchlab.runparams import (
    BOUND_BY_KEY,
    BOUNDS,
    OVERRIDABLE,
    PG_DEFAULT_METHOD,
    PG_METHODS,
    Bound,
    ParamError,
    PhaseTable,
    load_phases,
    main,
    parse_phases,
    resolve,
)

REPO = Path(__file__).resolve().parents[2]
TARGETS = ["postgresql", "pipeline"]
TWO_WORKERS = {"hdfs_datanodes": 2, "spark_workers": 2}
BY_NAME = {b.name: b for b in BOUNDS}


@pytest.fixture(scope="module")
def kit() -> PhaseTable:
    return load_phases(REPO)


def error(phases: PhaseTable, phase: str = "smoke", **overrides: str) -> str:
    with pytest.raises(ParamError) as caught:
        resolve(phases, phase, overrides, available_targets=TARGETS, worker_groups=TWO_WORKERS)
    return str(caught.value)


# -- the kit's phase table --------------------------------------------------------------------
def test_the_kit_phases_load_and_resolve(kit: PhaseTable) -> None:
    assert kit.names() == ["smoke", "1", "2", "3", "search", "soak"]
    for name in kit.names():
        params = resolve(kit, name)
        assert params.phase == name
        assert params.pg_write_method == PG_DEFAULT_METHOD
    two = resolve(kit, "2")
    assert (two.batch_size, two.interval_s, two.duration_s, two.record_bytes) == (
        1000,
        0.6,
        600.0,
        300,
    )
    assert two.rate_per_s == pytest.approx(1000 / 0.6)
    assert two.records == 1_000_000
    assert kit.rate_per_s("3") == pytest.approx(5000 / 0.3)


# -- preflight's messages, word for word ------------------------------------------------------
@pytest.mark.parametrize(
    ("phase", "overrides", "message"),
    [
        (
            "7",
            {},
            "phase '7' is unknown; use -e phase=<one of smoke, 1, 2, 3, search, soak>"
            " (defined in group_vars/all/phases.yml).",
        ),
        (
            "2",
            {"duration": "abc"},
            "-e duration=abc is not a positive number; pass e.g. -e duration=600.",
        ),
        (
            "2",
            {"batch_size": "-5"},
            "-e batch_size=-5 is not a positive integer; pass e.g. -e batch_size=1000.",
        ),
        (
            "2",
            {"interval": "0"},
            "-e interval=0 is not a positive number; pass e.g. -e interval=0.6.",
        ),
        (
            "smoke",
            {"record_bytes": "1.5"},
            "-e record_bytes=1.5 is not a positive integer; pass e.g. -e record_bytes=300.",
        ),
        (
            "smoke",
            {"pg_write_method": "upsert"},
            "-e pg_write_method=upsert is unknown; use one of insert, executemany, copy.",
        ),
        (
            "smoke",
            {"target": "mongodb"},
            "-e target=mongodb is not available; use one of postgresql, pipeline or all.",
        ),
        (
            "smoke",
            {"workers": "abc"},
            "-e workers=abc is not a positive integer (hdfs_datanodes has 2 hosts,"
            " spark_workers 2); pass -e workers=1..2 or add hosts to both groups.",
        ),
        (
            "smoke",
            {"workers": "0"},
            "-e workers=0 is not a positive integer (hdfs_datanodes has 2 hosts,"
            " spark_workers 2); pass -e workers=1..2 or add hosts to both groups.",
        ),
        (
            "smoke",
            {"workers": "-1"},
            "-e workers=-1 is not a positive integer (hdfs_datanodes has 2 hosts,"
            " spark_workers 2); pass -e workers=1..2 or add hosts to both groups.",
        ),
        (
            "smoke",
            {"workers": "3"},
            "-e workers=3 is more than this inventory has (hdfs_datanodes has 2 hosts,"
            " spark_workers 2); pass -e workers=1..2 or add hosts to both groups.",
        ),
    ],
)
def test_preflight_messages(
    kit: PhaseTable, phase: str, overrides: dict[str, str], message: str
) -> None:
    assert error(kit, phase, **overrides) == message


def test_checks_run_in_preflights_order(kit: PhaseTable) -> None:
    # phase, then duration, batch_size, interval, record_bytes, write method, target, workers.
    everything = {
        "duration": "x",
        "batch_size": "x",
        "interval": "x",
        "record_bytes": "x",
        "pg_write_method": "x",
        "target": "x",
        "workers": "x",
    }
    assert error(kit, "7", **everything).startswith("phase '7'")
    expected = ["duration", "batch_size", "interval", "record_bytes", "pg_write_method"]
    expected += ["target", "workers"]
    for name in expected:
        assert error(kit, "2", **everything).startswith(f"-e {name}=x ")
        del everything[name]
    assert not everything


def test_workers_against_an_inventory_without_workers(kit: PhaseTable) -> None:
    with pytest.raises(ParamError) as caught:
        resolve(
            kit, overrides={"workers": "1"}, worker_groups={"hdfs_datanodes": 0, "spark_workers": 0}
        )
    assert str(caught.value) == (
        "-e workers=1 is more than this inventory has (hdfs_datanodes has 0 hosts,"
        " spark_workers 0); add hosts to both groups or drop -e workers."
    )
    assert caught.value.field == "workers"


def test_workers_without_the_inventory_check_only_the_form(kit: PhaseTable) -> None:
    assert resolve(kit, overrides={"workers": "7"}).workers == 7
    assert resolve(kit).workers is None
    with pytest.raises(ParamError, match=r"^-e workers=0 is not a positive integer; pass e\.g\."):
        resolve(kit, overrides={"workers": "0"})
    with pytest.raises(ParamError, match="is out of range"):
        resolve(kit, overrides={"workers": "9" * 5000})


def test_workers_within_the_inventory(kit: PhaseTable) -> None:
    for count in (1, 2):
        params = resolve(kit, overrides={"workers": str(count)}, worker_groups=TWO_WORKERS)
        assert params.workers == count
    uneven = {"hdfs_datanodes": 3, "spark_workers": 2}
    with pytest.raises(ParamError, match=r"pass -e workers=1\.\.2 "):
        resolve(kit, overrides={"workers": "3"}, worker_groups=uneven)


def test_target(kit: PhaseTable) -> None:
    assert resolve(kit, available_targets=TARGETS).targets == TARGETS
    one = resolve(kit, overrides={"target": "pipeline"}, available_targets=TARGETS)
    assert (one.target, one.targets) == ("pipeline", ["pipeline"])
    # a comma-separated list, run in the order given; each name checked, none twice
    two = resolve(kit, overrides={"target": "pipeline,postgresql"}, available_targets=TARGETS)
    assert two.targets == ["pipeline", "postgresql"]
    with pytest.raises(ParamError, match="-e target=kafka is not available"):
        resolve(kit, overrides={"target": "postgresql,kafka"}, available_targets=TARGETS)
    with pytest.raises(ParamError, match="names a target twice"):
        resolve(kit, overrides={"target": "pipeline,pipeline"}, available_targets=TARGETS)
    # Without the list of available targets the target is not checked (nor expanded).
    assert resolve(kit, overrides={"target": "anything"}).targets == []


def test_write_methods(kit: PhaseTable) -> None:
    assert PG_METHODS == ("insert", "executemany", "copy")
    for method in PG_METHODS:
        assert resolve(kit, overrides={"pg_write_method": method}).pg_write_method == method


def test_an_unknown_parameter_is_named(kit: PhaseTable) -> None:
    with pytest.raises(ParamError) as caught:
        resolve(kit, overrides={"durration": "60"})
    assert str(caught.value) == (
        "'durration' is not a run parameter; use one of " + ", ".join(OVERRIDABLE) + "."
    )
    assert caught.value.field == "durration"


# -- the one set of bounds ----------------------------------------------------------------------
def test_the_bounds() -> None:
    got = {b.name: (b.key, b.integer, b.minimum, b.exclusive_min, b.maximum) for b in BOUNDS}
    assert got == {
        "duration": ("duration_s", False, 0, True, None),
        "batch_size": ("batch_size", True, 1, False, 1_000_000),
        "interval": ("interval_s", False, 0.001, False, 3600),
        "record_bytes": ("record_bytes", True, 120, False, 1_048_576),
        "warmup": ("warmup_s", False, 0, False, 3600),
    }


ACCEPTED = [
    ("duration", "0.001", 0.001),
    ("duration", "9" * 20, 1e20),
    ("batch_size", "1", 1),
    ("batch_size", "1000000", 1_000_000),
    ("batch_size", "007", 7),
    ("interval", "0.001", 0.001),
    ("interval", ".5", 0.5),
    ("interval", "3600", 3600.0),
    ("record_bytes", "120", 120),
    ("record_bytes", "1048576", 1_048_576),
]


@pytest.mark.parametrize(("name", "value", "expected"), ACCEPTED)
def test_accepted_values(kit: PhaseTable, name: str, value: str, expected: float) -> None:
    params = resolve(kit, overrides={name: value})
    assert getattr(params, BY_NAME[name].key) == pytest.approx(expected)


OUT_OF_RANGE = [
    ("batch_size", "1000001", "pass an integer from 1 to 1000000, e.g. -e batch_size=50."),
    ("interval", "0.0009", "pass a number from 0.001 to 3600, e.g. -e interval=0.2."),
    ("interval", "3600.5", "pass a number from 0.001 to 3600, e.g. -e interval=0.2."),
    ("record_bytes", "119", "pass an integer from 120 to 1048576, e.g. -e record_bytes=300."),
    ("record_bytes", "1048577", "pass an integer from 120 to 1048576, e.g. -e record_bytes=300."),
    ("duration", "9" * 400, "pass a number above 0, e.g. -e duration=15."),
    ("batch_size", "9" * 5000, "pass an integer from 1 to 1000000, e.g. -e batch_size=50."),
]


@pytest.mark.parametrize(("name", "value", "fix"), OUT_OF_RANGE)
def test_out_of_range(kit: PhaseTable, name: str, value: str, fix: str) -> None:
    assert error(kit, **{name: value}) == f"-e {name}={value} is out of range; {fix}"


# Plain decimals only; exponent form, blanks and units have their own message (SPELLED).
NOT_POSITIVE = [
    ("duration", "0"),
    ("duration", "0.0"),
    ("duration", "-1"),
    ("duration", "+5"),
    ("duration", "1."),
    ("duration", "inf"),
    ("duration", "nan"),
    ("duration", "1_000"),
    ("duration", "0x10"),
    ("duration", "\u0665"),  # an Arabic-Indic five: a digit to Python, not to preflight
    ("duration", ""),
    ("batch_size", "1.0"),
    ("batch_size", "0"),
    ("record_bytes", "300.0"),
    ("interval", "-0.5"),
    ("interval", "0.0000"),
]


def test_warmup_defaults_to_the_phase_s_at_most_a_quarter_of_the_duration(
    kit: PhaseTable,
) -> None:
    assert resolve(kit, "2").warmup_s == 30.0
    assert resolve(kit, "2", {"duration": "60"}).warmup_s == 15.0  # a quarter of 60 s
    assert resolve(kit, "smoke").warmup_s == 0.0
    # given: taken as it is, zero included, but it must leave something to measure
    assert resolve(kit, "2", {"duration": "60", "warmup": "40"}).warmup_s == 40.0
    assert resolve(kit, "2", {"warmup": "0"}).warmup_s == 0.0
    assert error(kit, "2", duration="60", warmup="60") == (
        "-e warmup=60 is not shorter than the duration (60 s); "
        "pass a shorter -e warmup or a longer -e duration."
    )
    assert error(kit, "2", warmup="-1").startswith("-e warmup=-1 is not a non-negative number")
    # a phase without warmup_s has none
    assert resolve(table(x={"batch_size": 5, "interval_s": 0.5, "duration_s": 5,
                            "record_bytes": 300}), "x").warmup_s == 0.0  # fmt: skip


# A number spelled another way is refused with its plain spelling (docs/bad-input.md).
SPELLED = [
    ("duration", "1e3", "-e duration=1e3 is in exponent form, which the kit does not read; "
     "write it as a plain decimal: -e duration=1000."),
    ("duration", "1E3", "-e duration=1E3 is in exponent form, which the kit does not read; "
     "write it as a plain decimal: -e duration=1000."),
    ("batch_size", "1e3", "-e batch_size=1e3 is in exponent form, which the kit does not read; "
     "write it as a plain decimal: -e batch_size=1000."),
    ("interval", "5e-1", "-e interval=5e-1 is in exponent form, which the kit does not read; "
     "write it as a plain decimal: -e interval=0.5."),
    ("duration", " 5", "-e duration=' 5' has blanks around the number; pass -e duration=5."),
    ("duration", "5 ", "-e duration='5 ' has blanks around the number; pass -e duration=5."),
    ("duration", "5\n", "-e duration='5\n' has blanks around the number; pass -e duration=5."),
    ("batch_size", " 1e3", "-e batch_size=' 1e3' has blanks around the number; "
     "pass -e batch_size=1000."),
    ("duration", "10s", "-e duration=10s has a unit (s); the kit reads plain seconds; "
     "pass -e duration=10."),
    ("duration", "2min", "-e duration=2min has a unit (min); the kit reads plain seconds; "
     "pass -e duration=120."),
    ("interval", "500ms", "-e interval=500ms has a unit (ms); the kit reads plain seconds; "
     "pass -e interval=0.5."),
    ("warmup", "1h", "-e warmup=1h has a unit (h); the kit reads plain seconds; "
     "pass -e warmup=3600."),
    ("record_bytes", "1KiB", "-e record_bytes=1KiB has a unit (KiB); the kit reads a plain "
     "count of bytes; pass e.g. -e record_bytes=300."),
    ("batch_size", "5k", "-e batch_size=5k has a unit (k); the kit reads a plain count of "
     "records; pass e.g. -e batch_size=50."),
]  # fmt: skip


@pytest.mark.parametrize(("name", "value", "message"), SPELLED)
def test_a_number_spelled_another_way(kit: PhaseTable, name: str, value: str, message: str) -> None:
    assert error(kit, "smoke", **{name: value}) == message


def test_a_letter_that_is_no_unit_is_just_not_a_number(kit: PhaseTable) -> None:
    assert error(kit, "smoke", duration="10x").startswith(
        "-e duration=10x is not a positive number"
    )
    assert error(kit, "smoke", duration="1e999").startswith("-e duration=1e999 is not a positive")


@pytest.mark.parametrize(("name", "value"), NOT_POSITIVE)
def test_not_a_plain_positive_decimal(kit: PhaseTable, name: str, value: str) -> None:
    kind = "integer" if BY_NAME[name].integer else "number"
    assert error(kit, "smoke", **{name: value}).startswith(
        f"-e {name}={value} is not a positive {kind}; pass e.g. -e {name}="
    )


@pytest.mark.parametrize("bound", BOUNDS, ids=[b.name for b in BOUNDS])
def test_the_run_config_uses_the_same_bounds(bound: Bound) -> None:
    """config.parse_load accepts the edges -e accepts and refuses what lies beyond them."""
    base = {"batch_size": 10, "interval_s": 0.1, "duration_s": 1, "record_bytes": 300}
    low = bound.minimum if not bound.exclusive_min else bound.minimum + 0.001
    parse_load({**base, bound.key: low})
    with pytest.raises(ConfigError) as caught:
        below = bound.minimum - (0 if bound.exclusive_min else 1 if bound.integer else 1e-6)
        parse_load({**base, bound.key: below})
    assert caught.value.field == f"load.{bound.key}"
    assert "out of range" in caught.value.problem
    if bound.maximum is not None:
        parse_load({**base, bound.key: bound.maximum})
        with pytest.raises(ConfigError, match="out of range"):
            parse_load({**base, bound.key: bound.maximum + 1})


# -- phases.yml itself ----------------------------------------------------------------------------
def table(**phases: Any) -> PhaseTable:
    return parse_phases({"benchlab_phases": phases})


def test_a_phase_value_out_of_bounds_is_named() -> None:
    bad = table(x={"batch_size": 0, "interval_s": 0.5, "duration_s": 5, "record_bytes": 300})
    with pytest.raises(ParamError) as caught:
        resolve(bad, "x")
    assert str(caught.value) == (
        "group_vars/all/phases.yml: phase 'x' batch_size 0 is out of range;"
        " set it to an integer from 1 to 1000000."
    )
    # An -e override replaces the bad value, so the phase's value is not needed.
    assert resolve(bad, "x", {"batch_size": "5"}).batch_size == 5


def test_a_phase_without_a_field_is_named() -> None:
    bad = table(x={"batch_size": 5, "interval_s": 0.5, "duration_s": 5})
    with pytest.raises(ParamError) as caught:
        resolve(bad, "x")
    assert str(caught.value) == (
        "group_vars/all/phases.yml: phase 'x' has no record_bytes;"
        " add record_bytes to it or pass -e record_bytes=<integer>."
    )
    assert resolve(bad, "x", {"record_bytes": "200"}).record_bytes == 200
    with pytest.raises(ParamError, match=r"pass e\.g\. -e record_bytes=<integer>\.$"):
        resolve(bad, "x", {"record_bytes": "abc"})


@pytest.mark.parametrize("value", [True, "300", 300.5, math.inf, math.nan, None], ids=repr)
def test_a_phase_value_must_be_a_number(value: Any) -> None:
    bad = table(x={"batch_size": 5, "interval_s": 0.5, "duration_s": 5, "record_bytes": value})
    with pytest.raises(ParamError, match=r"record_bytes .* is not an integer; set it to an "):
        resolve(bad, "x")


def test_phase_names_are_strings_and_entries_may_be_empty() -> None:
    # cli.known_phases only needs the names (tests/unit/test_cli.py writes empty entries).
    assert table(smoke={}, **{"1": None}).names() == ["smoke", "1"]
    assert parse_phases(yaml.safe_load("benchlab_phases:\n  2: {}\n")).names() == ["2"]


@pytest.mark.parametrize(
    "data",
    [None, {}, {"benchlab_phases": None}, {"benchlab_phases": []}, {"benchlab_phases": {"x": 1}}],
)
def test_a_malformed_phase_table(data: Any) -> None:
    with pytest.raises(ParamError) as caught:
        parse_phases(data)
    assert caught.value.field == "benchlab_phases"


def test_an_unreadable_phase_file(tmp_path: Path) -> None:
    with pytest.raises(ParamError, match=r"cannot read .*phases\.yml"):
        load_phases(tmp_path)
    (tmp_path / "group_vars" / "all").mkdir(parents=True)
    (tmp_path / "group_vars" / "all" / "phases.yml").write_text("benchlab_phases: [\n")
    with pytest.raises(ParamError, match="is not valid YAML"):
        load_phases(tmp_path)


# -- run.yml only reads runparams' answer (the fact benchlab_run) -------------------------------
@pytest.mark.parametrize(
    "given",
    [
        {},
        {"phase": "2"},
        {"phase": "3", "duration": "60", "batch_size": "500", "interval": ".25"},
        {"phase": "1", "record_bytes": "0300", "duration": "0.5"},
    ],
)
def test_run_yml_reads_what_runparams_resolved(kit: PhaseTable, given: dict[str, str]) -> None:
    run = yaml.safe_load((REPO / "group_vars" / "all" / "run.yml").read_text())
    overrides = {k: v for k, v in given.items() if k != "phase"}
    params = resolve(kit, given.get("phase", "smoke"), overrides, available_targets=TARGETS)
    # what playbooks/run_params.yml sets: the JSON `check` prints
    context: dict[str, Any] = {"benchlab_run": json.loads(json.dumps(params.to_json()))}
    env = jinja2.Environment()
    for key in ("phase", "batch_size", "interval_s", "duration_s", "record_bytes",
                "pg_write_method", "records", "targets"):  # fmt: skip
        rendered = env.from_string(run[f"benchlab_run_{key}"]).render(context)
        assert rendered == str(getattr(params, key)), key
    # no phase table, default or bound is read by Jinja: run.yml mentions none of them
    text = (REPO / "group_vars" / "all" / "run.yml").read_text()
    assert "benchlab_phases" not in text and "default('copy')" not in text


# -- the command line preflight calls ------------------------------------------------------------
def test_check_prints_the_resolved_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["check", "--repo", str(REPO), "--phase=2", "--set=duration=60", "--set=workers=2"]
    argv += ["--targets=postgresql,pipeline"]
    argv += ["--worker-group=hdfs_datanodes=2", "--worker-group=spark_workers=2"]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert out.err == ""
    got = json.loads(out.out)
    assert got == {
        "phase": "2",
        "duration_s": 60.0,
        "batch_size": 1000,
        "interval_s": 0.6,
        "record_bytes": 300,
        "warmup_s": 15.0,
        "pg_write_method": "copy",
        "target": "all",
        "targets": ["postgresql", "pipeline"],
        "workers": 2,
        "overrides": {"duration": "60", "workers": "2"},
        "soak": None,
        "rate_per_s": pytest.approx(1000 / 0.6),
        "records": 100_000,
    }


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--phase=7"], "phase '7' is unknown; use -e phase=<one of smoke, 1, 2, 3, search, soak>"),
        (
            ["--set=interval=0"],
            "-e interval=0 is not a positive number; pass e.g. -e interval=0.2.",
        ),
        (["--set", "duration"], "--set 'duration' is not name=value; e.g. --set duration=60."),
        (["--worker-group=hdfs_datanodes=x"], "--worker-group hdfs_datanodes=x is not a count"),
        (["--set=target=kafka", "--targets=postgresql"], "-e target=kafka is not available"),
    ],
)
def test_check_prints_one_line_and_exits_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], line: str
) -> None:
    assert main(["check", "--repo", str(REPO), *argv]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.count("\n") == 1
    assert out.err.startswith(line)


def test_check_keeps_a_value_with_a_line_break_on_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", "--repo", str(REPO), "--set=duration=5\nx"]) == 2
    err = capsys.readouterr().err
    assert err == "-e duration=5\\nx is not a positive number; pass e.g. -e duration=15.\n"


def test_check_names_a_missing_phase_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--repo", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cannot read {tmp_path}/group_vars/all/phases.yml")
    assert err.rstrip().endswith("pass --repo <the kit checkout>.")


def test_bound_lookup_by_key() -> None:
    assert {b.key for b in BOUNDS} == set(BOUND_BY_KEY)


def test_preflight_asks_runparams_and_checks_nothing_itself() -> None:
    """The parameters' verdict is this module's, on the controller (playbooks/run_params.yml,
    which preflight.yml and workers.yml import first), and its answer is the fact they read."""
    for entry in ("preflight.yml", "workers.yml"):
        first = yaml.safe_load((REPO / "playbooks" / entry).read_text())[0]
        assert first["ansible.builtin.import_playbook"] == "run_params.yml", entry
    play = yaml.safe_load((REPO / "playbooks" / "run_params.yml").read_text())[0]
    ask, check, keep = play["tasks"]
    assert "'benchlab.runparams', 'check'" in ask["ansible.builtin.command"]["argv"]
    assert ask["delegate_to"] == "localhost"
    assert ask["run_once"] is True
    assert ask["changed_when"] is False
    assert ask["check_mode"] is False
    assert ask["failed_when"] is False
    assert check["ansible.builtin.assert"]["that"] == "_run_params_params.rc == 0"
    assert keep["ansible.builtin.set_fact"] == {
        "benchlab_run": "{{ _run_params_params.stdout | from_json }}"
    }
    # No second copy of the bounds or of the lists in the playbooks' Jinja.
    text = "".join(
        (REPO / "playbooks" / f).read_text() for f in ("preflight.yml", "run_params.yml")
    )
    for gone in ("benchlab_phases", "benchlab_pg_write_methods", "is not a positive", "1000000"):
        assert gone not in text
