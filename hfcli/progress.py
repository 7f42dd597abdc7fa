"""Progress reporting: the core calls `report(task, done, total, figures)`; the CLI draws bars."""

from __future__ import annotations

from collections.abc import Callable

Report = Callable[[str, int, int, dict], None]


def no_report(task: str, done: int, total: int, figures: dict) -> None:
    """The default: library callers that want no progress get none."""
