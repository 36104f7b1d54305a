"""The script tuneforge replaces, as a user writes it: Optuna around a PyTorch DataLoader loop.

Run as its own process by benchmarks/main_job.py (imports included in its time). Digits from
scikit-learn, split 60/20/20 (stratified, seed 0) and standardized on the training rows, as
tuneforge's default recipe does; multivariate TPE (seed 0) and, with ``--pruner asha``,
successive halving (min resource 1, reduction factor 3); Adam; in memory. Prints one JSON
line: ``{"best_val": ...}``.

Spaces: ``default`` is tuneforge's default MLP space; ``wide`` the no-pruning study of issue 14
(widths 32-256, batch sizes 32/64/128, relu/tanh, lr, L2).

Usage: ``python benchmarks/canonical_study.py [--trials 64] [--epochs 20] [--space default|wide]
[--pruner asha|none]``
"""

from __future__ import annotations

import argparse
import json

import optuna
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}
SPACES = {
    "default": {"widths": [128, 256, 512], "activations": ["relu", "gelu"], "batches": [32, 64],
                "smoothing": True, "schedule": True},  # fmt: skip
    "wide": {"widths": [32, 64, 128, 256], "activations": ["relu", "tanh"], "batches": [32, 64, 128],
             "smoothing": False, "schedule": False},  # fmt: skip
}


def digits():
    x, y = load_digits(return_X_y=True)
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=0.25, stratify=y_rest,
                                                      random_state=0)  # fmt: skip
    scaler = StandardScaler().fit(x_train)
    as_x = lambda a: torch.tensor(scaler.transform(a), dtype=torch.float32)  # noqa: E731
    return as_x(x_train), torch.tensor(y_train), as_x(x_val), torch.tensor(y_val)


def objective_of(space: dict, epochs: int, data):
    x, y, xv, yv = data

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-3, 1e-2, log=True)
        l2 = trial.suggest_float("l2", 1e-6, 1e-3, log=True)
        width = trial.suggest_categorical("width", space["widths"])
        act = ACTIVATIONS[trial.suggest_categorical("activation", space["activations"])]
        batch = trial.suggest_categorical("batch_size", space["batches"])
        smoothing = trial.suggest_float("label_smoothing", 0.0, 0.2) if space["smoothing"] else 0.0
        cosine = space["schedule"] and trial.suggest_categorical("schedule", ["constant", "cosine"]) == "cosine"
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(x.shape[1], width), act(), nn.Linear(width, 10))
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

    return objective


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--space", choices=sorted(SPACES), default="default")
    parser.add_argument("--pruner", choices=["asha", "none"], default="asha")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = (optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
              if args.pruner == "asha" else optuna.pruners.NopPruner())  # fmt: skip
    sampler = optuna.samplers.TPESampler(seed=0, multivariate=True, group=True)
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    study.optimize(objective_of(SPACES[args.space], args.epochs, digits()), n_trials=args.trials)
    print(json.dumps({"best_val": study.best_value}))


if __name__ == "__main__":
    main()
