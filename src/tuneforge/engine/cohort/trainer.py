"""The cohort loop: K members trained as one batched model, each with its own hyperparameters.

The loop reads like the module engine's: forward, loss, penalty, backward, clip, step, proximal
step, schedule -- once for all members. Per-member hyperparameters are ``[K]`` tensors on the
device; nothing in a step waits on the host. Once per epoch the members are evaluated together,
one host copy brings their numbers back, and each member's record, callbacks, plateau and early
stopping run as in ``ModuleTrainer``. A member that stops (finished, early-stopped, pruned,
diverged) leaves: its row is cut out of every stacked tensor and the others go on unchanged.

Members may also join between epochs (:meth:`CohortTrainer.add`): each counts its own epochs and
steps, so a newcomer starts at its own epoch 1, step 1 -- the learning rate, bias corrections
and batch order of its first step -- whatever epoch the others are at.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

from tuneforge.config import Config
from tuneforge.data import Batches, Dataset
from tuneforge.engine.cohort.functional import FunctionalNet
from tuneforge.engine.cohort.members import Member, MemberView
from tuneforge.engine.cohort.micro import ALL, MicroPlan
from tuneforge.engine.cohort.network import CohortNet
from tuneforge.engine.cohort.optim import (
    FAMILIES,
    OPTIMIZERS,
    clip_grad_norm_,
    clip_grad_value_,
    member_hyperparameters,
)
from tuneforge.evaluate.metrics import epoch_metrics
from tuneforge.models import build_model
from tuneforge.recipe import add_penalty_grad_, soft_threshold_
from tuneforge.recipe.losses import member_smoothed_cross_entropy
from tuneforge.recipe.optimizers import optimizer_kwargs

INF = float("inf")

#: Entries of every optimizer tensor updated at once by the batched optimizers (GPU, compile;
#: a CPU steps each member with torch's fused kernel instead). They run over column chunks of
#: theta so that a chunk of parameters, gradients and state (about 1 MiB each) stays in a core's
#: L2 cache through all of a step's elementwise passes; over the whole ``[K, P]`` matrix each
#: pass streams it from memory. A one-off timing of Adam alone on 16 x 38k entries gave 1.1 ms a
#: step instead of 1.8-3 ms; a whole cohort epoch gained only ~4% (most of a step is elsewhere).
CHUNK_ENTRIES = 1 << 18


def chunk_columns(device: torch.device, members: int) -> int | None:
    """Columns of theta per optimizer chunk; None (whole rows) on a GPU, where cache-sized
    chunks only multiply kernel launches (~150-250 small kernels a step)."""
    return max(256, CHUNK_ENTRIES // members) if device.type == "cpu" else None


class CohortTrainer:
    """Trains ``members`` (one structure, one data set) on ``data`` together.

    Members at the same epoch with the same ``train.seed`` share one shuffling order; otherwise
    each member's rows are gathered from its own seed's order for its own epoch, which is the
    order the module engine would use for it. ``capacity`` is a recipe of the same structure
    whose widths the layout holds, so members up to those widths can join later.
    """

    def __init__(self, members: Sequence[Member], data: Dataset, device: torch.device,
                 compile: bool = False, capacity: Config | None = None):  # fmt: skip
        self.members, self.data, self.device = list(members), data, device
        self.recipe = self.members[0].recipe  # what all members share: task, loss, outputs
        modules = [self._build(m.cfg) for m in self.members]
        if self.members[0].cfg.model.kind == "custom":  # any nn.Module: torch.func (functional.py)
            self.net = FunctionalNet(modules, data.x["train"].dim() - 1, device)
            self.net.probe(data.x["train"])
        else:
            template = None if capacity is None else self._build(capacity)
            self.net = CohortNet(modules, [m.cfg.model for m in self.members], device, template)
        self.columns = chunk_columns(device, len(self.members))
        family = OPTIMIZERS[FAMILIES[self.members[0].cfg.train.optimizer.name]]
        #: torch's fused kernel steps each member's row of every piece (CPU; see
        #: ``CohortOptimizer.fuses``); the batched form steps cache-sized column chunks
        self.fused = family.fuses(device) and not compile
        self._refresh()
        self.optimizer = family(self.theta_chunks, self._hyperparameters(self.members))
        self.optimizer.fused = self.fused
        self.streams: dict[int, tuple[Batches, int]] = {}  # per seed: shuffler, draws so far
        self.orders: dict[tuple[int, int], Tensor] = {}  # (seed, epoch): this epoch's orders
        self.generator = torch.Generator(device=device).manual_seed(self.members[0].cfg.train.seed)
        self._plans: dict[tuple, MicroPlan] = {}  # by the members' (batch size, accumulate)
        self._group_activations()
        self.objective = self._objective
        if compile:
            self.objective = torch.compile(self._objective, dynamic=True)
            self.optimizer.apply = torch.compile(self.optimizer.update, dynamic=True)

    def _build(self, cfg: Config) -> torch.nn.Module:
        return build_model(cfg.model, self.data.n_features, self.recipe.n_outputs, seed=cfg.train.seed)

    def _hyperparameters(self, members: Sequence[Member]) -> dict[str, Tensor]:
        opts = [m.cfg.train.optimizer for m in members]
        return member_hyperparameters([optimizer_kwargs(o) for o in opts], [o.name for o in opts],
                                      self.device)  # fmt: skip

    def _refresh(self) -> None:
        """Per-member tensors, penalty rows, views and the branches in use, from the members."""
        self.per_member = self._per_member_tensors()
        self.per_member |= self._penalty_rows()
        self._make_views()
        self.uses = {k: bool((v != 0).any()) for k, v in self.per_member.items() if v.ndim == 1}
        self.uses |= {
            k: bool(torch.isfinite(self.per_member[k]).any()) for k in ("clip_value", "clip_norm")
        }
        self._update_plateau()

    def add(self, members: Sequence[Member]) -> None:
        """``members`` (same structure, within the layout's widths) join; they start their own
        epoch 1 with the next :meth:`train_epoch`."""
        members = list(members)
        self.net.add([self._build(m.cfg) for m in members], [m.cfg.model for m in members])
        self.members += members
        self._refresh()
        self.optimizer.add(self.theta_chunks, self._hyperparameters(members))
        self._group_activations()

    def _group_activations(self) -> None:
        """Reorder the rows so each activation's members are consecutive: each function then
        runs on its own rows (``MemberActivations``). Rows are positions, not identities:
        members keep their index, and ``fit`` says at which row a member leaves."""
        names = [getattr(m.cfg.model, "activation", "") for m in self.members]
        first = {name: i for i, name in reversed(list(enumerate(names)))}
        order = sorted(range(len(names)), key=lambda k: first[names[k]])
        if order != list(range(len(names))):
            self.keep(order)

    def _per_member_tensors(self) -> dict[str, Tensor]:
        """Everything with one row per member (cut together when members leave)."""
        rows: dict[str, list] = {k: [] for k in ("l1", "l2", "prox_l1", "bias", "clip_value",
                                                 "clip_norm", "lr", "smoothing")}  # fmt: skip
        longest = max(m.recipe.total_steps for m in self.members)
        for m in self.members:
            steps = m.recipe.steps_per_epoch  # its own: batch sizes may differ
            train, reg = m.cfg.train, m.cfg.train.regularization
            rows["l1"].append(reg.l1 if reg.l1_mode == "penalty" else 0.0)
            rows["prox_l1"].append(reg.l1 if reg.l1_mode == "proximal" else 0.0)
            rows["l2"].append(reg.l2)
            rows["bias"].append(float(reg.include_bias))
            rows["clip_value"].append(train.clip_grad_value or INF)
            rows["clip_norm"].append(train.clip_grad_norm or INF)
            rows["smoothing"].append(train.label_smoothing)
            factors = m.recipe.factors  # per optimizer step, or per epoch
            if train.schedule.interval == "epoch":
                factors = factors.repeat_interleave(steps)
            per_step = torch.ones(longest, dtype=torch.float64)
            per_step[: len(factors)] = factors[:longest]
            rows["lr"].append(train.optimizer.lr * per_step)
        out = {k: torch.tensor(v, dtype=torch.float64) for k, v in rows.items() if k != "lr"}
        out["lr"] = torch.stack(rows["lr"])  # [K, steps of the longest member], from its step 1
        out["plateau"] = torch.ones(len(self.members), dtype=torch.float64)
        return {k: v.to(self.device) for k, v in out.items()}

    def _penalty_rows(self) -> dict[str, Tensor]:
        """λ₁ and λ₂ per member and entry of theta, ``[K, P]`` (0 where an entry isn't penalized).

        The penalty's gradient is added to the data gradient in one pass per term
        (:func:`add_penalty_grad_`) instead of through autograd, which built the penalty's graph
        and split theta a second time every step.
        """
        weights = torch.cat([torch.full((p.size,), p.is_weight, dtype=torch.bool)
                             for p in self.net.pieces]).to(self.device)  # fmt: skip
        bias = self.per_member["bias"].bool()[:, None]
        penalized = (weights[None, :] | bias).to(self.net.theta.dtype)  # [K, P], like theta
        return {f"{name}_rows": self.per_member[name].to(penalized.dtype)[:, None] * penalized
                for name in ("l1", "l2") if bool((self.per_member[name] != 0).any())}  # fmt: skip

    def _make_views(self) -> None:
        """The views of theta (and of the penalty rows) every step uses, made once per theta:
        ``keep`` replaces theta, and makes them again."""
        rows = self.net.rows(self.net.theta)
        self.theta_chunks = rows if self.fused else self._chunks(rows)
        l1, l2 = self.per_member.get("l1_rows"), self.per_member.get("l2_rows")
        none = [None] * len(rows)
        self.penalty_terms = [] if l1 is None and l2 is None else list(zip(
            rows, none if l1 is None else self.net.rows(l1), none if l2 is None else self.net.rows(l2),
            strict=True))  # fmt: skip

    # ------------------------------------------------------------------------------ the loop
    def fit(self) -> Iterator[tuple[Member, int]]:
        """Train until every member has left; yields ``(member, row)`` as each one leaves."""
        while self.members:
            started = time.perf_counter()
            losses = self.train_epoch()
            yield from self.end_epoch(losses, time.perf_counter() - started)

    def plan(self) -> MicroPlan:
        """The micro-batches of an epoch for the members now in the cohort (``micro.py``)."""
        classes = tuple((m.recipe.batch_size, m.cfg.train.accumulate,
                         (m.cfg.train.loss_reduction, m.cfg.train.loss_scale)) for m in self.members)  # fmt: skip
        if classes not in self._plans:
            self._plans.clear()  # plans of other members are rarely needed again
            sizes, accumulates, forms = zip(*classes, strict=True)
            self._plans[classes] = MicroPlan(len(self.data.x["train"]), sizes, accumulates, self.device,
                                             forms)  # fmt: skip
        return self._plans[classes]

    def train_epoch(self) -> Tensor:
        """One pass over the training micro-batches; returns the data losses ``[K, micro]``.

        With one batch size every member steps after every batch (or accumulation group);
        otherwise after each micro-batch only the members whose own step ends there step."""
        net, plan, k = self.net, self.plan(), len(self.members)
        losses = torch.empty(k, len(plan), device=self.device)
        lrs = self._epoch_lrs(plan) * self.per_member["plateau"][:, None]  # [K, micro]
        grads = None
        for i, (x, y) in enumerate(self._epoch_batches(plan)):
            weight = None if plan.weights is None else plan.weights[i]
            objective, loss = self.objective(net.params, x, y, weight)
            step_grads = torch.autograd.grad(objective, net.params)
            net.batches_seen += 1
            grads = step_grads if grads is None else [g + s for g, s in zip(grads, step_grads, strict=True)]
            losses[:, i] = loss
            stepping = plan.stepping[i]
            if stepping is None:
                continue  # accumulate gradients over more micro-batches
            if stepping == ALL:
                self._step([g.reshape(k, -1) for g in grads], lrs[:, i])
                grads = None
            else:
                index, rows = stepping
                self._step([g.reshape(k, -1).index_select(0, index) for g in grads], lrs[:, i],
                           index, rows)  # fmt: skip
                for g in grads:  # the members that stepped start their next step at zero
                    g.index_fill_(0, index, 0.0)
        self.last_lr = lrs[:, -1]  # every member steps after the epoch's last micro-batch
        return losses

    def _step(self, rows: list[Tensor], lr: Tensor, index: Tensor | None = None,
              members: list[int] | None = None) -> None:  # fmt: skip
        """One optimizer step of every member, or of the ``members`` at rows ``index`` only.

        ``rows`` are the gradients per piece, ``[K, size]`` (or ``[len(index), size]``); the
        penalty, clipping and the step see only the stepping members' rows."""
        def per_member(name: str) -> Tensor:
            values = self.per_member[name]
            return values if index is None else values.index_select(0, index)

        self._add_penalty_grads(rows, index)
        if not self.fused:
            rows = self._chunks(rows)
        if self.uses["clip_value"]:
            clip_grad_value_(rows, per_member("clip_value"))
        if self.uses["clip_norm"]:
            clip_grad_norm_(rows, per_member("clip_norm"))
        self.optimizer.step(self.theta_chunks, rows, lr, index, members)
        if self.uses["prox_l1"]:
            if index is not None:  # a threshold of 0 leaves the others exactly as they are
                lr = torch.zeros_like(lr).index_copy_(0, index, lr.index_select(0, index))
            self._proximal_step(lr)

    def _epoch_lrs(self, plan: MicroPlan) -> Tensor:
        """``[K, micro]``: each member's learning rate for the step each micro-batch is in."""
        table = self.per_member["lr"]
        done = torch.tensor([m.steps_done for m in self.members], device=self.device)
        index = done[:, None] + plan.step_index
        return table.gather(1, index.clamp(max=table.shape[1] - 1))

    def _chunks(self, rows: Sequence[Tensor]) -> list[Tensor]:
        """Column chunks of each ``[K, size]`` tensor (views), the optimizer's unit of work."""
        if self.columns is None:  # a GPU: one launch per piece
            return list(rows)
        return [chunk for row in rows for chunk in row.split(self.columns, dim=1)]

    def _add_penalty_grads(self, rows: Sequence[Tensor], index: Tensor | None = None) -> None:
        if not self.penalty_terms:  # no member has an L1/L2 penalty
            return
        for grad, terms in zip(rows, self.penalty_terms, strict=True):
            if index is not None:  # only these members step: their rows of theta and λ
                terms = [None if t is None else t.index_select(0, index) for t in terms]
            add_penalty_grad_(grad, *terms)

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        """Per-sample losses ``[K, n]``; label smoothing may differ per member (cross-entropy)."""
        if self.recipe.loss_name == "cross_entropy" and self.uses["smoothing"]:
            return member_smoothed_cross_entropy(pred, y, self.per_member["smoothing"])
        return self.recipe.loss(pred, y)

    def _objective(
        self, params: Sequence[Tensor], x: Tensor, y: Tensor, weight: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """Σ over members of mean data loss · micro-batch weight ``[K]``, and the data losses.

        The penalty's gradient is added after the backward pass (``_penalty_rows``). ``params``
        are the network's, passed in so that ``torch.compile`` sees them as inputs.
        """
        pred = self.net.forward(x, train=True, generator=self.generator, params=params)
        objective = loss = self.loss(pred, y).mean(-1)
        if weight is not None:  # the step's mean loss: rows here / rows in the member's step
            objective = objective * weight
        return objective.sum(), loss.detach()

    def _epoch_batches(self, plan: MicroPlan) -> Iterator[tuple[Tensor, Tensor]]:
        """Micro-batches ``(x [n, F], y [n])`` shared by all members, or ``([K, n, F], [K, n])``
        with each member's rows from its own order."""
        x, y = self.data.x["train"], self.data.y["train"]
        size = plan.micro
        if size == len(x):  # full batch: every member's every epoch, unshuffled
            yield x, y
            return
        keys = [None if full or not m.cfg.train.shuffle else (m.cfg.train.seed, m.epochs_done)
                for m, full in zip(self.members, plan.full, strict=True)]  # fmt: skip
        orders = self._orders(keys)
        if len(orders) == 1:
            order = orders[keys[0]].to(self.device)
            for start in range(0, len(order), size):
                rows = order[start : start + size]
                yield x.index_select(0, rows), y.index_select(0, rows)
            return
        rows = torch.stack([orders[key] for key in keys]).to(self.device)
        for start in range(0, rows.shape[1], size):
            index = rows[:, start : start + size]
            yield x[index], y[index]

    def _orders(self, keys: Sequence[tuple[int, int] | None]) -> dict:
        """Row orders for ``(seed, epoch)`` (0-based): the seed's ``Batches`` draw for that
        epoch, as the module engine draws it. Only this epoch's orders are kept; a member that
        joins after its seed's stream has moved on replays the stream from its start."""
        shuffled = sorted({key for key in keys if key is not None})  # per seed, epochs ascending
        self.orders = {key: self.orders[key] for key in shuffled if key in self.orders}
        if None in keys:  # members whose batch is the whole set, or shuffle: false: row order
            self.orders[None] = torch.arange(len(self.data.x["train"]))
        for seed, epoch in shuffled:
            if (seed, epoch) in self.orders:
                continue
            batches, drawn = self.streams.get(seed, (None, INF))
            if drawn > epoch:
                x, y = self.data.x["train"], self.data.y["train"]
                # any batch below the whole set: the shuffled order does not depend on its size
                batches, drawn = Batches(x, y, 1, seed), 0
            while drawn <= epoch:
                order, drawn = batches.order(), drawn + 1
            self.streams[seed] = (batches, drawn)
            self.orders[(seed, epoch)] = order
        return self.orders

    def _proximal_step(self, lr: Tensor) -> None:
        """Soft-threshold by ``lr · λ₁`` per member (members without proximal L1 get 0: unchanged)."""
        threshold = (lr * self.per_member["prox_l1"]).float()
        groups = [(self.net.views(weights=True), threshold)]
        if self.uses["bias"]:
            groups.append(
                (self.net.views(weights=False), threshold * self.per_member["bias"].float())
            )
        for views, amount in groups:
            for view in views:
                soft_threshold_([view], amount.view(-1, *([1] * (view.ndim - 1))))

    # ----------------------------------------------------------------------------- epochs
    def evaluate(self, part: str) -> dict[str, Tensor]:
        """``{part}/loss`` and the per-epoch metrics of ``part`` for every member (``[K]`` each)."""
        if self.data.size(part) == 0:
            return {}
        recipe = self.recipe
        pred, y = self.net.predict(self.data.x[part]), self.data.y[part]
        scores = {"loss": self.loss(pred, y).mean(-1)}
        scores |= epoch_metrics(pred, y, recipe.task, recipe.n_classes, recipe.target_mean,
                                recipe.target_std, recipe.targets)  # fmt: skip
        return {f"{part}/{k}": v for k, v in scores.items()}

    def end_epoch(self, losses: Tensor, seconds: float) -> Iterator[tuple[Member, int]]:
        """Each member's epoch record and decisions; yields ``(member, row)`` for those that
        leave (their rows are cut once the caller has taken them)."""
        scores, plan = self.evaluate("val"), self.plan()
        names = list(scores)
        columns = [plan.train_loss(losses), self.last_lr, *scores.values()]
        table = torch.stack([c.double() for c in columns], 1).tolist()  # one host copy per epoch
        leaving = []
        for k, (member, row) in enumerate(zip(self.members, table, strict=True)):
            member.epochs_done += 1
            member.steps_done += member.recipe.steps_per_epoch
            record = {"epoch": member.epochs_done, "step": member.steps_done, "lr": row[1],
                      "train/loss": row[0]}  # fmt: skip
            own = plan.batch_losses(losses, k) if not math.isfinite(row[0]) else None
            record = member.record_epoch(record, own, dict(zip(names, row[2:], strict=True)))
            if "diverged" not in record:
                record["seconds"] = round(seconds, 4)
            if member.after_epoch(record, MemberView(self.net, k)):
                member.finish(MemberView(self.net, k), member.steps_done)
                leaving.append(k)
        for k in leaving:
            yield self.members[k], k
        self._update_plateau()
        if leaving:
            self.keep([k for k in range(len(self.members)) if k not in leaving])

    def _update_plateau(self) -> None:
        if any(m.plateau is not None for m in self.members):
            factors = [m.plateau_factor for m in self.members]
            self.per_member["plateau"] = torch.tensor(
                factors, dtype=torch.float64, device=self.device
            )

    def keep(self, rows: list[int]) -> None:
        """Only the members at ``rows`` go on: cut every stacked tensor down to them."""
        index = torch.tensor(rows, dtype=torch.long, device=self.device)
        self.net.keep(index)
        self.optimizer.keep(index)
        self.per_member = {k: v.index_select(0, index) for k, v in self.per_member.items()}
        self.members = [self.members[k] for k in rows]
        self._make_views()

