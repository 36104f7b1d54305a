"""``tuneforge refine``: the guide's perturbation search over a finished run's weights.

Each of ``trials`` candidates is the run's weights plus Gaussian noise, ``w + σ·ε`` with
``ε ~ N(0, I)`` on every trained parameter (``requires_grad``; frozen ones stay as they are).
The candidates are evaluated at once, as a batch of members: their parameters are stacked
``[trials, *shape]`` (what ``torch.func.stack_module_state`` gives for copies of the model,
built here without materialising the copies) and one ``vmap(functional_call)`` of the run's
module computes every member's outputs on the chosen part. Each member's score is the run's own
loss averaged over the part's rows, the number ``summary.json`` reports as ``<part>/loss``.

The best candidate is kept only when it strictly beats the unperturbed weights (evaluated in the
same batch, as member 0), and then written as a NEW run directory; the source is only read.

The noise is reproducible from ``seed``: one CPU ``torch.Generator`` seeded with it draws, for
each trained parameter in ``named_parameters()`` order, ``torch.randn((trials, *shape))``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from tuneforge.data import PARTS, prepare
from tuneforge.engine.module import evaluate, predict_tensor
from tuneforge.engine.setup import resolve_device
from tuneforge.errors import ConfigError, DataError
from tuneforge.recipe import Recipe
from tuneforge.recipe.losses import Loss
from tuneforge.run.folder import Run, load_run, save_run
from tuneforge.run.summary import part_scores

#: Rows × members one vmapped forward pass evaluates at most: bounds the activations held at
#: once (like evaluating that many rows of one model) however many trials there are.
ROW_EVALUATIONS = 65536

#: data.source of a model fitted through tuneforge.sklearn: its rows are not stored.
ARRAYS = "arrays"


@dataclass
class Refinement:
    """What a search found: its ``record`` (summary.json's ``refine``) and the new run, or
    None when no perturbation beat the source on the part (then nothing was written)."""

    record: dict
    run: Run | None


def perturbations(model: nn.Module, trials: int, scale: float, seed: int) -> dict[str, Tensor]:
    """Stacked candidate weights ``{name: [trials, *shape]}``: ``w + scale·ε`` per trained
    parameter, the noise drawn as the module docstring says (CPU generator, parameter order)."""
    generator = torch.Generator().manual_seed(seed)
    stacked = {}
    for name, param in model.named_parameters():
        if param.requires_grad:
            noise = torch.randn((trials, *param.shape), generator=generator, dtype=param.dtype)
            stacked[name] = param.detach().unsqueeze(0) + scale * noise.to(param.device)
    return stacked


@torch.no_grad()
def member_losses(model: nn.Module, stacked: dict[str, Tensor], x: Tensor, y: Tensor, loss: Loss,
                  rows: int = 4096) -> Tensor:  # fmt: skip
    """Each member's mean loss ``[K]`` on rows ``x``: ``stacked`` holds ``[K, *shape]`` values
    of some of ``model``'s parameters (the rest, and the buffers, are the module's own), run as
    one ``vmap(functional_call)`` in eval mode, over row chunks of at most ``rows`` and of
    at most :data:`ROW_EVALUATIONS` rows times members (the activations' memory)."""
    model.eval()
    rows = max(1, min(rows, ROW_EVALUATIONS // len(next(iter(stacked.values())))))

    def member(params: dict[str, Tensor], chunk: Tensor) -> Tensor:
        return functional_call(model, params, (chunk,))

    batched = vmap(member, in_dims=(0, None))
    pred = torch.cat([batched(stacked, x[i : i + rows]) for i in range(0, len(x), rows)], dim=1)
    return loss(pred, y).mean(-1)


@torch.no_grad()
def losses_one_by_one(model: nn.Module, stacked: dict[str, Tensor], x: Tensor, y: Tensor,
                      loss: Loss) -> Tensor:  # fmt: skip
    """:func:`member_losses` without ``vmap``: one ``functional_call`` per member (for modules
    whose forward torch.func cannot batch, e.g. packed sequences)."""
    model.eval()
    members = len(next(iter(stacked.values())))
    preds = [predict_tensor(_Member(model, {n: v[k] for n, v in stacked.items()}), x) for k in range(members)]
    return torch.stack([loss(pred, y).mean() for pred in preds])


class _Member(nn.Module):
    """``model`` called with some parameters replaced (``functional_call``), as a module."""

    def __init__(self, model: nn.Module, params: dict[str, Tensor]):
        super().__init__()
        self.model, self.params = model, params

    def forward(self, x: Tensor) -> Tensor:
        return functional_call(self.model, self.params, (x,))


def evaluate_members(model: nn.Module, stacked: dict[str, Tensor], x: Tensor, y: Tensor,
                     loss: Loss) -> tuple[Tensor, str]:  # fmt: skip
    """:func:`member_losses`, or when torch.func cannot batch the module's forward,
    :func:`losses_one_by_one`; with how they were evaluated (the reason, for a fallback)."""
    try:
        return member_losses(model, stacked, x, y, loss), "batched (vmap)"
    except Exception as exc:  # whatever torch.func raised: evaluate the members one at a time
        message = " ".join(str(exc).split())[:200]
        return losses_one_by_one(model, stacked, x, y, loss), (
            f"one by one: torch.func cannot batch {type(model).__name__}'s forward "
            f"({type(exc).__name__}: {message})")  # fmt: skip


def refine(run_dir: str | Path, *, trials: int = 100, scale: float = 0.01, part: str = "val",
           seed: int = 0, out: str | Path | None = None) -> Run | None:  # fmt: skip
    """The best of ``trials`` random perturbations of a finished run's weights, as a new run.

    Args:
        run_dir: a finished run directory (only read).
        trials: how many perturbations (evaluated at once, one batch of members).
        scale: σ, the standard deviation of the noise added to every trained weight.
        part: the rows whose loss picks the best (``train``, ``val`` or ``test``).
        seed: seeds the noise (same seed, same candidates).
        out: the new run directory (default ``<run_dir>-refined``); never an existing path.

    Returns:
        The new :class:`Run` (its ``summary["refine"]`` says what was found), or None when no
        perturbation strictly beat the run's loss on ``part`` (then nothing is written).

    Example:
        >>> run = tuneforge.refine("runs/linear", trials=1000, scale=0.05, part="train")  # doctest: +SKIP
    """
    return refine_run(run_dir, trials=trials, scale=scale, part=part, seed=seed, out=out).run


def refine_run(run_dir: str | Path, *, trials: int = 100, scale: float = 0.01, part: str = "val",
               seed: int = 0, out: str | Path | None = None) -> Refinement:  # fmt: skip
    """:func:`refine`, also returning the search's record when nothing was written."""
    check_arguments(trials, scale, part)
    started = time.perf_counter()
    source = Path(run_dir)
    folder = Path(out) if out is not None else source.with_name(f"{source.name}-refined")
    run = load_run(source)
    if folder.exists():
        raise DataError(f"--out {folder}: already exists; refine writes a new run directory, "
                        "never over an existing path")  # fmt: skip
    model = run.model.to(resolve_device(run.config.train.device))
    data = _own_rows(run, source, model)
    if data.size(part) == 0:
        raise DataError(f"--part {part}: {source} has no {part} rows (data.split.{part} is 0)")
    recipe = Recipe.build(run.config.train, data)
    stacked = perturbations(model, trials, scale, seed)
    base = {name: param.detach().unsqueeze(0) for name, param in model.named_parameters() if name in stacked}
    candidates = {name: torch.cat([base[name], stacked[name]]) for name in stacked}  # row 0: the run
    losses, how = evaluate_members(model, candidates, data.x[part], data.y[part], recipe.loss)
    losses = losses.cpu()
    before, tried = float(losses[0]), torch.nan_to_num(losses[1:], nan=math.inf)
    best = int(tried.argmin())
    record = {"source": str(source), "part": part, "trials": trials, "scale": scale, "seed": seed,
              "trial": best, "loss_before": before, "loss_after": float(tried[best]),
              "best_tried": float(tried[best]), "better_trials": int((tried < before).sum()),
              "evaluated": how}  # fmt: skip
    if not float(tried[best]) < before:  # strictly better, or the run stays as it is
        return Refinement(record | {"trial": None, "loss_after": before}, None)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name in stacked:
                param.copy_(stacked[name][best])
    record["wall_time_s"] = round(time.perf_counter() - started, 3)
    summary = run.summary | {"metrics": _rescored(run, data, recipe, model), "refine": record}
    folder.mkdir(parents=True)
    return Refinement(record, save_run(Run(run.config, model, run.encoder, run.history, summary), folder))


def check_arguments(trials: int, scale: float, part: str) -> None:
    """One-line errors for the search's own arguments."""
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ConfigError(f"--trials: expected a whole number of perturbations >= 1, got {trials!r}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale < math.inf:
        raise ConfigError(f"--scale: expected the noise's standard deviation, a number > 0, got {scale!r}")
    if part not in PARTS:
        raise ConfigError(f"--part: expected train, val or test, got {part!r}")


def _own_rows(run: Run, source: Path, model: nn.Module):
    """The run's data, split and encoded as when it trained; refused when its rows differ (a
    k-fold or refit run) or were never stored (a tuneforge.sklearn fit)."""
    if run.config.data.source == ARRAYS:
        raise DataError(f"{source}: fitted on in-memory arrays (tuneforge.sklearn), whose rows are "
                        "not stored; refine needs the run's own rows")  # fmt: skip
    device = next(model.parameters()).device
    data = prepare(run.config.data, device)
    rows = {part: data.size(part) for part in PARTS}
    if rows != run.summary.get("rows", rows):
        raise DataError(f"{source}: trained on other rows than its recipe's holdout split "
                        f"({run.summary['rows']} vs {rows}: a k-fold or refit run); refine needs "
                        "the run's own parts")  # fmt: skip
    return data


def _rescored(run: Run, data, recipe: Recipe, model: nn.Module) -> dict[str, float]:
    """The new weights' scores: ``train/loss`` is their loss on the training rows (eval mode;
    the source's was the last epoch's running mean), then every val and test score."""
    scores = {"train/loss": evaluate(model, data, "train", recipe)["train/loss"]}
    for part in ("val", "test"):
        scores |= part_scores(run.config, data, recipe, model, part)
    return scores
