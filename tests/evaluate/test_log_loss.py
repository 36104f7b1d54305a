"""log_loss is exact for confident rows: from the logits, in float64, never clipped (issue 20.3)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tuneforge.evaluate.metrics import final_metrics


def test_overconfident_wrong_multiclass_model_counts_its_full_loss():
    # A model sure of the wrong class on the first row (margin 50 nats), right on the others.
    logits = np.array([[50.0, 0.0, 0.0], [0.0, 3.0, 0.0], [1.0, 2.0, 4.0]], dtype=np.float32)
    y = np.array([1, 1, 2])
    # By hand: -log softmax(z)_y = log(sum_j exp(z_j)) - z_y.
    by_hand = [
        50.0 + math.log1p(2 * math.exp(-50.0)) - 0.0,
        math.log(2 + math.exp(3.0)) - 3.0,
        math.log(math.exp(1.0) + math.exp(2.0) + math.exp(4.0)) - 4.0,
    ]
    got = final_metrics(logits, y, "classification")["log_loss"]
    assert got == pytest.approx(sum(by_hand) / 3, rel=1e-12)
    assert got > 16.0  # clipped float32 probabilities stopped a wrong row at ~15.9 nats


def test_overconfident_wrong_binary_logit_counts_its_full_loss():
    # One logit per row: P(class 1) = sigmoid(z). Row 0 is class 0 with z = 40 (sure of class 1).
    logits = np.array([[40.0], [-2.0], [0.5]], dtype=np.float32)
    y = np.array([0, 0, 1])
    softplus = lambda z: math.log1p(math.exp(-abs(z))) + max(z, 0.0)  # noqa: E731 - -log sigmoid(-z)
    by_hand = [softplus(40.0), softplus(-2.0), softplus(-0.5)]
    scores = final_metrics(logits, y, "classification")
    assert scores["log_loss"] == pytest.approx(sum(by_hand) / 3, rel=1e-12)
    assert scores["accuracy"] == pytest.approx(2 / 3)
