"""How a run fit: overfit, underfit, diverged or good, read from its epoch history.

The rules (docs/diagnostics.md), on the per-epoch ``train/loss`` (mean over the epoch's batches,
in training mode) and ``val/loss``:

* **diverged**: the engine saw a NaN/Inf loss; we report its step, the last finite loss and the
  learning rate at that moment.
* **overfit**: the validation loss reached its minimum at epoch e*, at least ``MIN_EPOCHS_AFTER``
  epochs before the end, the final validation loss is more than ``OVERFIT_RISE`` (relative) above
  that minimum, and the training loss kept falling after e*. The gap is val − train at the end.
* **underfit**, either
  - the final training loss is above ``UNDERFIT_LEFT`` × the loss of a constant predictor (class
    priors / the target's mean or median): the model learned little. If it also ended more than
    ``UNSTABLE_ABOVE_BEST`` × above its own best epoch, training is unstable (lower the LR);
    otherwise it learns too slowly (raise the LR, train longer, a larger model);
  - or the watched loss (val, else train) ended at its minimum after falling by more than
    ``STILL_FALLING`` × the constant predictor's loss over the last quarter of the epochs: it
    was still learning. Measured against the constant predictor, not against itself: a loss
    going from 0.012 to 0.006 halves, but has next to nothing left to learn.
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
    "mse": lambda y, n_out: y.double().mean().reshape(1),
    "huber": lambda y, n_out: y.double().median().reshape(1),
    "mae": lambda y, n_out: y.double().median().reshape(1),
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
                 baseline: float | None) -> dict:  # fmt: skip
    """``{"verdict", "reason", "suggestion", ...numbers}`` for ``summary.json``'s diagnosis."""
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
    if verdict := _learned_little(train, baseline, facts):
        return verdict
    if has_val and (verdict := _overfit(train, val, best, facts)):
        return verdict
    return _still_learning(val if has_val else train, baseline, facts) or {
        "verdict": "good", "suggestion": None, **facts,
        "reason": "the losses settled without a rising validation loss",
    }  # fmt: skip


def _diverged(d: dict) -> dict:
    lr = d.get("lr")
    suggestion = (f"lower train.optimizer.lr (e.g. to {lr / 10:.3g}) or set train.clip_grad_norm; "
                  "tuneforge lr-find suggests a learning rate")  # fmt: skip
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
            "suggestion": ("stronger regularization (train.regularization.l2, model.dropout), or "
                           f"early stopping (train.early_stopping: {{monitor: val/loss}}) "
                           f"near epoch {best + 1}")}  # fmt: skip


def _learned_little(train: list[float], baseline: float | None, facts: dict) -> dict | None:
    if baseline is not None and baseline > 0 and train[-1] > UNDERFIT_LEFT * baseline:
        learned = (f"train/loss {train[-1]:.4g} is {train[-1] / baseline:.0%} of a constant "
                   f"predictor's {baseline:.4g}")  # fmt: skip
        if max(train) > UNSTABLE_ABOVE * baseline:
            worst = train.index(max(train)) + 1
            return {"verdict": "underfit", **facts,
                    "reason": (f"{learned}, and was {max(train):.4g} at epoch {worst}: the steps "
                               "overshoot"),
                    "suggestion": "a lower learning rate (tuneforge lr-find) or train.clip_grad_norm"}  # fmt: skip
        return {"verdict": "underfit", **facts, "reason": f"{learned}: the model learned little",
                "suggestion": ("a higher learning rate (tuneforge lr-find), more epochs, a larger "
                               "model, or less regularization")}  # fmt: skip
    return None


def _still_learning(watched: list[float], baseline: float | None, facts: dict) -> dict | None:
    window = max(2, len(watched) // 4)
    if len(watched) <= window:
        return None
    then, now = watched[-1 - window], watched[-1]
    scale = baseline if baseline else max(abs(then), 1e-12)
    drop = (then - now) / scale
    if drop > STILL_FALLING and now <= min(watched):
        return {"verdict": "underfit", **facts, "still_falling": drop,
                "reason": (f"the loss was still falling at the end ({then:.4g} to {now:.4g} over "
                           f"the last {window} epochs)"),
                "suggestion": "more epochs (train.epochs) or a higher learning rate"}  # fmt: skip
    return None


def fit_warnings(fit: dict) -> list[str]:
    """A one-line warning for anything but a good fit."""
    if fit["verdict"] in ("good", "unknown"):
        return []
    return [f"{fit['verdict']}: {fit['reason']}; try {fit['suggestion']}"]
