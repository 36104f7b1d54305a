"""``model.kind: pretrained``: start from a finished tuneforge run or a Hugging Face model.

A tuneforge run directory (``model.source: runs/xyz``) holds everything needed: its
``config.yaml`` rebuilds the body, ``summary.json`` says its input and output sizes, and
``model.safetensors`` its weights (safetensors only, nothing unpickled). A folder with a
Hugging Face ``config.json`` (or ``model.hf``) goes to :mod:`tuneforge.models.hf`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from tuneforge.config.pretrained import PretrainedModel
from tuneforge.errors import ConfigError
from tuneforge.models.finetune import FineTunable, last_linear, structural_blocks

RUN_FILES = ("config.yaml", "summary.json", "model.safetensors")


def build_pretrained(cfg: PretrainedModel, n_in: int, n_out: int) -> nn.Module:
    """The source's model with its head kept or replaced, ready for freezing and groups."""
    if cfg.hf is not None or is_hf_folder(Path(cfg.source)):
        from tuneforge.models.hf import build_hf  # imports transformers: only when asked for

        return build_hf(cfg, n_in, n_out)
    return FineTunedRun(cfg, n_in, n_out)


def is_hf_folder(path: Path) -> bool:
    return (path / "config.json").is_file() and not (path / "config.yaml").is_file()


def check_run_folder(source: str) -> Path:
    folder = Path(source)
    if not folder.is_dir():
        raise ConfigError(f"model.source: {source}: no such directory (expected a tuneforge run "
                          "directory or a Hugging Face model folder)")  # fmt: skip
    missing = [name for name in RUN_FILES if not (folder / name).is_file()]
    if missing:
        raise ConfigError(f"model.source: {source} is not a finished tuneforge run "
                          f"(missing {', '.join(missing)})")  # fmt: skip
    return folder


def load_source_model(source: str) -> tuple[nn.Module, dict]:
    """The source run's trained model and the ``model`` part of its summary."""
    from tuneforge.config import load_config
    from tuneforge.models import build_model  # the registry imports this module

    folder = check_run_folder(source)
    src_cfg = load_config(folder / "config.yaml")
    shape = json.loads((folder / "summary.json").read_text())["model"]
    model = build_model(src_cfg.model, shape["inputs"], shape["outputs"])
    try:
        model.load_state_dict(load_file(folder / "model.safetensors"))
    except (RuntimeError, OSError) as exc:  # safetensors header or key mismatch
        first = str(exc).strip().splitlines()[0]
        raise ConfigError(f"model.source: {source}/model.safetensors does not fit its "
                          f"config.yaml ({first})") from None  # fmt: skip
    return model, shape


class FineTunedRun(FineTunable):
    """A tuneforge run's model (``net``), its last linear layer being the head."""

    def __init__(self, cfg: PretrainedModel, n_in: int, n_out: int):
        super().__init__()
        net, shape = load_source_model(cfg.source)
        if shape["inputs"] != n_in:
            raise ConfigError(
                f"model.source: {cfg.source} was trained on {shape['inputs']} input features, "
                f"this data has {n_in}; use data with the same feature columns"
            )
        parent, attr, head = last_linear(net)
        replace = cfg.new_head is True or (cfg.new_head == "auto" and head.out_features != n_out)
        if head.out_features != n_out and not replace:
            raise ConfigError(f"model.new_head: false keeps {cfg.source}'s {head.out_features} "
                              f"outputs but this task needs {n_out}; set it to auto or true")  # fmt: skip
        if replace:
            setattr(parent, attr, nn.Linear(head.in_features, n_out))
        self.net = net
        self.new_head = replace
        head_prefix = _prefix_of(self, getattr(parent, attr))
        self.head_names = [f"{head_prefix}.{n}" for n, _ in getattr(parent, attr).named_parameters()]
        self.block_names = structural_blocks(self, set(self.head_names))
        self.setup_finetuning(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _prefix_of(root: nn.Module, target: nn.Module) -> str:
    return next(prefix for prefix, module in root.named_modules() if module is target)
