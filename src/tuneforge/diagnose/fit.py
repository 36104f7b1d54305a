"""How a run fit: diverged, unstable, underfit, overfit, not converged or good, read from its
epoch history and its gradient health.

The rules (docs/diagnostics.md), in order, on the per-epoch ``train/loss`` (mean over the
epoch's batches, in training mode) and ``val/loss``, the *baseline* (the loss of a constant
predictor: class priors / the target's mean or median) and the gradient checks:

* **diverged**: the engine saw a NaN/Inf loss; we report its step, the last finite loss and the
  learning rate at that moment.
* **unstable** (the run did not diverge, but its steps are out of control), ``cause``:
  ``exploding_gradients`` when the first gradient check (step 0, the initial weights) has a total
  norm above ``EXPLODING_START`` × the baseline loss: fix the init (he) and clip; ``lr_too_high``
  when the watched loss (val, else train) jumped up by more than ``UNSTABLE_JUMP`` × the baseline
  in one epoch at least ``UNSTABLE_JUMPS`` times, and (when gradient checks ran) some step moved a
  layer's weights by more than ``LARGE_UPDATE`` of their norm: a tenth of the LR, or clipping.
* **underfit** (learned little): the final training loss is above ``UNDERFIT_LEFT`` × the
  baseline. The ``cause`` says why, from the curve and the gradient health:
  ``vanishing_gradients`` (the vanishing rule fired: change the activation/init), ``lr_too_high``
  (above ``UNSTABLE_ABOVE`` × the baseline and not monotone: the steps overshoot),
  ``lr_too_low`` (still falling steadily, or every layer's median update ratio below
  ``SMALL_UPDATE``: raise the LR), else ``too_small`` (flat: a larger model or less
  regularization).
* **overfit**: the validation loss reached its minimum at epoch e*, at least ``MIN_EPOCHS_AFTER``
  epochs before the end, the final validation loss is more than ``OVERFIT_RISE`` (relative) above
  that minimum, and the training loss kept falling after e*. The gap is val − train at the end.
* **not_converged**: the watched loss ended at its minimum after falling by more than
  ``STILL_FALLING`` × the baseline over the last quarter of the epochs (the last epoch of two):
  train longer. Measured against the constant predictor, not against itself: a loss going from
  0.012 to 0.006 halves, but has next to nothing left to learn. When every layer's median update
  ratio is below ``SMALL_UPDATE`` the run is still falling because its steps are tiny: that is
  **underfit** (``lr_too_low``), and the suggestion is a higher LR.
* **unknown** with one epoch: one point is no curve.
* **good**: none of these.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

OVERFIT_RISE = 0.10
MIN_EPOCHS_AFTER = 2
UNDERFIT_LEFT = 0.8
UNSTABLE_ABOVE = 3.0
STILL_FALLING = 0.02
#: A run that learned little while its largest median update ratio stayed below this: LR too low.
SMALL_UPDATE = 1e-3
#: The first check's total gradient norm above this multiple of the baseline loss: the initial
#: weights make the gradients explode (healthy starts measured within 10x; N(0, 1) weights in a
#: 6-layer MLP about 1e5x).
EXPLODING_START = 1000.0
#: An epoch-to-epoch rise of the watched loss by more than this fraction of the baseline is a jump;
UNSTABLE_JUMP = 0.25
#: ... this many jumps make the run unstable (one jump can be one unlucky epoch) ...
UNSTABLE_JUMPS = 2
#: ... when some step also moved a layer by more than this ‖Δθ‖/‖θ‖ (healthy: 1e-4 to 1e-2).
LARGE_UPDATE = 0.1


# ------------------------------------------------------------------ constant-predictor baseline
def _class_prior_logits(y: torch.Tensor, n_out: int) -> torch.Tensor:
    counts = torch.bincount(y.long(), minlength=max(n_out, 2)).double() + 1e-9
    logp = (counts / counts.sum()).log()
    if n_out == 1:  # one logit (bce): log(p1 / p0)
        return (logp[1] - logp[0]).reshape(1)
    return logp


#: loss -> the constant prediction (one row of outputs) a model that learned nothing would make.
CONSTANT_PREDICTIONS: dict[str, Callable[[torch.Tensor, int], torch.Tensor]] = {
    "cross_entropy": _class_prior_logits,
    "bce": _class_prior_logits,
    # regression: per target column (y is [n] or [n, targets])
    "mse": lambda y, n_out: y.double().mean(0).reshape(-1),
    "huber": lambda y, n_out: y.double().median(0).values.reshape(-1),
    "mae": lambda y, n_out: y.double().median(0).values.reshape(-1),
}


def constant_baseline(recipe, y_train: torch.Tensor) -> float | None:
    """The recipe's loss on the training rows for the best-guess constant prediction."""
    make = CONSTANT_PREDICTIONS.get(recipe.loss_name)
    if make is None or len(y_train) == 0:
        return None
    row = make(y_train, recipe.n_outputs).to(torch.float32).to(y_train.device)
    pred = row.expand(len(y_train), recipe.n_outputs)
    return float(recipe.loss(pred, y_train).mean())


# -------------------------------------------------------------------------------- the verdict
def _series(history: list[dict], key: str) -> list[float]:
    return [r.get(key, math.nan) for r in history]


def diagnose_fit(history: list[dict], status: str, divergence: dict | None,
                 baseline: float | None, gradients: dict | None = None) -> dict:  # fmt: skip
    """``{"verdict", "reason", "suggestion", ...numbers}`` for ``summary.json``'s diagnosis.

    ``gradients`` is the gradient-health assessment (diagnose/gradients.py ``assess``): a run
    that learned little with vanishing gradients needs another activation, not another LR.
    """
    if status == "diverged" and divergence:
        return _diverged(divergence)
    train, val = _series(history, "train/loss"), _series(history, "val/loss")
    if not history or not math.isfinite(train[-1]):
        return {"verdict": "unknown", "reason": "no finished epoch", "suggestion": None}
    facts = {"final_train_loss": train[-1], "baseline_loss": baseline}
    has_val, best = any(math.isfinite(v) for v in val), 0
    if has_val:
        best = min(range(len(val)), key=lambda i: val[i] if math.isfinite(val[i]) else math.inf)
        facts |= {"best_epoch": best + 1, "best_val_loss": val[best], "final_val_loss": val[-1],
                  "gap": val[-1] - train[-1], "gap_at_best": val[best] - train[best]}  # fmt: skip
    if len(history) == 1:  # one point is no curve: neither settled nor still falling
        return {"verdict": "unknown", **facts, "reason": "one epoch shows no trend",
                "suggestion": "more epochs: train.epochs: 10"}  # fmt: skip
    lr, watched = history[-1].get("lr"), val if has_val else train
    if verdict := _unstable(watched, baseline, facts, lr, gradients):
        return verdict
    if verdict := _learned_little(train, baseline, facts, lr, gradients):
        return verdict
    if has_val and (verdict := _overfit(train, val, best, facts)):
        return verdict
    return _still_learning(watched, baseline, facts, lr, gradients) or {
        "verdict": "good", "suggestion": None, **facts,
        "reason": "the losses settled without a rising validation loss",
    }  # fmt: skip


def _diverged(d: dict) -> dict:
    lr = d.get("lr")
    suggestion = (f"{_lr_change(lr, 0.1)} or set train.clip_grad_norm: 1.0; tuneforge lr-find "
                  "suggests a learning rate")  # fmt: skip
    return {"verdict": "diverged", "step": d.get("step"), "epoch": d.get("epoch"),
            "last_finite_loss": d.get("last_finite_loss"), "lr": lr, "suggestion": suggestion,
            "reason": f"the loss became NaN/Inf at step {d.get('step')} (lr {lr:.3g})"}  # fmt: skip


def _overfit(train: list[float], val: list[float], best: int, facts: dict) -> dict | None:
    after = len(val) - 1 - best
    rise = (val[-1] - val[best]) / max(abs(val[best]), 1e-12)
    if after < MIN_EPOCHS_AFTER or not rise > OVERFIT_RISE or not train[-1] < train[best]:
        return None
    return {"verdict": "overfit", **facts, "rise": rise,
            "reason": (f"val/loss was lowest at epoch {best + 1} ({val[best]:.4g}) and rose "
                       f"{rise:.0%} by the last epoch while train/loss kept falling "
                       f"(gap val - train {facts['gap']:.3g})"),
            "suggestion": (f"early stopping near epoch {best + 1} (train.early_stopping: "
                           "{monitor: val/loss, patience: 5}), or stronger regularization "
                           "(train.regularization.l2: 0.001, model.dropout: 0.2)")}  # fmt: skip


def _learned_little(train: list[float], baseline: float | None, facts: dict, lr: float | None,
                    gradients: dict | None) -> dict | None:  # fmt: skip
    if baseline is None or baseline <= 0 or not train[-1] > UNDERFIT_LEFT * baseline:
        return None
    learned = (f"train/loss {train[-1]:.4g} is {train[-1] / baseline:.0%} of a constant "
               f"predictor's {baseline:.4g}")  # fmt: skip
    if gradients and gradients.get("vanishing"):
        layer = gradients["vanishing"]["layer"]
        return {"verdict": "underfit", "cause": "vanishing_gradients", **facts,
                "reason": f"{learned}, and the gradients vanished in layer {layer}",
                "suggestion": "model.activation: relu with model.init: he (or model.norm: layer)"}  # fmt: skip
    if _overshoots(train, baseline):
        worst = train.index(max(train)) + 1
        return {"verdict": "underfit", "cause": "lr_too_high", **facts,
                "reason": (f"{learned}, and rose to {max(train):.4g} at epoch {worst}: the steps "
                           "overshoot"),
                "suggestion": f"{_lr_change(lr, 0.1)}, or train.clip_grad_norm: 1.0"}  # fmt: skip
    if _falling(train, baseline) or _small_steps(gradients):
        return _too_slow(learned, train, facts, lr, len(train))
    return {"verdict": "underfit", "cause": "too_small", **facts,
            "reason": f"{learned}, and stopped improving: the model learned little",
            "suggestion": ("a larger model (model.kind: mlp with model.hidden: [64, 64], or wider "
                           "model.hidden), or train.regularization.l2: 0 if it is set")}  # fmt: skip


def _too_slow(learned: str, watched: list[float], facts: dict, lr: float | None,
              epochs: int) -> dict:  # fmt: skip
    return {"verdict": "underfit", "cause": "lr_too_low", **facts,
            "reason": (f"{learned}, and fell steadily {watched[0]:.4g} -> {watched[-1]:.4g}: "
                       "the steps are too small"),
            "suggestion": (f"{_lr_change(lr, 10.0)} (tuneforge lr-find suggests one), or more "
                           f"epochs: train.epochs: {2 * epochs}")}  # fmt: skip


def _unstable(watched: list[float], baseline: float | None, facts: dict, lr: float | None,
              gradients: dict | None) -> dict | None:  # fmt: skip
    """Exploding gradients from the start, or a loss that jumps up again and again (LR too high)."""
    if baseline is None or baseline <= 0:
        return None
    first = (gradients or {}).get("first_norm", math.nan)
    if first > EXPLODING_START * baseline:
        return {"verdict": "unstable", "cause": "exploding_gradients", **facts, "first_norm": first,
                "reason": (f"the gradient norm was {first:.3g} at step 0, {first / baseline:.3g}x "
                           f"the constant predictor's loss {baseline:.4g}: the initial weights "
                           "are too large"),
                "suggestion": "model.init: he (weights scaled to the layer width) and "
                              "train.clip_grad_norm: 1.0"}  # fmt: skip
    jumps = [i + 2 for i, (a, b) in enumerate(zip(watched, watched[1:], strict=False))
             if b - a > UNSTABLE_JUMP * baseline]  # fmt: skip
    big = (gradients or {}).get("max_update_ratio", math.nan)
    if len(jumps) < UNSTABLE_JUMPS or (math.isfinite(big) and big <= LARGE_UPDATE):
        return None
    steps = f", and a step moved a layer by {big:.3g} of its norm" if math.isfinite(big) else ""
    return {"verdict": "unstable", "cause": "lr_too_high", **facts, "jumps": len(jumps),
            "reason": (f"the loss jumped up by more than {UNSTABLE_JUMP:.0%} of the constant "
                       f"predictor's {baseline:.4g} at epochs {', '.join(map(str, jumps))}{steps}"),
            "suggestion": f"{_lr_change(lr, 0.1)}, or train.clip_grad_norm: 1.0"}  # fmt: skip


def _overshoots(train: list[float], baseline: float) -> bool:
    """The epoch loss went above 3x the baseline and rose again at some point (not monotone)."""
    rose = any(b > a * (1 + OVERFIT_RISE) for a, b in zip(train, train[1:], strict=False))
    return max(train) > UNSTABLE_ABOVE * baseline and rose


def _falling(watched: list[float], baseline: float | None) -> float | None:
    """How much (of the baseline) the loss fell over the last quarter, if it ended at its lowest."""
    window = max(1, len(watched) // 4)
    if len(watched) <= window:
        return None
    then, now = watched[-1 - window], watched[-1]
    drop = (then - now) / (baseline if baseline else max(abs(then), 1e-12))
    return drop if drop > STILL_FALLING and now <= min(watched) else None


def _small_steps(gradients: dict | None) -> bool:
    """Every layer's median update ‖Δθ‖/‖θ‖ is below ``SMALL_UPDATE``: the steps barely move."""
    ratios = [v["median_update_ratio"] for v in ((gradients or {}).get("layers") or {}).values()]
    ratios = [r for r in ratios if math.isfinite(r)]
    return bool(ratios) and max(ratios) < SMALL_UPDATE


def _lr_change(lr: float | None, factor: float) -> str:
    verb = "lower" if factor < 1 else "raise"
    if lr is None or not math.isfinite(lr):
        return f"{verb} train.optimizer.lr {'10x' if factor > 1 else 'to a tenth'}"
    return f"{verb} train.optimizer.lr from {lr:.3g} to {lr * factor:.3g}"


def _still_learning(watched: list[float], baseline: float | None, facts: dict, lr: float | None,
                    gradients: dict | None) -> dict | None:  # fmt: skip
    drop, epochs = _falling(watched, baseline), len(watched)
    if drop is None:
        return None
    window = max(1, len(watched) // 4)
    if _small_steps(gradients):  # still falling because every step is tiny: the LR is too low
        return _too_slow("the loss is still falling", watched, facts, lr, epochs)
    return {"verdict": "not_converged", **facts, "still_falling": drop,
            "reason": (f"the loss was still falling at the end ({watched[-1 - window]:.4g} to "
                       f"{watched[-1]:.4g} over the last {window} epoch(s))"),
            "suggestion": f"more epochs: train.epochs: {2 * epochs}"}  # fmt: skip


def fit_warnings(fit: dict) -> list[str]:
    """A one-line warning for anything but a good fit."""
    if fit["verdict"] in ("good", "unknown"):
        return []
    return [f"{fit['verdict']}: {fit['reason']}; try {fit['suggestion']}"]
