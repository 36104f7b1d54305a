"""Regression losses with several targets: a sample's loss is the mean over its targets, so the
mean over samples is scikit-learn's multi-output score (every value counted once)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import mean_absolute_error, mean_squared_error

from tuneforge.recipe.losses import huber, mae, mse


def _pair(members: int | None = None):
    gen = torch.Generator().manual_seed(0)
    shape = (5, 3) if members is None else (members, 5, 3)
    return torch.randn(shape, generator=gen, dtype=torch.float64), torch.randn(5, 3, generator=gen,
                                                                               dtype=torch.float64)


@pytest.mark.parametrize(("loss", "reference"), [(mse, mean_squared_error), (mae, mean_absolute_error)])
def test_mean_is_scikit_learns_multi_output_score(loss, reference) -> None:
    pred, y = _pair()
    assert float(loss(pred, y, reduction="mean")) == pytest.approx(reference(y.numpy(), pred.numpy()))
    per_sample = loss(pred, y).numpy()
    expected = reference(y.numpy().T, pred.numpy().T, multioutput="raw_values")  # one per row
    np.testing.assert_allclose(per_sample, expected, rtol=1e-12)
    assert float(loss(pred, y, reduction="sum")) == pytest.approx(expected.sum())


def test_huber_per_sample_is_the_mean_of_its_targets_and_members_are_separate() -> None:
    pred, y = _pair(members=2)
    r = (pred - y).abs().numpy()
    elementwise = np.where(r <= 0.5, 0.5 * r**2, 0.5 * (r - 0.25))  # δ = 0.5
    np.testing.assert_allclose(huber(pred, y, delta=0.5).numpy(), elementwise.mean(-1), rtol=1e-12)
