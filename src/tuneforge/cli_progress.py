"""A rich progress bar fed by the engine's epoch records (the engine knows nothing of it)."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class EpochProgress:
    """Context manager and epoch callback: one bar over the epochs, with loss and a val metric."""

    def __init__(self, epochs: int, quiet: bool = False, label: str = "train"):
        self.progress = None if quiet else Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[scores]}"), TimeElapsedColumn(), transient=False,
        )  # fmt: skip
        self.epochs, self.label = epochs, label

    def __enter__(self) -> EpochProgress:
        if self.progress is not None:
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=self.epochs, scores="")
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()

    def __call__(self, record: dict) -> None:
        if self.progress is None:
            return
        shown = [k for k in ("train/loss", "val/loss", "val/accuracy", "val/r2") if k in record]
        scores = "  ".join(f"{k} {record[k]:.4f}" for k in shown)
        self.progress.update(self.task, completed=record["epoch"], scores=scores)
