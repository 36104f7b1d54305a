"""A rich progress bar fed by the engine's epoch records (the engine knows nothing of it)."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class EpochProgress:
    """Context manager and epoch callback: one bar over the epochs, with loss and a val metric.

    Args:
        epochs: ``train.epochs`` of each run (``auto``: counted from the data, so the bar has
            no total).
        quiet: no bar at all.
        label: shown left of the bar.
        runs: runs in a row that feed the bar (cv folds, seeds); a record whose epoch does not
            follow the previous one starts the next run's stretch of the bar.
    """

    def __init__(self, epochs: int | str, quiet: bool = False, label: str = "train",
                 runs: int = 1):  # fmt: skip
        self.progress = None if quiet else Progress(
            TextColumn("[bold]{task.description}"), BarColumn(bar_width=20), MofNCompleteColumn(),
            TextColumn("{task.fields[scores]}"), TimeElapsedColumn(), transient=False,
        )  # fmt: skip
        # epochs "auto": counted from the data, unknown here; the bar counts without a total
        self.per_run = epochs if isinstance(epochs, int) else None
        self.epochs = None if self.per_run is None else self.per_run * runs
        self.label = label
        self.task = None
        self._offset, self._last = 0, 0

    def __enter__(self) -> EpochProgress:
        return self

    def __exit__(self, *exc) -> None:
        if self.task is not None:
            self.progress.stop()

    def __call__(self, record: dict) -> None:
        if self.progress is None:
            return
        if self.task is None:  # started on the first epoch, so a bad input shows no empty bar
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=self.epochs, scores="")
        if record["epoch"] <= self._last:
            self._offset += self.per_run or self._last
        self._last = record["epoch"]
        shown = [k for k in ("train/loss", "val/loss", "val/accuracy", "val/r2") if k in record]
        scores = "  ".join(f"{k} {record[k]:.4f}" for k in shown)
        self.progress.update(self.task, completed=self._offset + record["epoch"], scores=scores)
