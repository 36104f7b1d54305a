"""A finished study as users see it: the best trial, its recipe, the Pareto front, the refit.

``best.yaml`` is the best trial's fully resolved recipe (no ``tune`` section): ``tuneforge train
best.yaml`` retrains exactly that trial (same seed, same data split); under ``tune.seeds: N`` it
keeps the base ``train.seed`` and retrains the trial's first seed (``train --seeds N`` all of them). After a study the best
trial's own run is written to ``<folder>/best`` (a run directory to ``predict`` with; retrained
only when another process ran it), and with ``tune.refit`` the recipe is retrained on train+val
into ``<folder>/refit`` for an honest test score.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import yaml
from optuna.trial import FrozenTrial, TrialState

from tuneforge.config import Config, validate
from tuneforge.errors import TuneforgeError


@dataclass
class Study:
    """The result of :func:`tuneforge.tune`: the Optuna study plus what tuneforge made of it."""

    optuna: optuna.Study
    metrics: list[str]  # the objectives, e.g. ["val/accuracy"] or ["val/accuracy", "params"]
    folder: Path | None = None  # where best.yaml and the best/refit runs are
    interrupted: bool = False
    best_run: Path | None = None
    report: Path | None = None  # report.html of the study
    refit_metrics: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: the best trial this process ran, with its run in memory (tuning.runner.KeptRun)
    kept: Any = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.optuna.study_name

    @property
    def pareto_front(self) -> list[FrozenTrial]:
        """The complete trials no other trial beats on every objective."""
        return self.optuna.best_trials

    @property
    def best_trial(self) -> FrozenTrial:
        """The best complete trial; with several objectives, the Pareto trial best on the first."""
        if not any(t.state == TrialState.COMPLETE for t in self.optuna.get_trials(deepcopy=False)):
            raise TuneforgeError(f"study {self.name!r}: no trial has completed yet")
        if len(self.metrics) == 1:
            return self.optuna.best_trial
        sign = 1 if self.optuna.directions[0] == optuna.study.StudyDirection.MAXIMIZE else -1
        return max(self.pareto_front, key=lambda t: (sign * t.values[0], -t.number))

    @property
    def best_value(self) -> float | tuple[float, ...]:
        values = self.best_trial.values
        return values[0] if len(values) == 1 else tuple(values)

    @property
    def best_params(self) -> dict:
        return dict(self.best_trial.params)

    @property
    def best_config(self) -> Config:
        """The best trial's recipe, ready for ``tuneforge.train``."""
        return trial_config(self.best_trial)

    def trials_dataframe(self, **kwargs) -> pd.DataFrame:
        """One row per trial (Optuna's ``trials_dataframe``: number, value(s), params, state...)."""
        return self.optuna.trials_dataframe(**kwargs)


def trial_config(trial: FrozenTrial) -> Config:
    raw = trial.user_attrs.get("config")
    if raw is None:
        raise TuneforgeError(f"trial {trial.number}: no recipe stored (not a tuneforge trial)")
    return validate(raw, f"trial {trial.number}")


#: Marks which study a folder's best.yaml, best/ and refit/ belong to.
OWNER_FILE = "study.json"


def study_identity(study: Study) -> str:
    """Name and first trial's start: the same for every worker of one study, and different for
    another study of the same name (another storage, or in memory)."""
    first = min(study.optuna.get_trials(deepcopy=False), key=lambda t: t.number)
    started = first.datetime_start.isoformat() if first.datetime_start else "?"
    return f"{study.name}@{started}"


def claim_folder(study: Study, folder: Path) -> Path:
    """``folder``, or ``folder-2``, ``-3``... when ``folder`` holds another study's results.

    Studies sharing the default name (``<source>-<kind>``) in different storages would otherwise
    overwrite each other's ``best.yaml`` and ``best/`` run; tuneforge never overwrites a run.
    Workers of one study finish together and claim the same folder at once: the owner file
    appears whole or not at all (:func:`_create_whole`), so none reads it half-written.
    """
    identity, n, candidate = study_identity(study), 1, folder
    while True:
        owner = candidate / OWNER_FILE
        if not owner.is_file() and not (candidate / "best.yaml").exists():
            candidate.mkdir(parents=True, exist_ok=True)
            _create_whole(owner, json.dumps({"study": identity}) + "\n")
        if owner.is_file() and json.loads(owner.read_text()).get("study") == identity:
            return candidate
        n += 1
        candidate = folder.with_name(f"{folder.name}-{n}")


def _create_whole(path: Path, text: str) -> None:
    """Create ``path`` holding ``text``, atomically; leave it as it is if it exists already.

    Written to a private file, then hard-linked into place: the link exists only once the text
    is complete, and it fails if another process created ``path`` first (first claim wins).
    Where a file system has no hard links, ``os.replace`` keeps the write atomic.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    tmp.write_text(text)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    except OSError:  # no hard links here
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_best(study: Study, path: Path) -> Path:
    """``best.yaml``: the best trial's recipe, headed by a comment saying where it came from."""
    trial = study.best_trial
    path.parent.mkdir(parents=True, exist_ok=True)
    values = ", ".join(f"{m} = {v:.6g}" for m, v in zip(study.metrics, trial.values, strict=True))
    header = f"# best trial {trial.number} of study {study.name!r}: {values}\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(header + yaml.safe_dump(trial.user_attrs["config"], sort_keys=False))
    os.replace(tmp, path)  # workers finishing together each write it whole
    return path


def train_published(cfg: Config, folder: Path, **kwargs):
    """Train into a private folder, then publish it as ``folder``."""
    from tuneforge.run import train

    return published(folder, lambda tmp: train(cfg, tmp, **kwargs))


def published(folder: Path, write):
    """``write(tmp)`` a run into a private folder, then rename it to ``folder``.

    Several workers of one study finish at about the same time and all write its best run;
    writing in place would mix their files. The last rename wins, and every candidate is the
    same trial, so any winner is right.
    """
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    run = write(tmp)
    old = folder.with_name(f".{folder.name}.{os.getpid()}.old")
    with contextlib.suppress(FileNotFoundError):
        folder.rename(old)
    try:
        tmp.rename(folder)
    except OSError:  # another worker published between our two renames: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    run.path = folder
    return run


def write_best_run(study: Study, folder: Path) -> tuple[Path, str | None]:
    """The best trial's run as ``folder/best``, and a note for the user (or None).

    The trial's own run, kept in memory by this process's runner, is written as it is (weights,
    history, summary, report): nothing trains again. When another process ran the best trial
    (another worker, an earlier run of the command) and ``folder/best`` does not already hold
    it, the recipe is retrained (the same numbers on a deterministic device, which is checked).
    """
    from tuneforge.run import save_run

    trial, target = study.best_trial, folder / "best"
    mark = {"study": study_identity(study), "number": trial.number}
    kept = study.kept
    if kept is not None and kept.number == trial.number:
        kept.run.summary["trial"] = mark
        published(target, lambda tmp: save_run(kept.run, tmp))
        return target, None
    if _holds(target, mark):
        return target, None
    path, warning = _retrain_best(study, trial, target, mark)
    why = f"the best trial ({trial.number}) ran in another process, so {target} was trained again"
    return path, f"{why}; {warning}" if warning else why


def _holds(target: Path, mark: dict) -> bool:
    """Whether the run directory ``target`` already is this trial's run."""
    try:
        return json.loads((target / "summary.json").read_text()).get("trial") == mark
    except (OSError, ValueError):
        return False


def _retrain_best(study: Study, trial: FrozenTrial, target: Path, mark: dict) -> tuple[Path, str | None]:
    """Retrain ``trial``'s recipe into ``target``; say so if its score differs from the trial."""
    from tuneforge.run import train
    from tuneforge.run.folder import jsonable

    def write(tmp: Path):
        run = train(trial_config(trial), tmp)
        run.summary["trial"] = mark
        (tmp / "summary.json").write_text(json.dumps(run.summary, indent=2, default=jsonable))
        return run

    run = published(target, write)
    metric = study.metrics[0]
    if not metric.startswith("val/"):
        return run.path, None
    # Under tune.seeds the trial's value is a mean over seeds; best.yaml is the base seed's run.
    before = trial.user_attrs.get("seed_values", {}).get(metric, trial.values)[0]
    again = run.summary["metrics"].get(metric)
    if again is None or not math.isclose(again, before, rel_tol=1e-9, abs_tol=1e-12):
        return run.path, (f"retraining trial {trial.number} gave {metric} {again}, the trial had "
                          f"{before}: the device is not deterministic (train.deterministic: true)")
    return run.path, None


def refit(study: Study, folder: Path) -> dict:
    """Retrain the best recipe on train+val (no validation rows) and return its test scores.

    Early stopping needs validation rows, so the refit trains for the epochs the best trial
    kept (its best epoch when it stopped early) instead.
    """
    trial = study.best_trial
    cfg = trial_config(trial)
    epochs = trial.user_attrs.get("best_epoch") or trial.user_attrs.get("epochs") or cfg.train.epochs
    train_cfg = cfg.train.model_copy(update={"early_stopping": None, "epochs": epochs})
    cfg = cfg.model_copy(update={"train": train_cfg})
    run = train_published(cfg, folder / "refit", refit=True)
    return {k: v for k, v in run.summary["metrics"].items() if k.startswith("test/")}
