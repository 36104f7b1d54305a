"""A local Hugging Face encoder (``AutoModel``) with pooling and a linear head.

Inputs are the ``[batch, 2, L]`` int64 blocks of :mod:`tuneforge.data.text` (token ids and
attention mask). Weights are read from a local folder or the local cache only
(``local_files_only=True``); set ``HF_HUB_OFFLINE=1`` too to keep every other Hugging Face
call off the network. Body blocks for freezing and layer decay: the embeddings, then each
transformer layer (``...layer.<i>...``), then whatever sits above them (a pooler).
"""

from __future__ import annotations

import re

import torch
from torch import nn

from tuneforge.config.pretrained import PretrainedModel
from tuneforge.errors import ConfigError
from tuneforge.models.finetune import FineTunable

#: ``encoder.layer.3.``, ``layers.3.``, ``h.3.``, ``block.3.``: the transformer layer index.
LAYER = re.compile(r"(?:^|\.)(?:layer|layers|h|block)\.(\d+)\.")
#: rows per forward pass when predicting (no gradients): bounds the attention memory.
PREDICT_CHUNK = 256


def build_hf(cfg: PretrainedModel, n_in: int | list[int], n_out: int) -> nn.Module:
    # tokenized text rows are [2, L] (ids and mask); older runs recorded just the 2
    if (n_in if isinstance(n_in, int) else n_in[0]) != 2:
        raise ConfigError(f"{cfg.key}: {cfg.location} is a Hugging Face model; it reads "
                          "tokenized text: set data.text to the text column")  # fmt: skip
    return HFModel(cfg, n_out)


def load_body(cfg: PretrainedModel) -> nn.Module:
    try:
        from transformers import AutoModel
    except ImportError:
        raise ConfigError(f"{cfg.key}: Hugging Face models need transformers; pip install "
                          "'tuneforge[hf]'") from None  # fmt: skip
    try:
        # safetensors only: a folder with just pytorch_model.bin (a pickle) is refused
        return AutoModel.from_pretrained(cfg.location, local_files_only=True, use_safetensors=True)
    except (OSError, ValueError) as exc:
        first = " ".join(str(exc).split())[:200]
        raise ConfigError(f"{cfg.key}: cannot load a local Hugging Face model from "
                          f"{cfg.location!r} ({first})") from None  # fmt: skip


def add_lora(body: nn.Module, cfg: PretrainedModel) -> nn.Module:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise ConfigError("model.lora: LoRA needs peft; pip install 'tuneforge[hf]'") from None
    lora = cfg.lora
    config = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                        target_modules=lora.target_modules)  # fmt: skip
    try:
        return get_peft_model(body, config)
    except ValueError as exc:  # e.g. target modules not found, or no default for this model
        raise ConfigError(f"model.lora.target_modules: {' '.join(str(exc).split())[:200]}") from None


class HFModel(FineTunable):
    """``body`` (AutoModel, maybe with LoRA adapters) -> mean/CLS pooling -> ``head``."""

    def __init__(self, cfg: PretrainedModel, n_out: int):
        super().__init__()
        body = load_body(cfg)
        if cfg.gradient_checkpointing:
            enable_checkpointing(body)
        self.body = add_lora(body, cfg) if cfg.lora is not None else body
        self.head = nn.Linear(body.config.hidden_size, n_out)
        self.pooling = cfg.pooling
        self.head_names = [f"head.{n}" for n, _ in self.head.named_parameters()]
        self.block_names = layer_blocks([n for n, _ in self.named_parameters()
                                         if not n.startswith("head.")])  # fmt: skip
        self.setup_finetuning(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.is_grad_enabled() and len(x) > PREDICT_CHUNK:
            return torch.cat([self(x[i : i + PREDICT_CHUNK]) for i in range(0, len(x), PREDICT_CHUNK)])
        ids, mask = x[:, 0], x[:, 1]
        length = int(mask.sum(1).max())  # drop the padding columns no row of this batch needs
        ids, mask = ids[:, :length], mask[:, :length]
        states = self.body(input_ids=ids, attention_mask=mask).last_hidden_state
        if self.pooling == "cls":
            pooled = states[:, 0]
        else:
            weights = mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return self.head(pooled)


def enable_checkpointing(body: nn.Module) -> None:
    """Recompute each layer's activations in backward (non-reentrant: frozen inputs are fine)."""
    kwargs = {"use_reentrant": False}
    if hasattr(body, "activation_checkpointing_enable"):  # transformers 5.x name
        body.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        body.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def layer_blocks(names: list[str]) -> list[list[str]]:
    """Embeddings (block 0), each numbered layer (1..n), then the rest (e.g. the pooler)."""
    layers: dict[int, list[str]] = {}
    below, above = [], []
    for name in names:
        found = LAYER.search(name)
        if found:
            layers.setdefault(int(found.group(1)), []).append(name)
        elif layers:
            above.append(name)
        else:
            below.append(name)
    blocks = [below] + [layers[i] for i in sorted(layers)] + [above]
    return [block for block in blocks if block]
