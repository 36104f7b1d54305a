"""Verbs on a finished run directory: ``evaluate``, ``refine``, ``predict``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tuneforge.cli.common import console, print_scores


def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory.")],
    data: Annotated[Path | None, typer.Option(help="A file with the target column.")] = None,
    part: Annotated[str, typer.Option(help="Split to score when no --data: train, val or test.")] = "test",
) -> None:
    """Score a saved model on one of its splits or on a labelled file."""
    from tuneforge.predict import evaluate_run

    print_scores(f"{run_dir}: {data or part}", evaluate_run(run_dir, data, part))


def refine(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory (only read).")],
    trials: Annotated[int, typer.Option(help="Random perturbations, evaluated at once.")] = 100,
    scale: Annotated[float, typer.Option(help="σ of the Gaussian noise added to every trained weight.")] = 0.01,
    part: Annotated[str, typer.Option(help="Rows whose loss picks the best: train, val or test.")] = "val",
    seed: Annotated[int, typer.Option(help="Seed of the noise.")] = 0,
    out: Annotated[Path | None, typer.Option(help="New run directory (default: RUN_DIR-refined).")] = None,
) -> None:
    """Perturb a run's weights at random; keep the best if it beats the run (a new run directory)."""
    from tuneforge.run.refine import refine_run

    found = refine_run(run_dir, trials=trials, scale=scale, part=part, seed=seed, out=out)
    r = found.record
    if found.run is None:
        console.print(f"no perturbation of {trials} (σ={scale}) beat {run_dir}'s {part}/loss "
                      f"{r['loss_before']:.6g} (best tried: {r['best_tried']:.6g}); nothing written", markup=False, soft_wrap=True)  # fmt: skip
        return
    console.print(f"{part}/loss {r['loss_before']:.6g} -> {r['loss_after']:.6g} (trial {r['trial']}, "
                  f"{r['better_trials']} of {trials} better); wrote {found.run.path}", markup=False, soft_wrap=True)  # fmt: skip
    print_scores(f"{found.run.path}: refined", found.run.summary["metrics"])


def predict(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory.")],
    input_file: Annotated[Path, typer.Argument(metavar="INPUT", help="CSV/parquet of feature rows (.npz for image/sequence runs).")],
    out: Annotated[Path | None, typer.Option(help="Output CSV (default: stdout).")] = None,
) -> None:
    """Predict for the rows of a file; writes a CSV with a "prediction" column."""
    from tuneforge.predict import predict_file

    frame = predict_file(run_dir, input_file)
    if out is None:
        frame.to_csv(sys.stdout, index=False)
    else:
        frame.to_csv(out, index=False)
        console.print(f"wrote {len(frame)} predictions to {out}")
