"""Tuning throughput on the default digits MLP study (64 trials x 20 epochs), one process.

  (a) tuneforge with cohorts (``tune.cohort`` K = 16, 32, 64; and K = 16 with ``tune.refill``)
  (b) tuneforge one trial at a time (``tune.cohort: 1``)
  (c) the canonical Optuna objective around a hand-written PyTorch loop (benchmarks/tune_study.py)
  (d) scikit-learn ``MLPClassifier`` under ``RandomizedSearchCV`` with the same budget and split

Prints wall time, trials/min, best validation accuracy, the ratio against (c) and (d), and the
training FLOP rate (6 x parameters x rows x epochs, summed over the trials) against a measured
float32 matmul peak of this machine. For tuneforge, "search" is the study itself (what (c) and
(d) do); "total" adds what ``tuneforge tune`` does after it: retraining the best recipe into
its run directory (with its report) and writing the study report. Every variant runs once,
tiny, before anything is timed, so no variant pays the process's lazy imports for the others.

Usage: ``python benchmarks/tune_throughput.py [--trials 64] [--seed 0] [--threads 1]``
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
import warnings

import numpy as np
import optuna
import torch
from devices import add_device_option, describe
from scipy.stats import loguniform
from sklearn.model_selection import PredefinedSplit, RandomizedSearchCV
from sklearn.neural_network import MLPClassifier
from tune_study import canonical

import tuneforge
from tuneforge.data import prepare
from tuneforge.tuning.api import finish, make_plan, run_plan


def matmul_peak_gflops(n: int = 1024, repeats: int = 20) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - started) / 1e9


def tuneforge_study(trials: int, seed: int, cohort: int, epochs: int = 20, refill: bool = False,
                    device: str = "cpu"):  # fmt: skip
    """Search and total wall time, best value and training FLOPs of the default study."""
    with tempfile.TemporaryDirectory() as folder:
        options = dict(trials=trials, seed=seed, storage=None, cohort=cohort, out=folder, refill=refill)
        plan = make_plan(None, [f"train.epochs={epochs}", f"train.device={device}"], options)
        started = time.perf_counter()
        study = run_plan(plan)
        search = time.perf_counter() - started
        finish(plan, study)
        total = time.perf_counter() - started
    rows = 1077  # digits training rows under the default split
    flops = sum(6 * t.user_attrs.get("parameters", 0) * rows * t.user_attrs.get("epochs", 0)
                for t in study.optuna.get_trials(deepcopy=False))  # fmt: skip
    return search, total, study.best_value, flops


def warm_up(seed: int, device: str) -> None:
    """Each variant once, tiny: imports and first-call costs are paid before any timing."""
    for cohort, refill in ((2, False), (1, False), (2, True)):
        tuneforge_study(2, seed, cohort, epochs=1, refill=refill, device=device)
    canonical(1, seed, epochs=1, device=device)


def sklearn_search(trials: int, seed: int) -> tuple[float, float]:
    data = prepare(tuneforge.load_config().data)
    x = torch.cat([data.x["train"], data.x["val"]]).numpy()
    y = torch.cat([data.y["train"], data.y["val"]]).numpy()
    fold = np.r_[np.full(data.size("train"), -1), np.zeros(data.size("val"))]
    space = {"learning_rate_init": loguniform(1e-3, 1e-2), "alpha": loguniform(1e-6, 1e-3),
             "hidden_layer_sizes": [(128,), (256,), (512,)], "activation": ["relu", "tanh"],
             "batch_size": [32, 64]}  # fmt: skip
    search = RandomizedSearchCV(MLPClassifier(max_iter=20, random_state=seed), space, n_iter=trials,
                                cv=PredefinedSplit(fold), random_state=seed, refit=False)  # fmt: skip
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 20 iterations never "converge"
        search.fit(x, y)
    return time.perf_counter() - started, search.best_score_


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cohorts", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--no-sklearn", action="store_true")
    parser.add_argument("--cohorts-only", action="store_true",
                        help="skip the refill and cohort-1 variants")  # fmt: skip
    add_device_option(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    peak = matmul_peak_gflops()
    print(f"{platform.machine()}, torch {torch.__version__}, {args.threads} thread(s), "
          f"{args.trials} trials x 20 epochs, seed {args.seed}, matmul peak {peak:.1f} GFLOP/s")  # fmt: skip
    print(describe(args.device))
    warm_up(args.seed, args.device)
    rows = []
    variants = [(k, False) for k in args.cohorts]
    if not args.cohorts_only:
        variants += [(args.cohorts[0], True), (1, False)]
    for k, refill in variants:
        search, total, best, flops = tuneforge_study(args.trials, args.seed, k, refill=refill,
                                                     device=args.device)  # fmt: skip
        name = f"(a) tuneforge cohort {k}" if k > 1 else "(b) tuneforge cohort 1"
        rows.append((name + (" refill" if refill else ""), search, total, best, flops))
    started = time.perf_counter()
    best = canonical(args.trials, args.seed, device=args.device)
    rows.append(("(c) canonical optuna loop", time.perf_counter() - started, None, best, None))
    c_wall = rows[-1][1]
    d_wall = float("nan")
    if not args.no_sklearn:  # scikit-learn runs on the CPU whatever --device says
        wall, best = sklearn_search(args.trials, args.seed)
        rows.append(("(d) sklearn RandomizedSearchCV", wall, None, best, None))
        d_wall = wall
    print(f"{'variant':<32} {'search s':>8} {'total s':>8} {'trials/min':>10} {'best val':>9} "
          f"{'(c)/x':>6} {'(d)/x':>6} {'GFLOP/s':>8} {'of peak':>8}")  # fmt: skip
    for name, wall, total, best, flops in rows:
        rate = f"{flops / wall / 1e9:8.2f} {flops / wall / 1e9 / peak:8.1%}" if flops else f"{'':>8} {'':>8}"
        total_s = f"{total:8.1f}" if total is not None else f"{'':>8}"
        print(f"{name:<32} {wall:8.1f} {total_s} {args.trials / wall * 60:10.1f} {best:9.4f} "
              f"{c_wall / wall:6.2f} {d_wall / wall:6.2f} {rate}")  # fmt: skip

if __name__ == "__main__":
    main()
