"""Resumable checkpoints that never unpickle: safetensors, JSON and ``weights_only`` loads.

A checkpoint folder holds ``model.safetensors``, ``optimizer.pt`` (a plain state dict, read back
with ``torch.load(weights_only=True)``), ``tensors.safetensors`` (RNG states, shuffling
generator, schedule and early-stopping tensors), ``state.json`` (counters and history) and a
``COMPLETE`` marker written last. It is written to ``checkpoint.tmp``, fsynced, then renamed
over the previous one, so a kill at any moment leaves one complete checkpoint to resume from.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

MARKER = "COMPLETE"


def rng_state(generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Every random stream training reads, as tensors."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    state = {
        "rng.torch": torch.get_rng_state(),
        "rng.batches": generator.get_state(),
        "rng.numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
        "rng.numpy_pos": torch.tensor([np_state[2], np_state[3]], dtype=torch.int64),
        "rng.numpy_gauss": torch.tensor([np_state[4]], dtype=torch.float64),
        "rng.python": torch.tensor(py_state[1], dtype=torch.int64),
    }
    if torch.cuda.is_available():
        for i, cuda_state in enumerate(torch.cuda.get_rng_state_all()):
            state[f"rng.cuda{i}"] = cuda_state
    return state


def restore_rng(state: dict[str, torch.Tensor], generator: torch.Generator) -> None:
    torch.set_rng_state(state["rng.torch"])
    generator.set_state(state["rng.batches"])
    pos, has_gauss = state["rng.numpy_pos"].tolist()
    keys = state["rng.numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, pos, has_gauss, float(state["rng.numpy_gauss"][0])))
    random.setstate((3, tuple(state["rng.python"].tolist()), None))
    for key, value in state.items():
        if key.startswith("rng.cuda"):
            torch.cuda.set_rng_state(value, int(key.removeprefix("rng.cuda")))


def save(
    folder: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    tensors: dict[str, torch.Tensor],
    state: dict[str, Any],
) -> None:
    folder = Path(folder)
    tmp, old = folder.with_name(folder.name + ".tmp"), folder.with_name(folder.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(_contiguous(model.state_dict()), tmp / "model.safetensors")
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    save_file(_contiguous(tensors), tmp / "tensors.safetensors")
    (tmp / "state.json").write_text(json.dumps(state))
    (tmp / MARKER).write_text("ok\n")
    for path in tmp.iterdir():
        _fsync(path)
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
    tmp.rename(folder)
    _fsync(folder.parent)
    shutil.rmtree(old, ignore_errors=True)


def latest(folder: Path) -> Path | None:
    """The newest complete checkpoint (``checkpoint/``, or ``checkpoint.old/`` after a kill)."""
    folder = Path(folder)
    for candidate in (folder, folder.with_name(folder.name + ".old")):
        if (candidate / MARKER).is_file():
            return candidate
    return None


def load(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, device):
    """Load weights and optimizer state in place; return ``(tensors, state)``."""
    model.load_state_dict(load_file(folder / "model.safetensors", device=str(device)))
    # Read on the CPU: load_state_dict moves each state tensor to its parameter's device but
    # keeps ``step`` where it is, and torch.optim wants it on the host (a GPU step would cost a
    # sync per parameter every step).
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True,
                                         map_location="cpu"))  # fmt: skip
    tensors = load_file(folder / "tensors.safetensors")
    state = json.loads((folder / "state.json").read_text())
    return tensors, state


def _contiguous(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous() for k, v in tensors.items()}


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
