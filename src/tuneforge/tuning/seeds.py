"""``tune.seeds: N``: each trial trains its recipe under N training seeds and is scored by the mean.

A trial's seeds are ``train.seed + 0 .. N-1`` (only the training seed changes: weight
initialisation, batch order, dropout; the data split stays). The trial's value is the mean over
seeds of each objective; the per-seed values and their population std (``ddof=0``) are kept as
the trial's user attributes ``seeds``, ``seed_values`` and ``seed_std``, and ``metrics`` holds
the mean over seeds of every metric. Pruners see, at every epoch, the mean over the seeds that
reached that epoch (:class:`SeedMean`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence

import optuna
from optuna.trial import TrialState

from tuneforge.tuning.trials import TrialOutcome


class SeedMean:
    """Reports the mean over a trial's seed runs of the watched metric, one step at a time.

    Each seed run gets :meth:`callback`; a step is reported once every started seed has a value
    for it or has left (:meth:`leave`). Seeds trained one after another (``tune.cohort: 1``)
    are started one at a time, so only the last one reports, as soon as it reaches each epoch.
    Seeds trained together (one cohort) all start at once; when one leaves early (early
    stopping) the steps after it are reported when the next epoch begins, or at :meth:`flush`.
    Once the pruner says so, every seed's callback answers ``"pruned"`` (in a cohort the seeds
    already past that epoch leave one epoch later), and when one seed diverges the others stop
    too: the trial is scored as diverged.

    ``offset`` shifts the steps of fold k to ``k * epochs + epoch`` (as ``Reporter``).
    """

    def __init__(self, trial: optuna.Trial, metric: str | None, decides_at: Callable[[int], bool],
                 n_seeds: int, offset: int = 0):  # fmt: skip
        self.trial, self.metric, self.decides_at = trial, metric, decides_at
        self.n_seeds, self.offset = n_seeds, offset
        self.values: dict[int, dict[int, float]] = {}  # step -> seed index -> value
        self.started: set[int] = set()
        self.left: set[int] = set()
        self.reported: set[int] = set()
        self.pruned_at: int | None = None
        self.diverged = False

    def start(self, *seeds: int) -> None:
        self.started.update(seeds)

    def leave(self, seed: int) -> None:
        self.left.add(seed)

    def callback(self, seed: int) -> Callable[[dict], str | None]:
        return lambda record: self.add(seed, record)

    def add(self, seed: int, record: dict) -> str | None:
        """One seed's epoch record; returns ``"pruned"`` when the trial should stop."""
        if self.pruned_at is not None or self.diverged:
            return "pruned"
        if not math.isfinite(record.get("train/loss", 0.0)):
            self.diverged = True  # this seed's status is "diverged"; the others may stop
            return None
        value = record.get(self.metric) if self.metric else None
        if value is None or not math.isfinite(value):
            return None
        step = self.offset + record["epoch"]
        self.values.setdefault(step, {})[seed] = value
        if len(self.started) == self.n_seeds:  # all running at once: earlier epochs are over
            self._report_until(step - 1)
        if all(s in self.values[step] or s in self.left for s in self.started) and \
                len(self.started) == self.n_seeds:  # fmt: skip
            self._report_until(step)
        return "pruned" if self.pruned_at is not None else None

    def flush(self) -> None:
        """Report the steps still held back (every seed has finished)."""
        self._report_until(max(self.values, default=0), decide=False)

    def _report_until(self, last: int, decide: bool = True) -> None:
        for step in sorted(s for s in self.values if s <= last and s not in self.reported):
            self.reported.add(step)
            self.trial.report(statistics.fmean(self.values[step].values()), step)
            if decide and self.pruned_at is None and self.decides_at(step) and self.trial.should_prune():
                self.pruned_at = step


def combine(outcomes: Sequence, seeds: Sequence[int], metrics: Sequence[str]):
    """One trial outcome from its seeds' outcomes (``TrialOutcome``s, in seed order).

    A seed that diverged makes the trial diverged, then a pruned seed makes it pruned (as one
    run would); otherwise each objective is the mean over seeds.
    """
    for bad in ("diverged", "pruned"):
        for seed, found in zip(seeds, outcomes, strict=False):
            if found.attrs.get("status") == bad:
                attrs = {**found.attrs, "seeds": list(seeds), "seed": seed}
                attrs["reason"] = f"seed {seed}: {found.attrs.get('reason', bad)}"
                return TrialOutcome(found.state, None, attrs)
    failed = next((o for o in outcomes if o.state != TrialState.COMPLETE), None)
    if failed is not None:
        return failed
    per_metric = {m: [o.values[j] for o in outcomes] for j, m in enumerate(metrics)}
    attrs = dict(outcomes[0].attrs)  # epochs, best_epoch, config: the base seed's
    keys = [k for k in attrs["metrics"] if all(k in o.attrs["metrics"] for o in outcomes)]
    attrs["metrics"] = {k: statistics.fmean(o.attrs["metrics"][k] for o in outcomes) for k in keys}
    attrs |= {"seeds": list(seeds), "seed_values": per_metric,
              "seed_std": {m: statistics.pstdev(v) for m, v in per_metric.items()}}  # fmt: skip
    values = [statistics.fmean(v) for v in per_metric.values()]
    return TrialOutcome(TrialState.COMPLETE, values, attrs)
