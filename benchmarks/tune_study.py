"""The default study (digits MLP space, 64 trials x 20 epochs) against the canonical Optuna way.

  (a) ``tuneforge.tune`` in memory: the default study as ``tuneforge tune`` runs it, minus storage;
  (b) ``tuneforge.tune`` with the default SQLite storage (what ``tuneforge tune`` really does);
  (c) the canonical Optuna objective around a hand-written PyTorch loop over a
      ``DataLoader(TensorDataset)`` (optuna-examples/pytorch style), the same space, sampler
      (multivariate TPE, same seed), pruner (successive halving) and epochs, in memory.

The table shows wall time, the best validation accuracy and (c)/(a). SPEC §6 asks a study of
small models to be at least 10x faster than (c) at an equal or better best score; the module
executor trains one trial at a time, so this measures what the cohort engine must add.

Usage: ``python benchmarks/tune_study.py [--trials 64] [--seeds 0 1] [--threads 1] [--device cuda]``
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
import warnings

import optuna
import torch
from devices import add_device_option, describe
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import tuneforge
from tuneforge.data import prepare
from tuneforge.tuning.space import DEFAULT_SPACES

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}


def canonical(trials: int, seed: int, epochs: int = 20, device: str = "cpu") -> float:
    """An Optuna objective around a hand-written loop, as tutorials write it; best val accuracy.

    The accuracy read (``.item()``) every epoch synchronizes with the device, as in tutorials.
    """
    data = prepare(tuneforge.load_config().data, device)
    x, y, xv, yv = data.x["train"], data.y["train"], data.x["val"], data.y["val"]
    space = DEFAULT_SPACES["mlp"]

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", space["train.optimizer.lr"]["low"], space["train.optimizer.lr"]["high"], log=True)
        l2 = trial.suggest_float("l2", 1e-6, 1e-3, log=True)
        hidden = json.loads(trial.suggest_categorical("hidden", [json.dumps(h) for h in space["model.hidden"]["choices"]]))
        act = ACTIVATIONS[trial.suggest_categorical("activation", ["relu", "gelu"])]
        dropout = trial.suggest_float("dropout", 0.0, 0.3)
        batch = trial.suggest_categorical("batch_size", [32, 64])
        smoothing = trial.suggest_float("label_smoothing", 0.0, 0.2)
        cosine = trial.suggest_categorical("schedule", ["constant", "cosine"]) == "cosine"
        torch.manual_seed(0)
        layers, width = [], x.shape[1]
        for h in hidden:
            layers += [nn.Linear(width, h), act(), nn.Dropout(dropout)]
            width = h
        model = nn.Sequential(*layers, nn.Linear(width, 10)).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * len(loader)) if cosine else None
        loss_fn = nn.CrossEntropyLoss(label_smoothing=smoothing)
        for epoch in range(epochs):
            model.train()
            for xb, yb in loader:
                opt.zero_grad()
                penalty = sum((p**2).sum() for p in model.parameters() if p.ndim > 1)
                (loss_fn(model(xb), yb) + l2 * penalty).backward()
                opt.step()
                if sched:
                    sched.step()
            model.eval()
            with torch.no_grad():
                accuracy = (model(xv).argmax(1) == yv).float().mean().item()
            trial.report(accuracy, epoch + 1)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return accuracy

    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)
    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    study.optimize(objective, n_trials=trials)
    return study.best_value


def timed(run, *args, **kwargs) -> tuple[float, float]:
    started = time.perf_counter()
    best = run(*args, **kwargs)  # both variants end with a host read of their best value
    return time.perf_counter() - started, best


def tuned(device: str = "cpu", **options) -> float:
    return tuneforge.tune(overrides=[f"train.device={device}"], **options).best_value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--threads", type=int, default=None)
    add_device_option(parser)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    print(f"{platform.processor() or platform.machine()}, {describe(args.device)}, "
          f"{args.trials} trials x 20 epochs")  # fmt: skip
    print(f"{'seed':>4} {'variant':<28} {'wall s':>8} {'best val acc':>13} {'vs (a)':>7}")
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as folder:
            a = timed(tuned, args.device, trials=args.trials, seed=seed, storage=None, out=folder)
            b = timed(tuned, args.device, trials=args.trials, seed=seed, out=folder,
                      storage=f"sqlite:///{folder}/s.db")  # fmt: skip
        c = timed(canonical, args.trials, seed, device=args.device)
        for name, (wall, best) in [("(a) tuneforge, memory", a), ("(b) tuneforge, sqlite", b),
                                   ("(c) canonical optuna loop", c)]:  # fmt: skip
            print(f"{seed:>4} {name:<28} {wall:>8.1f} {best:>13.4f} {wall / a[0]:>7.2f}")


if __name__ == "__main__":
    main()
