"""Gradient health: the numbers the probe records, and the vanishing/exploding rules."""

from __future__ import annotations

import math

import pytest
import torch

import tuneforge
from tuneforge.config.schema import DiagnosticsConfig
from tuneforge.data import prepare
from tuneforge.diagnose.gradients import (
    GradientHealth,
    assess,
    early_layers,
    find_exploding,
    find_vanishing,
    warnings_for,
)
from tuneforge.engine.module import ModuleTrainer
from tuneforge.models import build_model
from tuneforge.recipe import Recipe


def trained(overrides: list[str], weight_scale: float | None = None):
    """Train with the engine and a probe every 5 steps; returns (cfg, history)."""
    cfg = tuneforge.load_config(overrides=[*overrides, "train.diagnostics.grad_every=5"])
    data = prepare(cfg.data)
    recipe = Recipe.build(cfg.train, data)
    model = build_model(cfg.model, data.n_features, recipe.n_outputs, seed=0)
    if weight_scale is not None:  # "tiny init"
        with torch.no_grad():
            for layer in model.modules():
                if isinstance(layer, torch.nn.Linear):
                    layer.weight.mul_(weight_scale)
    health = GradientHealth(model, cfg.train.diagnostics)
    result = ModuleTrainer(model, data, recipe, probe=health).fit([health])
    return cfg, result.history


def test_probe_records_per_layer_norms_and_update_ratios_of_plain_gradient_descent():
    """One full-batch SGD step: ‖∇θ‖ from autograd, and ‖Δθ‖/‖θ‖ = α‖∇θ‖/‖θ‖ in closed form."""
    cfg = tuneforge.load_config(overrides=["data.source=iris", "model.hidden=[8]",
                                           "train.optimizer.name=sgd", "train.optimizer.lr=0.1",
                                           "train.batch_size=full", "train.epochs=1",
                                           "train.diagnostics.grad_every=1"])  # fmt: skip
    data = prepare(cfg.data)
    recipe = Recipe.build(cfg.train, data)
    model = build_model(cfg.model, data.n_features, recipe.n_outputs, seed=0)
    reference = build_model(cfg.model, data.n_features, recipe.n_outputs, seed=0)
    recipe.loss(reference(data.x["train"]), data.y["train"]).mean().backward()
    health = GradientHealth(model, cfg.train.diagnostics)
    history = ModuleTrainer(model, data, recipe, probe=health).fit([health]).history

    check = history[0]["grad_checks"][0]
    assert check["step"] == 0 and list(check["norm"]) == ["0", "2"]  # Linear, ReLU, Linear
    for name in ("0", "2"):
        layer = getattr(reference, name)
        grad = torch.cat([layer.weight.grad.flatten(), layer.bias.grad.flatten()])
        weights = torch.cat([layer.weight.detach().flatten(), layer.bias.detach().flatten()])
        assert check["norm"][name] == pytest.approx(float(grad.norm()), rel=1e-5)
        assert check["update_ratio"][name] == pytest.approx(float(0.1 * grad.norm() / weights.norm()), rel=1e-4)
    assert history[0]["grad_norm"] == pytest.approx(math.hypot(*check["norm"].values()), rel=1e-9)


def test_deep_sigmoid_mlp_with_tiny_init_triggers_the_vanishing_warning():
    cfg, history = trained(["model.hidden=[32,32,32,32,32,32]", "model.activation=sigmoid",
                            "model.init=xavier", "train.epochs=3"], weight_scale=0.1)  # fmt: skip
    health = assess(history, cfg.train.diagnostics)
    assert health["vanishing"] is not None
    assert health["vanishing"]["layer"] in early_layers(list(health["layers"]))
    assert health["vanishing"]["ratio"] < cfg.train.diagnostics.vanishing
    assert health["exploding"] is None
    assert warnings_for(health)[0].startswith(f"vanishing gradients in layer {health['vanishing']['layer']}")


def test_an_absurd_learning_rate_is_reported_as_diverged_with_exploding_gradients():
    cfg = tuneforge.load_config(overrides=["train.optimizer.name=sgd", "train.optimizer.lr=1000",
                                           "train.epochs=3", "train.diagnostics.grad_every=5"])  # fmt: skip
    run = tuneforge.train(cfg)
    fit, gradients = run.summary["diagnosis"]["fit"], run.summary["diagnosis"]["gradients"]
    assert run.summary["status"] == "diverged"
    assert fit["verdict"] == "diverged" and fit["lr"] == 1000 and fit["step"] >= 1
    assert fit["last_finite_loss"] is None or math.isfinite(fit["last_finite_loss"])
    assert "lower train.optimizer.lr" in fit["suggestion"]
    assert gradients["exploding"] is not None and gradients["exploding"]["step"] % 5 == 0
    assert any(w.startswith("diverged") for w in run.summary["warnings"])
    assert any(w.startswith("exploding gradients") for w in run.summary["warnings"])


def test_a_healthy_run_triggers_neither():
    cfg = tuneforge.load_config(overrides=["train.epochs=5", "train.diagnostics.grad_every=5"])
    run = tuneforge.train(cfg)
    gradients = run.summary["diagnosis"]["gradients"]
    assert gradients["checks"] == math.ceil(run.summary["steps"] / 5)
    assert gradients["vanishing"] is None and gradients["exploding"] is None
    assert run.summary["status"] == "completed"
    assert not any("gradients" in w or "diverged" in w for w in run.summary["warnings"])


def test_grad_every_zero_turns_the_probe_off():
    run = tuneforge.train(tuneforge.load_config(overrides=["data.source=iris", "train.epochs=2",
                                                           "train.diagnostics.grad_every=0"]))  # fmt: skip
    assert run.summary["diagnosis"]["gradients"] is None
    assert not any("grad_checks" in r or "grad_norm" in r for r in run.history)


# ------------------------------------------------------------------------ the rules alone
def checks(norms: list[list[float]], every: int = 10) -> list[dict]:
    layers = [str(i) for i in range(len(norms[0]))]
    return [{"step": i * every, "norm": dict(zip(layers, row, strict=True)), "update_ratio": dict.fromkeys(layers, 0.0)}
            for i, row in enumerate(norms)]  # fmt: skip


def test_vanishing_needs_consecutive_checks_in_an_early_layer():
    cfg = DiagnosticsConfig(vanishing=1e-3, vanishing_checks=3)
    low, ok = [1e-7, 1.0, 1.0, 1.0], [0.5, 1.0, 1.0, 1.0]
    assert find_vanishing(checks([low, low, ok, low, low]), list("0123"), cfg) is None
    found = find_vanishing(checks([low, low, ok, low, low, low]), list("0123"), cfg)
    assert found["layer"] == "0" and found["step"] == 50
    late = [1.0, 1.0, 1.0, 1e-9]  # the output layer is never an "early layer"
    assert find_vanishing(checks([late] * 5), list("0123"), cfg) is None
    assert early_layers(["0"]) == [] and early_layers(list("01234")) == list("012")


def test_all_gradients_shrinking_together_is_not_vanishing():
    cfg = DiagnosticsConfig()
    converging = [[10.0 ** -k] * 3 for k in range(12)]
    assert find_vanishing(checks(converging), list("012"), cfg) is None


def test_exploding_on_a_jump_or_a_non_finite_norm():
    steady = [[1.0, 1.0]] * 4
    assert find_exploding(checks(steady + [[50.0, 60.0]]), 100.0) is None
    jump = find_exploding(checks(steady + [[1.0, 500.0]]), 100.0)
    assert jump["reason"] == "jump" and jump["layer"] == "1" and jump["step"] == 40
    bad = find_exploding(checks(steady + [[math.inf, 1.0]]), 100.0)
    assert bad["reason"] == "non-finite" and bad["layer"] == "0"
