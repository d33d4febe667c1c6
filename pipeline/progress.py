"""Rich progress bars and summary tables shared by the long-running commands."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

console = Console(stderr=True)


def make_progress(eta_field: bool = False) -> Progress:
    """A progress display with elapsed time and an ETA: rich's (from the pace so far), or,
    with `eta_field`, the text each task carries in its `left` field (the train stage's ETA
    from measured FLOP/s, pipeline.grid.eta)."""
    left = (TextColumn("{task.fields[left]}") if eta_field else
            [TextColumn("eta"), TimeRemainingColumn()])
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), *([left] if eta_field else left),
                    console=console, transient=False)


def summary_table(title: str, rows: list[tuple[str, object]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, value in rows:
        table.add_row(name, str(value))
    return table


def epoch_callback(progress: Progress, task_id, label: str, epochs: int):
    """A Keras callback that shows `label: epoch k/n` on the progress task."""
    import keras

    class EpochProgress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            accuracy = (logs or {}).get("val_accuracy")
            shown = f" val_acc {accuracy:.3f}" if accuracy is not None else ""
            progress.update(task_id, description=f"{label} epoch {epoch + 1}/{epochs}{shown}")

    return EpochProgress()
