"""The progress bar ``gilfree compare`` shows on stderr."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

#: Called before each step of a run with (steps done, steps in all, what comes next).
Progress = Callable[[int, int, str], None]


@contextlib.contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Progress | None]:
    """A rich progress bar on stderr, as a ``compare.run`` progress callback (``None`` if off).

    It refreshes only when a step starts (``auto_refresh=False``): a refresh thread would
    compete with the heartbeat and the timed runs for the GIL, and be alive when a process
    pool forks.
    """
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<36}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        auto_refresh=False,
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    ) as bar:
        task = bar.add_task("compare", total=None)

        def update(done: int, total: int, description: str) -> None:
            bar.update(task, completed=done, total=total, description=description)
            bar.refresh()

        yield update
