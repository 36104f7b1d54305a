"""Studies survive their users (issue #18): what may change when ``tune`` resumes a study.

A refused change is exit code 2 before any trial is asked, with the storage row for row as it
was; an accepted one continues the study. No path leaves a trial RUNNING.
"""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing

import optuna
import pytest
from optuna.trial import TrialState
from tune_helpers import tiny, write_yaml

import tuneforge
from tuneforge.errors import ConfigError
from tuneforge.tuning.space import SearchSpace

URL = "sqlite:///studies.db"
FLOAT_LR = {"train.optimizer.lr": {"low": 1e-3, "high": 1e-1, "log": True}}


def first_study(**tune) -> optuna.Study:
    tuneforge.tune(tiny(space=FLOAT_LR, cohort=1, **tune) | {"train": {"epochs": 1}},
                   trials=2, storage=URL, study="s")  # fmt: skip
    return optuna.load_study(study_name="s", storage=URL)


def digest(path: str = "studies.db") -> str:
    """Every row of the SQLite storage (a read-only dump, the WAL included). Not the file's
    bytes: the storage runs in WAL mode, and SQLite moves committed pages from the WAL into the
    file whenever a connection of an earlier study closes, which changes the bytes, not the rows."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return hashlib.sha256("\n".join(db.iterdump()).encode()).hexdigest()


def again(space: dict, trials: int = 3, **tune):
    return tuneforge.tune(tiny(space=space, cohort=1, **tune) | {"train": {"epochs": 1}},
                          trials=trials, storage=URL, study="s")  # fmt: skip


@pytest.mark.parametrize(
    ("space", "said"),
    [
        ({"train.optimizer.lr": {"choices": [0.01, 0.1]}}, "float 0.001..0.1 (log), now choices [0.01, 0.1]"),
        ({"train.optimizer.lr": {"low": 1e-3, "high": 1e-1}}, "float 0.001..0.1 (log), now float 0.001..0.1"),
    ],
)
def test_a_changed_distribution_kind_is_refused_before_any_ask_and_the_storage_is_unchanged(space, said):
    first_study()
    before = digest()
    with pytest.raises(ConfigError, match=r"tune.space.train.optimizer.lr: study 's' sampled it as ") as err:
        again(space)
    assert said in str(err.value) and "--study" in str(err.value)
    assert digest() == before


def test_changed_choices_are_refused():
    tuneforge.tune(tiny(space={"model.hidden": {"choices": [[8], [16]]}}, cohort=1) | {"train": {"epochs": 1}},
                   trials=2, storage=URL, study="s")  # fmt: skip
    before = digest()
    with pytest.raises(ConfigError, match=r"model.hidden: .* choices \[\[8\], \[16\]\], now choices \[\[8\], \[32\]\]"):
        again({"model.hidden": {"choices": [[8], [32]]}})
    assert digest() == before


def test_a_changed_objective_or_direction_is_refused_and_the_storage_is_unchanged():
    first_study()
    before = digest()
    with pytest.raises(ConfigError, match=r"created for val/accuracy \(maximize\), not val/loss \(minimize\)"):
        again(FLOAT_LR, objective="val/loss")
    with pytest.raises(ConfigError, match=r"not val/accuracy \(minimize\)"):
        again(FLOAT_LR, objective={"metric": "val/accuracy", "direction": "minimize"})
    assert digest() == before


def test_a_narrower_range_a_new_key_and_another_sampler_seed_are_accepted():
    study = first_study()
    space = {"train.optimizer.lr": {"low": 1e-2, "high": 5e-2, "log": True},
             "train.regularization.l2": {"low": 1e-6, "high": 1e-3, "log": True}}  # fmt: skip
    again(space, trials=4, seed=123)
    trials = study.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 4
    assert all(1e-2 <= t.params["train.optimizer.lr"] <= 5e-2 for t in finished[2:])  # the new range
    assert all("train.regularization.l2" in t.params for t in finished[2:])


def test_an_error_inside_the_study_loop_leaves_no_trial_running(monkeypatch):
    """Any exception after an ask (here one raised by sampling) fails the in-flight trial."""
    study = first_study()

    def broken(self, trial):
        trial.suggest_float("train.optimizer.lr", 1e-3, 1e-1, log=True)
        raise RuntimeError("broken sampler")

    monkeypatch.setattr(SearchSpace, "sample", broken)
    with pytest.raises(RuntimeError, match="broken sampler"):
        again(FLOAT_LR)
    states = [t.state for t in study.get_trials(deepcopy=False)]
    assert TrialState.RUNNING not in states and states.count(TrialState.FAIL) == 1


def test_the_cli_refuses_a_changed_space_with_exit_2_and_one_error_line(cli, tmp_path):
    cfg = tiny(space=FLOAT_LR, cohort=1, storage=URL, study="s") | {"train": {"epochs": 1}}
    write_yaml(tmp_path / "a.yaml", cfg)
    assert cli("tune", "a.yaml", "--trials", "2", "-q").code == 0
    before = digest()
    cfg["tune"]["space"] = {"train.optimizer.lr": {"choices": [0.01, 0.1]}}
    write_yaml(tmp_path / "b.yaml", cfg)
    done = cli("tune", "b.yaml", "--trials", "3", "-q")
    errors = [line for line in done.err.splitlines() if line.startswith("error:")]
    assert done.code == 2 and len(errors) == 1 and "Traceback" not in done.err
    assert "tune.space.train.optimizer.lr" in errors[0] and "--study" in errors[0]
    assert digest() == before
    study = optuna.load_study(study_name="s", storage=URL)
    assert all(t.state != TrialState.RUNNING for t in study.get_trials(deepcopy=False))
