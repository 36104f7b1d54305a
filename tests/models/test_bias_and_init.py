"""``model.bias: false`` and the ``zeros`` / ``normal`` initializations (issue 16, item 4).

References: torch.nn.init for the distributions (same generator state, same numbers), the
closed form of a bias-free fit, a NumPy transcription of gradient descent from zeros, and a
cohort member against its module-engine run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

import tuneforge
from tuneforge.config.schema import LinearModel, MLPModel
from tuneforge.errors import ConfigError
from tuneforge.models import build_model


def test_bias_false_drops_the_intercept_of_linear_and_the_mlp_head() -> None:
    linear = build_model(LinearModel(bias=False), 4, 2)
    assert linear.bias is None and tuple(linear.weight.shape) == (2, 4)
    mlp = build_model(MLPModel(hidden=[5, 3], bias=False), 4, 2)
    linears = [m for m in mlp if isinstance(m, torch.nn.Linear)]
    assert [m.bias is None for m in linears] == [False, False, True]


def test_zeros_init_gives_zero_weights_and_biases() -> None:
    mlp = build_model(MLPModel(hidden=[5], init="zeros"), 3, 2, seed=0)
    assert all(bool((p == 0).all()) for p in mlp.parameters())


@pytest.mark.parametrize("std", [1.0, 0.01])
def test_normal_init_draws_what_torch_nn_init_normal_draws(std: float) -> None:
    layer = build_model(LinearModel(init="normal", init_std=std), 300, 200, seed=3)
    torch.manual_seed(3)
    reference = torch.nn.Linear(300, 200)  # the same draws for torch's default init first...
    torch.nn.init.normal_(reference.weight, 0.0, std)  # ...then normal_, as init_linear does
    assert torch.equal(layer.weight, reference.weight)
    assert bool((layer.bias == 0).all())
    # and the numbers are N(0, std²): a Kolmogorov-Smirnov test against the normal law
    sample = layer.weight.detach().double().flatten().numpy()
    assert stats.kstest(sample, stats.norm(0.0, std).cdf).pvalue > 1e-3


def test_he_of_an_mlp_is_still_kaiming_normal() -> None:
    mlp = build_model(MLPModel(hidden=[400], init="he"), 300, 2, seed=1)
    torch.manual_seed(1)
    first = torch.nn.Linear(300, 400)
    torch.nn.init.kaiming_normal_(first.weight, nonlinearity="relu")
    assert torch.equal(mlp[0].weight, first.weight)


@pytest.mark.parametrize("bad", ["model.init=uniform", "model.init_std=0", "model.bias=maybe"])
def test_bad_values_name_the_key(bad: str) -> None:
    key = bad.split("=")[0]
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        tuneforge.load_config(overrides=["model.kind=linear", "data.source=linear", bad])


def _line_csv(tmp_path, n: int = 64) -> str:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2))
    y = x @ np.array([1.5, -2.0]) + 0.1 * rng.normal(size=n)
    path = tmp_path / "line.csv"
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": y}).to_csv(path, index=False)
    return str(path)


def _gd_recipe(path: str, bias: bool, epochs: int, lr: float):
    return tuneforge.load_config(overrides=[
        f"data.source={path}", "data.target=y", "data.task=regression", "data.standardize=false",
        "data.standardize_target=false", "data.split.val=0", "data.split.test=0",
        "model.kind=linear", "model.init=zeros", f"model.bias={str(bias).lower()}",
        "train.batch_size=full", f"train.epochs={epochs}", "train.optimizer.name=sgd",
        f"train.optimizer.lr={lr}", "train.device=cpu", "train.checkpoint_every=0", "logging.report=false",
    ])  # fmt: skip


def test_zeros_linear_model_with_gradient_descent_follows_numpy(tmp_path) -> None:
    """θ ← θ − α·∇MSE from θ = 0, written out in NumPy, with and without the intercept."""
    path = _line_csv(tmp_path)
    frame = pd.read_csv(path)
    x, y = frame[["a", "b"]].to_numpy(), frame["y"].to_numpy()
    for bias in (True, False):
        run = tuneforge.train(_gd_recipe(path, bias, epochs=25, lr=0.1), out=tmp_path / f"b{bias}")
        w, b = np.zeros(2), 0.0
        for _ in range(25):
            r = x @ w + b - y
            w, b = w - 0.1 * 2 * x.T @ r / len(y), b - (0.1 * 2 * r.mean() if bias else 0.0)
        np.testing.assert_allclose(run.model.weight.detach().numpy()[0], w, rtol=1e-5)
        if bias:
            assert run.model.bias.item() == pytest.approx(b, rel=1e-5)
        else:
            assert run.model.bias is None


def test_bias_free_linear_converges_to_the_least_squares_line_through_the_origin(tmp_path) -> None:
    path = _line_csv(tmp_path)
    frame = pd.read_csv(path)
    x, y = frame[["a", "b"]].to_numpy(), frame["y"].to_numpy()
    closed, *_ = np.linalg.lstsq(x, y, rcond=None)  # no intercept column
    run = tuneforge.train(_gd_recipe(path, False, epochs=300, lr=0.2), out=tmp_path / "run")
    np.testing.assert_allclose(run.model.weight.detach().numpy()[0], closed, rtol=1e-4)
