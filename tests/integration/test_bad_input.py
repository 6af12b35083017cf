"""Bad input, as a catalogue: every row of docs/bad-input.md against the built local lab.

The table in docs/bad-input.md is this test's only list of cases (doc and test cannot drift).
For each row: the exit code of its `exit` column, its line as one line of the output,
changed=0 on every host for a playbook, and no earlier result touched (names and mtimes under
results/ and under the prepared files, before and after). The rows run two at a time, except
the three that change the machine for everyone (a held port, the results folder), which run
alone afterwards; the whole catalogue is timed (BENCHLAB_BAD_INPUT_TIMES names a file for it).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from conftest import KIT_GROUPS, LOCAL, REPO, Lab, PlaybookRun, run_playbook

DOC = REPO / "docs" / "bad-input.md"
RESULTS = REPO / "results"
EARLIER = RESULTS / "20000101T000000Z-badinput-earlier"
UNIT_CONFIG = REPO / "tests" / "unit" / "test_config.py"
FIXTURE_RUN = REPO / "tests" / "unit" / "fixtures" / "compare" / "run-p3.json"
COLUMNS = ["#", "family", "case", "how", "setup", "command", "exit", "line"]
# Rows whose setup changes the machine for every other run: run alone, after the others.
ALONE = ("port 9105 held", "results is a file", "results not writable")


@dataclass(frozen=True)
class Case:
    number: int
    family: str
    case: str
    how: str
    setup: str
    command: str
    exit: int
    line: str

    @property
    def id(self) -> str:
        return f"{self.number:02d}-{re.sub(r'[^a-z0-9]+', '-', self.case.lower()).strip('-')}"


def read_catalogue(path: Path = DOC) -> list[Case]:
    """The rows of the catalogue table, backticks taken off the code cells."""
    cases: list[Case] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not re.match(r"^\| [0-9]+ \|", raw):
            continue
        cells = [c.strip() for c in raw.strip().strip("|").split(" | ")]
        assert len(cells) == len(COLUMNS), f"{path}: a row needs {len(COLUMNS)} cells: {raw}"
        cells = [c[1:-1] if c.startswith("`") and c.endswith("`") else c for c in cells]
        number, family, case, how, setup, command, code, line = cells
        cases.append(Case(int(number), family, case, how, setup, command, int(code), line))
    return cases


CASES = read_catalogue()


@dataclass
class Outcome:
    returncode: int
    output: str
    recap: dict[str, dict[str, int]] | None
    touched: list[str] = field(default_factory=list)
    seconds: float = 0.0


# -- what the rows run against ------------------------------------------------------------
def snapshot(*roots: Path) -> dict[str, int]:
    """Every path under the roots (not the roots themselves) with its mtime in ns."""
    seen: dict[str, int] = {}
    for root in roots:
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            seen[str(path)] = path.lstat().st_mtime_ns
    return seen


def changed_paths(before: dict[str, int], after: dict[str, int]) -> list[str]:
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


def prepare_files(root: Path) -> None:
    """docs/bad-input.md, "The prepared files"."""
    spec = importlib.util.spec_from_file_location("unit_test_config", UNIT_CONFIG)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config_good = module.GOOD  # the documented run configuration (tests/unit/test_config.py)

    results = root / "results"
    good = FIXTURE_RUN.read_text(encoding="utf-8")
    for name, text in [
        ("20261201T000001Z-p3-all-good", good),
        ("20261201T000002Z-p2-all-trnc", good[:200]),
        ("20261201T000003Z-p2-all-list", "[1, 2]\n"),
    ]:
        (results / name).mkdir(parents=True)
        (results / name / "run.json").write_text(text, encoding="utf-8")
    calibration = results / "calibration-20261201T000004Z-0bad"
    for host, text in [("localhost", '{"device": {"B_w": 1'), ("otherhost", '{"device": {}}')]:
        (calibration / host).mkdir(parents=True)
        (calibration / host / "report.json").write_text(text, encoding="utf-8")
    configs: dict[str, str] = {"truncated": json.dumps(config_good, indent=1)[:120]}
    for name, change in [
        ("unit", lambda c: c["load"].update(duration_s="60s")),
        ("misspelt", lambda c: c["load"].update(duration=c["load"].pop("duration_s"))),
        ("type", lambda c: c["targets"][0].update(type="mongodb")),
    ]:
        config = copy.deepcopy(config_good)
        change(config)
        configs[name] = json.dumps(config, indent=1)
    for name, text in configs.items():
        (root / f"config-{name}.json").write_text(text, encoding="utf-8")


def write_inventory(folder: Path, shape: str) -> Path:
    """docs/bad-input.md, "Inventories": the kit's groups on this machine, one thing wrong."""
    members = {group: ["localhost"] for group in KIT_GROUPS}
    hosts: dict[str, dict[str, object]] = {"localhost": dict(LOCAL)}
    if shape == "empty_group":
        members["postgresql"] = []
    elif shape == "two_namenodes":
        hosts["nn2"] = dict(LOCAL)
        members["benchlab"] = ["localhost", "nn2"]
        members["hdfs_namenode"] = ["localhost", "nn2"]
    elif shape == "unknown_group":
        hosts["worker2"] = dict(LOCAL)
        members["benchlab"] = ["localhost", "worker2"]
        members["spark_worker"] = ["worker2"]
    elif shape == "duplicate_address":
        hosts = {name: {**LOCAL, "ansible_host": "127.0.0.1"} for name in ("localhost", "worker2")}
        for group in ("benchlab", "hdfs_datanodes", "spark_workers"):
            members[group] = ["localhost", "worker2"]
    else:
        raise AssertionError(f"docs/bad-input.md names an inventory the test lacks: {shape}")
    children: dict[str, dict[str, dict[str, object]]] = {}
    for group, names in members.items():
        children[group] = {"hosts": {name: None for name in names}}
    for name, variables in hosts.items():  # host variables once, in the first group listing it
        first = next(g for g, names in members.items() if name in names)
        children[first]["hosts"][name] = variables
    folder.mkdir(parents=True)
    hosts_yml = folder / "hosts.yml"
    hosts_yml.write_text(json.dumps({"all": {"children": children}}, indent=1), encoding="utf-8")
    shutil.copytree(REPO / "inventory" / "local" / "group_vars", folder / "group_vars")
    return hosts_yml


@contextmanager
def port_held(port: int) -> Iterator[None]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen(1)
        yield


@contextmanager
def results_is_a_file() -> Iterator[None]:
    aside = REPO / f"results.badinput-aside-{os.getpid()}"
    RESULTS.rename(aside)
    try:
        RESULTS.write_text("not a folder\n", encoding="utf-8")
        yield
    finally:
        RESULTS.unlink(missing_ok=True)
        aside.rename(RESULTS)


@contextmanager
def results_not_writable() -> Iterator[None]:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(RESULTS)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(RESULTS)], check=True)
    else:
        mode = RESULTS.stat().st_mode
        RESULTS.chmod(0o555)
        try:
            yield
        finally:
            RESULTS.chmod(mode)


# -- running a row ------------------------------------------------------------------------
def available_targets() -> list[str]:
    table = yaml.safe_load((REPO / "group_vars/all/targets.yml").read_text())["benchlab_targets"]
    return [name for name, row in table.items() if row.get("available")]


def runparams_argv(args: list[str], files: Path) -> list[str]:
    """`ansible-playbook bench.yml -e ...` as the check run_params.yml runs on the local lab
    (the results folder a soak's rates come from: the case's own, which holds no search)."""
    argv = [
        sys.executable,
        "-m",
        "benchlab.runparams",
        "check",
        f"--repo={REPO}",
        f"--targets={','.join(available_targets())}",
        "--worker-group=hdfs_datanodes=1",
        "--worker-group=spark_workers=1",
        f"--results-root={files / 'results'}",
        "--inventory=local",
    ]
    assert args[:2] == ["ansible-playbook", "bench.yml"], args
    rest = args[2:]
    while rest:
        option, value, *rest = rest
        assert option == "-e", args
        pairs = json.loads(value) if value.startswith("{") else dict([value.split("=", 1)])
        for name, given in pairs.items():
            argv.append(f"--phase={given}" if name == "phase" else f"--set={name}={given}")
    return argv


def python_env() -> dict[str, str]:
    path = str(REPO / "python")
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [path, os.environ.get("PYTHONPATH")])),
    }


def command_args(case: Case, values: dict[str, str]) -> list[str]:
    text = case.command
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return shlex.split(text)


def run_case(case: Case, files: Path, inventories: Path) -> Outcome:
    """The row run (inside its setup, if it has one); what it touched is looked at outside."""
    watched = (RESULTS, files)
    before = snapshot(*watched)
    with SETUPS[case.setup]() if case.setup in SETUPS else nullcontext():
        outcome = run_row(case, files, inventories)
    outcome.touched = changed_paths(before, snapshot(*watched))
    return outcome


def run_row(case: Case, files: Path, inventories: Path) -> Outcome:
    values = {"repo": str(REPO), "files": str(files)}
    if case.setup.startswith("inventory: "):
        values["inventory"] = str(
            write_inventory(inventories / case.id, case.setup.split(": ", 1)[1])
        )
    args = command_args(case, values)
    start = time.monotonic()
    recap = None
    if case.how == "playbook":
        assert args[0] == "ansible-playbook", case.command
        run: PlaybookRun = run_playbook(*args[1:], timeout=300)
        returncode, output, recap = run.returncode, run.stdout + run.stderr, run.recap()
    else:
        if case.how == "runparams":
            argv = runparams_argv(args, files)
        elif args[0] == "benchlab":
            argv = [sys.executable, "-m", "benchlab.cli", *args[1:]]
        elif args[:2] == ["python", "-m"]:
            argv = [sys.executable, *args[1:]]
        else:
            raise AssertionError(f"row {case.number}: no way to run {case.command!r}")
        done = subprocess.run(
            argv,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            env=python_env(),
            check=False,
        )
        returncode, output = done.returncode, done.stdout + done.stderr
    return Outcome(returncode, output, recap, seconds=time.monotonic() - start)


SETUPS: dict[str, Callable[[], AbstractContextManager[None]]] = {
    "port 9105 held": lambda: port_held(9105),
    "results is a file": results_is_a_file,
    "results not writable": results_not_writable,
}


@pytest.fixture(scope="module")
def outcomes(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every row run once: two at a time, then the rows that must run alone."""
    files = tmp_path_factory.mktemp("bad-input-files")
    inventories = tmp_path_factory.mktemp("bad-input-inventories")
    prepare_files(files)
    EARLIER.mkdir(parents=True)  # an earlier result the rows must leave alone
    shutil.copy(FIXTURE_RUN, EARLIER / "run.json")
    start = time.monotonic()
    found: dict[str, Outcome] = {}
    try:
        together = [c for c in CASES if c.setup not in ALONE]
        with ThreadPoolExecutor(max_workers=2) as pool:
            for case, outcome in zip(
                together, pool.map(lambda c: run_case(c, files, inventories), together), strict=True
            ):
                found[case.id] = outcome
        for case in (c for c in CASES if c.setup in ALONE):
            found[case.id] = run_case(case, files, inventories)
    finally:
        shutil.rmtree(EARLIER)
    wall = time.monotonic() - start
    summary = f"bad-input catalogue: {len(CASES)} cases in {wall:.1f} s wall"
    print(f"\n{summary}")
    for case in CASES:
        print(f"  {case.id}: {found[case.id].seconds:.1f} s (exit {found[case.id].returncode})")
    if os.environ.get("BENCHLAB_BAD_INPUT_TIMES"):
        Path(os.environ["BENCHLAB_BAD_INPUT_TIMES"]).write_text(summary + "\n", encoding="utf-8")
    return found


def line_pattern(case: Case) -> re.Pattern[str]:
    """The row's line with its placeholders; {n} a number, {any} any text on the line."""
    values = {
        "repo": re.escape(str(REPO)),
        "n": r"[0-9][0-9.]*",
        "any": r".+?",
        "files": r"/\S*bad-input-files[^/\s]*",
        "inventory_dir": r"/\S*bad-input-inventories[^/\s]*/" + re.escape(case.id),
    }
    parts = re.split(r"\{(" + "|".join(values) + r")\}", case.line)
    return re.compile(
        "".join(values[part] if i % 2 else re.escape(part) for i, part in enumerate(parts))
    )


def test_the_catalogue_has_every_family() -> None:
    assert len(CASES) >= 25
    assert [c.number for c in CASES] == list(range(1, len(CASES) + 1))
    assert {c.family for c in CASES} == {
        "run parameters",
        "inventory",
        "the machine",
        "hand-edited files",
    }
    assert {c.how for c in CASES} <= {"playbook", "runparams", "cli"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_in_one_line(case: Case, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[case.id]
    tail = outcome.output[-3000:]
    assert outcome.returncode == case.exit, tail
    pattern = line_pattern(case)
    assert any(pattern.search(line) for line in outcome.output.splitlines()), (
        f"no line matches {pattern.pattern}\n{tail}"
    )
    assert outcome.touched == [], outcome.touched
    if case.how == "playbook":
        assert outcome.recap, tail
        for host, counters in outcome.recap.items():
            assert counters["changed"] == 0, (host, tail)
