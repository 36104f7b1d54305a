"""Every loss in ``LOSSES`` against a closed form and scikit-learn, per sample and per member."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

import tuneforge
from tuneforge.data import prepare
from tuneforge.errors import ConfigError
from tuneforge.recipe import LOSSES, Recipe

N, CLASSES = 50, 4


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _regression_case(gen):
    pred = torch.randn(N, 1, generator=gen, dtype=torch.float64) * 2
    y = torch.randn(N, generator=gen, dtype=torch.float64)
    return pred, y


def _multiclass_case(gen):
    return torch.randn(N, CLASSES, generator=gen, dtype=torch.float64) * 3, torch.randint(
        CLASSES, (N,), generator=gen
    )


def _binary_case(gen):
    return torch.randn(N, 1, generator=gen, dtype=torch.float64) * 3, torch.randint(
        2, (N,), generator=gen
    )


def _huber_closed_form(r: np.ndarray, delta: float = 1.0) -> np.ndarray:
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))


#: name -> (case maker, closed-form per-sample loss, scikit-learn mean or None)
REFERENCES = {
    "mse": (
        _regression_case,
        lambda p, y: (y - p[:, 0]) ** 2,
        lambda p, y: skm.mean_squared_error(y, p[:, 0]),
    ),
    "mae": (
        _regression_case,
        lambda p, y: np.abs(y - p[:, 0]),
        lambda p, y: skm.mean_absolute_error(y, p[:, 0]),
    ),
    "huber": (_regression_case, lambda p, y: _huber_closed_form(y - p[:, 0]), None),
    "cross_entropy": (
        _multiclass_case,
        lambda p, y: -np.log(_softmax(p)[np.arange(len(y)), y]),
        lambda p, y: skm.log_loss(y, _softmax(p), labels=np.arange(CLASSES)),
    ),
    "bce": (
        _binary_case,
        lambda p, y: -(y * np.log(1 / (1 + np.exp(-p[:, 0])))
                       + (1 - y) * np.log(1 - 1 / (1 + np.exp(-p[:, 0])))),  # fmt: skip
        lambda p, y: skm.log_loss(y, 1 / (1 + np.exp(-p[:, 0])), labels=[0, 1]),
    ),
}


def test_every_registered_loss_has_a_reference():
    assert set(REFERENCES) == set(LOSSES)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_matches_closed_form_and_sklearn(name):
    make_case, closed_form, sklearn_mean = REFERENCES[name]
    pred, y = make_case(torch.Generator().manual_seed(0))
    per_sample = LOSSES[name](pred, y)
    assert per_sample.shape == (N,)
    np.testing.assert_allclose(per_sample.numpy(), closed_form(pred.numpy(), y.numpy()), rtol=1e-12)
    if sklearn_mean is not None:
        np.testing.assert_allclose(float(per_sample.mean()), sklearn_mean(pred.numpy(), y.numpy()),
                                   rtol=1e-10)  # fmt: skip


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_leading_member_dims_give_each_member_its_own_loss(name):
    make_case, _, _ = REFERENCES[name]
    gen = torch.Generator().manual_seed(1)
    cases = [make_case(gen) for _ in range(3)]
    y = cases[0][1]
    stacked = torch.stack([pred for pred, _ in cases])  # [K, n, out], one shared target [n]
    out = LOSSES[name](stacked, y)
    assert out.shape == (3, N)
    for k, (pred, _) in enumerate(cases):
        torch.testing.assert_close(out[k], LOSSES[name](pred, y), rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_mean_reduction_is_the_mean_of_the_per_sample_losses_and_of_their_gradients(name):
    make_case, _, _ = REFERENCES[name]
    pred, y = make_case(torch.Generator().manual_seed(4))
    fused = pred.clone().requires_grad_()
    per_sample = pred.clone().requires_grad_()
    LOSSES[name](fused, y, reduction="mean").backward()
    LOSSES[name](per_sample, y).mean().backward()
    torch.testing.assert_close(fused.grad, per_sample.grad, rtol=1e-12, atol=1e-15)
    stacked = torch.stack([pred, pred.flip(0)])  # member dims: the mean over every element
    torch.testing.assert_close(LOSSES[name](stacked, y, reduction="mean"),
                               LOSSES[name](stacked, y).mean(), rtol=1e-12, atol=0)  # fmt: skip


def test_label_smoothing_comes_from_the_config():
    data = prepare(tuneforge.load_config(overrides=["data.source=iris"]).data)
    gen = torch.Generator().manual_seed(2)
    pred = torch.randn(N, 3, generator=gen, dtype=torch.float64)
    y = torch.randint(3, (N,), generator=gen)
    eps = 0.2
    cfg = tuneforge.load_config(overrides=["data.source=iris", f"train.label_smoothing={eps}"])
    got = Recipe.build(cfg.train, data).loss(pred, y).numpy()
    # Smoothed target p = (1 - ε)·onehot + ε/K: H(p, q) = (1 - ε)(−log q_y) + (ε/K) Σ_k −log q_k.
    log_q = np.log(_softmax(pred.numpy()))
    want = (1 - eps) * -log_q[np.arange(N), y.numpy()] + eps / 3 * -log_q.sum(-1)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_per_member_label_smoothing_is_torchs_for_each_member_with_its_gradient():
    from tuneforge.recipe.losses import member_smoothed_cross_entropy

    gen = torch.Generator().manual_seed(3)
    eps = torch.tensor([0.0, 0.05, 0.2], dtype=torch.float64)
    pred = (torch.randn(3, N, CLASSES, generator=gen, dtype=torch.float64) * 3).requires_grad_()
    y = torch.randint(CLASSES, (N,), generator=gen)
    got = member_smoothed_cross_entropy(pred, y, eps)
    (got * torch.arange(1.0, N + 1, dtype=torch.float64)).sum().backward()
    for k in range(3):  # torch's own kernel, one member at a time
        alone = pred.detach()[k].clone().requires_grad_()
        want = torch.nn.functional.cross_entropy(alone, y, reduction="none", label_smoothing=float(eps[k]))
        (want * torch.arange(1.0, N + 1, dtype=torch.float64)).sum().backward()
        torch.testing.assert_close(got[k], want, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(pred.grad[k], alone.grad, rtol=1e-12, atol=1e-14)


def test_huber_delta_comes_from_the_config():
    gen = torch.Generator().manual_seed(3)
    reg = prepare(tuneforge.load_config(overrides=["data.source=diabetes"]).data)
    cfg = tuneforge.load_config(overrides=["data.source=diabetes", "train.loss=huber",
                                           "train.huber_delta=0.3"])  # fmt: skip
    pred, y = _regression_case(gen)
    got = Recipe.build(cfg.train, reg).loss(pred, y).numpy()
    np.testing.assert_allclose(got, _huber_closed_form(y.numpy() - pred[:, 0].numpy(), 0.3),
                               rtol=1e-12)  # fmt: skip


def test_output_count_follows_the_loss():
    data = prepare(tuneforge.load_config(overrides=["data.source=breast_cancer"]).data)
    for loss, outputs in (("cross_entropy", 2), ("bce", 1)):
        cfg = tuneforge.load_config(overrides=["data.source=breast_cancer", f"train.loss={loss}"])
        assert Recipe.build(cfg.train, data).n_outputs == outputs
    iris = prepare(tuneforge.load_config(overrides=["data.source=iris"]).data)
    cfg = tuneforge.load_config(overrides=["data.source=iris", "train.loss=bce"])
    with pytest.raises(ConfigError, match="train.loss"):
        Recipe.build(cfg.train, iris)
