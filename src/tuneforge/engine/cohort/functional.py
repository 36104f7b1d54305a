"""K members of any ``nn.Module`` as one batched model, through ``torch.func``.

The hand-batched :class:`~tuneforge.engine.cohort.network.CohortNet` knows the MLP's layers; this
net knows nothing of the module. Each member is built as the module engine builds it (its own
seed), its parameters are flattened into row k of ``theta [K, P]`` (the layout the cohort
optimizer, penalties, clipping and early stopping already work on), and a forward pass is
``vmap(functional_call)`` of one template module over the members' parameters (torch's
``stack_module_state`` pattern, with the stack kept as views of theta). Dropout draws a
different mask per member (``randomness="different"``).

All members must have the same parameter shapes (the cohort's structure key holds the factory
and every ``model.args`` value). What cannot be batched is said up front by
:func:`unbatchable` / :meth:`FunctionalNet.probe`, and the cohort raises
:class:`CohortUnsupported` with that reason, so its members train alone, with the reason shown.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from tuneforge.engine.cohort.network import Piece

#: Buffers a module updates in place while training (batch norm's running statistics):
#: vmap cannot write a per-member value into one shared buffer.
IN_PLACE_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


class CohortUnsupported(Exception):
    """A module the torch.func cohort cannot batch; the message says why."""


def unbatchable(module: nn.Module) -> str | None:
    """Why ``module``'s members cannot share a torch.func cohort, or None when they can."""
    updated = [name for name, _ in module.named_buffers() if name.rsplit(".", 1)[-1] in IN_PLACE_BUFFERS]
    if updated:
        return (f"{type(module).__name__} updates buffers in place ({updated[0]}: batch-norm "
                "running statistics), which torch.func cannot batch")  # fmt: skip
    return None


class FunctionalNet:
    """The members' parameters as ``theta [K, P]``, with a ``vmap``-ed forward pass.

    Args:
        modules: one freshly built module per member (the same factory and shapes).
        row_ndim: dimensions of one input row (1 for table rows, 3 for ``[C, H, W]`` images).
    """

    def __init__(self, modules: Sequence[nn.Module], row_ndim: int, device):
        if (reason := unbatchable(modules[0])) is not None:
            raise CohortUnsupported(reason)
        self.device, self.row_ndim = device, row_ndim
        self.template = modules[0].to(device)
        named = list(self.template.named_parameters())
        self.names = [name for name, _ in named]
        self.pieces = [Piece([name] * len(modules), tuple(p.shape), [tuple(p.shape)] * len(modules),
                             p.ndim >= 2, out_major=True) for name, p in named]  # fmt: skip
        kept = set(self.template.state_dict())
        self.buffer_names = [name for name, _ in self.template.named_buffers()]
        self.saved_buffers = [name for name in self.buffer_names if name in kept]
        for module in modules:
            self._check_shapes(module)
        self.theta = self._rows(modules)
        self.params = self._leaves()
        self.buffers = self._stack_buffers(modules)
        self.batches_seen = 0
        self.joined_at = [0] * len(modules)

    # ---------------------------------------------------------------------------- building
    def fits(self, module: nn.Module) -> bool:
        shapes = [tuple(p.shape) for p in module.parameters()]
        return shapes == [piece.shape for piece in self.pieces]

    def _check_shapes(self, module: nn.Module) -> None:
        if not self.fits(module):
            raise CohortUnsupported("members' parameter shapes differ (model.args that change "
                                    "shapes split cohorts)")  # fmt: skip

    def _rows(self, modules: Sequence[nn.Module]) -> Tensor:
        return torch.stack([torch.cat([p.detach().reshape(-1) for p in m.parameters()])
                            for m in modules]).to(self.device)  # fmt: skip

    def _stack_buffers(self, modules: Sequence[nn.Module]) -> list[Tensor]:
        """Constant buffers (e.g. a positional table), one stacked tensor per buffer."""
        per_member = [dict(m.named_buffers()) for m in modules]
        return [torch.stack([b[name] for b in per_member]).to(self.device) for name in self.buffer_names]

    def add(self, modules: Sequence[nn.Module], model_cfgs: Sequence = ()) -> None:
        """Members join after the current ones (same shapes)."""
        for module in modules:
            self._check_shapes(module)
        for piece in self.pieces:
            piece.keys += [piece.keys[0]] * len(modules)
            piece.shapes += [piece.shape] * len(modules)
        self.theta = torch.cat([self.theta, self._rows(modules)])
        self.params = self._leaves()
        added = self._stack_buffers(modules)
        self.buffers = [torch.cat([a, b]) for a, b in zip(self.buffers, added, strict=True)]
        self.joined_at += [self.batches_seen] * len(modules)

    # ----------------------------------------------------------------------------- forward
    @property
    def members(self) -> int:
        return self.theta.shape[0]

    def _split(self, theta: Tensor) -> list[Tensor]:
        chunks = theta.split([p.size for p in self.pieces], dim=1)
        return [c.view(theta.shape[0], *p.shape) for c, p in zip(chunks, self.pieces, strict=True)]

    def _leaves(self) -> list[Tensor]:
        """Per parameter, ``[K, *shape]``: a view of theta that autograd treats as a leaf."""
        return [view.detach().requires_grad_() for view in self._split(self.theta)]

    def rows(self, tensor: Tensor) -> list[Tensor]:
        """A ``[K, P]`` tensor laid out like theta, as ``[K, size]`` views, one per parameter."""
        return list(tensor.split([p.size for p in self.pieces], dim=1))

    def views(self, weights: bool) -> list[Tensor]:
        """Views of theta: the matrices and kernels (``weights``) or the rest (biases, scales)."""
        split = self._split(self.theta)
        return [v for v, p in zip(split, self.pieces, strict=True) if p.is_weight == weights]

    def forward(self, x: Tensor, train: bool, generator: torch.Generator | None = None,
                params: Sequence[Tensor] | None = None) -> Tensor:  # fmt: skip
        """Outputs ``[K, n, out]`` for rows ``[n, ...]`` (shared) or ``[K, n, ...]`` (per member).

        Dropout draws from torch's global generator, one mask per member (``generator`` is
        the MLP net's own and unused here).
        """
        params = list(self.params if params is None else params)
        self.template.train(train)
        names, buffer_names, template = self.names, self.buffer_names, self.template

        def one(member_params, member_buffers, rows):
            state = dict(zip(names, member_params, strict=True))
            state |= dict(zip(buffer_names, member_buffers, strict=True))
            return functional_call(template, state, (rows,))

        shared = x.dim() == self.row_ndim + 1
        batched = vmap(one, in_dims=(0, 0, None if shared else 0), randomness="different")
        return batched(params, self.buffers, x)

    @torch.no_grad()
    def predict(self, x: Tensor, rows: int = 4096) -> Tensor:
        """Eval-mode outputs ``[K, n, out]``, in row chunks."""
        dim, n = x.dim() - self.row_ndim - 1, x.shape[x.dim() - self.row_ndim - 1]
        return torch.cat([self.forward(x.narrow(dim, i, min(rows, n - i)), train=False)
                          for i in range(0, n, rows)], dim=-2)  # fmt: skip

    def probe(self, x: Tensor) -> None:
        """A forward and backward pass on a few rows: a module whose forward torch.func cannot
        batch (data-dependent control flow, an op without a batching rule) fails here, before
        the first step, as :class:`CohortUnsupported` naming the error."""
        try:
            out = self.forward(x[:2], train=True)
            torch.autograd.grad(out.sum(), self.params, allow_unused=True)
        except Exception as exc:  # whatever torch.func raised: the reason members train alone
            message = " ".join(str(exc).split())[:200]
            raise CohortUnsupported(f"torch.func cannot batch {type(self.template).__name__}'s "
                                    f"forward ({type(exc).__name__}: {message})") from exc  # fmt: skip

    # ------------------------------------------------------------------------- members
    def padded_state(self, k: int) -> dict[str, Tensor]:
        """Member k's row of every stacked tensor (views; clone to keep)."""
        return {"theta": self.theta[k]} | {name: b[k] for name, b in zip(self.buffer_names, self.buffers, strict=True)}

    @torch.no_grad()
    def load_padded_state(self, k: int, state: dict[str, Tensor]) -> None:
        for key, value in self.padded_state(k).items():
            value.copy_(state[key])

    def member_state(self, k: int) -> dict[str, Tensor]:
        """Member k as its own module's state dict (copies)."""
        row = self.theta.detach()[k : k + 1]
        state = {name: view[0].clone() for name, view in zip(self.names, self._split(row), strict=True)}
        buffers = dict(zip(self.buffer_names, self.buffers, strict=True))
        return state | {name: buffers[name][k].clone() for name in self.saved_buffers}

    def keep(self, index: Tensor) -> None:
        """Keep only the members at ``index`` (in that order)."""
        self.theta = self.theta.index_select(0, index)
        self.params = self._leaves()
        self.buffers = [b.index_select(0, index) for b in self.buffers]
        members = index.tolist()
        for piece in self.pieces:
            piece.shapes = [piece.shapes[i] for i in members]
            piece.keys = [piece.keys[i] for i in members]
        self.joined_at = [self.joined_at[i] for i in members]
