"""Local SGD: every rank steps on its own shard; parameters are averaged every ``period`` steps.

PyTorch's post-local SGD does the work (``torch.distributed.algorithms``):

* the DDP communication hook ``post_localSGD_hook`` all-reduces gradients for the first
  ``warmup_steps`` steps (plain DDP) and afterwards returns each rank's own gradient without
  communicating (``post_local_gradient_allreduce=False``);
* ``PostLocalSGDOptimizer`` wraps the torch.optim optimizer: after every step its
  ``PeriodicModelAverager`` all-reduces the parameters when ``step >= warmup_steps`` and
  ``(step - warmup_steps) % period == 0``. Its ``state_dict`` carries the averager's step, so a
  checkpoint of the optimizer resumes the averaging schedule.

A rank's loss is the same share of the global batch as under DDP (summed loss × world / rows),
so with ``period: 1`` the averaged weights are DDP's (plain SGD and momentum are linear in the
gradient; Adam is not). Between averages the ranks' weights and optimizer states differ, so:

* every epoch the ranks' average is copied into :attr:`LocalSGD.average` (one all-reduce) and
  that model is evaluated and kept by early stopping: all ranks take the same decisions;
* the trained model is the average (:meth:`LocalSGD.finish`);
* a checkpoint holds every rank's own weights and optimizer state (gathered to rank 0), so a
  killed run resumes bit-exactly.
"""

from __future__ import annotations

import copy

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.algorithms.ddp_comm_hooks.post_localSGD_hook import (
    PostLocalSGDState,
    post_localSGD_hook,
)
from torch.distributed.algorithms.model_averaging import utils as averaging
from torch.distributed.algorithms.model_averaging.averagers import PeriodicModelAverager
from torch.distributed.optim import PostLocalSGDOptimizer

from tuneforge.config.distributed_schema import DistributedConfig


class LocalSGD:
    """Post-local SGD for a DDP-wrapped model; :attr:`optimizer` replaces the trainer's."""

    def __init__(self, net: nn.parallel.DistributedDataParallel, model: nn.Module,
                 optimizer: torch.optim.Optimizer, cfg: DistributedConfig):  # fmt: skip
        self.warmup_steps = cfg.warmup_steps
        self.hook = PostLocalSGDState(process_group=None, subgroup=None,
                                      start_localSGD_iter=cfg.warmup_steps,
                                      post_local_gradient_allreduce=False)  # fmt: skip
        net.register_comm_hook(self.hook, post_localSGD_hook)
        self.averager = PeriodicModelAverager(period=cfg.period, warmup_steps=cfg.warmup_steps)
        self.optimizer = PostLocalSGDOptimizer(optimizer, self.averager)
        self.average = copy.deepcopy(model)  # the ranks' mean weights, refreshed every epoch

    @classmethod
    def build(cls, net: nn.Module, model: nn.Module, optimizer: torch.optim.Optimizer,
              cfg: DistributedConfig) -> LocalSGD | None:  # fmt: skip
        """Local SGD for ``sync: local_sgd`` under torchrun; None for DDP or one process."""
        if cfg.sync != "local_sgd" or not isinstance(net, nn.parallel.DistributedDataParallel):
            return None
        return cls(net, model, optimizer, cfg)

    # ------------------------------------------------------------------ the ranks' average
    def refresh(self, model: nn.Module) -> nn.Module:
        """:attr:`average` set to the mean of every rank's ``model`` (collective); returned."""
        self.average.load_state_dict(model.state_dict())
        averaging.average_parameters(iter(_trained(self.average)), dist.group.WORLD)
        return self.average

    def finish(self, model: nn.Module) -> None:
        """Every rank's ``model`` becomes the ranks' mean: the trained model (collective)."""
        averaging.average_parameters(iter(_trained(model)), dist.group.WORLD)

    # ------------------------------------------------------------------------ checkpoints
    def gather(self, model: nn.Module, rank: int, size: int) -> dict[str, torch.Tensor]:
        """Every rank's own weights and optimizer state, for rank 0's checkpoint (collective)."""
        gathered = {}
        for name, tensor in self._local_state(model).items():
            wire = tensor.detach().contiguous()
            if dist.get_backend() == "nccl":  # NCCL moves GPU tensors only
                wire = wire.cuda()
            parts = [torch.empty_like(wire) for _ in range(size)]
            dist.all_gather(parts, wire)
            gathered |= {f"local_sgd.rank{r}.{name}": part.cpu() for r, part in enumerate(parts)}
        return gathered

    def restore(self, tensors: dict[str, torch.Tensor], model: nn.Module, rank: int) -> None:
        """After the optimizer's ``load_state_dict`` (which restored the averager's step): this
        rank's weights and optimizer state from :meth:`gather`'s entries, and the hook's step
        counter from the averager's.

        A checkpoint of a smaller world has no entries for this rank: it keeps rank 0's.
        """
        # torch.optim's load_state_dict puts new param_groups on the wrapped optimizer, while
        # PostLocalSGDOptimizer keeps the list it took at construction: learning-rate schedules
        # would then set the old groups, which no longer step (the bug of apex LARC, apex#766).
        self.optimizer.param_groups = self.optimizer.optim.param_groups
        prefix = f"local_sgd.rank{rank}."
        with torch.no_grad():
            for name, tensor in self._local_state(model).items():
                if (saved := tensors.get(prefix + name)) is not None:
                    tensor.copy_(saved)
        self.hook.iter = min(self.averager.step, self.warmup_steps)

    def _local_state(self, model: nn.Module) -> dict[str, torch.Tensor]:
        state = {f"param.{name}": p.data for name, p in model.named_parameters() if p.requires_grad}
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        for i, p in enumerate(params):
            for key, value in sorted(self.optimizer.state.get(p, {}).items()):
                if isinstance(value, torch.Tensor):
                    state[f"optim.{i}.{key}"] = value
        return state


def _trained(model: nn.Module) -> list[nn.Parameter]:
    """The parameters that train (frozen ones are equal on every rank already)."""
    return [p for p in model.parameters() if p.requires_grad]
