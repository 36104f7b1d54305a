"""``tune.refill`` against batches of K trials: the default digits study over several seeds.

With batches the runner asks Optuna for K trials, trains them as cohorts and asks the next K
once the last of them has ended; with ``tune.refill`` a pruned or finished trial's place goes
to a new trial at the next epoch. Refill keeps the batched models fuller (less time) but TPE
proposes each new trial while the running ones have said less (maybe a worse best recipe), so
one seed says little: this runs both, interleaved, on each seed and prints the search time and
best validation accuracy of each, then the means and the time ratio.

Usage: ``python benchmarks/refill_vs_batches.py [--seeds 12] [--cohort 16] [--threads 1]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings

import optuna
import torch
from devices import add_device_option

from tuneforge.tuning.api import make_plan, run_plan


def search(seed: int, cohort: int, refill: bool, trials: int = 64, epochs: int = 20,
           device: str = "cpu"):  # fmt: skip
    """Wall time of the study's search (no retrain, no report) and its best value."""
    with tempfile.TemporaryDirectory() as folder:
        options = dict(trials=trials, seed=seed, storage=None, cohort=cohort, out=folder, refill=refill)
        plan = make_plan(None, [f"train.epochs={epochs}", f"train.device={device}"], options)
        started = time.perf_counter()
        study = run_plan(plan)
        return time.perf_counter() - started, study.best_value  # best_value: a host read


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--cohort", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    add_device_option(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    for refill in (False, True):  # first calls (imports, allocators) before any timing
        search(0, args.cohort, refill, trials=3, epochs=1, device=args.device)
    print(f"default digits study, 64 trials x 20 epochs, tune.cohort {args.cohort}, "
          f"torch {torch.__version__}, {args.threads} thread(s)")  # fmt: skip
    print(f"{'seed':>4} {'batches s':>10} {'best':>7} {'refill s':>9} {'best':>7}")
    rows = []
    for seed in range(args.seeds):
        batches = search(seed, args.cohort, False, device=args.device)
        refill = search(seed, args.cohort, True, device=args.device)
        rows.append((batches, refill))
        print(f"{seed:>4} {batches[0]:>10.2f} {batches[1]:>7.4f} {refill[0]:>9.2f} {refill[1]:>7.4f}")
    mean = [statistics.fmean(r[i][j] for r in rows) for i in (0, 1) for j in (0, 1)]
    print(f"mean {mean[0]:>10.2f} {mean[1]:>7.4f} {mean[2]:>9.2f} {mean[3]:>7.4f}"
          f"   refill / batches time: {mean[2] / mean[0]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
