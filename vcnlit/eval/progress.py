"""Progress bars for the long evaluation loops (rich): one display, nested bars as extra lines.

Nothing is drawn when stdout is not a terminal (logs, CI, subprocess pipes) or under pytest.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich import get_console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

#: the display a bar opened inside another bar joins
_shown: Progress | None = None


def bars_wanted() -> bool:
    """Whether bars are drawn: stdout is a terminal and no test is running."""
    return get_console().is_terminal and "PYTEST_CURRENT_TEST" not in os.environ


@contextmanager
def progress(label: str, total: int, show: bool = True) -> Iterator[Callable[[], None]]:
    """A bar of ``total`` steps for the duration of the ``with`` block.

    Args:
        label: what the bar counts (shown left of it).
        total: number of steps.
        show: False draws nothing (as off a terminal or under pytest).

    Yields:
        A function that advances the bar by one step.
    """
    global _shown
    if not show or not bars_wanted():
        yield lambda: None
        return
    if _shown is not None:  # a step of an outer bar: one more line, removed when done
        outer = _shown
        task = outer.add_task(label, total=total)
        try:
            yield lambda: outer.advance(task)
        finally:
            outer.remove_task(task)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        _shown = bar
        task = bar.add_task(label, total=total)
        try:
            yield lambda: bar.advance(task)
        finally:
            _shown = None
