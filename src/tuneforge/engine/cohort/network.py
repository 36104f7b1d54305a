"""K members of one model structure as one batched network over a flat parameter matrix.

Each member is first built exactly as the module engine builds it (``build_model`` with its own
seed, so its initial weights are the same numbers), then its tensors are copied into row k of
``theta [K, P]``: every layer's weight, bias and norm scale/shift is a slice of the row, padded
with zeros to the layout's widths (the widest member's, or a ``capacity`` module's, so that
members up to those widths can join later: :meth:`CohortNet.add`). A forward pass is one batched matmul per layer for all members
and the backward pass gives each layer's gradient for all members. Autograd differentiates
``params``, leaf tensors that are views of theta's storage (one per layer piece), rather than
theta itself: differentiating slices of one tensor makes autograd copy the whole gradient
matrix back together every step (in a one-off timing of a 512-wide MLP cohort, forward and
backward took 4.6 ms with slices and 2.6 ms with leaves).

Activations may differ per member (:class:`MemberActivations`): one cohort instead of one per
activation keeps the batched matmuls large, and each function runs on its own members' rows.

Width masking: a narrower member's padded units have zero incoming weights and bias, so their
pre-activation is 0, and zero outgoing weights, so they add nothing downstream. Their gradients
are exactly zero when the activation maps 0 to 0 (relu, tanh, gelu, leaky_relu); for the others
(sigmoid) the padded activations are multiplied by the member's unit mask, and layer norm takes
its statistics over the member's own units only. Zero gradients keep padded entries at zero
under every optimizer (weight decay and penalties of 0 are 0), so no per-step masking of the
parameters is needed; tests check that padded entries stay exactly zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tuneforge.models.mlp import ACTIVATIONS

#: A narrowing layer with at most this many outputs is kept ``[out, in]`` (see ``_layout``).
SKINNY_OUTPUTS = 16


@dataclass
class Piece:
    """One parameter of every member: where it sits in a row of theta and each member's shape."""

    keys: list[str]  # each member's state-dict key (positions shift with dropout layers)
    shape: tuple[int, ...]  # the widest member's shape, as stored
    shapes: list[tuple[int, ...]]  # each member's own shape, as stored
    is_weight: bool  # a matrix (penalized by default), not a bias or norm parameter
    out_major: bool = False  # a weight stored [out, in] (nn.Linear's layout), else [in, out]

    def stored(self, tensor: Tensor) -> Tensor:
        """A member's tensor in the layout theta keeps (and back: the transpose is its own inverse)."""
        return tensor.T if self.is_weight and not self.out_major else tensor

    def stored_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        """``nn.Linear``'s ``[out, in]`` (or a 1-D shape) as this piece stores it."""
        return tuple(shape) if self.out_major or not self.is_weight else tuple(shape)[::-1]

    @property
    def units(self) -> int:
        """A weight's output width in the layout (the layer's units)."""
        return self.shape[0] if self.out_major else self.shape[1]

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def _crop(tensor: Tensor, shape: Sequence[int]) -> Tensor:
    return tensor[tuple(slice(0, n) for n in shape)]


class CohortNet:
    """The members' parameters as ``theta [K, P]``, with a batched forward pass.

    Args:
        modules: one freshly built ``nn.Module`` per member (same kind, depth and norm).
        model_cfgs: each member's ``model`` config (hidden widths and dropout may differ).
        capacity: a module of the same structure whose widths the layout must also hold, so
            that members up to its widths can join later (:meth:`add`); it is not a member.
    """

    def __init__(self, modules: Sequence[nn.Module], model_cfgs: Sequence, device,
                 capacity: nn.Module | None = None):  # fmt: skip
        self.device = device
        self.pieces = self._layout([*modules, capacity] if capacity is not None else modules)
        self.out_major = [p.out_major for p in self.pieces if p.is_weight]  # per linear layer
        if capacity is not None:  # the layout holds its widths; it is not a member
            for piece in self.pieces:
                piece.keys.pop(), piece.shapes.pop()
        #: per hidden layer, the norm module of member 0 (for its kind, eps and momentum)
        self.norms = [_norm_layers(modules[0])[name] for name in _norm_layers(modules[0])]
        #: per member, the state-dict prefix of each norm layer
        self.norm_names = [list(_norm_layers(m)) for m in modules]
        self.theta = self._rows(modules, 0)
        self.params = self._leaves()
        self.buffers = self._stack_buffers(modules)
        self.cfgs = list(model_cfgs)
        self.batches_seen = 0  # training forward passes (batch norm's num_batches_tracked) ...
        self.joined_at = [0] * len(modules)  # ... minus those before each member joined
        self._derive()

    def _derive(self) -> None:
        """What follows from the members' model configs: widths, masks, activations, dropout."""
        cfgs, device = self.cfgs, self.device
        if not cfgs:  # every member has left
            return
        depth = len(getattr(cfgs[0], "hidden", []))
        self.hidden = [[cfg.hidden[i] for cfg in cfgs] for i in range(depth)]
        self.unit_masks = self._unit_masks(device)
        self.activation = (
            MemberActivations([cfg.activation for cfg in cfgs], device)
            if cfgs[0].kind == "mlp" else None
        )  # fmt: skip
        self.mask_activations = self.activation is not None and self.activation.moves_zero()
        dropout = torch.tensor([float(getattr(cfg, "dropout", 0.0)) for cfg in cfgs], device=device)
        self.dropout = dropout if bool((dropout > 0).any()) else None

    # ---------------------------------------------------------------------------- building
    @staticmethod
    def _layout(modules: Sequence[nn.Module]) -> list[Piece]:
        # Members' parameters correspond by position: every member has the same layers in the
        # same order; only Dropout modules (no parameters) shift the names.
        per_member = [list(m.named_parameters()) for m in modules]
        pieces = []
        for params in zip(*per_member, strict=True):
            own = [tuple(tensor.shape) for _, tensor in params]  # nn.Linear's [out, in]
            widest = tuple(max(dims) for dims in zip(*own, strict=True))
            # Weights are kept [in, out] and computed as h @ W, except a head with a few outputs
            # (512 -> 10), kept [out, in] and computed as (W @ hᵀ)ᵀ: then no matmul or gradient
            # has the skinny dimension innermost. For 16 members of 512 -> 10, forward and
            # backward took 1.03 ms as h @ W and 0.36 ms as (W @ hᵀ)ᵀ; for wider outputs
            # (128 -> 64, 512 -> 128) the two were within ±15%, in-major mostly ahead.
            is_weight = len(widest) == 2
            skinny = is_weight and widest[0] <= SKINNY_OUTPUTS and widest[0] < widest[1]
            piece = Piece([key for key, _ in params], widest, own, is_weight, out_major=skinny)
            piece.shape = piece.stored_shape(widest)
            piece.shapes = [piece.stored_shape(shape) for shape in own]
            pieces.append(piece)
        return pieces

    def _rows(self, modules: Sequence[nn.Module], first: int) -> Tensor:
        """Rows of theta for ``modules``, members ``first, first + 1, ...`` of the pieces."""
        theta = torch.zeros(len(modules), sum(p.size for p in self.pieces), device=self.device)
        for j, module in enumerate(modules):
            parts = zip(module.parameters(), self.pieces, self._split(theta[j : j + 1]), strict=True)
            for param, piece, view in parts:
                _crop(view[0], piece.shapes[first + j]).copy_(piece.stored(param.detach()))
        return theta

    def _stack_buffers(self, modules: Sequence[nn.Module]) -> dict[str, Tensor]:
        """Batch-norm running statistics, ``[K, layout width]`` (padding: mean 0, variance 1)."""
        stacked: dict[str, Tensor] = {}
        for layer, module in enumerate(self.norms):
            if not isinstance(module, nn.BatchNorm1d):
                continue  # layer norm: no running statistics
            key = f"{self.norm_names[0][layer]}.weight"
            width = next(p.shape[0] for p in self.pieces if p.keys[0] == key)
            for stat, fill in (("running_mean", 0.0), ("running_var", 1.0)):
                own = [getattr(_norm_layers(m)[names[layer]], stat)
                       for m, names in zip(modules, self.norm_names[-len(modules):], strict=True)]  # fmt: skip
                out = torch.full((len(modules), width), fill, device=self.device)
                for row, tensor in zip(out, own, strict=True):
                    row[: len(tensor)].copy_(tensor)
                stacked[f"{layer}.{stat}"] = out
        return stacked

    def fits(self, module: nn.Module) -> bool:
        """Whether ``module`` (same structure) fits the layout, so it can join (:meth:`add`)."""
        params = list(module.parameters())
        return len(params) == len(self.pieces) and all(
            all(a <= b for a, b in zip(piece.stored_shape(t.shape), piece.shape, strict=True))
            for t, piece in zip(params, self.pieces, strict=True)
        )

    def add(self, modules: Sequence[nn.Module], model_cfgs: Sequence) -> None:
        """Members join after the current ones (each must fit the layout: :meth:`fits`)."""
        if not all(self.fits(m) for m in modules):
            raise ValueError("a joining member is wider than the cohort's layout")
        first = self.members
        for piece, params in zip(self.pieces, zip(*[list(m.named_parameters()) for m in modules],
                                                  strict=True), strict=True):  # fmt: skip
            piece.keys += [key for key, _ in params]
            piece.shapes += [piece.stored_shape(tensor.shape) for _, tensor in params]
        self.norm_names += [list(_norm_layers(m)) for m in modules]
        self.theta = torch.cat([self.theta, self._rows(modules, first)])
        self.params = self._leaves()
        added = self._stack_buffers(modules)
        self.buffers = {k: torch.cat([v, added[k]]) for k, v in self.buffers.items()}
        self.cfgs += list(model_cfgs)
        self.joined_at += [self.batches_seen] * len(modules)
        self._derive()

    def _unit_masks(self, device) -> list[Tensor | None]:
        """Per hidden layer, ``[K, 1, widest]`` ones over each member's own units (None: all
        members as wide as the layout)."""
        masks: list[Tensor | None] = []
        weights = [p for p in self.pieces if p.is_weight]
        for widths, weight in zip(self.hidden, weights, strict=False):
            layout = weight.units
            if all(w == layout for w in widths):
                masks.append(None)
                continue
            units = torch.arange(layout, device=device)
            masks.append((units < torch.tensor(widths, device=device)[:, None]).float()[:, None, :])
        return masks

    # ----------------------------------------------------------------------------- forward
    @property
    def members(self) -> int:
        return self.theta.shape[0]

    def _split(self, theta: Tensor) -> list[Tensor]:
        chunks = theta.split([p.size for p in self.pieces], dim=1)
        return [c.view(theta.shape[0], *p.shape) for c, p in zip(chunks, self.pieces, strict=True)]

    def _leaves(self) -> list[Tensor]:
        """Per piece, ``[K, *shape]``: a view of theta's storage that autograd treats as a leaf."""
        return [view.detach().requires_grad_() for view in self._split(self.theta)]

    def rows(self, tensor: Tensor) -> list[Tensor]:
        """A ``[K, P]`` tensor laid out like theta, as ``[K, size]`` views, one per piece."""
        return list(tensor.split([p.size for p in self.pieces], dim=1))

    def views(self, weights: bool) -> list[Tensor]:
        """Views of theta: the matrices (``weights``) or everything else (biases, norm params)."""
        split = self._split(self.theta)
        return [v for v, p in zip(split, self.pieces, strict=True) if p.is_weight == weights]

    def forward(self, x: Tensor, train: bool, generator: torch.Generator | None = None,
                params: Sequence[Tensor] | None = None) -> Tensor:  # fmt: skip
        """Outputs ``[K, n, out]`` for inputs ``[n, in]`` (shared) or ``[K, n, in]`` (per member).

        ``params`` defaults to the network's own (given explicitly by compiled callers).
        """
        views = iter(self.params if params is None else params)
        h, out_major = x, self.out_major
        for layer, mask in enumerate(self.unit_masks):
            h = _linear(h, next(views), next(views), out_major[layer])
            if self.norms:
                h = self._normalize(layer, h, next(views), next(views), mask, train)
            h = self.activation(h)
            if mask is not None and self.mask_activations:
                h = h * mask
            if train and self.dropout is not None:
                h = _dropout(h, self.dropout, generator)
        return _linear(h, next(views), next(views, None), out_major[-1])  # no bias: model.bias false

    def _normalize(
        self, layer: int, h: Tensor, scale: Tensor, shift: Tensor, mask, train
    ) -> Tensor:
        module = self.norms[layer]
        if isinstance(module, nn.LayerNorm):
            return _layer_norm(h, scale, shift, mask, module.eps)
        mean, var = self.buffers[f"{layer}.running_mean"], self.buffers[f"{layer}.running_var"]
        return _batch_norm(h, mean, var, scale, shift, train, module.momentum, module.eps)

    @torch.no_grad()
    def predict(self, x: Tensor, chunk_elements: int = 1 << 22) -> Tensor:
        """Eval-mode outputs ``[K, n, out]``, in row chunks that bound the activations' size."""
        widest = max([x.shape[-1], *[max(w) for w in self.hidden]])
        rows = max(1, chunk_elements // (self.members * widest))
        return torch.cat([self.forward(x[..., i : i + rows, :], train=False)
                          for i in range(0, x.shape[-2], rows)], dim=-2)  # fmt: skip

    # ------------------------------------------------------------------------- members
    def padded_state(self, k: int) -> dict[str, Tensor]:
        """Member k's row of every stacked tensor (views; clone to keep)."""
        return {"theta": self.theta[k]} | {key: value[k] for key, value in self.buffers.items()}

    @torch.no_grad()
    def load_padded_state(self, k: int, state: dict[str, Tensor]) -> None:
        for key, value in self.padded_state(k).items():
            value.copy_(state[key])

    def member_state(self, k: int) -> dict[str, Tensor]:
        """Member k as its own module's state dict, cropped to its own widths (copies)."""
        row = self.theta.detach()[k : k + 1]
        state = {
            p.keys[k]: p.stored(_crop(v[0], p.shapes[k])).clone(memory_format=torch.contiguous_format)
            for p, v in zip(self.pieces, self._split(row), strict=True)
        }
        for key, value in self.buffers.items():
            layer, stat = key.split(".")
            prefix = self.norm_names[k][int(layer)]
            width = state[f"{prefix}.weight"].shape[0]
            state[f"{prefix}.{stat}"] = value[k, :width].clone()
            state[f"{prefix}.num_batches_tracked"] = torch.tensor(self.batches_seen - self.joined_at[k])
        return state

    def keep(self, index: Tensor) -> None:
        """Keep only the members at ``index`` (in that order)."""
        self.theta = self.theta.index_select(0, index)
        self.params = self._leaves()
        self.buffers = {k: v.index_select(0, index) for k, v in self.buffers.items()}
        members = index.tolist()
        for piece in self.pieces:
            piece.shapes = [piece.shapes[i] for i in members]
            piece.keys = [piece.keys[i] for i in members]
        self.norm_names = [self.norm_names[i] for i in members]
        self.cfgs = [self.cfgs[i] for i in members]
        self.joined_at = [self.joined_at[i] for i in members]
        self._derive()


class MemberActivations:
    """Each member's activation function over ``[K, n, W]`` (one name, or one per member).

    When the members of each activation sit in consecutive rows (the cohort trainer orders them
    so), each function runs on its own rows only and the pieces are concatenated; otherwise
    every function runs on all rows and ``torch.where`` keeps each member's own. In a profile of
    16 relu/gelu members of width 512 the ``where`` form spent 23% of a step on activations.
    """

    def __init__(self, names: Sequence[str], device):
        self.names, self.device = list(names), device
        self.functions = {name: ACTIVATIONS[name]() for name in dict.fromkeys(self.names)}
        #: runs of consecutive rows with one activation: (name, first row, end row)
        self.spans: list[tuple[str, int, int]] = []
        for row, name in enumerate(self.names):
            if self.spans and self.spans[-1][0] == name:
                self.spans[-1] = (name, self.spans[-1][1], row + 1)
            else:
                self.spans.append((name, row, row + 1))
        #: per activation, ``[K, 1, 1]``: True on the rows of the members that use it
        self.rows = {
            name: torch.tensor([n == name for n in self.names], device=device).view(-1, 1, 1)
            for name in self.functions
        }

    def __call__(self, h: Tensor) -> Tensor:
        if len(self.spans) == 1:
            return self.functions[self.names[0]](h)
        if len(self.spans) == len(self.functions):  # each activation's rows are consecutive
            return torch.cat([self.functions[name](h[a:b]) for name, a, b in self.spans])
        (first, *others) = self.functions.items()
        out = first[1](h)
        for name, function in others:
            out = torch.where(self.rows[name], function(h), out)
        return out

    def moves_zero(self) -> bool:
        """Whether some member's activation maps 0 elsewhere (sigmoid): padding needs masks."""
        return any(bool(f(torch.zeros(())) != 0) for f in self.functions.values())


def _norm_layers(module: nn.Module) -> dict[str, nn.Module]:
    return {
        name: m
        for name, m in module.named_modules()
        if isinstance(m, (nn.BatchNorm1d, nn.LayerNorm))
    }


# ------------------------------------------------------------------------- batched layers
def _linear(h: Tensor, weight: Tensor, bias: Tensor | None, out_major: bool = False) -> Tensor:
    """``h @ W + b`` per member; ``h`` is ``[n, in]`` (shared) or ``[K, n, in]``.

    ``W`` is stored ``[K, in, out]``, or ``[K, out, in]`` with ``out_major`` (then computed as
    ``(W @ hᵀ)ᵀ``; see ``CohortNet._layout``). ``bias`` None: ``h @ W`` (a bias-free head).
    """
    if out_major and weight.numel() >= OUT_MAJOR_FUNCTION_ENTRIES and bias is not None:
        return _OutMajorLinear.apply(h, weight, bias)
    if out_major:  # small: autograd's own ops beat a Python autograd.Function's ~60 µs
        weight = weight.transpose(1, 2)
    if bias is None:
        return torch.matmul(h, weight)
    if h.dim() == 2:
        return torch.matmul(h, weight) + bias.unsqueeze(1)
    return torch.baddbmm(bias.unsqueeze(1), h, weight)


#: Weight entries (all members) from which :class:`_OutMajorLinear` pays for its Python
#: overhead: 16 x 128 -> 10 took 211 µs forward and backward with it, 244 µs without; 4 x
#: 256 -> 10 took 166 µs with it and 151 µs without.
OUT_MAJOR_FUNCTION_ENTRIES = 1 << 14


class _OutMajorLinear(torch.autograd.Function):
    """``h @ Wᵀ + b`` per member with ``W`` stored ``[K, out, in]``, every product in its fast form.

    Autograd through ``(W @ hᵀ)ᵀ`` would hand the next layer a transposed (strided) gradient,
    and relu's backward over it took 4x as long; here the forward output and both gradients
    come out contiguous: ``∂h = g @ W``, ``∂W = gᵀ @ h``, ``∂b = Σₙ g``.
    """

    # forward(ctx, ...) rather than a separate setup_context: with setup_context, every apply
    # binds its arguments through inspect.signature (~2% of a cohort study, profiled). This
    # form cannot run under torch.func transforms, which CohortNet never uses.
    @staticmethod
    def forward(ctx, h: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        ctx.save_for_backward(h, weight)
        hT = h.T if h.dim() == 2 else h.transpose(1, 2)
        return torch.baddbmm(bias.unsqueeze(-1), weight, hT.expand(weight.shape[0], *hT.shape[-2:])
                             ).transpose(1, 2).contiguous()  # fmt: skip

    @staticmethod
    def backward(ctx, grad: Tensor):
        h, weight = ctx.saved_tensors
        grad_h = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_h = torch.bmm(grad, weight)
            if h.dim() == 2:  # one input shared by every member
                grad_h = grad_h.sum(0)
        if ctx.needs_input_grad[1]:
            grad_w = torch.matmul(grad.transpose(1, 2), h)
        if ctx.needs_input_grad[2]:
            grad_b = grad.sum(1)
        return grad_h, grad_w, grad_b


def _dropout(h: Tensor, p: Tensor, generator: torch.Generator | None) -> Tensor:
    """Inverted dropout with probability ``p[k]`` per member (``p = 0``: the identity, exactly)."""
    p = p.view(-1, 1, 1)
    keep = torch.rand(h.shape, device=h.device, generator=generator) >= p
    return h * keep * (1 / (1 - p))


def _batch_norm(h, running_mean, running_var, scale, shift, train, momentum, eps) -> Tensor:
    """BatchNorm1d per member and unit: torch's kernel over ``K·H`` channels of ``[n, K·H]``."""
    k, n, width = h.shape
    flat = h.transpose(0, 1).reshape(n, k * width)
    out = F.batch_norm(flat, running_mean.view(-1), running_var.view(-1), scale.reshape(-1),
                       shift.reshape(-1), train, momentum, eps)  # fmt: skip
    return out.view(n, k, width).transpose(0, 1)


def _layer_norm(h: Tensor, scale: Tensor, shift: Tensor, mask: Tensor | None, eps: float) -> Tensor:
    """LayerNorm per member; with a unit mask, statistics over the member's own units only."""
    if mask is None:
        return F.layer_norm(h, h.shape[-1:], eps=eps) * scale.unsqueeze(1) + shift.unsqueeze(1)
    count = mask.sum(-1, keepdim=True)
    mean = (h * mask).sum(-1, keepdim=True) / count
    centered = (h - mean) * mask
    var = centered.square().sum(-1, keepdim=True) / count
    return centered * torch.rsqrt(var + eps) * scale.unsqueeze(1) + shift.unsqueeze(1)
