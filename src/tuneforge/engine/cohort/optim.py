r"""Batched optimizers: K members' parameters stacked on dim 0, every hyperparameter per member.

Why ours and not torch.optim: torch.optim holds one set of hyperparameters per param group, so
K members with K learning rates would be K groups over K tensors and K updates per step (a
Python loop per member) -- the overhead a cohort exists to remove. Here a hyperparameter is a
tensor of shape ``[K]`` broadcast as ``[K, 1, ...]`` against parameters of shape ``[K, ...]``,
and one step is a handful of tensor ops whatever K is, with no host synchronisation.

Each class follows the update order of torch.optim's single-tensor implementation (read from
``torch/optim/{sgd,adam,rmsprop,adagrad}.py``), so member k's trajectory equals torch.optim's
for member k's hyperparameters; ``tests/cohort/test_optim.py`` proves it for every optimizer.
Flags torch.optim branches on (``nesterov``, ``amsgrad``, ``centered``, AdamW's decoupled decay)
are per member too: both branches are computed and selected with ``torch.where`` or a 0/1
factor, which is exact for the member that does not take a branch.

A step is split in two: :meth:`CohortOptimizer.scalars` computes the per-member factors of this
step from the learning rates (tiny ``[K]`` float64 ops, as torch.optim computes them in Python
doubles), and :meth:`CohortOptimizer.apply` does the parameter-sized work; only ``apply`` is
worth handing to ``torch.compile``.

Each member counts its own steps (``t``, ``[K]``): members may join a running cohort
(:meth:`CohortOptimizer.add`) with fresh state, and a member's bias corrections, Adagrad decay
and SGD's first-step momentum buffer follow its own count, as its own torch.optim would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor

from tuneforge._compat import fused_adam_kernels

#: Hyperparameter names per family, in the spelling of torch.optim's keyword arguments
#: (``betas`` split into ``beta1``/``beta2``; ``decoupled`` is 1 for AdamW members).
HYPERPARAMETERS: dict[str, tuple[str, ...]] = {
    "sgd": ("lr", "momentum", "dampening", "nesterov", "weight_decay"),
    "adam": ("lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad", "decoupled"),
    "rmsprop": ("lr", "alpha", "eps", "momentum", "centered", "weight_decay"),
    "adagrad": ("lr", "lr_decay", "eps", "initial_accumulator_value", "weight_decay"),
}

#: ``train.optimizer.name`` -> batched family (Adam and AdamW differ only in a per-member flag).
FAMILIES = {
    "sgd": "sgd",
    "adam": "adam",
    "adamw": "adam",
    "rmsprop": "rmsprop",
    "adagrad": "adagrad",
}


def member_hyperparameters(
    kwargs: Sequence[Mapping], names: Sequence[str], device=None
) -> dict[str, Tensor]:
    """Stack each member's torch.optim keyword arguments into float64 ``[K]`` tensors.

    Args:
        kwargs: per member, the keyword arguments torch.optim would get (``betas`` as a pair).
        names: per member, the optimizer name (``adam`` or ``adamw`` sets ``decoupled``).
    """
    family = FAMILIES[names[0]]
    rows = []
    for name, member in zip(names, kwargs, strict=True):
        flat = dict(member)
        if "betas" in flat:
            flat["beta1"], flat["beta2"] = flat.pop("betas")
        flat["decoupled"] = float(name == "adamw")
        rows.append([float(flat.get(key, 0.0)) for key in HYPERPARAMETERS[family]])
    table = torch.tensor(rows, dtype=torch.float64, device=device)
    return dict(zip(HYPERPARAMETERS[family], table.unbind(1), strict=True))


def _member_rows(tensors: Sequence[Tensor]) -> list[list[Tensor]]:
    """Per member k, ``[t[k] for t in tensors]``: one ``unbind`` per tensor instead of an
    indexing per member and tensor (a step of K members over P pieces made K·P Python views;
    ~3% of a torch.func cohort's search, cProfile)."""
    return [list(row) for row in zip(*(t.unbind(0) for t in tensors), strict=True)]


def _per_member(value: Tensor, like: Tensor) -> Tensor:
    """``[K]`` -> ``[K, 1, ..., 1]`` to broadcast against ``like`` (``[K, ...]``)."""
    return value.view(-1, *([1] * (like.ndim - 1)))


def _flat(state: Mapping[str, list[Tensor | None]]) -> list[Tensor | None]:
    return [t for tensors in state.values() for t in tensors]


class CohortOptimizer:
    """Base: per-member hyperparameters (float64 ``[K]``) and stacked state per parameter.

    Args:
        params: tensors of shape ``[K, ...]`` (only their shapes, dtypes and devices are read;
            the current tensors are passed to every :meth:`step`).
        hyper: ``{name: [K] tensor}`` as :func:`member_hyperparameters` makes it.
    """

    family = ""
    #: torch's fused CPU kernel for this family (``torch._fused_adam_``...), or None
    fused_kernel: str | None = None

    def __init__(self, params: Sequence[Tensor], hyper: Mapping[str, Tensor]):
        self.hyper = {
            k: v.to(device=params[0].device, dtype=torch.float64) for k, v in hyper.items()
        }
        self.dtype = params[0].dtype
        #: per member, the steps taken so far (float64, as torch.optim's ``step`` value)
        self.t = torch.zeros(len(params[0]), dtype=torch.float64, device=params[0].device)
        # Which optional branches any member takes: decided when members come, so no step
        # asks the device.
        self.uses = {k: bool((v != 0).any()) for k, v in self.hyper.items()}
        self.state: dict[str, list[Tensor | None]] = self.init_state(params)
        self._refresh()
        self.apply: Callable[..., None] = self.update
        #: one fused kernel call per member instead of the batched ops (CPU, see :meth:`fuses`)
        self.fused = self.fuses(params[0].device)

    @classmethod
    def fuses(cls, device: torch.device) -> bool:
        """Whether steps on ``device`` go through torch's fused kernel, member by member.

        On a CPU the batched form makes ~8 passes over every ``[K, P]`` tensor (Adam), while
        torch's fused kernel makes one: for 16 members of 38,922 parameters an Adam step took
        3.4 ms batched and 0.31 ms as 16 fused calls. On a GPU one batched op per pass beats K
        kernel launches, so the batched form stays.
        """
        if cls.fused_kernel is None or torch.device(device).type != "cpu":
            return False
        return fused_adam_kernels() is not None  # private torch API: checked, else batched

    def _refresh(self) -> None:
        self._static = self.static()
        #: per member, its hyperparameters as Python floats (what the fused kernels take)
        self.host = [dict(zip(self.hyper, values, strict=True))
                     for values in zip(*(v.tolist() for v in self.hyper.values()), strict=True)]  # fmt: skip

    def init_state(self, params: Sequence[Tensor]) -> dict[str, list[Tensor | None]]:
        """Fresh state for ``params`` (``[K, ...]``, every member at step 0)."""
        return {}

    def static(self) -> dict[str, Tensor]:
        """Per-member factors that do not change between steps, in the parameters' dtype."""
        return {}

    def scalars(self, lr: Tensor) -> dict[str, Tensor]:
        """This step's per-member factors (``[K]``, parameter dtype) for learning rates ``lr``."""
        raise NotImplementedError

    def update(self, params, grads, state, scalars) -> None:
        raise NotImplementedError

    def fused_update(self, params: list[Tensor], grads: list[Tensor], lrs: list[float],
                     members: Sequence[int] | None = None) -> None:  # fmt: skip
        """Step ``members`` (default: all) with the fused kernel; ``grads`` hold their rows."""
        raise NotImplementedError

    @torch.no_grad()
    def step(self, params: Sequence[Tensor], grads: Sequence[Tensor], lr: Tensor,
             index: Tensor | None = None, members: Sequence[int] | None = None) -> None:  # fmt: skip
        """One update of every member; ``lr`` is this step's learning rate per member ``[K]``.

        With ``index`` (rows on the device; ``members``: the same rows as ints) only those
        members step: ``grads`` then hold just their rows, in that order, and the others keep
        their parameters, state and step count (members with larger batches, mid-batch)."""
        if index is None:
            self.t += 1
            if self.fused:
                self.fused_update(list(params), list(grads), lr.tolist())
                return
            self.apply(list(params), list(grads), self.state, self.scalars(lr.to(torch.float64)))
            return
        self.t.index_add_(0, index, torch.ones_like(self.t[: len(index)]))
        if self.fused:
            self.fused_update(list(params), list(grads), lr.tolist(), members)
            return
        scalars = {k: v.index_select(0, index) for k, v in self.scalars(lr.to(torch.float64)).items()}
        rows = [p.index_select(0, index) for p in params]
        state = {name: [None if t is None else t.index_select(0, index) for t in tensors]
                 for name, tensors in self.state.items()}  # fmt: skip
        self.apply(rows, list(grads), state, scalars)
        for whole, part in zip([*params, *_flat(self.state)], [*rows, *_flat(state)], strict=True):
            if whole is not None:
                whole.index_copy_(0, index, part)

    def keep(self, index: Tensor) -> None:
        """Keep only the members at ``index`` (in that order): hyperparameters and state."""
        self.hyper = {k: v.index_select(0, index) for k, v in self.hyper.items()}
        self.t = self.t.index_select(0, index)
        self.state = {name: [None if t is None else t.index_select(0, index) for t in tensors]
                      for name, tensors in self.state.items()}  # fmt: skip
        self._refresh()

    def add(self, params: Sequence[Tensor], hyper: Mapping[str, Tensor]) -> None:
        """Members join after the current ones: ``params`` are the new, longer ``[K', ...]``
        tensors and ``hyper`` the newcomers' hyperparameters. They start at step 0 with fresh
        state; a branch only a newcomer takes (momentum, AMSGrad...) gets its state now."""
        old, before = self.state, len(self.t)
        self.hyper = {k: torch.cat([v, hyper[k].to(v)]) for k, v in self.hyper.items()}
        self.t = torch.cat([self.t, self.t.new_zeros(len(params[0]) - before)])
        self.uses = {k: bool((v != 0).any()) for k, v in self.hyper.items()}
        self.state = self.init_state(params)
        for name, tensors in old.items():
            for new, kept in zip(self.state[name], tensors, strict=True):
                if kept is not None:
                    new[:before].copy_(kept)
        self._refresh()

    def _cast(self, values: Mapping[str, Tensor]) -> dict[str, Tensor]:
        return {k: v.to(self.dtype) for k, v in values.items()}


class CohortSGD(CohortOptimizer):
    r"""torch.optim.SGD per member: coupled weight decay, momentum with dampening, Nesterov.

    Per member, with its own :math:`\gamma, \mu, \tau, \lambda` and step count :math:`t`::

        g <- g + λ p
        b <- μ b + (1 - τ) g        (b_1 = g; only with momentum μ > 0)
        g <- g + μ b  (nesterov)  or  b
        p <- p - γ g

    The same rule for one member, unbatched: :func:`~tuneforge.engine.cohort.reference.sgd_step`.
    """

    family = "sgd"

    def init_state(self, params):
        if not self.uses["momentum"]:
            return {"momentum_buffer": [None] * len(params)}
        return {"momentum_buffer": [torch.zeros_like(p) for p in params]}

    def static(self):
        h = self.hyper
        # torch skips the buffer when momentum is 0; dampening 0 there makes buf = g exactly.
        keep_grad = torch.where(h["momentum"] == 0, 1.0, 1 - h["dampening"])
        return {"weight_decay": h["weight_decay"], "momentum": h["momentum"],
                "grad_factor": keep_grad, "nesterov": h["nesterov"]}  # fmt: skip

    def scalars(self, lr):
        s, first = self._static, self.t == 1
        # torch's first step sets buf = g: from a zero buffer that is 0·buf + 1·g, exactly.
        return self._cast(s | {"neg_lr": -lr,
                               "buffer_factor": torch.where(first, 0.0, s["momentum"]),
                               "grad_factor": torch.where(first, 1.0, s["grad_factor"])})  # fmt: skip

    def update(self, params, grads, state, s):
        buffers = state["momentum_buffer"]
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            if self.uses["weight_decay"]:
                g = torch.addcmul(g, p, _per_member(s["weight_decay"], p))
            if self.uses["momentum"]:
                buf = buffers[i]
                buf.mul_(_per_member(s["buffer_factor"], p)).addcmul_(
                    g, _per_member(s["grad_factor"], p)
                )
                if self.uses["nesterov"]:
                    ahead = torch.addcmul(g, buf, _per_member(s["momentum"], p))
                    g = torch.where(_per_member(s["nesterov"], p) != 0, ahead, buf)
                else:
                    g = buf
            p.addcmul_(g, _per_member(s["neg_lr"], p))


class CohortAdam(CohortOptimizer):
    r"""torch.optim.Adam and AdamW per member (``decoupled``), with optional AMSGrad.

    Per member, with its own hyperparameters and step count :math:`t`::

        p <- p (1 - γ λ)  (AdamW)   or   g <- g + λ p  (Adam)
        m <- β1 m + (1 - β1) g
        v <- β2 v + (1 - β2) g²
        v̂ <- max(v̂, v)  (amsgrad)   or   v
        p <- p - γ (m / (1 - β1^t)) / (sqrt(v̂ / (1 - β2^t)) + ε)

    On a CPU each member's row goes through torch's fused kernel (:meth:`fuses`). The same rule
    for one member, unbatched: :func:`~tuneforge.engine.cohort.reference.adam_step`.
    """

    family = "adam"
    fused_kernel = "adam"
    #: what :meth:`_kept_rows` last made its row views of, and those views (replaced, never mutated)
    _rows_of: list[Tensor] = []
    _rows: tuple = ()

    def fused_update(self, params, grads, lrs, members=None):
        p_rows, m_rows, v_rows, highest, steps = self._kept_rows(params)
        g_rows = _member_rows(grads)
        adam, adamw = fused_adam_kernels()
        for j, k in enumerate(range(len(lrs)) if members is None else members):
            lr, h = lrs[k], self.host[k]
            kernel = adamw if h["decoupled"] else adam
            kernel(p_rows[k], g_rows[j], m_rows[k], v_rows[k], highest[k] if h["amsgrad"] else [],
                   [steps[k]] * len(params), lr=lr, beta1=h["beta1"], beta2=h["beta2"],
                   weight_decay=h["weight_decay"], eps=h["eps"], amsgrad=bool(h["amsgrad"]),
                   maximize=False)  # fmt: skip

    def _kept_rows(self, params):
        """Each member's rows of the parameters, state and step count: views that stay valid
        from step to step, so they are made again only when the tensors change (members left
        or joined: new tensors). Making them every step was ~4% of a cohort study (profiled)."""
        state = self.state
        tensors = [*params, *state["exp_avg"], *state["exp_avg_sq"],
                   *state.get("max_exp_avg_sq", []), self.t]  # fmt: skip
        kept = self._rows_of  # the tensors themselves, not their ids (a freed one's id is reused)
        if len(kept) != len(tensors) or any(a is not b for a, b in zip(kept, tensors, strict=False)):
            highest = state.get("max_exp_avg_sq")
            self._rows_of, self._rows = tensors, (
                _member_rows(params), _member_rows(state["exp_avg"]),
                _member_rows(state["exp_avg_sq"]), None if highest is None else _member_rows(highest),
                self.t.unbind(0),
            )  # fmt: skip
        return self._rows

    def init_state(self, params):
        state = {"exp_avg": [torch.zeros_like(p) for p in params],
                 "exp_avg_sq": [torch.zeros_like(p) for p in params]}  # fmt: skip
        if self.uses["amsgrad"]:
            state["max_exp_avg_sq"] = [torch.zeros_like(p) for p in params]
        return state

    def static(self):
        h = self.hyper
        return self._cast({"one_minus_beta1": 1 - h["beta1"], "one_minus_beta2": 1 - h["beta2"],
                           "coupled_decay": h["weight_decay"] * (1 - h["decoupled"]),
                           "amsgrad": h["amsgrad"]})  # fmt: skip

    def scalars(self, lr):
        h, t = self.hyper, self.t
        neg_step_size = -lr / (1 - h["beta1"] ** t)
        # torch.optim's capturable form: p += m / (√v / (c₂·(−s)) + ε/(−s)), one fewer pass
        # than p -= s · m / (√v / c₂ + ε) with per-member s (addcdiv takes only a Python scale).
        scale = (1 - h["beta2"] ** t).sqrt() * neg_step_size
        return self._static | self._cast({
            "inv_scale": 1 / scale,
            "eps_scaled": h["eps"] / neg_step_size,
            "decay_factor": 1 - lr * h["weight_decay"] * h["decoupled"],
        })  # fmt: skip

    def update(self, params, grads, state, s):
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            m, v = state["exp_avg"][i], state["exp_avg_sq"][i]
            if self.uses["weight_decay"] and self.uses["decoupled"]:
                p.mul_(_per_member(s["decay_factor"], p))
            if self.uses["weight_decay"]:
                g = torch.addcmul(g, p, _per_member(s["coupled_decay"], p))
            m.lerp_(g, _per_member(s["one_minus_beta1"], p))
            v.lerp_(g.square(), _per_member(s["one_minus_beta2"], p))
            second = v
            if self.uses["amsgrad"]:
                highest = state["max_exp_avg_sq"][i]
                torch.maximum(highest, v, out=highest)
                second = torch.where(_per_member(s["amsgrad"], p) != 0, highest, v)
            denom = torch.addcmul(_per_member(s["eps_scaled"], p), second.sqrt(),
                                  _per_member(s["inv_scale"], p))  # fmt: skip
            p.addcdiv_(m, denom)


class CohortRMSprop(CohortOptimizer):
    r"""torch.optim.RMSprop per member: smoothing ``alpha``, ``centered``, momentum.

    Per member::

        g <- g + λ p
        v <- α v + (1 - α) g²
        ṽ <- v - ḡ²  with  ḡ <- α ḡ + (1 - α) g   (centered)   or   v
        b <- μ b + g / (sqrt(ṽ) + ε);  p <- p - γ b    (momentum μ > 0)
        p <- p - γ g / (sqrt(ṽ) + ε)                    (otherwise)

    The same rule for one member, unbatched: :func:`~tuneforge.engine.cohort.reference.rmsprop_step`.
    """

    family = "rmsprop"

    def init_state(self, params):
        state = {"square_avg": [torch.zeros_like(p) for p in params]}
        if self.uses["centered"]:
            state["grad_avg"] = [torch.zeros_like(p) for p in params]
        if self.uses["momentum"]:
            state["momentum_buffer"] = [torch.zeros_like(p) for p in params]
        return state

    def static(self):
        h = self.hyper
        return self._cast({"one_minus_alpha": 1 - h["alpha"], "eps": h["eps"],
                           "neg_centered": -h["centered"], "momentum": h["momentum"],
                           "weight_decay": h["weight_decay"]})  # fmt: skip

    def scalars(self, lr):
        return self._static | self._cast({"neg_lr": -lr})

    def update(self, params, grads, state, s):
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            v = state["square_avg"][i]
            if self.uses["weight_decay"]:
                g = torch.addcmul(g, p, _per_member(s["weight_decay"], p))
            v.lerp_(g.square(), _per_member(s["one_minus_alpha"], p))
            if self.uses["centered"]:
                mean = state["grad_avg"][i]
                mean.lerp_(g, _per_member(s["one_minus_alpha"], p))
                avg = v.addcmul(mean * _per_member(s["neg_centered"], p), mean).sqrt_()
            else:
                avg = v.sqrt()
            avg = avg.add_(_per_member(s["eps"], p))
            if self.uses["momentum"]:
                buf = state["momentum_buffer"][i]
                buf.mul_(_per_member(s["momentum"], p)).addcdiv_(g, avg)
                p.addcmul_(buf, _per_member(s["neg_lr"], p))
            else:
                p.addcdiv_(g * _per_member(s["neg_lr"], p), avg)


class CohortAdagrad(CohortOptimizer):
    r"""torch.optim.Adagrad per member: ``lr_decay``, ``initial_accumulator_value``.

    Per member, with its own step count :math:`t`::

        g <- g + λ p
        γ̃ <- γ / (1 + (t - 1) η)
        s <- s + g²                  (s starts at initial_accumulator_value)
        p <- p - γ̃ g / (sqrt(s) + ε)

    The same rule for one member, unbatched: :func:`~tuneforge.engine.cohort.reference.adagrad_step`.
    """

    family = "adagrad"

    def init_state(self, params):
        start = self.hyper["initial_accumulator_value"]
        return {"sum": [torch.zeros_like(p) + _per_member(start.to(p.dtype), p) for p in params]}

    def static(self):
        h = self.hyper
        return self._cast({"eps": h["eps"], "weight_decay": h["weight_decay"]})

    def scalars(self, lr):
        decayed = lr / (1 + (self.t - 1) * self.hyper["lr_decay"])
        return self._static | self._cast({"neg_lr": -decayed})

    def update(self, params, grads, state, s):
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            if self.uses["weight_decay"]:
                g = torch.addcmul(g, p, _per_member(s["weight_decay"], p))
            total = state["sum"][i]
            total.addcmul_(g, g)
            std = total.sqrt().add_(_per_member(s["eps"], p))
            p.addcdiv_(g * _per_member(s["neg_lr"], p), std)


OPTIMIZERS: dict[str, type[CohortOptimizer]] = {
    "sgd": CohortSGD,
    "adam": CohortAdam,
    "rmsprop": CohortRMSprop,
    "adagrad": CohortAdagrad,
}


# ------------------------------------------------------------------------- gradient clipping
@torch.no_grad()
def clip_grad_value_(grads: Sequence[Tensor], clip_value: Tensor) -> None:
    """Per member, clamp every gradient entry to ``[-v, v]`` (``v = inf``: not clipped)."""
    for g in grads:
        limit = _per_member(clip_value.to(g.dtype), g)
        g.clamp_(-limit, limit)


@torch.no_grad()
def clip_grad_norm_(grads: Sequence[Tensor], max_norm: Tensor) -> Tensor:
    """Per member, scale the gradients so their joint 2-norm is at most ``max_norm[k]``.

    Same rule as ``torch.nn.utils.clip_grad_norm_`` over one member's parameters: the norm of
    the per-tensor norms, then ``g · min(max_norm / (norm + 1e-6), 1)``. Members with
    ``max_norm = inf`` are left exactly as they are. Returns the norms before clipping.
    """
    norms = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads])
    total = torch.linalg.vector_norm(norms, dim=0)
    limit = max_norm.to(total.dtype)
    coef = torch.where(torch.isinf(limit), 1.0, (limit / (total + 1e-6)).clamp(max=1.0))
    for g in grads:
        g.mul_(_per_member(coef, g))
    return total
