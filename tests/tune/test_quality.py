"""The product's promise on its own default: the default digits study finds a good recipe."""

from __future__ import annotations

import pytest

import tuneforge
from tuneforge.recipe.budget import epochs_for


@pytest.mark.slow
def test_default_study_reaches_0975_validation_accuracy_and_beats_its_starting_recipe():
    # SPEC §6: the default study (the digits MLP over its default space, 64 trials x 20 epochs)
    # reaches best val >= 0.975. Measured bests are 0.975-0.978 (docs/tuning.md), so the SPEC bar
    # alone sits at the measured minimum and cannot tell tuning from luck; the second check does:
    # the tuned recipe must beat the untuned default recipe on the same validation rows.
    study = tuneforge.tune(storage=None)
    assert study.metrics == ["val/accuracy"]
    assert len(study.optuna.trials) == 64
    assert study.best_value >= 0.975
    # the default study keeps 20 epochs: digits' 1077 training rows are 17 steps an epoch
    assert epochs_for(study.best_config.train, 1077) == 20
    untuned = tuneforge.train(tuneforge.Config()).summary["metrics"]["val/accuracy"]
    assert study.best_value > untuned
