"""The fit verdict as a classifier (issue 20, "must be true" 2): scenario recipes whose truth is
known by construction, each trained for real over 3 seeds; the verdict, its cause and the key its
suggestion names must be the right ones in every case (table in docs/diagnostics.md).

Each scenario changes one thing from a well-tuned recipe (breast_cancer, 30 features, ~340
training rows; MLP [32], Adam 3e-3, 30 epochs), or, for the too-small model, fits a logistic
model to XOR, which no linear boundary separates. The gradient checks run at their default
(``train.diagnostics.grad_every: 50``): the unstable and vanishing rules read them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import tuneforge

FAST = ["train.checkpoint_every=0", "logging.report=false"]
BREAST = ["data.source=breast_cancer", "train.epochs=30"]
TUNED = [*BREAST, "model.hidden=[32]", "train.optimizer.lr=3e-3"]
DEEP = "model.hidden=[32,32,32,32,32,32]"

#: name -> (overrides, verdict, cause, text the suggestion must contain)
SCENARIOS = {
    "lr 100x too high (oscillates)": (
        [*BREAST, "model.hidden=[32]", "train.optimizer.lr=0.3"],
        "unstable", "lr_too_high", "lower train.optimizer.lr from 0.3 to 0.03"),
    "lr 100x too low (slow monotone descent)": (
        [*BREAST, "model.hidden=[32]", "train.optimizer.lr=3e-5"],
        "underfit", "lr_too_low", "raise train.optimizer.lr from 3e-05 to 0.0003"),
    "well-tuned": (
        [*TUNED, "train.regularization.l2=1e-3"], "good", None, None),
    "too few epochs (still improving)": (
        [*TUNED, "train.epochs=3"], "not_converged", None, "train.epochs: 6"),
    "no regularization, few hundred rows (overfits)": (
        [*BREAST, "model.hidden=[256,256]", "train.epochs=40", "train.batch_size=16"],
        "overfit", None, "train.early_stopping"),
    "too-small model, hard target (underfits)": (
        ["data.target=y", "model.kind=logistic", "train.optimizer.lr=0.03", "train.epochs=30"],
        "underfit", "too_small", "model.hidden"),
    "vanishing gradients (deep sigmoid, default init)": (
        [*BREAST, DEEP, "model.activation=sigmoid", "model.init=default",
         "train.optimizer.name=sgd"],
        "underfit", "vanishing_gradients", "model.activation: relu"),
    "exploding gradients (deep, N(0, 1) init, no clipping)": (
        [*BREAST, "model.hidden=[64,64,64,64,64,64]", "model.init=normal"],
        "unstable", "exploding_gradients", "train.clip_grad_norm"),
}  # fmt: skip


@pytest.fixture(scope="module")
def xor_csv(tmp_path_factory) -> str:
    """600 rows, y = (a > 0) xor (b > 0): the best linear model is no better than the class priors."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (600, 2))
    path = tmp_path_factory.mktemp("xor") / "xor.csv"
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": (x[:, 0] > 0) ^ (x[:, 1] > 0)}).astype(
        {"y": int}
    ).to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_each_scenario_gets_its_verdict_and_advice(scenario, seed, xor_csv):
    overrides, verdict, cause, advice = SCENARIOS[scenario]
    if "model.kind=logistic" in overrides:
        overrides = [f"data.source={xor_csv}", *overrides]
    cfg = tuneforge.load_config(overrides=[*FAST, *overrides, f"train.seed={seed}"])
    fit = tuneforge.train(cfg).summary["diagnosis"]["fit"]
    assert (fit["verdict"], fit.get("cause")) == (verdict, cause), fit["reason"]
    if advice is None:
        assert fit["suggestion"] is None
    else:
        assert advice in fit["suggestion"]
