"""The private-API adapter (tuneforge/_compat.py): each private torch/Optuna name removed in turn.

Every test takes the private name away as a future release might, then checks that the public
path gives the same numbers as the private one and that the reason is recorded (a warning, and
in ``fallbacks()``, which summaries and trial attributes carry).
"""

from __future__ import annotations

import sys

import optuna
import pytest
import torch
from optuna.trial import TrialState
from tune_helpers import TINY_SPACE, tiny

import tuneforge
from tuneforge import _compat
from tuneforge.config.schema import AdamConfig
from tuneforge.engine.cohort.optim import OPTIMIZERS, member_hyperparameters
from tuneforge.recipe.optimizers import optimizer_kwargs
from tuneforge.tuning.heartbeat import Heartbeat, HeartbeatJournalStorage
from tuneforge.tuning.plan import make_plan
from tuneforge.tuning.quiet import quiet_optuna
from tuneforge.tuning.runner import open_study
from tuneforge.tuning.samplers import AskTellGridSampler
from tuneforge.tuning.storage import open_storage


@pytest.fixture(autouse=True)
def _fresh_fallbacks():
    _compat.reset_fallbacks()
    yield
    _compat.reset_fallbacks()


def _without_private_heartbeat(monkeypatch) -> None:
    """``import optuna.storages._heartbeat`` fails, as if Optuna had moved the module."""
    monkeypatch.setitem(sys.modules, "optuna.storages._heartbeat", None)


# --- torch._fused_adam_ ------------------------------------------------------------------------

ADAM_MEMBERS = [AdamConfig(name="adam", lr=0.01), AdamConfig(name="adamw", lr=0.02, weight_decay=0.1),
                AdamConfig(name="adam", lr=0.005, amsgrad=True)]  # fmt: skip


def _adam_steps(steps: int = 30) -> list[torch.Tensor]:
    """Three Adam members stepped on a quadratic; the form (fused or batched) is the optimizer's
    own choice for a CPU."""
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(3, 4, 5, generator=gen), torch.randn(3, 5, generator=gen)]
    targets = [torch.randn(p.shape, generator=gen) for p in params]
    hyper = member_hyperparameters([optimizer_kwargs(c) for c in ADAM_MEMBERS], [c.name for c in ADAM_MEMBERS])
    opt = OPTIMIZERS["adam"](params, hyper)
    for _ in range(steps):
        grads = [2 * (p - t) for p, t in zip(params, targets, strict=True)]
        opt.step(params, grads, hyper["lr"])
    return params


def test_cohort_adam_without_torch_fused_kernels_takes_the_batched_step(monkeypatch):
    assert OPTIMIZERS["adam"].fuses(torch.device("cpu"))  # this torch has the private kernels
    fused = _adam_steps()
    assert _compat.fallbacks() == {}
    monkeypatch.delattr(torch, "_fused_adam_")
    with pytest.warns(RuntimeWarning, match="torch._fused_adam_"):
        assert not OPTIMIZERS["adam"].fuses(torch.device("cpu"))
    batched = _adam_steps()
    for a, b in zip(batched, fused, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert "batched tensor ops" in _compat.fallbacks()["torch._fused_adam_"]


def test_a_fallback_is_recorded_in_the_run_summary(monkeypatch, tmp_path):
    monkeypatch.delattr(torch, "_fused_adamw_")
    with pytest.warns(RuntimeWarning):
        _compat.fused_adam_kernels()
    recipe = {k: v for k, v in tiny().items() if k != "tune"}
    run = tuneforge.train(tuneforge.Config(**recipe), tmp_path / "run")
    assert run.summary["fallbacks"] == [_compat.fallbacks()["torch._fused_adam_"]]


# --- Optuna's heartbeat ------------------------------------------------------------------------


def test_heartbeat_enabled_from_public_methods_matches_optunas_helper(monkeypatch, tmp_path):
    storages = [open_storage(f"journal:///{tmp_path}/a.journal", 5),
                open_storage(f"sqlite:///{tmp_path}/b.db", 5), open_storage(f"sqlite:///{tmp_path}/c.db"),
                open_storage(None)]  # fmt: skip
    private = [_compat.is_heartbeat_enabled(s) for s in storages]
    assert private == [True, True, False, False]
    _without_private_heartbeat(monkeypatch)
    with pytest.warns(RuntimeWarning, match="is_heartbeat_enabled"):
        assert [_compat.is_heartbeat_enabled(s) for s in storages] == private
    assert "optuna.is_heartbeat_enabled" in _compat.fallbacks()


def test_journal_storage_without_optunas_heartbeat_base_runs_the_same_study(monkeypatch):
    raw = tiny(trials=3, storage="journal:///with.journal", space=TINY_SPACE, pruner="none")
    with_heartbeat = tuneforge.tune(raw).optuna
    _without_private_heartbeat(monkeypatch)
    with pytest.warns(RuntimeWarning, match="BaseHeartbeat"):
        storage = open_storage("journal:///without.journal", 10)
    assert not isinstance(storage, HeartbeatJournalStorage)
    assert "retried" in _compat.fallbacks()["optuna.BaseHeartbeat"]
    without = tuneforge.tune({**raw, "tune": {**raw["tune"], "storage": "journal:///without.journal"}}).optuna
    assert [(t.params, t.values) for t in without.trials] == [(t.params, t.values) for t in with_heartbeat.trials]


def test_heartbeat_base_with_other_abstract_methods_is_not_used(monkeypatch):
    from optuna.storages import _heartbeat

    monkeypatch.setattr(_heartbeat.BaseHeartbeat, "__abstractmethods__",
                        _compat.HEARTBEAT_METHODS | {"_get_stale_trials"})  # fmt: skip
    with pytest.warns(RuntimeWarning, match="other methods"):
        assert _compat.heartbeat_base() is None


# --- trial ids, the study's storage, grid points -----------------------------------------------


class _PublicTrial:
    """A trial as a future Optuna might hand it out: no ``_trial_id``."""

    def __init__(self, trial):
        self.number = trial.number


def test_trial_ids_looked_up_publicly_are_the_private_ones():
    plan = make_plan(tiny(storage="journal:///ids.journal"))
    storage = open_storage(plan.storage, plan.tune.heartbeat)
    study = open_study(plan, storage)
    with quiet_optuna():
        trials = [study.ask() for _ in range(3)]
    assert _compat.fallbacks() == {}
    with pytest.warns(RuntimeWarning, match="_trial_id"):
        looked_up = [_compat.trial_id(_PublicTrial(t), storage, study.study_name) for t in trials]
    assert looked_up == [t._trial_id for t in trials]
    assert looked_up == [_compat.trial_id(t, storage, study.study_name) for t in trials]


def test_a_study_without_a_storage_attribute_runs_without_heartbeats():
    class Bare:
        pass

    with pytest.warns(RuntimeWarning, match="_storage"):
        storage = _compat.study_storage(Bare())
    heartbeat = Heartbeat(storage)
    assert not heartbeat.enabled
    heartbeat.add(1)  # no storage to write to: nothing happens, nothing raises
    heartbeat.close()


def test_grid_points_told_apart_by_parameters_count_the_same_unstarted_points():
    grid = {"x": [0, 1, 2], "y": [0.5, 1.5]}
    study = optuna.create_study(sampler=AskTellGridSampler(grid, seed=0))
    with quiet_optuna():
        for _ in range(4):
            trial = study.ask()
            trial.suggest_categorical("x", grid["x"]), trial.suggest_categorical("y", grid["y"])
    private = study.sampler.unstarted(study)
    assert private == 2
    frozen = study.get_trials(deepcopy=True)
    for t in frozen:
        del t.system_attrs["grid_id"]  # a GridSampler that keeps its points elsewhere
    with pytest.warns(RuntimeWarning, match="grid_id"):
        points = {_compat.grid_point(t) for t in frozen}
    assert len(points) == 6 - private and None not in points
    assert all(t.state == TrialState.RUNNING for t in frozen)


def test_each_reason_warns_once():
    with pytest.warns(RuntimeWarning) as caught:
        for _ in range(3):
            _compat.fall_back("k", "a reason")
    assert len(caught) == 1 and _compat.fallbacks() == {"k": "a reason"}
