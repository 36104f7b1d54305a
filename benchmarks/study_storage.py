"""What the storage costs the default study: its bookkeeping replayed without training.

The default study (64 trials x 20 epochs, TPE, successive halving, cohorts of 16) is replayed
through tuneforge's own :class:`~tuneforge.tuning.runner.Runner` with an executor that trains
nothing: each trial reports a made-up learning curve (from its sampled lr and widths) epoch by
epoch through :class:`~tuneforge.tuning.seeds.SeedMean`, is pruned where the pruner says, and is
told with user attributes of the real size. Everything the storage does for a real study (asks,
TPE's reads, reports, the pruner's reads and rung attributes, tells, heartbeats, counts) happens;
only the training is missing, so the time is the storage's plus the sampler's. ``journal`` is
the default storage (``journal:///runs/studies.journal``), ``sqlite`` the earlier default.

Each storage runs ``--repeats`` times, interleaved; the table shows the median wall and CPU time
and the extra over memory. The issue's goal: the default storage costs at most 10% of the
in-memory search (~6 s of training and sampling on the 2-core machine), i.e. well under 0.6 s.

Usage: ``python benchmarks/study_storage.py [--repeats 3] [--storages memory sqlite journal]``
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time

import optuna
from optuna.trial import TrialState

from tuneforge.config import to_dict
from tuneforge.tuning.executor import TrialOutcome
from tuneforge.tuning.plan import make_plan
from tuneforge.tuning.pruners import PRUNERS
from tuneforge.tuning.runner import Runner, open_study
from tuneforge.tuning.seeds import SeedMean
from tuneforge.tuning.storage import open_storage

EPOCHS = 20


def curve(values: dict, epoch: int) -> float:
    """A made-up validation accuracy: best near lr 3e-3, rising with the epochs."""
    lr = values.get("train.optimizer.lr", 1e-3)
    ceiling = 0.98 - 0.05 * abs(math.log10(lr) + 2.5)
    return ceiling * (1 - math.exp(-epoch / 4))


class ReplayCohort:
    """Stands in for the cohort executor: reports each member's curve, epoch by epoch."""

    def __init__(self, batch_size: int, metric: str):
        self.batch_size, self.metric = batch_size, metric
        self.decides_at = PRUNERS["asha"].decides_at

    def __call__(self, jobs):
        reporters = [SeedMean(job.trial, self.metric, self.decides_at, 1) for job in jobs]
        for reporter in reporters:
            reporter.start(0)
        last = [0] * len(jobs)
        for epoch in range(1, EPOCHS + 1):
            for j, job in enumerate(jobs):
                if last[j] == epoch - 1 and reporters[j].pruned_at is None:
                    value = curve(job.trial.params, epoch)
                    if reporters[j].add(0, {"epoch": epoch, "train/loss": 0.1, self.metric: value}) is None:
                        last[j] = epoch
        outcomes = []
        for j, job in enumerate(jobs):
            reporters[j].flush()
            attrs = {"metrics": {self.metric: curve(job.trial.params, last[j]), "val/loss": 0.1,
                                 "train/loss": 0.1, "train/accuracy": 0.99}, "parameters": 12345,
                     "epochs": last[j], "best_epoch": last[j], "config": to_dict(job.config)}  # fmt: skip
            if reporters[j].pruned_at is not None:
                attrs |= {"status": "pruned", "reason": f"pruned at step {reporters[j].pruned_at}"}
                outcomes.append(TrialOutcome(TrialState.PRUNED, None, attrs))
            else:
                value = curve(job.trial.params, last[j])
                outcomes.append(TrialOutcome(TrialState.COMPLETE, [value], attrs | {"status": "completed"}))
        return outcomes


def replay(storage: str, trials: int) -> tuple[float, float, float]:
    """(wall s, CPU s, best value) of the replayed default study on ``storage``."""
    with tempfile.TemporaryDirectory() as folder:
        url = {"memory": None, "sqlite": f"sqlite:///{folder}/studies.db",
               "journal": f"journal:///{folder}/studies.journal"}.get(storage, storage)  # fmt: skip
        plan = make_plan(None, [], {"storage": url, "out": folder, "trials": trials})
        wall, cpu = time.perf_counter(), time.process_time()  # from opening the storage
        study = open_study(plan, open_storage(plan.storage, plan.tune.heartbeat))
        executor = ReplayCohort(plan.tune.cohort, plan.objectives[0].epoch_metric)
        Runner(plan, study, executor=executor).run()
        return time.perf_counter() - wall, time.process_time() - cpu, study.best_value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--storages", nargs="+", default=["memory", "sqlite", "journal"])
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    runs: dict[str, list[tuple[float, float, float]]] = {s: [] for s in args.storages}
    for _ in range(args.repeats):
        for storage in args.storages:
            runs[storage].append(replay(storage, args.trials))
    base = statistics.median(r[0] for r in runs[args.storages[0]])
    print(f"{args.trials} trials x {EPOCHS} epochs replayed (no training), median of {args.repeats}")
    print(f"{'storage':<10} {'wall s':>8} {'cpu s':>8} {'extra wall s':>13} {'best':>7}")
    for storage, found in runs.items():
        wall = statistics.median(r[0] for r in found)
        cpu = statistics.median(r[1] for r in found)
        print(f"{storage:<10} {wall:>8.2f} {cpu:>8.2f} {wall - base:>13.2f} {found[0][2]:>7.4f}")


if __name__ == "__main__":
    main()
