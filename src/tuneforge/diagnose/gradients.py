"""Gradient health: per-layer gradient norms and update-to-parameter ratios every N steps.

Ours rather than a library's: the checks hook into our loop (``ModuleTrainer(probe=...)``), keep
their numbers on the device until the epoch ends (no host sync inside an epoch), and feed the
run's ``metrics.jsonl``, ``summary.json`` and report. The rules that turn the numbers into
warnings (docs/diagnostics.md):

* **vanishing**: in an early layer (the first half of the layers, never the output layer) the
  gradient norm is below ``vanishing`` × the largest layer's norm of the same check, for
  ``vanishing_checks`` checks in a row. Relative, so a run converging to a tiny loss (all
  gradients small together) is not flagged.
* **exploding**: a check's total gradient norm is not finite, or exceeds ``exploding`` × the
  median total norm of the (up to 10) finite checks before it.
"""

from __future__ import annotations

import math
import statistics

import torch
from torch import nn

from tuneforge.config.schema import DiagnosticsConfig

#: How many earlier checks the exploding rule compares with.
HISTORY = 10


def layer_names(model: nn.Module) -> tuple[list[str], list[nn.Parameter], list[int]]:
    """Trainable parameters grouped by the module that owns them, in the model's order.

    Returns the layer names (module paths such as ``"0"`` or ``"encoder.fc"``; ``"model"`` for
    parameters of the root module), the parameters, and each parameter's layer index.
    """
    names: list[str] = []
    params, owner = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        layer = name.rpartition(".")[0] or "model"
        if not names or names[-1] != layer:
            names.append(layer)
        params.append(param)
        owner.append(len(names) - 1)
    return names, params, owner


class GradientHealth:
    """The engine's step probe and an epoch callback that files the checks into the record.

    Each check stores, per layer, ``‖∇θ‖`` (before clipping) and ``‖Δθ‖ / ‖θ‖`` (the update
    the optimizer step made, relative to the weights before it).
    """

    def __init__(self, model: nn.Module, cfg: DiagnosticsConfig):
        self.every = cfg.grad_every
        self.layers, self.params, owner = layer_names(model)
        device = self.params[0].device if self.params else torch.device("cpu")
        self.owner = torch.tensor(owner, dtype=torch.long, device=device)
        self.pending: list[tuple[int, torch.Tensor]] = []  # (step, [2, layers]) on the device
        self._before: list[torch.Tensor] = []
        self._grad_sq: torch.Tensor | None = None

    def _per_layer(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        """Σ‖t‖² over each layer's tensors, shape ``[layers]`` (float32)."""
        sq = torch.stack([torch.linalg.vector_norm(t.detach().float()) ** 2 for t in tensors])
        return torch.zeros(len(self.layers), device=sq.device).index_add_(0, self.owner, sq)

    def before_step(self, step: int) -> None:
        if not self.params:  # everything frozen: nothing to look at
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        self._grad_sq = self._per_layer(grads)
        self._before = [p.detach().clone() for p in self.params]

    def after_step(self, step: int) -> None:
        if not self.params:
            return
        deltas = [p.detach() - old for p, old in zip(self.params, self._before, strict=True)]
        update = self._per_layer(deltas).sqrt() / self._per_layer(self._before).sqrt().clamp_min(1e-12)
        self.pending.append((step, torch.stack([self._grad_sq.sqrt(), update])))
        self._before, self._grad_sq = [], None

    def __call__(self, record: dict) -> None:
        """Epoch callback: move this epoch's checks to the host and into the record."""
        if not self.pending:
            return None
        values = torch.stack([v for _, v in self.pending]).cpu().tolist()
        checks = []
        for (step, _), (norms, ratios) in zip(self.pending, values, strict=True):
            checks.append({"step": step, "norm": dict(zip(self.layers, norms, strict=True)),
                           "update_ratio": dict(zip(self.layers, ratios, strict=True))})  # fmt: skip
        self.pending = []
        record["grad_norm"] = total_norm(checks[-1]["norm"])
        record["grad_checks"] = checks
        return None


def total_norm(norms: dict[str, float]) -> float:
    return math.sqrt(sum(v * v for v in norms.values()))


def all_checks(history: list[dict]) -> list[dict]:
    return [check for record in history for check in record.get("grad_checks", ())]


def assess(history: list[dict], cfg: DiagnosticsConfig) -> dict | None:
    """The gradient-health part of ``summary.json`` (``None`` when no check ran).

    Returns ``{"checks", "layers": {name: {"last_norm", "median_norm", "median_update_ratio"}},
    "first_norm", "max_update_ratio", "vanishing": {...} | None, "exploding": {...} | None}``;
    ``first_norm`` is the total gradient norm of the first check (step 0: what the initial
    weights give), ``max_update_ratio`` the largest finite ‖Δθ‖/‖θ‖ of any layer and check; the
    two findings name the layer and the step where the rule first fired.
    """
    checks = all_checks(history)
    if not checks:
        return None
    layers = list(checks[0]["norm"])
    table = {}
    for layer in layers:
        norms = [c["norm"][layer] for c in checks if math.isfinite(c["norm"][layer])]
        ratios = [c["update_ratio"][layer] for c in checks if math.isfinite(c["update_ratio"][layer])]
        table[layer] = {"last_norm": checks[-1]["norm"][layer],
                        "median_norm": statistics.median(norms) if norms else math.nan,
                        "median_update_ratio": statistics.median(ratios) if ratios else math.nan}  # fmt: skip
    ratios = [r for c in checks for r in c["update_ratio"].values() if math.isfinite(r)]
    return {"checks": len(checks), "every": cfg.grad_every, "layers": table,
            "first_norm": total_norm(checks[0]["norm"]),
            "max_update_ratio": max(ratios, default=math.nan),
            "vanishing": find_vanishing(checks, layers, cfg),
            "exploding": find_exploding(checks, cfg.exploding)}  # fmt: skip


def early_layers(layers: list[str]) -> list[str]:
    """The first half of the layers, never the output layer (so none for a one-layer model)."""
    return layers[: min(math.ceil(len(layers) / 2), len(layers) - 1)]


def find_vanishing(checks: list[dict], layers: list[str], cfg: DiagnosticsConfig) -> dict | None:
    run = {layer: 0 for layer in early_layers(layers)}
    for check in checks:
        finite = [v for v in check["norm"].values() if math.isfinite(v)]
        largest = max(finite, default=0.0)
        if largest <= 0:
            continue
        for layer in run:
            ratio = check["norm"][layer] / largest
            run[layer] = run[layer] + 1 if ratio < cfg.vanishing else 0
            if run[layer] >= cfg.vanishing_checks:
                return {"layer": layer, "step": check["step"], "norm": check["norm"][layer],
                        "ratio": ratio, "threshold": cfg.vanishing}  # fmt: skip
    return None


def find_exploding(checks: list[dict], factor: float) -> dict | None:
    earlier: list[float] = []
    for check in checks:
        total = total_norm(check["norm"])
        if not math.isfinite(total):
            bad = next(k for k, v in check["norm"].items() if not math.isfinite(v))
            return {"layer": bad, "step": check["step"], "norm": total, "reason": "non-finite"}
        if earlier and total > factor * statistics.median(earlier[-HISTORY:]):
            layer = max(check["norm"], key=check["norm"].get)
            return {"layer": layer, "step": check["step"], "norm": total, "reason": "jump",
                    "median_before": statistics.median(earlier[-HISTORY:])}  # fmt: skip
        earlier.append(total)
    return None


def warnings_for(health: dict | None) -> list[str]:
    """One line per finding, naming the layer, the step and what to try."""
    if not health:
        return []
    lines = []
    if (v := health["vanishing"]) is not None:
        lines.append(f"vanishing gradients in layer {v['layer']} from step {v['step']} (norm "
                     f"{v['norm']:.2g}, {v['ratio']:.2g} of the largest layer's): try relu/gelu, "
                     "model.init: he, or model.norm")  # fmt: skip
    if (e := health["exploding"]) is not None:
        what = "not finite" if e["reason"] == "non-finite" else f"{e['norm']:.3g}, a sudden jump"
        lines.append(f"exploding gradients at step {e['step']} in layer {e['layer']} (norm {what}): "
                     "lower train.optimizer.lr or set train.clip_grad_norm")  # fmt: skip
    return lines
