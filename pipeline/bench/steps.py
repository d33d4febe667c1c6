"""The benchmark's progress: one bar over its steps, weighted by their expected seconds.

Steps differ a lot in length (a no-op `dvc repro` against a round of speed cases), so the
bar advances by each step's expected seconds (`Sizes.expected`, measured on the 2-core
reference machine), not by one per step; rich's ETA then extrapolates from how fast the
finished steps went on this machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from pipeline.progress import console


class Steps:
    """A progress bar for the planned steps; `step(label, kind)` wraps each one."""

    def __init__(self, expected: dict[str, float], planned: list[str]):
        self.expected = expected
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 TaskProgressColumn(), TimeElapsedColumn(), TextColumn("eta"),
                                 TimeRemainingColumn(), console=console, transient=False)
        self.task = self.progress.add_task("bench", total=sum(expected[kind]
                                                                 for kind in planned))
        self.done: list[tuple[str, float]] = []  # (label, seconds) of the finished steps

    def __enter__(self) -> Steps:
        self.progress.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.progress.stop()

    @contextmanager
    def step(self, label: str, kind: str) -> Iterator[None]:
        """Show `label` while the step runs, print its seconds when it ends, and advance the
        bar by the expected seconds of `kind`."""
        self.progress.update(self.task, description=f"bench: {label}")
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
        self.progress.console.print(f"bench: {label}: {seconds:.0f} s", highlight=False)
        self.progress.advance(self.task, self.expected[kind])
        self.done.append((label, seconds))
