"""The `benchlab` command line (docs/architecture.md, "Python CLI").

Exit codes: benchlab.exitcodes.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from rich.console import Console

from benchlab.calibration.cli import register as register_calibration
from benchlab.exitcodes import (
    DATA_VERDICT_PREFIX,
    EXIT_BAD_INPUT,
    EXIT_DATA_FAILED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUNNING,
    EXIT_UNREACHABLE,
)
from benchlab.faults.cli import register as register_faults
from benchlab.progress import (
    LiveFigures,
    ProgressFile,
    is_progress_command,
    job_finished,
    progress_line,
)
from benchlab.render import fmt_num

if TYPE_CHECKING:
    from benchlab.config import RunConfig

T = TypeVar("T")


class StopFlag:
    """Set by SIGINT/SIGTERM; the load stops at the next batch boundary."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.count = 0

    def install(self) -> None:
        def handler(signum: int, _frame: Any) -> None:
            self.count += 1
            self.event.set()
            if self.count >= 3:  # third time: the user really wants out
                raise KeyboardInterrupt

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)

    def __call__(self) -> bool:
        return self.event.is_set()


def _err(console: Console, message: str) -> None:
    console.print(f"[bold red]benchlab:[/] {message}", highlight=False, soft_wrap=True)


# -- check-config -------------------------------------------------------------------------
def cmd_check_config(args: argparse.Namespace, console: Console) -> int:
    """Parse a run configuration as `benchlab run` would; changes nothing (template validate:)."""
    from benchlab.config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        _err(console, str(exc))
        return EXIT_BAD_INPUT
    names = ", ".join(f"{t.name} ({t.type})" for t in config.targets)
    console.print(f"run configuration {args.config}: valid; targets {names}")
    return EXIT_OK


# -- the long runs (search, soak): one configuration check, one live progress ----------------
def _prepared_run(
    args: argparse.Namespace, console: Console, check: Callable[[RunConfig], T]
) -> tuple[RunConfig, T] | int:
    """The run configuration, `check`'s answer on it, and the kit's preflight; the exit code
    of the refusal (one line) when one of them refuses."""
    from benchlab.config import ConfigError, load_config
    from benchlab.execute import preflight
    from benchlab.results import ResultsError
    from benchlab.sinks import SinkUnreachable

    try:
        config = load_config(args.config)
        checked = check(config)
        preflight(config, Path(args.results_root))
    except (ConfigError, ResultsError) as exc:
        _err(console, str(exc))
        return EXIT_BAD_INPUT
    except SinkUnreachable as exc:
        _err(console, f"sink unreachable: {exc}; fix: start it (ansible-playbook site.yml)")
        return EXIT_UNREACHABLE
    return config, checked


def _live_run(
    args: argparse.Namespace, console: Console, config: RunConfig
) -> tuple[StopFlag, ProgressFile, Callable[[str], None]]:
    """Ctrl-C handling, the progress file (benchlab progress) and the console's lines."""
    stop = StopFlag()
    stop.install()
    live = ProgressFile.for_run(Path(args.results_root), config.run_id)
    live.write(None)

    def say(text: str) -> None:
        if not args.quiet:
            console.print(text, highlight=False)

    return stop, live, say


# -- search -------------------------------------------------------------------------------
def cmd_search(args: argparse.Namespace, console: Console) -> int:
    """The sustainable-throughput search of every target in the configuration."""
    from benchlab.config import ConfigError
    from benchlab.search.judge import data_failures
    from benchlab.search.report import write_search_report
    from benchlab.search.run import search

    def has_search(config: RunConfig) -> None:
        if config.search is None:
            raise ConfigError(
                "search", "is missing", "render the configuration with -e phase=search"
            )

    prepared = _prepared_run(args, console, has_search)
    if isinstance(prepared, int):
        return prepared
    config, _ = prepared
    stop, live, say = _live_run(args, console, config)
    try:
        search_dir, doc = search(
            config,
            config.search,
            Path(args.results_root),
            should_stop=stop,
            say=say,
            on_figures=live.update,
        )
    finally:
        live.finish("ended")
    report = write_search_report(search_dir, doc)  # adds doc["conclusion"]
    console.print(doc["conclusion"]["crossover"]["text"], highlight=False)
    for row in doc["conclusion"]["systems"]:
        console.print(
            f"{row['target']}: sustainable {row['sustainable_per_s'] or 0:,.0f} records/s, "
            f"first failing {row['failed_at_per_s'] or 0:,.0f} records/s",
            highlight=False,
        )
    console.print(f"report: {report}", highlight=False)
    failed = data_failures(doc["trials"])
    for t in failed:
        _err(
            console,
            f"data verdict FAIL: trial {t['run_id']}: "
            + "; ".join(f["detail"] for f in t["verdict"]["failures"]),
        )
    if doc["status"] != "complete":
        return EXIT_INTERRUPTED
    return EXIT_DATA_FAILED if failed else EXIT_OK


# -- soak ---------------------------------------------------------------------------------
def cmd_soak(args: argparse.Namespace, console: Console) -> int:
    """Each target held at its soak rate; memory trend, latency drift, the leak rule."""
    from benchlab.soak.report import write_soak_report
    from benchlab.soak.run import soak
    from benchlab.soak.settings import SoakSettings

    def soak_settings(config: RunConfig) -> SoakSettings:
        settings = SoakSettings.parse(config.raw.get("soak"))
        for target in config.targets:
            settings.rate(target.name)
        return settings

    prepared = _prepared_run(args, console, soak_settings)
    if isinstance(prepared, int):
        return prepared
    config, settings = prepared
    stop, live, say = _live_run(args, console, config)
    try:
        soak_dir, doc, outcomes = soak(
            config,
            settings,
            Path(args.results_root),
            should_stop=stop,
            say=say,
            on_figures=live.update,
        )
    finally:
        live.finish("ended")
    report = write_soak_report(soak_dir, doc)
    for name, t in doc["targets"].items():
        memory = "; ".join(
            f"{key} {fmt_num(m.get('slope_mib_per_h'), 1, signed=True)} MiB/h "
            f"(R² {fmt_num(m.get('r2'), 2)}): {m['verdict']}"
            for key, m in (t.get("memory") or {}).items()
        )
        latency = t.get("latency") or {}
        console.print(
            f"{name}: {fmt_num(t.get('offered_per_s'))} records/s; memory {memory or 'n/a'}; "
            f"p99 {fmt_num(latency.get('first_quarter_p99_ms'), 1)} -> "
            f"{fmt_num(latency.get('last_quarter_p99_ms'), 1)} ms "
            f"({fmt_num(latency.get('slope_ms_per_h'), 1, signed=True)} ms/h): "
            f"{latency.get('verdict', 'not judged')}",
            highlight=False,
        )
    console.print(f"report: {report}", highlight=False)
    failures = [v for o in outcomes for v in o.data_failures]
    for verdict in failures:
        _err(console, f"data verdict FAIL: {verdict.line()}")
    if doc["status"] != "complete":
        return EXIT_INTERRUPTED
    if any(o.failed_targets for o in outcomes):
        return EXIT_FAILED
    return EXIT_DATA_FAILED if failures else EXIT_OK


def cmd_soak_report(args: argparse.Namespace, console: Console) -> int:
    """soak.md again from soak.json (with --rules: the figures computed again first)."""
    import yaml

    from benchlab.config import ConfigError
    from benchlab.results import ResultsError
    from benchlab.soak.report import reanalyse, write_soak_report

    soak_dir = Path(args.soak_dir)
    try:
        doc = None
        if args.rules:
            rules = yaml.safe_load(Path(args.rules).read_text(encoding="utf-8"))
            doc = reanalyse(soak_dir, (rules or {}).get("benchlab_soak") or {})
        path = write_soak_report(soak_dir, doc)
    except (OSError, ConfigError, ResultsError, yaml.YAMLError, KeyError, TypeError) as exc:
        _err(console, f"{soak_dir}: {exc}; fix: give a soak's results folder (soak.json)")
        return EXIT_BAD_INPUT
    console.print(f"report: {path}", highlight=False)
    return EXIT_OK


# -- progress -----------------------------------------------------------------------------
def cmd_progress(args: argparse.Namespace, console: Console) -> int:
    """One line of a run's live figures; EXIT_RUNNING while its async job still runs."""
    path = ProgressFile.for_run(Path(args.results_root), args.run_id).path
    console.print(progress_line(path), highlight=False, soft_wrap=True)
    if args.job_file and not job_finished(Path(args.job_file)):
        return EXIT_RUNNING
    return EXIT_OK


# -- run ----------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace, console: Console) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from benchlab.config import ConfigError, load_config
    from benchlab.execute import execute, preflight
    from benchlab.results import ResultsError
    from benchlab.sinks import SinkUnreachable

    try:
        config = load_config(args.config)
        preflight(config, Path(args.results_root))
    except (ConfigError, ResultsError) as exc:
        _err(console, str(exc))
        return EXIT_BAD_INPUT
    except SinkUnreachable as exc:
        _err(
            console,
            f"sink unreachable: {exc}; fix: start it (ansible-playbook site.yml) or "
            "correct host/port in the run configuration",
        )
        return EXIT_UNREACHABLE
    stop = StopFlag()
    stop.install()
    live = ProgressFile.for_run(Path(args.results_root), config.run_id)
    live.write(None)
    load = config.load
    total = load.batch_count * load.batch_size
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=args.quiet,
    ) as progress:
        task = progress.add_task("starting", total=total, info="")

        def on_progress(r: Any) -> None:
            progress.update(task, description=f"{r.target}", completed=r.records_sent)

        def on_figures(figures: LiveFigures) -> None:
            live.update(figures)  # what bench.yml's progress line shows
            line = figures.line().removeprefix(f"{figures.target} ")
            progress.update(task, info=line)

        def on_phase(text: str) -> None:
            progress.update(task, description=text)

        try:
            outcome = execute(
                config,
                Path(args.results_root),
                should_stop=stop,
                on_progress=on_progress,
                on_phase=on_phase,
                on_figures=on_figures,
            )
        except ConfigError as exc:
            live.finish("failed")
            _err(console, str(exc))
            return EXIT_BAD_INPUT
        except BaseException:
            live.finish("failed")
            raise
    live.finish(outcome.status)
    for name, result in outcome.results.items():
        s = result.summary()
        lat = s["latency_ms"]
        console.print(
            f"{name}: acked {s['records_acked']:,}/{s['records_due']:,} "
            f"({(s['success_rate'] or 0) * 100:.2f} %), {s['throughput_per_s']:.1f} records/s, "
            f"p99 {lat['p99_ms']} ms, late batches {s['batches_late']}, errors {s['errors']}",
            highlight=False,
        )
        aud = outcome.audits.get(name, {})
        if "lost" in aud:
            console.print(
                f"{name} audit: lost {aud['lost']}, duplicates {aud['duplicates']}, "
                f"unacknowledged present {aud['unacknowledged_present']}",
                highlight=False,
            )
        elif aud:
            console.print(
                f"{name} audit: {aud.get('error') or aud.get('skipped')}", highlight=False
            )
    for verdict in outcome.data_failures:
        _err(console, f"data verdict FAIL: {verdict.line()}")
    console.print(f"results: {outcome.run_dir} ({outcome.status})", highlight=False)
    if not args.no_report:
        from benchlab.report import generate_report

        try:
            path = generate_report(outcome.run_dir, skip_metrics=args.skip_metrics)
            console.print(f"report: {path}", highlight=False)
        except Exception as exc:
            _err(
                console,
                f"report failed ({exc}); rerun: benchlab report --run-dir {outcome.run_dir}",
            )
    return outcome.exit_code


# -- report -------------------------------------------------------------------------------
def cmd_report(args: argparse.Namespace, console: Console) -> int:
    from benchlab.report import generate_report
    from benchlab.results import ResultsError

    try:
        path = generate_report(Path(args.run_dir), skip_metrics=args.skip_metrics)
    except ResultsError as exc:
        text = str(exc)
        _err(console, text if "fix:" in text else f"{text}; fix: give --run-dir results/<run_id>")
        return EXIT_BAD_INPUT
    console.print(f"report: {path}", highlight=False)
    return EXIT_OK


# -- bench --------------------------------------------------------------------------------
def parse_extra_vars(items: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        for part in item.split():
            key, sep, value = part.partition("=")
            if not sep or not key:
                raise ValueError(f"-e {part!r} is not key=value; fix: e.g. -e duration=60")
            out[key] = value
    return out


def known_phases(repo: Path) -> list[str] | None:
    """Phase names from the kit's phases.yml (benchlab.runparams); None if it cannot be read."""
    from benchlab.runparams import ParamError, load_phases

    try:
        return load_phases(repo).names()
    except ParamError:
        return None


def cmd_bench(args: argparse.Namespace, console: Console) -> int:
    repo = Path(args.repo).resolve()
    playbook = repo / args.playbook
    if not playbook.is_file():
        _err(console, f"{playbook} not found; fix: run from the repo root or pass --repo")
        return EXIT_BAD_INPUT
    phases = known_phases(repo)
    if phases is not None and str(args.phase) not in phases:
        _err(console, f"unknown phase '{args.phase}'; fix: use one of {', '.join(phases)}")
        return EXIT_BAD_INPUT
    try:
        extravars: dict[str, Any] = parse_extra_vars(args.extra_vars or [])
    except ValueError as exc:
        _err(console, str(exc))
        return EXIT_BAD_INPUT
    extravars["phase"] = str(args.phase)
    cmdline: list[str] = []
    if args.inventory:
        inv = Path(args.inventory)
        inv = inv if inv.is_absolute() else repo / inv
        if not inv.exists():
            _err(console, f"inventory {inv} not found; fix: e.g. --inventory inventory/local")
            return EXIT_BAD_INPUT
        cmdline += ["-i", str(inv)]
    stop = StopFlag()  # Ctrl-C: cancel the playbook, then stop and fetch its run
    stop.install()
    return run_playbook(
        repo, args.playbook, extravars, cmdline, console, quiet=args.quiet, cancel=stop
    )


def run_playbook(
    repo: Path,
    playbook: str,
    extravars: dict[str, Any],
    cmdline: list[str],
    console: Console,
    *,
    quiet: bool = False,
    label: str = "",
    log: TextIO | None = None,
    cancel: Callable[[], bool] | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> int:
    """Drive one playbook through ansible-runner with live progress; return an exit code.

    `label` prefixes the progress line and the closing line (e.g. "[1/2] workers=1"); `log`
    receives ansible-playbook's output as it comes; `cancel` is polled while the playbook
    runs (every few seconds): when it returns True the playbook is stopped (ansible-runner
    kills its process group), the run it left in progress on the load generators is stopped
    and fetched (playbooks/interrupt.yml, benchlab.interrupt), and the result is
    EXIT_INTERRUPTED. `on_progress` gets each progress line (benchlab faults times its
    injection by them).
    """
    import tempfile

    import ansible_runner
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from benchlab.interrupt import INTERRUPT_PLAYBOOK, InterruptWatch, Marker, inventory_args

    counts = {"ok": 0, "changed": 0, "failed": 0, "unreachable": 0, "tasks": 0}
    failures: list[str] = []
    verdict_failures: list[str] = []  # bench.yml's data verdict task (exit EXIT_DATA_FAILED)
    watch = InterruptWatch()  # the in-progress markers the playbook wrote
    with (
        tempfile.TemporaryDirectory(prefix="benchlab-runner-") as pdd,
        Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=console,
            disable=quiet,
        ) as progress,
    ):
        task = progress.add_task(f"{label}{playbook}", info="")

        def on_event(event: dict[str, Any]) -> bool:
            kind = event.get("event", "")
            data = event.get("event_data", {})
            if log is not None and event.get("stdout"):
                log.write(f"{event['stdout']}\n")
                log.flush()
            if kind == "playbook_on_task_start":
                counts["tasks"] += 1
                progress.update(
                    task, description=f"{label}{data.get('play', '')}: {data.get('task', '')}"
                )
            elif kind == "runner_retry" and is_progress_command(data.get("res", {}).get("cmd")):
                # bench.yml's progress poll: its line of figures, as ansible-playbook prints it
                line = str(data["res"].get("stdout") or "").strip()
                progress.update(task, description=f"{label}{line}")
                if on_progress is not None:
                    on_progress(line)
                if not quiet and log is None:
                    console.print(line, highlight=False)
            elif kind == "runner_on_ok":
                counts["ok"] += 1
                watch.observe(data.get("res"))
                counts["changed"] += int(bool(data.get("res", {}).get("changed")))
            elif kind == "runner_on_failed" and not data.get("ignore_errors"):
                counts["failed"] += 1
                msg = str(data.get("res", {}).get("msg", ""))
                if msg.startswith(DATA_VERDICT_PREFIX):
                    verdict_failures.append(msg)
                else:
                    failures.append(f"{data.get('host')}: {data.get('task')}: {msg}"[:500])
            elif kind == "runner_on_unreachable":
                counts["unreachable"] += 1
                failures.append(f"{data.get('host')}: unreachable")
            progress.update(
                task,
                info=f"tasks {counts['tasks']} ok {counts['ok']} changed {counts['changed']} "
                f"failed {counts['failed']}",
            )
            return True

        try:
            result = ansible_runner.run(
                private_data_dir=pdd,
                project_dir=str(repo),
                playbook=playbook,
                extravars=extravars,
                cmdline=" ".join(cmdline) or None,
                event_handler=on_event,
                cancel_callback=cancel,
                quiet=True,
                envvars={
                    "ANSIBLE_CONFIG": str(repo / "ansible.cfg"),
                    # ansible-runner sets this variable, which hides ansible.cfg's
                    # callback_plugins: the kit's plugins come first
                    "ANSIBLE_CALLBACK_PLUGINS": str(repo / "plugins" / "callback"),
                },
            )
        except KeyboardInterrupt:
            _err(console, "interrupted")
            return EXIT_INTERRUPTED
    for line in failures + verdict_failures:
        _err(console, line)
    console.print(f"{label}{playbook}: {result.status}, rc {result.rc}", highlight=False)
    if result.status == "canceled":
        # the playbook was killed; its run goes on as an async job on the load generator

        def stop_and_fetch(marker: Marker) -> int:
            return run_playbook(
                repo,
                INTERRUPT_PLAYBOOK,
                {"benchlab_run_id": marker.run_id},
                inventory_args(marker),
                console,
                quiet=quiet,
                label=f"{label}interrupted: ",
                log=log,
            )

        watch.clean_up(stop_and_fetch, lambda line: console.print(line, highlight=False))
        return EXIT_INTERRUPTED
    if verdict_failures and not failures and not counts["unreachable"]:
        return EXIT_DATA_FAILED  # the run completed; the audit found lost/duplicated records
    # ansible-playbook's own code: 2 when a host failed (that is how preflight rejects bad
    # input), 4 unreachable
    return EXIT_OK if result.rc == 0 else (result.rc or EXIT_FAILED)


# -- results ------------------------------------------------------------------------------
def _verdicts(values: dict[str, str]) -> str:
    return ", ".join(f"{t}: {v}" for t, v in values.items()) or "n/a"


def cmd_results(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from benchlab.catalog import entry, list_results

    root = Path(args.results_root)
    if args.results_cmd == "list":
        entries = list_results(root)
        if args.json:
            console.print_json(json.dumps([e.as_dict() for e in entries]))
            return EXIT_OK
        table = Table(title=f"results under {root}")
        for col in ("id", "kind", "phase", "status", "targets", "headline", "data", "criteria"):
            table.add_column(col)
        for e in entries:
            table.add_row(
                e.id,
                e.kind,
                str(e.phase or ""),
                str(e.status or ""),
                ", ".join(e.targets),
                e.headline_text(),
                _verdicts(e.data_verdict) if e.kind in ("run", "search", "soak") else "",
                _verdicts(e.criteria) if e.kind == "run" else "",
            )
        console.print(table)
        return EXIT_OK
    path = root / args.run_id
    found = entry(path) if path.is_dir() else None
    unreadable = unreadable_record(path) if path.is_dir() and found is None else None
    if unreadable:
        _err(console, f"results {args.run_id!r}: {unreadable}")
        return EXIT_BAD_INPUT
    if found is None:
        _err(console, f"no results {args.run_id!r} under {root}; fix: see `benchlab results list`")
        return EXIT_BAD_INPUT
    console.print(
        f"{found.kind} {found.id}: phase {found.phase or 'n/a'}, {found.status}; "
        f"{found.headline_text()}"
        + (f"; data verdict {_verdicts(found.data_verdict)}" if found.data_verdict else ""),
        highlight=False,
        soft_wrap=True,
    )
    text = show_text(path, found.kind)
    console.print(text, markup=False, highlight=False, soft_wrap=True)
    return EXIT_OK


def unreadable_record(path: Path) -> str | None:
    """Why a run's or search's record in `path` cannot be read (hand-edited, truncated), or None
    when the directory holds none."""
    from benchlab.results import RUN_FILE, SEARCH_FILE, ResultsError, read_json

    for name in (RUN_FILE, SEARCH_FILE):
        if not (path / name).is_file():
            continue
        try:
            doc = read_json(path / name)
        except ResultsError as exc:
            return str(exc)
        return (
            f"{path / name} is not a {'run' if name == RUN_FILE else 'search'} record (a JSON "
            "object with its config); fix: restore it from a copy of that results directory, "
            "or move the directory out of the results folder"
            if not isinstance(doc, dict) or not isinstance(doc.get("config"), dict)
            else f"{path / name} could not be summarised; fix: benchlab report --run-dir {path}"
        )
    return None


def show_text(path: Path, kind: str) -> str:
    """What `results show` prints after the headline: the report (a search's up to and with
    its conclusion), or where a missing one comes from."""
    if kind == "search":
        return search_conclusion_text(path)
    report = path / {"compare": "compare.md", "soak": "soak.md"}.get(kind, "report.md")
    if report.is_file():
        return report.read_text(encoding="utf-8")
    if kind == "run":
        body = (path / "run.json").read_text(encoding="utf-8")
        return f"{body}\n(no report yet: benchlab report --run-dir {path})"
    return f"(no {report.name} in {path})"


def search_conclusion_text(path: Path) -> str:
    """A search's report.md down to its conclusion, or the conclusion from search.json."""
    report = path / "report.md"
    if report.is_file():
        text = report.read_text(encoding="utf-8")
        sections = text.split("\n## ")
        # the heading and the settings, then the conclusion (the section named so)
        kept = [sections[0]] + [s for s in sections[1:] if s.startswith("Conclusion")]
        return "\n## ".join(kept).rstrip() + f"\n\n(the whole report: {report})"
    from benchlab.config import parse_config
    from benchlab.results import SEARCH_FILE, read_json
    from benchlab.search.conclusion import conclusion

    doc = read_json(path / SEARCH_FILE)
    answer = doc.get("conclusion") or conclusion(parse_config(doc["config"]), doc)
    lines = ["| system | sustainable (records/s) | runs passed | p99 at it (ms) | first failing |"]
    lines.append("|---|---:|---|---:|---:|")
    for row in answer["systems"]:
        lines.append(
            f"| {row['target']} | {fmt_num(row['sustainable_per_s'])} | {row['runs']} | "
            f"{fmt_num(row['p99_ms'], 1)} | {fmt_num(row['failed_at_per_s'])} |"
        )
    return "\n".join([*lines, "", answer["crossover"]["text"]])


# -- compare ------------------------------------------------------------------------------
def cmd_compare(args: argparse.Namespace, console: Console) -> int:
    """The baseline and its contenders side by side: compare.md to stdout, and written."""
    from benchlab.compare import CompareError, write_compare
    from benchlab.results import ResultsError

    try:
        path, _, text = write_compare(
            args.runs, Path(args.results_root), Path(args.out) if args.out else None
        )
    except (CompareError, ResultsError) as exc:
        _err(console, str(exc))
        return EXIT_BAD_INPUT
    console.print(text, markup=False, highlight=False, soft_wrap=True)
    console.print(f"comparison: {path / 'compare.md'}, {path / 'compare.json'}", highlight=False)
    return EXIT_OK


# -- scaleout -----------------------------------------------------------------------------
def cmd_scaleout(args: argparse.Namespace, console: Console) -> int:
    from benchlab.results import ResultsError, resolve_result_dir
    from benchlab.scaleout import ScaleoutError, load_phase_rates, write_report

    root = Path(args.results_root)
    try:
        dirs = [resolve_result_dir(item, root) for item in args.runs]
        path, result = write_report(
            dirs,
            root,
            out=Path(args.out) if args.out else None,
            target=args.target,
            noise=args.noise,
            phases=load_phase_rates(Path(args.repo)),
        )
    except (ScaleoutError, ResultsError) as exc:
        _err(console, str(exc))
        return EXIT_BAD_INPUT
    console.print(result["sentence"], highlight=False, soft_wrap=True)
    console.print(f"report: {path / 'report.md'}", highlight=False)
    return EXIT_OK


def cmd_scaleout_run(args: argparse.Namespace, console: Console) -> int:
    from benchlab.inventory import InventoryError, resolve_inventory
    from benchlab.runparams import ParamError
    from benchlab.scaleout import load_phase_rates
    from benchlab.scaleout_run import execute, make_plan, summary_lines

    repo = Path(args.repo).resolve()
    try:
        extra = parse_extra_vars(args.extra_vars or [])
        if args.phase is not None and extra.setdefault("phase", args.phase) != args.phase:
            raise ValueError(
                f"--phase {args.phase} and -e phase={extra['phase']} disagree; "
                "fix: give the phase once"
            )
        if args.noise is not None and not 0 <= args.noise < 1:
            raise ValueError(f"--noise {args.noise} must be a fraction in [0, 1), e.g. 0.1")
        inventory = resolve_inventory(repo, args.inventory)
        plan = make_plan(repo, repo / "results", inventory, args.workers, extra)
    except (ValueError, InventoryError, ParamError) as exc:  # ParamError names field and fix
        console.print(f"[bold red]benchlab:[/] {exc}", highlight=False, soft_wrap=True)
        return EXIT_BAD_INPUT
    stop = StopFlag()
    stop.install()
    cmdline = ["-i", str(inventory)]

    def runner(playbook: str, extravars: Any, *, label: str, log: Path) -> int:
        with log.open("w", encoding="utf-8") as handle:
            return run_playbook(
                repo,
                playbook,
                dict(extravars),
                cmdline,
                console,
                quiet=args.quiet,
                label=label,
                log=handle,
                cancel=stop,
            )

    console.print(
        f"scale-out {plan.scaleout_id}: phase {plan.phase}, target {plan.target}, workers "
        f"{', '.join(str(r.workers) for r in plan.runs)}; inventory {inventory}; "
        f"output {plan.out_dir}",
        highlight=False,
    )
    outcome = execute(
        plan,
        runner,
        stop,
        lambda line: console.print(line, highlight=False),
        noise=args.noise,
        phases=load_phase_rates(repo),
        restore=not args.no_restore,
    )
    for line in summary_lines(outcome, inventory):
        console.print(line, highlight=False, soft_wrap=True)
    return outcome.exit_code


# -- parser -------------------------------------------------------------------------------
NOISE_HELP = (
    "noise threshold floor as a fraction (phase runs: default 0.10; searches: their bisection "
    "precision and reruns' spread, which this can only raise)"
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's own exit code is already 2
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"benchlab: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from benchlab.runparams import OVERRIDABLE

    parser = _Parser(prog="benchlab", description="benchlab write-benchmark kit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser(
        "run", help="run the open-loop load against the sink(s), audit, save results"
    )
    p.add_argument("--config", required=True, help="run configuration JSON (rendered by bench.yml)")
    p.add_argument("--results-root", default="results", help="results directory (default: results)")
    p.add_argument("--no-report", action="store_true", help="do not write report.md afterwards")
    p.add_argument("--skip-metrics", action="store_true", help="report without Prometheus")
    p.add_argument("--quiet", action="store_true", help="no live progress")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "search", help="find each target's sustainable throughput (fixed-rate trials)"
    )
    p.add_argument("--config", required=True, help="run configuration with a search object")
    p.add_argument("--results-root", default="/var/lib/benchlab/results")
    p.add_argument("--quiet", action="store_true", help="no line per trial")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser(
        "soak",
        help="hold each target at a share of its sustainable rate: memory trend per service, "
        "latency drift, the leak rule (soak.md, soak.json)",
    )
    p.add_argument("--config", required=True, help="run configuration with a soak object")
    p.add_argument("--results-root", default="/var/lib/benchlab/results")
    p.add_argument("--quiet", action="store_true", help="no line per target")
    p.set_defaults(func=cmd_soak)

    p = sub.add_parser(
        "soak-report",
        help="write a soak's soak.md and soak.png again; with --rules, compute its figures "
        "again first with that file's benchlab_soak (e.g. group_vars/all/soak.yml)",
    )
    p.add_argument("soak_dir", help="results/<soak id>")
    p.add_argument("--rules", help="a YAML file with benchlab_soak (the analysis and the rules)")
    p.set_defaults(func=cmd_soak_report)

    p = sub.add_parser(
        "progress",
        help="print a run's live figures (one line); with --job-file, exit "
        f"{EXIT_RUNNING} while that Ansible async job runs",
    )
    p.add_argument("--results-root", required=True, help="where the run writes its results")
    p.add_argument("--run-id", required=True)
    p.add_argument("--job-file", help="the async job's results_file (bench.yml polls with it)")
    p.set_defaults(func=cmd_progress)

    p = sub.add_parser("check-config", help="validate a run configuration without running it")
    p.add_argument("config", help="the run configuration (JSON), e.g. as bench.yml renders it")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("report", help="(re)write report.md and complete run.json for a run")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--skip-metrics", action="store_true", help="do not query Prometheus")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("bench", help="drive bench.yml through ansible-runner with live progress")
    p.add_argument("--phase", required=True, help="smoke, 1, 2 or 3")
    p.add_argument("--inventory", help="e.g. inventory/local (default: ansible.cfg's)")
    p.add_argument("-e", "--extra-vars", action="append", metavar="K=V", help="repeatable")
    p.add_argument("--repo", default=".", help="kit checkout (default: current directory)")
    p.add_argument("--playbook", default="bench.yml")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("results", help="list and show runs, searches and reports")
    rsub = p.add_subparsers(dest="results_cmd", required=True, parser_class=_Parser)
    rl = rsub.add_parser("list", help="every results directory: runs, searches, scale-outs, ...")
    rl.add_argument("--results-root", default="results")
    rl.add_argument("--json", action="store_true")
    rs = rsub.add_parser("show", help="one run's or search's headline and report")
    rs.add_argument("run_id")
    rs.add_argument("--results-root", default="results")
    p.set_defaults(func=cmd_results)

    p = sub.add_parser(
        "compare",
        help="runs (or searches) side by side against the first: configuration differences, "
        "figures, noise",
        description="Compare a baseline (the first run given) with one or more contenders, "
        "like esrally compare: the settings that differ first, then each target's headline "
        "figures with the difference against the baseline in %%, and whether it is beyond "
        "noise (searches' reruns; a phase run is a single run, with no noise estimate). All "
        "phase runs or all searches. Prints compare.md and writes compare.md and compare.json "
        "to a new directory. Exit: 0 done, 2 bad input (nothing written).",
    )
    p.add_argument(
        "runs", nargs="+", metavar="RUN", help="run ids under --results-root, or directories"
    )
    p.add_argument("--results-root", default="results")
    p.add_argument(
        "--out", help="new directory for the comparison (default: <results-root>/compare-<id>)"
    )
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "scaleout", help="does adding a worker raise throughput: bench at each count, report"
    )
    ssub = p.add_subparsers(dest="scaleout_cmd", required=True, parser_class=_Parser)
    sr = ssub.add_parser(
        "run",
        help="bench.yml once per worker count through ansible-runner, then the report",
        description="Run bench.yml once per worker count (-e workers=N, each its own run id "
        "and preflight) through ansible-runner with live progress, write the scale-out report "
        "of the runs to results/scaleout-<id>/, then start every worker again. With -e "
        "phase=search each count's run is a sustainable-throughput search and the report "
        "compares the sustainable rates (the way to answer; a fixed phase only shows whether "
        "its rate was kept up with). Ctrl-C stops "
        "the current run, marks the scale-out PARTIAL and reports what ran. Exit: 0 done, "
        "1 a run, the report or the workers play failed, 2 bad input (nothing changed), "
        "10 a run's data verdict FAILed, 130 interrupted.",
    )
    sr.add_argument("-i", "--inventory", help="e.g. inventory/virtual (default: ansible.cfg's)")
    sr.add_argument(
        "--workers",
        metavar="N,N,...",
        help="worker counts in run order, e.g. 1,2 (default: 1 to all)",
    )
    sr.add_argument(
        "--phase",
        help="search (each count's sustainable rate: the way to answer), smoke, 1, 2 or 3 "
        "(or -e phase=; default smoke)",
    )
    passed_on = ", ".join(name for name in OVERRIDABLE if name != "workers")
    sr.add_argument(
        "-e",
        "--extra-vars",
        action="append",
        metavar="K=V",
        help=f"phase or a run parameter: {passed_on} (target default: pipeline; "
        "workers comes from --workers); repeatable",
    )
    sr.add_argument(
        "--noise",
        type=float,
        default=None,
        help=NOISE_HELP,
    )
    sr.add_argument(
        "--no-restore",
        action="store_true",
        help="keep the last run's worker set (skip playbooks/workers.yml)",
    )
    sr.add_argument("--repo", default=".", help="kit checkout (default: current directory)")
    sr.add_argument("--quiet", action="store_true", help="no live progress")
    sr.set_defaults(func=cmd_scaleout_run)

    sp = ssub.add_parser(
        "report",
        help="the scale-out report from runs (or searches) at each worker count",
    )
    sp.add_argument("runs", nargs="+", metavar="RUN", help="results/<run_id> (or a run id)")
    sp.add_argument("--results-root", default="results")
    sp.add_argument("--out", help="report directory (default: <results-root>/scaleout-<id>)")
    sp.add_argument("--target", default="pipeline")
    sp.add_argument(
        "--noise",
        type=float,
        default=None,
        help=NOISE_HELP,
    )
    sp.add_argument("--repo", default=".", help="kit checkout, for the phase table")
    sp.set_defaults(func=cmd_scaleout)

    register_calibration(sub)
    register_faults(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console(stderr=False)
    try:
        return int(args.func(args, console))
    except KeyboardInterrupt:
        _err(console, "interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
