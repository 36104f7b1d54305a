"""How much wall time tuneforge's module engine adds over a hand-written PyTorch loop.

The same MLP (the built-in default recipe: digits, hidden [128, 64], Adam, batch 64), the same
tensors and the same number of optimizer steps, through:

  (a)  ``ModuleTrainer.fit``: the engine as ``tuneforge train`` runs it, with its per-epoch
       validation (loss, accuracy, macro-F1) and history record;
  (a0) ``ModuleTrainer.train_epoch`` alone, epoch after epoch: the engine's step loop only;
  (b)  the canonical hand-written loop: randperm + index_select, forward, loss, backward,
       step, ``epoch_loss += loss.item()``;
  (b+) the same loop plus a per-epoch validation pass (loss and accuracy), the fair partner of (a);
  (c)  the usual ``DataLoader(TensorDataset(x, y), shuffle=True)`` loop.

Each variant is warmed up once, then timed ``--repeats`` times, interleaved so that machine noise
falls on all of them alike; the table shows medians and ratios. SPEC §6 asks (a)/(b+) and
(a0)/(b) to be at most 1.05.

Usage: ``python benchmarks/trainer_overhead.py [--repeats 7] [--epochs 20] [--threads 1] [--device cuda]``
"""

from __future__ import annotations

import argparse
import platform
import statistics
from collections.abc import Callable

import torch
from devices import add_device_option, clock, describe
from torch.utils.data import DataLoader, TensorDataset

import tuneforge
from tuneforge.data import prepare
from tuneforge.engine.module import ModuleTrainer
from tuneforge.models import build_model
from tuneforge.recipe import Recipe


def setup(epochs: int, device: str = "cpu"):
    cfg = tuneforge.load_config(overrides=[f"train.epochs={epochs}", "train.checkpoint_every=0",
                                           f"train.device={device}"])  # fmt: skip
    data = prepare(cfg.data, device)
    recipe = Recipe.build(cfg.train, data)
    return cfg, data, recipe


def fresh_model(cfg, data, recipe) -> torch.nn.Module:
    model = build_model(cfg.model, data.n_features, recipe.n_outputs, seed=cfg.train.seed)
    return model.to(data.x["train"].device)


def engine_fit(cfg, data, recipe) -> None:
    ModuleTrainer(fresh_model(cfg, data, recipe), data, recipe, seed=cfg.train.seed).fit()


def engine_steps_only(cfg, data, recipe) -> None:
    trainer = ModuleTrainer(fresh_model(cfg, data, recipe), data, recipe, seed=cfg.train.seed)
    for _ in range(cfg.train.epochs):
        trainer.train_epoch().sum().item()  # one host read per epoch, as fit's NaN check


def hand_loop(cfg, data, recipe, validate: bool = False) -> None:
    model = fresh_model(cfg, data, recipe)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.train.optimizer.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = data.x["train"], data.y["train"]
    n, batch = len(x), cfg.train.batch_size
    generator = torch.Generator(device=x.device).manual_seed(cfg.train.seed)
    for _ in range(cfg.train.epochs):
        model.train()
        epoch_loss = 0.0
        order = torch.randperm(n, generator=generator, device=x.device)
        for start in range(0, n, batch):
            rows = order[start : start + batch]
            loss = loss_fn(model(x.index_select(0, rows)), y.index_select(0, rows))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            epoch_loss += loss.item()
        if validate:
            model.eval()
            with torch.no_grad():
                out = model(data.x["val"])
                _ = loss_fn(out, data.y["val"]).item()
                _ = (out.argmax(1) == data.y["val"]).float().mean().item()


def dataloader_loop(cfg, data, recipe) -> None:
    model = fresh_model(cfg, data, recipe)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.train.optimizer.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(data.x["train"], data.y["train"]),
                        batch_size=cfg.train.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(cfg.train.seed))  # fmt: skip
    for _ in range(cfg.train.epochs):
        epoch_loss = 0.0
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            epoch_loss += loss.item()


VARIANTS: dict[str, tuple[str, Callable]] = {
    "a": ("ModuleTrainer.fit (per-epoch validation)", engine_fit),
    "a0": ("ModuleTrainer.train_epoch only", engine_steps_only),
    "b": ("hand loop (randperm + index_select)", hand_loop),
    "b+": ("hand loop + per-epoch validation", lambda c, d, r: hand_loop(c, d, r, validate=True)),
    "c": ("DataLoader(TensorDataset) loop", dataloader_loop),
}


def measure(repeats: int, epochs: int, device: str) -> dict[str, list[float]]:
    cfg, data, recipe = setup(epochs, device)
    times: dict[str, list[float]] = {key: [] for key in VARIANTS}
    for _, run in VARIANTS.values():  # warm-up: allocator, kernels, lazy imports
        run(cfg, data, recipe)
    for _ in range(repeats):
        for key, (_, run) in VARIANTS.items():
            started = clock(device)
            run(cfg, data, recipe)
            times[key].append(clock(device) - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    add_device_option(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg, data, recipe = setup(args.epochs, args.device)
    print(f"{describe(args.device)}, {platform.processor() or platform.machine()}; digits MLP {cfg.model.hidden}, batch {cfg.train.batch_size}, "
          f"{recipe.total_steps} steps ({args.epochs} epochs), median of {args.repeats}")  # fmt: skip
    times = measure(args.repeats, args.epochs, args.device)
    median = {key: statistics.median(values) for key, values in times.items()}
    print("\n| variant | median s | spread (max/min) | vs (b) | vs (b+) |")
    print("|---|---:|---:|---:|---:|")
    for key, (label, _) in VARIANTS.items():
        spread = max(times[key]) / min(times[key])
        print(f"| ({key}) {label} | {median[key]:.3f} | {spread:.2f} | "
              f"{median[key] / median['b']:.3f} | {median[key] / median['b+']:.3f} |")  # fmt: skip
    print(f"\nengine overhead: (a)/(b+) = {median['a'] / median['b+']:.3f}, "
          f"(a0)/(b) = {median['a0'] / median['b']:.3f}  (goal: <= 1.05)")


if __name__ == "__main__":
    main()
