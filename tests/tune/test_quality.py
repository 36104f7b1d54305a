"""The product's promise on its own default: the default digits study finds a good recipe."""

from __future__ import annotations

import pytest

import tuneforge
from tuneforge.recipe.budget import epochs_for


@pytest.mark.slow
def test_default_study_reaches_0975_validation_accuracy():
    # SPEC: the default study is the digits MLP over its default space, 64 trials x 20 epochs.
    study = tuneforge.tune(storage=None)
    assert study.metrics == ["val/accuracy"]
    assert len(study.optuna.trials) == 64
    assert study.best_value >= 0.975
    # the default study keeps 20 epochs: digits' 1077 training rows are 17 steps an epoch
    assert epochs_for(study.best_config.train, 1077) == 20
