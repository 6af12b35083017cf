"""Tests and CI never select the real lab's inventory or its addresses (SPEC.md section 10)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = ("inventory/lab", "192.168.55.")
THIS = Path(__file__).resolve()


def _files() -> list[Path]:
    out: list[Path] = []
    for top in ("tests", ".ci"):
        for path in (REPO / top).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.resolve() != THIS:
                out.append(path)
    return out


def test_no_test_or_ci_file_points_at_the_lab() -> None:
    offenders = []
    for path in _files():
        try:
            text = path.read_text(errors="ignore")
        except OSError:
            continue
        offenders += [f"{path.relative_to(REPO)}: {word}" for word in FORBIDDEN if word in text]
    assert not offenders, f"tests/CI must never target the real lab: {offenders}"
