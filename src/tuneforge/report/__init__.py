"""Reports: a run's plots (matplotlib), a study's (drawn in the page), self-contained HTML,
trackers, the dashboard launcher.

The writers are imported on first use, so ``import tuneforge`` does not pay for matplotlib;
while a run or a study trains, ``preload`` imports them in the background.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["write_report", "write_study_report"]


def write_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` and ``run_dir/plots/`` for a finished run; returns the page."""
    from tuneforge.report import preload

    preload.wait()  # the background imports (preload.py) finish before this thread imports
    from tuneforge.report.html import write_report as write

    return write(run_dir)


def write_study_report(study, folder: str | Path) -> Path:
    """Write ``folder/report.html`` for an ``optuna.Study`` (its plots drawn in the page); returns it."""
    from tuneforge.report import preload

    preload.wait()
    from tuneforge.report.html import write_study_report as write

    return write(study, folder)
