"""A rich progress display behind the core's ``progress(step, done, total)`` callback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from minewatch.cli import output


@contextlib.contextmanager
def rich_progress(console: Console | None = None) -> Iterator:
    """Yield a callback that drives one rich progress bar per step name (shown literally)."""
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console or output.console(stderr=True), transient=False,
    ) as bar:
        tasks: dict[str, int] = {}

        def callback(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(escape(step), total=total)
            bar.update(tasks[step], completed=done, total=total)

        yield callback
