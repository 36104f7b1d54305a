"""Per-member cost of one training step: module engine (K = 1) vs the cohort engine (K members).

The default recipe (digits, MLP [128, 64], Adam, batch 64): one optimizer step of a hand-written
``nn.Module`` + torch.optim loop, of ``ModuleTrainer``, and of ``CohortTrainer`` per member for
K = 16, 32, 64, eager and under ``torch.compile`` (its compile time is reported, with the
number of cohort steps it takes to pay for itself; compiled code is reused by later cohorts of
any K in the same process, so only the first compiled cohort pays it). Times are the best epoch
of several, per step.

Usage: ``python benchmarks/cohort_step.py [--threads N] [--epochs N] [--no-compile]
[--device cuda] [--members 16 64 256] [--chunks auto|on|off]``. ``auto`` steps the batched
optimizer over cache-sized column chunks on a CPU and over whole ``[K, P]`` rows on a GPU;
``on`` / ``off`` force either form.
Timings on a shared machine are noisy; compare the ratios, taken in one process.
"""

from __future__ import annotations

import argparse

import torch
from devices import add_device_option, clock, describe

import tuneforge
from tuneforge.data import Batches
from tuneforge.engine.cohort import CohortTrainer
from tuneforge.engine.cohort import trainer as cohort_trainer
from tuneforge.engine.cohort.members import Member
from tuneforge.engine.module import ModuleTrainer
from tuneforge.models import build_model
from tuneforge.recipe import Recipe


def config(lr: float = 1e-3):
    return tuneforge.load_config(overrides=["train.epochs=1000", f"train.optimizer.lr={lr}"])


def best_epoch(run_epoch, epochs: int, device) -> float:
    """Seconds of the fastest of ``epochs`` epochs (after one warm-up epoch)."""
    run_epoch()
    times = []
    for _ in range(epochs):
        started = clock(device)
        run_epoch()
        times.append(clock(device) - started)
    return min(times)


def hand_written(data, epochs: int, device) -> float:
    """The canonical loop: nn.Module, AdamW, shuffled slices; seconds per step."""
    cfg = config()
    model = build_model(cfg.model, data.n_features, data.n_classes, seed=0).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batches = Batches(data.x["train"], data.y["train"], 64, seed=0)

    def epoch() -> None:
        for x, y in batches:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    return best_epoch(epoch, epochs, device) / len(batches)


def module_engine(data, epochs: int, device) -> float:
    cfg = config()
    recipe = Recipe.build(cfg.train, data)
    model = build_model(cfg.model, data.n_features, recipe.n_outputs, seed=0).to(device)
    trainer = ModuleTrainer(model, data, recipe)
    return best_epoch(trainer.train_epoch, epochs, device) / recipe.steps_per_epoch


def cohort(data, members: int, epochs: int, compile: bool, device) -> tuple[float, float]:
    """(seconds per member-step, seconds of the first epoch beyond a steady one)."""
    cfgs = [config(1e-3 * (1 + i / members)) for i in range(members)]
    trainer = CohortTrainer([Member(i, c, Recipe.build(c.train, data)) for i, c in enumerate(cfgs)],
                            data, torch.device(device), compile=compile)  # fmt: skip
    started = clock(device)
    trainer.train_epoch()
    first = clock(device) - started
    steps = trainer.recipe.steps_per_epoch
    epoch = best_epoch(trainer.train_epoch, epochs, device)
    return epoch / steps / members, max(first - epoch, 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--members", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--chunks", choices=["auto", "on", "off"], default="auto")
    add_device_option(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.chunks != "auto":  # auto: chunks on a CPU, whole rows on a GPU
        chunked = args.chunks == "on"
        cohort_trainer.chunk_columns = lambda device, members: (
            max(256, cohort_trainer.CHUNK_ENTRIES // members) if chunked else None)
    data = tuneforge.data.prepare(config().data, args.device)
    print(f"digits MLP [128, 64], Adam, batch 64; {describe(args.device)}, chunks {args.chunks}")
    base = module_engine(data, args.epochs, args.device)
    loop = hand_written(data, args.epochs, args.device)
    print(
        f"{'engine':<26}{'ms / member-step':>18}{'vs module':>11}{'compile s':>11}{'pays after':>18}"
    )
    print(f"{'hand-written loop':<26}{loop * 1e3:>18.4f}{base / loop:>10.1f}x")
    print(f"{'module engine (K=1)':<26}{base * 1e3:>18.4f}{1.0:>10.1f}x")
    for k in args.members:
        eager, _ = cohort(data, k, args.epochs, compile=False, device=args.device)
        print(f"{f'cohort K={k}':<26}{eager * 1e3:>18.4f}{base / eager:>10.1f}x")
        if args.no_compile:
            continue
        fast, cost = cohort(data, k, args.epochs, compile=True, device=args.device)
        saved = (eager - fast) * k  # seconds per cohort step
        pays = f"{cost / saved:,.0f} steps" if saved > 0 else "never"
        print(
            f"{f'cohort K={k} compiled':<26}{fast * 1e3:>18.4f}{base / fast:>10.1f}x{cost:>11.1f}{pays:>18}"
        )


if __name__ == "__main__":
    main()
