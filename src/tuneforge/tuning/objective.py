"""What a study optimizes: metrics of the run summary, with their directions.

``val/<metric>`` is a holdout score, ``cv/<metric>`` its mean over k folds, ``train/loss`` the
last epoch's training loss, ``params`` the parameter count and ``wall_time_s`` the training time.
Tuning on ``test/...`` is refused: the test part must stay unseen until the end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tuneforge.config.tune_schema import ObjectiveSpec
from tuneforge.errors import ConfigError
from tuneforge.evaluate.metrics import direction as inferred_direction
from tuneforge.evaluate.scorers import metric_name
from tuneforge.usercode import is_spec

#: Metrics a run reports on a part, by task; the first ones are computed every epoch too.
PART_METRICS = {
    "classification": ("loss", "accuracy", "f1", "log_loss", "roc_auc"),
    "regression": ("loss", "mse", "rmse", "mae", "r2"),
}
EPOCH_METRICS = {"loss", "accuracy", "f1", "mse", "rmse", "mae", "r2"}
#: Numbers of the summary itself (all minimized).
SUMMARY_NUMBERS = {"params": "parameters", "parameters": "parameters", "wall_time_s": "wall_time_s"}
DEFAULT_OBJECTIVE = {"classification": "val/accuracy", "regression": "val/rmse"}


@dataclass(frozen=True)
class Objective:
    metric: str  # as shown and stored: val/accuracy, cv/accuracy, params
    direction: str  # maximize | minimize

    @property
    def run_metric(self) -> str | None:
        """The key in one run's ``summary["metrics"]`` (cv/x is each fold's val/x)."""
        if self.metric in SUMMARY_NUMBERS:
            return None
        part, _, name = self.metric.partition("/")
        return f"val/{name}" if part == "cv" else self.metric

    @property
    def epoch_metric(self) -> str | None:
        """The per-epoch record key pruners watch, if this metric is computed every epoch."""
        run = self.run_metric
        # one target's score (val/r2/y1) is computed every epoch as its mean (val/r2) is
        return run if run is not None and run.split("/")[1] in EPOCH_METRICS else None

    def value(self, summaries: Sequence[dict]) -> float:
        """This objective over one run (holdout) or the mean over the folds' runs (cv)."""
        if self.metric in SUMMARY_NUMBERS:
            return float(summaries[0][SUMMARY_NUMBERS[self.metric]])
        values = [s["metrics"].get(self.run_metric) for s in summaries]
        if any(v is None for v in values):
            return math.nan
        return float(sum(values) / len(values))


def resolve_objectives(
    specs: list[ObjectiveSpec] | None, task: str, n_classes: int | None, cv: int | None,
    has_val: bool, extra: Sequence[str] = (), targets: Sequence[str] = (),
) -> list[Objective]:  # fmt: skip
    """Check each objective against the task; with ``tune.cv``, ``val/x`` means ``cv/x``.

    ``extra`` are the ``train.metrics`` entries: their names are objectives too, maximized for
    scikit-learn scorers; a ``module:function`` needs the objective's ``direction``. ``targets``:
    the columns of several regression targets, each scored on its own (``val/r2/y1``).
    """
    specs = specs or [ObjectiveSpec(metric=DEFAULT_OBJECTIVE[task])]
    reported = {metric_name(entry): entry for entry in extra}
    objectives = []
    for i, spec in enumerate(specs):
        key = "tune.objective" if len(specs) == 1 else f"tune.objective.{i}"
        own = tuple(f"{name}/{t}" for name in PART_METRICS[task][1:] for t in targets)
        metric = _check_metric(spec.metric, task, n_classes, key, (*reported, *own))
        entry = reported.get(metric.partition("/")[2])
        if entry is not None and is_spec(entry) and spec.direction is None:
            raise ConfigError(f"{key}: {metric} is the user function {entry}; give its direction "
                              "({metric: ..., direction: maximize | minimize})")  # fmt: skip
        if cv and metric.startswith("val/"):
            metric = "cv/" + metric.removeprefix("val/")
        if metric.startswith("val/") and not has_val:
            raise ConfigError(f"{key}: {metric} needs validation rows but data.split.val is 0; "
                              "set it, or score by k-fold with tune.cv")  # fmt: skip
        direction = spec.direction or ("maximize" if entry is not None else _direction(metric))
        objectives.append(Objective(metric, direction))
    if len({o.metric for o in objectives}) < len(objectives):
        raise ConfigError("tune.objective: the same metric is listed twice")
    return objectives


def _check_metric(metric: str, task: str, n_classes: int | None, key: str,
                  extra: tuple[str, ...] = ()) -> str:  # fmt: skip
    if metric in SUMMARY_NUMBERS:
        return "params" if metric == "parameters" else metric
    part, slash, name = metric.partition("/")
    names = PART_METRICS[task] + extra
    choices = f"val/ or cv/ one of {list(names)}, train/loss, params or wall_time_s"
    if part == "test":
        raise ConfigError(f"{key}: {metric!r} would tune on the test part, which must stay unseen; "
                          f"use val/{name} or cv/{name} (tune.refit reports the test score)")  # fmt: skip
    if not slash or part not in ("val", "cv", "train") or name not in names:
        raise ConfigError(f"{key}: unknown metric {metric!r} for a {task} task; expected {choices}")
    if part == "train" and name != "loss":
        raise ConfigError(f"{key}: only train/loss is recorded on the training part; expected {choices}")
    if name == "roc_auc" and n_classes != 2:
        raise ConfigError(f"{key}: roc_auc needs 2 classes, the data has {n_classes}")
    return metric


def _direction(metric: str) -> str:
    return "minimize" if metric in SUMMARY_NUMBERS else inferred_direction(metric)
