"""How a study without pruning splits into cohorts, and what that costs (issue 14, item 4).

The study: digits MLP, 64 trials x 20 epochs over lr, L2, one hidden layer of width 32-256,
relu/tanh and batch size 32/64/128, ``tune.cohort: 64``, no pruner, in memory. It prints every
cohort ``train_cohort`` trained (members, batch sizes, widths), the trials that trained alone,
the search's wall time and the best validation accuracy. ``--bands off`` lets members of all
widths share a cohort (``group_cohorts(by_width=False)``), to measure what width bands buy.

Usage: ``python benchmarks/cohort_study.py [--trials 64] [--epochs 20] [--threads N]
[--bands on|off] [--seed 0]``. Run it with ``PYTHONPATH`` at another checkout's ``src`` to
measure that version; timings on a shared machine are noisy (run variants back to back).
"""

from __future__ import annotations

import argparse
import collections
import time
import warnings

import optuna
import torch

import tuneforge
import tuneforge.run.cohort

SPACE = {
    "train.optimizer.lr": {"low": 1e-3, "high": 1e-2, "log": True},
    "train.regularization.l2": {"low": 1e-6, "high": 1e-3, "log": True},
    "model.hidden": {"choices": [[32], [48], [64], [96], [128], [192], [256]]},
    "model.activation": {"choices": ["relu", "tanh"]},
    "train.batch_size": {"choices": [32, 64, 128]},
}


def spy_cohorts() -> list[tuple[int, float, list]]:
    """Record (members, seconds, configs) of every cohort trained from now on."""
    cohorts, real = [], tuneforge.run.cohort.train_cohort

    def spy(configs, *args, **kwargs):
        started = time.perf_counter()
        runs = real(configs, *args, **kwargs)
        cohorts.append((len(configs), time.perf_counter() - started, list(configs)))
        return runs

    tuneforge.run.cohort.train_cohort = spy
    return cohorts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--bands", choices=["on", "off"], default="on")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    if args.bands == "off":
        import tuneforge.engine.cohort as cohort_engine

        plain = cohort_engine.group_cohorts
        cohort_engine.group_cohorts = lambda cfgs, max_members=16, by_width=False: plain(cfgs, max_members)
    cohorts = spy_cohorts()
    data = tuneforge.load_config(overrides=[f"train.epochs={args.epochs}"]).model_dump(mode="json")
    data["tune"] = {"space": SPACE, "trials": args.trials, "cohort": 64, "pruner": "none",
                    "storage": None, "seed": args.seed}  # fmt: skip
    started = time.perf_counter()
    study = tuneforge.tune(data)
    wall = time.perf_counter() - started
    trials = study.optuna.get_trials(deepcopy=False)
    alone = collections.Counter(t.user_attrs.get("tuneforge:fallback", "?") for t in trials
                                if t.user_attrs.get("tuneforge:engine") == "alone")  # fmt: skip
    in_cohorts = sum(n for n, _, _ in cohorts)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.trials} trials x "
          f"{args.epochs} epochs, bands {args.bands}, seed {args.seed}")  # fmt: skip
    print(f"{len(cohorts)} cohorts, sizes {sorted((n for n, _, _ in cohorts), reverse=True)}, "
          f"{args.trials - in_cohorts} trials alone")  # fmt: skip
    for n, seconds, cfgs in cohorts:
        sizes = sorted({c.train.batch_size for c in cfgs})
        widths = sorted({c.model.hidden[0] for c in cfgs})
        print(f"  {n:3d} members  {seconds:6.2f} s  batch {sizes}  widths {widths}")
    for why, n in alone.items():
        print(f"  alone: {n} ({why})")
    print(f"search + retrain wall {wall:.1f} s, best val/accuracy {study.best_value:.4f}")


if __name__ == "__main__":
    main()
