"""An interrupted bench: the in-progress marker and the clean-up that follows (README "Interrupts").

`benchlab run` / `benchlab search` run on the load generator as an Ansible async job, which
outlives an interrupted ansible-playbook. So playbooks/bench_run.yml writes, on the
controller, just before it starts the load, the marker
``results/.in-progress/<run id>.json`` (the run id, the inventory sources, the load generator
hosts, the results root there), and removes it once the run is fetched
(playbooks/tasks/finish_run.yml). Whoever sees the playbook end while its marker is still
there runs playbooks/interrupt.yml for the run: it stops the load (SIGINT, as Ctrl-C on the
host would), waits for the partial result, writes the report, fetches the result and removes
the marker. That is the callback plugin plugins/callback/benchlab_interrupt.py for a plain
ansible-playbook, and `benchlab bench` / `benchlab scaleout run` (benchlab.cli.run_playbook)
after they cancel the playbook they drive.

Pure: which task result wrote a marker, reading one, the clean-up command line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The directory of markers under the controller's results/; its one Ansible spelling is
# benchlab_in_progress_dir (group_vars/all/kit.yml), checked equal by the unit tests.
IN_PROGRESS_DIR = ".in-progress"
# What the load generator runs: `benchlab run`, `benchlab search` or `benchlab soak`.
COMMANDS = ("run", "search", "soak")
# The clean-up playbook, relative to the repository root.
INTERRUPT_PLAYBOOK = "playbooks/interrupt.yml"
# Options of the interrupted ansible-playbook the clean-up is given again: how to reach and
# become on the hosts, and the extra vars (which may carry connection settings). Only those
# without a default value (a default, e.g. --connection ssh, would override ansible.cfg), and
# not the playbook's selection options (--tags, --limit, --check), which would change what the
# clean-up does.
PASSED_ON_OPTIONS: dict[str, str] = {
    "remote_user": "--user",
    "private_key_file": "--private-key",
    "become_user": "--become-user",
}
PASSED_ON_LISTS: dict[str, str] = {
    "extra_vars": "--extra-vars",
    "vault_ids": "--vault-id",
    "vault_password_files": "--vault-password-file",
}


class MarkerError(ValueError):
    pass


@dataclass(frozen=True)
class Marker:
    """A run in progress, as bench_run.yml's task "Mark the run in progress" writes it."""

    path: Path
    run_id: str
    inventory: tuple[str, ...]  # ansible_inventory_sources of the interrupted playbook
    loadgen: tuple[str, ...]  # the hosts that run the load
    results_root: str  # the run directory's parent on those hosts
    config: str  # the run configuration there: `benchlab run|search|soak --config <config>`
    command: str  # run, search or soak

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "inventory": list(self.inventory),
            "loadgen": list(self.loadgen),
            "results_root": self.results_root,
            "config": self.config,
            "command": self.command,
        }


def marker_path(results_root: Path, run_id: str) -> Path:
    """Where the controller keeps the marker of `run_id` (results_root: its results/)."""
    return results_root / IN_PROGRESS_DIR / f"{run_id}.json"


def is_marker_path(path: object) -> bool:
    """Whether `path` is a marker: <anything>/.in-progress/<run id>.json."""
    if not isinstance(path, str) or not path:
        return False
    p = Path(path)
    return p.parent.name == IN_PROGRESS_DIR and p.suffix == ".json" and len(p.stem) > 0


def written_marker(result: Mapping[str, Any] | None) -> Path | None:
    """The marker a task result wrote (ansible.builtin.copy's `dest`), else None."""
    if not isinstance(result, Mapping) or result.get("failed") or result.get("skipped"):
        return None
    dest = result.get("dest")
    return Path(dest) if is_marker_path(dest) else None


def _strings(doc: Mapping[str, Any], key: str, where: Path) -> tuple[str, ...]:
    value = doc.get(key)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise MarkerError(
            f"{where}: `{key}` must be a non-empty list of strings, got {value!r}; fix: "
            "remove the file (the run is over) or rerun bench.yml, which writes it"
        )
    return tuple(value)


def parse_marker(doc: object, path: Path) -> Marker:
    """A marker from its JSON document; MarkerError names the field and the fix."""
    if not isinstance(doc, Mapping):
        raise MarkerError(f"{path}: not a JSON object; fix: remove the file (the run is over)")
    for key in ("run_id", "results_root", "config", "command"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise MarkerError(
                f"{path}: `{key}` must be a non-empty string, got {doc.get(key)!r}; fix: "
                "remove the file (the run is over) or rerun bench.yml, which writes it"
            )
    if doc["command"] not in COMMANDS:
        raise MarkerError(
            f"{path}: `command` {doc['command']!r} is not one of {', '.join(COMMANDS)}; fix: "
            "remove the file (the run is over) or rerun bench.yml, which writes it"
        )
    if f"{doc['run_id']}.json" != path.name:
        raise MarkerError(
            f"{path}: `run_id` {doc['run_id']!r} is not the file's name; fix: remove the file"
        )
    return Marker(
        path=path,
        run_id=str(doc["run_id"]),
        inventory=_strings(doc, "inventory", path),
        loadgen=_strings(doc, "loadgen", path),
        results_root=str(doc["results_root"]),
        config=str(doc["config"]),
        command=str(doc["command"]),
    )


def read_marker(path: Path) -> Marker | None:
    """The marker at `path`; None when it is gone (the run was fetched). MarkerError if bad."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MarkerError(
            f"{path}: not JSON ({exc}); fix: remove the file (the run is over)"
        ) from exc
    return parse_marker(doc, path)


def pending(paths: Iterable[Path]) -> list[Path]:
    """The markers among `paths` still on disk (their run was not fetched), once each."""
    seen: list[Path] = []
    for path in paths:
        if path not in seen and path.is_file():
            seen.append(path)
    return seen


def inventory_args(marker: Marker) -> list[str]:
    """The interrupted playbook's inventory, as ansible-playbook options."""
    return [arg for source in marker.inventory for arg in ("-i", source)]


def cleanup_argv(
    marker: Marker,
    repo: Path,
    ansible_playbook: Sequence[str],
    cli_args: Mapping[str, Any] | None = None,
) -> list[str]:
    """The command line that stops `marker`'s run and fetches it: interrupt.yml on the same
    inventory, with the interrupted playbook's connection options (PASSED_ON_*)."""
    argv = [*ansible_playbook, *inventory_args(marker)]
    args = cli_args or {}
    for key, flag in PASSED_ON_OPTIONS.items():
        value = args.get(key)
        if value not in (None, ""):
            argv += [flag, str(value)]
    if args.get("become"):
        argv.append("--become")
    for key, flag in PASSED_ON_LISTS.items():
        for value in args.get(key) or ():
            argv += [flag, str(value)]
    argv += [str(repo / INTERRUPT_PLAYBOOK), "-e", f"benchlab_run_id={marker.run_id}"]
    return argv


def announce(marker: Marker) -> str:
    """The one line said before the clean-up starts."""
    hosts = ", ".join(marker.loadgen)
    return (
        f"benchlab: interrupted: stopping run {marker.run_id} on {hosts} and fetching its "
        f"partial result to results/{marker.run_id}/ ({INTERRUPT_PLAYBOOK})"
    )


@dataclass
class InterruptWatch:
    """What a playbook's driver keeps: the markers its playbook wrote, and at its end the
    clean-up of those still there (the callback plugin at exit; benchlab.cli after a cancel).
    """

    markers: list[Path] = field(default_factory=list)

    def observe(self, result: Mapping[str, Any] | None) -> Path | None:
        """Remember the marker a task result wrote (any other result: nothing)."""
        path = written_marker(result)
        if path is not None and path not in self.markers:
            self.markers.append(path)
        return path

    def clean_up(self, run: Callable[[Marker], int], say: Callable[[str], None]) -> list[int]:
        """Run `run` (interrupt.yml for the marker's run) for every marker still there;
        returns its exit codes. A marker that cannot be read is named, and left alone."""
        codes: list[int] = []
        for path in pending(self.markers):
            try:
                marker = read_marker(path)
            except MarkerError as exc:
                say(f"benchlab: {exc}")
                continue
            if marker is None:  # fetched meanwhile
                continue
            say(announce(marker))
            code = run(marker)
            codes.append(code)
            if code != 0:
                say(
                    f"benchlab: {INTERRUPT_PLAYBOOK} exited {code}; run {marker.run_id} is still "
                    f"marked in progress ({path}); fix: see its output above, then rerun "
                    f"ansible-playbook {INTERRUPT_PLAYBOOK} -e benchlab_run_id={marker.run_id}"
                )
        self.markers.clear()
        return codes


__all__ = [
    "INTERRUPT_PLAYBOOK",
    "IN_PROGRESS_DIR",
    "InterruptWatch",
    "Marker",
    "MarkerError",
    "announce",
    "cleanup_argv",
    "inventory_args",
    "is_marker_path",
    "marker_path",
    "parse_marker",
    "pending",
    "read_marker",
    "written_marker",
]
