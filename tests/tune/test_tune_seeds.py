"""``tune.seeds: N``: a trial is scored by the mean over N training seeds, alone or in cohorts."""

from __future__ import annotations

import re

import numpy as np
import optuna
import pytest
from tune_helpers import cli, tiny, write_yaml

import tuneforge
from tuneforge.config import validate
from tuneforge.run import cohort as cohort_engine
from tuneforge.run.cv import cross_validate
from tuneforge.run.seeds import with_seed
from tuneforge.tuning.result import trial_config

LR_SPACE = {"train.optimizer.lr": {"low": 1.0e-3, "high": 1.0e-1, "log": True}}
COMPLETE = optuna.trial.TrialState.COMPLETE


def lone_runs(trial) -> list:
    """The trial's recipe trained alone by ``tuneforge.train`` with seeds s and s + 1."""
    cfg = trial_config(trial)
    return [tuneforge.train(with_seed(cfg, cfg.train.seed + i)) for i in range(2)]


@pytest.fixture
def cohort_sizes(monkeypatch):
    """The train.seed of every member of every cohort the study trains."""
    seen: list[list[int]] = []
    real = cohort_engine.train_cohort

    def spy(configs, *args, **kwargs):
        runs = real(configs, *args, **kwargs)  # recorded only when the cohort trained (no fallback)
        seen.append([c.train.seed for c in configs])
        return runs

    monkeypatch.setattr(cohort_engine, "train_cohort", spy)
    return seen


@pytest.mark.parametrize("cohort", [1, 4])
def test_a_trial_scores_the_mean_of_two_lone_runs_with_seeds_s_and_s_plus_1(cohort, cohort_sizes, tmp_path):
    data = tiny(space=LR_SPACE, trials=4, cohort=cohort, pruner="none", seeds=2)
    data["train"]["seed"] = 3
    logged: list[str] = []
    study = tuneforge.tune(validate(data), out=str(tmp_path / "out"), log=logged.append)
    trials = study.optuna.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [COMPLETE] * 4
    assert logged == []  # best/ (the base seed's run) matched the best trial's base-seed value
    # cohort 4 counts members: 2 trials x 2 seeds per cohort; cohort 1 trains one run at a time
    assert cohort_sizes == ([[3, 4, 3, 4], [3, 4, 3, 4]] if cohort == 4 else [])
    for trial in trials:
        runs = lone_runs(trial)
        alone = [r.summary["metrics"]["val/accuracy"] for r in runs]
        assert trial.value == pytest.approx(np.mean(alone), abs=1e-4)
        assert trial.user_attrs["seeds"] == [3, 4]
        assert trial.user_attrs["seed_values"]["val/accuracy"] == pytest.approx(alone, abs=1e-4)
        assert trial.user_attrs["seed_std"]["val/accuracy"] == pytest.approx(np.std(alone), abs=1e-4)
        loss = [r.summary["metrics"]["val/loss"] for r in runs]
        assert trial.user_attrs["metrics"]["val/loss"] == pytest.approx(np.mean(loss), rel=1e-4)
        # pruners see the per-epoch mean over the seeds
        per_epoch = np.mean([[h["val/accuracy"] for h in r.history] for r in runs], axis=0)
        steps = sorted(trial.intermediate_values)
        assert steps == [1, 2, 3, 4]
        assert [trial.intermediate_values[s] for s in steps] == pytest.approx(per_epoch, abs=1e-4)
    best = tuneforge.load_config(tmp_path / "out" / "best.yaml")
    assert best.train.seed == 3  # best.yaml stays one recipe, with the base seed


def test_the_study_report_shows_the_best_trials_seed_spread(tmp_path):
    data = tiny(space=LR_SPACE, trials=2, pruner="none", seeds=2)
    study = tuneforge.tune(validate(data), out=str(tmp_path / "out"))
    page = study.report.read_text()
    best = study.best_trial
    values = best.user_attrs["seed_values"]["val/accuracy"]
    assert 'id="seed-spread"' in page and "seed 0" in page and "seed 1" in page
    row = re.search(r"<tr><td>val/accuracy</td>(.*?)</tr>", page, flags=re.S).group(1)
    cells = re.findall(r'<td class="num">([^<]+)</td>', row)
    assert cells == [f"{np.mean(values):.4g} ± {np.std(values):.4g}", *(f"{v:.4g}" for v in values)]


@pytest.mark.parametrize("cohort", [1, 2])
def test_with_tune_cv_a_trial_is_the_mean_over_seeds_and_folds(cohort, cohort_sizes):
    data = tiny(space=LR_SPACE, trials=1, cohort=cohort, pruner="none", seeds=2, cv=2)
    study = tuneforge.tune(validate(data))
    assert cohort_sizes == ([[0, 1], [0, 1]] if cohort == 2 else [])  # one cohort per fold
    trial = study.best_trial
    expected = cross_validate(trial_config(trial), seeds=2)
    assert trial.value == pytest.approx(expected["mean"]["val/accuracy"], abs=1e-4)
    per_seed = [s["mean"]["val/accuracy"] for s in expected["per_seed"]]
    assert trial.user_attrs["seed_values"]["cv/accuracy"] == pytest.approx(per_seed, abs=1e-4)


def test_a_pruned_seed_prunes_the_trial_in_a_cohort(cohort_sizes):
    space = {"train.optimizer.lr": {"low": 1.0e-6, "high": 1.0, "log": True}}
    data = tiny(space=space, trials=8, cohort=4, pruner="median", seeds=2)
    data["train"]["epochs"] = 6
    study = tuneforge.tune(validate(data))
    trials = study.optuna.get_trials(deepcopy=False)
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    assert len(trials) == 8 and pruned
    assert cohort_sizes and all(len(members) == 4 for members in cohort_sizes)
    for trial in pruned:
        assert re.match(r"seed \d+: pruned at step \d+", trial.user_attrs["reason"])


def test_tune_seeds_zero_is_refused_in_one_line_naming_the_key(tmp_path):
    path = write_yaml(tmp_path / "t.yaml", tiny(seeds=0))
    done = cli("tune", str(path), "-q")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "tune.seeds" in lines[0] and "Traceback" not in done.stderr


@pytest.mark.slow  # a CLI process: imports, the study, its report and the best run (~10-30 s)
def test_the_cli_prints_the_best_trials_mean_std_and_seed_values(tmp_path):
    data = tiny(space=LR_SPACE, trials=2, pruner="none", seeds=2, out=str(tmp_path / "o"))
    done = cli("tune", str(write_yaml(tmp_path / "t.yaml", data)), "-q")
    assert done.returncode == 0, done.stderr
    assert re.search(r"val/accuracy\s*│\s*[\d.]+ ± [\d.]+ \(seeds: [\d.]+, [\d.]+\)", done.stdout)
