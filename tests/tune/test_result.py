"""What a study gives back: the best recipe (reproducible), the refit, k-fold scores, the Pareto front."""

from __future__ import annotations

import json

import pytest
from optuna.trial import TrialState
from tune_helpers import TINY_SPACE, tiny

import tuneforge
from tuneforge.config import Config, load_config


def test_best_yaml_reproduces_the_best_trial_exactly():
    study = tuneforge.tune(tiny(trials=5, sampler="random", space=TINY_SPACE))
    best_yaml = study.folder / "best.yaml"
    assert best_yaml.read_text().startswith(f"# best trial {study.best_trial.number} of study 'iris-mlp'")
    cfg = load_config(best_yaml)
    assert cfg == study.best_config and cfg.tune is None
    run = tuneforge.train(cfg)  # a fresh run from the file alone
    assert run.summary["metrics"]["val/accuracy"] == study.best_value
    # The study also left that run on disk, with the same score.
    saved = json.loads((study.best_run / "summary.json").read_text())
    assert saved["metrics"]["val/accuracy"] == study.best_value
    # Its report is titled with the study and "best", not the private folder it trained in.
    assert f"<h1>Run {study.folder.name} · best</h1>" in (study.best_run / "report.html").read_text()


def test_study_api_matches_optuna():
    study = tuneforge.tune(tiny(trials=4, pruner="none", space=TINY_SPACE))
    frame = study.trials_dataframe()
    assert len(frame) == 4 and set(frame["state"]) == {"COMPLETE"}
    assert study.best_value == frame["value"].max()
    assert study.best_params == study.optuna.best_trial.params
    assert isinstance(study.best_config, Config)
    assert study.best_config.train.optimizer.lr == study.best_params["train.optimizer.lr"]
    assert json.loads(study.best_params["model.hidden"]) == study.best_config.model.hidden


def test_trials_keep_their_metrics_but_never_the_test_scores():
    study = tuneforge.tune(tiny(trials=2, pruner="none"))
    for trial in study.optuna.trials:
        metrics = trial.user_attrs["metrics"]
        assert metrics["val/accuracy"] == trial.value
        assert {"train/loss", "val/loss", "val/f1"} <= set(metrics)
        assert not any(key.startswith("test/") for key in metrics)


def test_refit_trains_on_train_and_val_and_reports_the_test_score():
    study = tuneforge.tune(tiny(trials=3, refit=True))
    assert set(study.refit_metrics) >= {"test/accuracy", "test/loss"}
    summary = json.loads((study.folder / "refit" / "summary.json").read_text())
    best = json.loads((study.best_run / "summary.json").read_text())
    assert summary["rows"]["train"] == best["rows"]["train"] + best["rows"]["val"]
    assert summary["rows"]["val"] == 0
    assert summary["metrics"]["test/accuracy"] == study.refit_metrics["test/accuracy"]


def test_cv_objective_is_the_mean_over_folds():
    study = tuneforge.tune(tiny(trials=2, cv=3, pruner="none"))
    assert study.metrics == ["cv/accuracy"]
    reference = tuneforge.cv(study.best_config, folds=3)  # the plain k-fold of that recipe
    assert study.best_value == pytest.approx(reference["mean"]["val/accuracy"], rel=1e-12)
    assert study.best_trial.user_attrs["metrics"]["cv/accuracy"] == pytest.approx(study.best_value)


def test_multi_objective_shows_a_pareto_front():
    study = tuneforge.tune(tiny(trials=8, sampler="random", space=TINY_SPACE, objective=["val/accuracy", "params"]))
    complete = [t for t in study.optuna.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 8  # several objectives: no pruner by default

    def dominates(a, b):
        better_or_equal = a.values[0] >= b.values[0] and a.values[1] <= b.values[1]
        return better_or_equal and (a.values[0] > b.values[0] or a.values[1] < b.values[1])

    expected = {t.number for t in complete if not any(dominates(o, t) for o in complete)}
    assert {t.number for t in study.pareto_front} == expected
    assert study.best_trial in study.pareto_front  # best.yaml: the front's best on accuracy
    assert study.best_trial.values[0] == max(t.values[0] for t in complete)
    params = {t.params["model.hidden"]: t.values[1] for t in complete}
    assert params.get("[8]", 0) < params.get("[16, 8]", 10**9)  # params counts the weights


def test_studies_sharing_a_name_never_overwrite_each_others_best(tmp_path):
    # Two in-memory studies named alike (as `<source>-<kind>` by default): the second one's
    # best.yaml and best/ run go to runs/same-2; the first one's files stay as they were.
    first = tuneforge.tune(tiny(trials=2, pruner="none", study="same"))
    best_yaml = (tmp_path / "runs" / "same" / "best.yaml").read_text()
    weights = (tmp_path / "runs" / "same" / "best" / "model.safetensors").read_bytes()
    second = tuneforge.tune(tiny(trials=2, pruner="none", study="same", seed=1))
    assert first.folder.name == "same"
    assert second.folder.name == "same-2" and (second.folder / "best.yaml").is_file()
    assert (tmp_path / "runs" / "same" / "best.yaml").read_text() == best_yaml
    assert (tmp_path / "runs" / "same" / "best" / "model.safetensors").read_bytes() == weights
    assert second.best_run.parent.name == "same-2"
