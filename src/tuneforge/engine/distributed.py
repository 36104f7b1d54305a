"""Data-parallel training with ``torch.distributed`` (DDP), launched by ``torchrun``.

torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; every process loads the same data,
draws the same shuffled order (same seed), and takes its shard of every *global* batch. DDP
averages gradients over processes, so each process scales its summed loss by
``world / global_batch`` instead of taking its own mean: the update equals one process stepping
on the whole global batch even when the last batch does not split evenly. Only rank 0 writes.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from tuneforge.engine.setup import check_devices_per_rank
from tuneforge.errors import TuneforgeError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, rows: int) -> slice:
        """This rank's contiguous part of a global batch of ``rows`` (sizes differ by at most 1).

        A rank may get no rows (a last batch smaller than the world): its summed loss is then 0
        and it still joins the gradient all-reduce, as DDP requires.
        """
        return slice(self.rank * rows // self.size, (self.rank + 1) * rows // self.size)


def torchrun_command(nproc: int, args: list[str]) -> list[str]:
    """The argument list that runs ``tuneforge ARGS`` in ``nproc`` processes on this machine.

    ``python -m torch.distributed.run`` is ``torchrun`` from the same interpreter (no PATH
    lookup); ``--standalone`` picks a free local rendezvous port.
    """
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={nproc}", "-m", "tuneforge", *args]  # fmt: skip


def launched_size() -> int:
    """``WORLD_SIZE`` of the torchrun job this process belongs to (1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def refuse_torchrun(command: str) -> None:
    """Commands with no data-parallel form stop under torchrun with a bad-input error (exit 2).

    Without this every rank would run the whole command: a study's trials would each try to
    form a DDP group with whatever the other ranks happen to run, and hang.
    """
    if (size := launched_size()) > 1:
        raise TuneforgeError(f"{command}: does not run under torchrun (WORLD_SIZE={size}); only "
                             "`train` trains data-parallel. Parallel tuning: tune --workers N, "
                             "or several tune processes on one storage (docs/scaling.md)")  # fmt: skip


def world_from_env() -> World:
    """The process's place in a torchrun job (a world of one outside torchrun)."""
    size = launched_size()
    if size == 1:
        return World()
    return World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))


def setup(world: World, device: torch.device) -> torch.device:
    """Join the process group (NCCL on CUDA, gloo on CPU); returns this rank's device."""
    if not world.distributed:
        return device
    if device.type == "cuda":
        check_devices_per_rank(device, int(os.environ.get("LOCAL_WORLD_SIZE", world.size)))
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def wrap(model: nn.Module, world: World, device: torch.device) -> nn.Module:
    """``model`` in a DDP wrapper (rank 0's weights are broadcast to all ranks here).

    On CUDA, batch norm layers become ``SyncBatchNorm`` so their statistics cover the global
    batch; torch has no CPU SyncBatchNorm, so on gloo each rank normalizes with its own shard.
    """
    if not world.distributed:
        return model
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return nn.parallel.DistributedDataParallel(model, device_ids=[device.index])
    return nn.parallel.DistributedDataParallel(model)


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside a DDP wrapper (what checkpoints and outputs hold)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def mean_over_ranks(values: torch.Tensor, world: World) -> torch.Tensor:
    """The element-wise mean of ``values`` over all ranks (gloo has no AVG: sum, then divide)."""
    if not world.distributed:
        return values
    total = values.clone()
    dist.all_reduce(total)
    return total / world.size


def gather_rng(world: World, device: torch.device) -> dict[str, torch.Tensor]:
    """Every rank's torch (and CUDA) RNG state, for rank 0's checkpoint; dropout draws per rank.

    Collective: every rank must call it.
    """
    if not world.distributed:
        return {}
    states = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    wire = device if device.type == "cuda" else torch.device("cpu")  # NCCL moves GPU tensors only
    gathered = {}
    for name, state in states.items():
        parts = [torch.empty_like(state, device=wire) for _ in range(world.size)]
        dist.all_gather(parts, state.to(wire))
        gathered |= {f"rng.{name}.rank{r}": part.cpu() for r, part in enumerate(parts)}
    return gathered


def restore_rng(tensors: dict[str, torch.Tensor], world: World, device: torch.device) -> None:
    """Set this rank's RNG state from a checkpoint written by :func:`gather_rng`.

    A checkpoint of a different world size holds other ranks: they keep their fresh streams.
    """
    if (state := tensors.get(f"rng.torch.rank{world.rank}")) is not None:
        torch.set_rng_state(state)
    if device.type == "cuda" and (state := tensors.get(f"rng.cuda.rank{world.rank}")) is not None:
        torch.cuda.set_rng_state(state, device)


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def teardown(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()
