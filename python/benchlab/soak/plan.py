"""Each target's soak rate, resolved on the controller before anything runs.

`-e soak_rate=R` gives every target R records/s. Without it a target's rate is `fraction` x
the sustainable rate of the newest complete search (results/<id>/search.json, status
`complete`) of the same inventory that found one for that target (its `sustainable_per_s`).
benchlab.runparams calls this in preflight; a target with neither stops the run there with
one line naming the fix (NoSoakRate, which it turns into its ParamError: exit 2).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SEARCH_FILE = "search.json"  # benchlab.results.SEARCH_FILE (not imported: runparams stays light)
GIVEN = "-e soak_rate"


class NoSoakRate(ValueError):
    """A target with no search to take its rate from and no -e soak_rate: the problem and
    the fix (benchlab.runparams reports it as its one line; this module does not import it,
    as `python -m benchlab.runparams` runs that module as __main__)."""

    def __init__(self, problem: str, fix: str) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}; {fix}.")


def _searches(results_root: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """(created, id, search.json) of every readable complete search, newest first."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    if not results_root.is_dir():
        return found
    for path in results_root.iterdir():
        file = path / SEARCH_FILE
        if not file.is_file():
            continue
        try:
            doc = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # unreadable: `benchlab results list` names it; not a source of a rate
        if isinstance(doc, dict) and doc.get("status") == "complete":
            found.append((str(doc.get("created") or ""), path.name, doc))
    found.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return found


def sustainable_from_searches(
    results_root: Path, inventory: str | None, target: str
) -> dict[str, Any] | None:
    """The newest complete search of `inventory` (None: any) with a sustainable rate for
    `target`: {search_id, search_created, sustainable_per_s, writers}; None when there is none.
    `writers` is the fewest writer processes a run of that rate passed with (the soak starts
    with them: the generator's own choice may fall behind at a rate the search needed more for)."""
    for created, name, doc in _searches(results_root):
        if inventory is not None and doc.get("inventory") != inventory:
            continue
        found = (doc.get("targets") or {}).get(target) or {}
        rate = found.get("sustainable_per_s")
        if isinstance(rate, int | float) and not isinstance(rate, bool) and rate > 0:
            return {
                "search_id": str(doc.get("run_id") or name),
                "search_created": created,
                "sustainable_per_s": float(rate),
                "writers": found.get("writers"),
            }
    return None


def soak_rates(
    targets: Sequence[str],
    fraction: float,
    rate: float | None,
    results_root: Path | None,
    inventory: str | None,
) -> dict[str, dict[str, Any]]:
    """target -> {rate_per_s, source, fraction, and the search's id, date and rate}."""
    out: dict[str, dict[str, Any]] = {}
    for target in targets:
        if rate is not None:
            out[target] = {"rate_per_s": float(rate), "source": GIVEN}
            continue
        found = (
            sustainable_from_searches(results_root, inventory, target)
            if results_root is not None
            else None
        )
        if found is None:
            where = f"under {results_root}" if results_root is not None else "(no results folder)"
            raise NoSoakRate(
                f"phase soak: no complete search of {target} on inventory "
                f"{inventory or 'any'} {where} gives its sustainable rate",
                f"run ansible-playbook bench.yml -e phase=search -e target={target} first, "
                "or pass -e soak_rate=<records/s>",
            )
        out[target] = {
            "rate_per_s": fraction * found["sustainable_per_s"],
            "source": "search",
            "fraction": fraction,
            **found,
        }
    return out
