"""A user-written model tuned three ways: torch.func cohorts, one trial at a time, canonical Optuna.

The user's module (written to a temporary folder, imported as ``model.factory``) is a residual
MLP (LayerNorm, GELU, skip connections) on digits rows; a study of 32 trials x 20 epochs over the
learning rate, L2 strength and seed, no pruning, in memory:

  (a) ``tuneforge.tune`` with ``tune.cohort: 16`` (members batched through torch.func);
  (b) ``tuneforge.tune`` with ``tune.cohort: 1`` (the module engine, one trial at a time);
  (c) the canonical Optuna objective around a hand-written PyTorch loop over a
      ``DataLoader(TensorDataset)``, the same space, sampler and epochs.

The same is recorded for a small CNN on digits as ``[1, 8, 8]`` images. The table shows wall
time, the best validation accuracy, (b)/(a) and (c)/(a); the goal is (b)/(a) >= 3 on a CPU.
(a) and (b) draw the same trials (random sampler, same seed), and the largest relative
difference of their trial values is printed as a check that the cohort trains each member as
its lone run.

With ``--repeats N`` (a) and (b) run N times interleaved and the table shows their medians ((c),
the slowest, runs once). ``--models "residual MLP"`` runs one model.

Usage: ``python benchmarks/custom_cohort.py [--trials 32] [--epochs 20] [--threads 1] [--repeats 1]
[--models NAME ...] [--quick]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import optuna
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import tuneforge
from tuneforge.data import prepare

NETS = '''
from sklearn.datasets import load_digits
from torch import nn


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.norm, self.linear = nn.LayerNorm(width), nn.Linear(width, width)

    def forward(self, x):
        return x + nn.functional.gelu(self.linear(self.norm(x)))


class ResidualMLP(nn.Module):
    def __init__(self, n_inputs, n_outputs, width=128, depth=2):
        super().__init__()
        self.embed = nn.Linear(n_inputs, width)
        self.blocks = nn.Sequential(*[Block(width) for _ in range(depth)])
        self.head = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, n_outputs))

    def forward(self, x):
        return self.head(self.blocks(self.embed(x)))


def small_cnn(n_inputs, n_outputs, channels=16):
    c, h, w = n_inputs
    return nn.Sequential(nn.Conv2d(c, channels, 3, padding=1), nn.GELU(), nn.MaxPool2d(2),
                         nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.GELU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(2 * channels * (h // 4) * (w // 4), n_outputs))


def digits_rows():
    bunch = load_digits()
    return bunch.data, bunch.target


def digits_images():
    bunch = load_digits()
    return bunch.images, bunch.target
'''
SPACE = {"lr": (1e-3, 1e-2), "l2": (1e-6, 1e-3), "seed": (0, 1000)}
MODELS = {
    "residual MLP": ("nets:ResidualMLP", "nets:digits_rows", "table", {"width": 128, "depth": 2}),
    "CNN": ("nets:small_cnn", "nets:digits_images", "image", {"channels": 16}),
}


def recipe(name: str, trials: int, epochs: int, cohort: int) -> dict:
    factory, source, shape, args = MODELS[name]
    return {
        "data": {"source": source, "shape": shape},
        "model": {"kind": "custom", "factory": factory, "args": args},
        "train": {"epochs": epochs, "batch_size": 64, "optimizer": {"name": "adam", "lr": 3e-3},
                  "diagnostics": {"grad_every": 0}, "checkpoint_every": 0},
        "logging": {"report": False},
        "tune": {"trials": trials, "cohort": cohort, "sampler": "random", "pruner": "none",
                 "storage": None, "refit": False, "objective": "val/accuracy",
                 "space": {"train.optimizer.lr": {"low": SPACE["lr"][0], "high": SPACE["lr"][1], "log": True},
                           "train.regularization.l2": {"low": SPACE["l2"][0], "high": SPACE["l2"][1], "log": True},
                           "train.seed": {"low": SPACE["seed"][0], "high": SPACE["seed"][1]}}},
    }  # fmt: skip


def timed_tune(name: str, trials: int, epochs: int, cohort: int, out: Path) -> tuple[float, float, list]:
    started = time.perf_counter()
    study = tuneforge.tune(recipe(name, trials, epochs, cohort), out=str(out / f"{name}-{cohort}-{time.monotonic_ns()}"))
    seconds = time.perf_counter() - started
    values = [t.value for t in study.optuna.get_trials(deepcopy=False)]
    return seconds, study.best_value, values


def canonical(name: str, trials: int, epochs: int) -> tuple[float, float]:
    """An Optuna objective around a hand-written loop, as tutorials write it."""
    from tuneforge.usercode import load

    cfg = tuneforge.Config(**{k: v for k, v in recipe(name, trials, epochs, 1).items() if k != "tune"})
    data = prepare(cfg.data)
    x, y, xv, yv = data.x["train"], data.y["train"], data.x["val"], data.y["val"]
    factory = load(MODELS[name][0], "model.factory")
    n_inputs = x.shape[1] if x.dim() == 2 else tuple(x.shape[1:])

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", *SPACE["lr"], log=True)
        l2 = trial.suggest_float("l2", *SPACE["l2"], log=True)
        torch.manual_seed(trial.suggest_int("seed", *SPACE["seed"]))
        model = factory(n_inputs=n_inputs, n_outputs=10, **MODELS[name][3])
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
        for _ in range(epochs):
            model.train()
            for xb, yb in loader:
                loss = nn.functional.cross_entropy(model(xb), yb)
                loss = loss + l2 * sum(p.square().sum() for p in model.parameters() if p.ndim >= 2)
                opt.zero_grad()
                loss.backward()
                opt.step()
        model.eval()
        with torch.no_grad():
            return (model(xv).argmax(1) == yv).float().mean().item()

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    started = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    return time.perf_counter() - started, study.best_value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1, help="runs of (a) and (b), interleaved: medians")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--quick", action="store_true", help="4 trials x 2 epochs: checks it runs")
    args = parser.parse_args()
    trials, epochs = (4, 2) if args.quick else (args.trials, args.epochs)
    torch.set_num_threads(args.threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore")
    folder = Path(tempfile.mkdtemp(prefix="tuneforge-custom-bench-"))
    (folder / "nets.py").write_text(NETS)
    os.chdir(folder)  # model.factory / data.source are imported from the working directory
    sys.path.insert(0, str(folder))
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} thread(s); {trials} trials x {epochs} epochs; lr, L2, seed; no pruning")  # fmt: skip
    print("| model | (a) cohort 16 | (b) one at a time | (c) canonical Optuna | (b)/(a) | (c)/(a) | best val (a/b/c) | max rel. diff (a vs b) |")
    print("|---|---:|---:|---:|---:|---:|---|---:|")
    for name in args.models:
        times_a, times_b = [], []
        for _ in range(args.repeats):
            a, best_a, values_a = timed_tune(name, trials, epochs, 16, folder)
            b, best_b, values_b = timed_tune(name, trials, epochs, 1, folder)
            times_a.append(a)
            times_b.append(b)
        a, b = statistics.median(times_a), statistics.median(times_b)
        c, best_c = canonical(name, trials, epochs)
        diff = max(abs(p - q) / max(abs(p), abs(q), 1e-12) for p, q in zip(values_a, values_b, strict=True))
        print(f"| {name} | {a:.1f} s | {b:.1f} s | {c:.1f} s | {b / a:.2f}x | {c / a:.2f}x | "
              f"{best_a:.4f} / {best_b:.4f} / {best_c:.4f} | {diff:.1e} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
