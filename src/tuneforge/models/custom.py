"""``model.kind: custom``: any ``nn.Module`` from the user's factory (docs/custom.md).

The factory is named ``module:attribute`` (``model.factory``) and called as
``factory(n_inputs=..., n_outputs=..., **model.args)``: ``n_inputs`` is the feature count of
table rows, or the row shape (a tuple such as ``(1, 8, 8)``) of images and sequences. What it
returns is checked here, once, before the first step: an ``nn.Module`` whose output for a batch
of ``n`` rows is ``[n, n_outputs]``. A factory that fails is one ConfigError line naming it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from tuneforge.config.arch_schema import CustomModel
from tuneforge.errors import ConfigError
from tuneforge.usercode import describe, load


def build_custom(cfg: CustomModel, n_in: int | Sequence[int], n_out: int) -> nn.Module:
    """``factory(n_inputs=n_in, n_outputs=n_out, **args)``, checked to be an ``nn.Module``."""
    if cfg.factory is None:
        raise ConfigError("model.factory: model.kind custom needs a factory 'module:attribute' "
                          "(or the model itself: tuneforge.train(cfg, model=...))")  # fmt: skip
    factory = load(cfg.factory, "model.factory")
    name = describe(cfg.factory)
    if not callable(factory):
        raise ConfigError(f"model.factory: {name} is a {type(factory).__name__}, not a class or "
                          "function that returns an nn.Module")  # fmt: skip
    n_inputs = n_in if isinstance(n_in, int) else tuple(int(v) for v in n_in)
    try:
        model = factory(n_inputs=n_inputs, n_outputs=n_out, **cfg.args)
    except Exception as exc:  # the user's code: any error is theirs to fix, shown in one line
        raise ConfigError(f"model.factory: {name}(n_inputs={n_inputs!r}, n_outputs={n_out}, "
                          f"{_args(cfg.args)}) raised {type(exc).__name__}: {exc}") from None  # fmt: skip
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model.factory: {name} returned a {type(model).__name__}; expected an "
                          "nn.Module")  # fmt: skip
    if not any(True for _ in model.parameters()):
        raise ConfigError(f"model.factory: {name} returned a module without parameters; "
                          "there is nothing to train")  # fmt: skip
    return model


def check_output(model: nn.Module, x: torch.Tensor, n_out: int, factory: str) -> None:
    """Run ``model`` on a few rows ``x`` and check it gives ``[rows, n_out]`` outputs.

    Called before the first step, so a model that cannot take the data, or gives the wrong
    shape, fails as one line naming its factory instead of inside the loss.
    """
    name = describe(factory)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x)
    except Exception as exc:  # the user's forward
        raise ConfigError(f"model.factory: {name}: forward on a batch of shape {list(x.shape)} "
                          f"raised {type(exc).__name__}: {exc}") from None  # fmt: skip
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor) or list(out.shape) != [len(x), n_out]:
        got = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ConfigError(f"model.factory: {name}: expected outputs of shape [{len(x)}, {n_out}] "
                          f"for {len(x)} rows (n_outputs={n_out}), got {got}")  # fmt: skip
    if not out.is_floating_point():
        raise ConfigError(f"model.factory: {name}: expected floating-point outputs, got {out.dtype}")


def _args(args: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items()) or "no args"
