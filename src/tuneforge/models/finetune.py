"""What fine-tuning adds to a model: blocks, freezing, unfreezing and per-group learning rates.

A :class:`FineTunable` model splits its parameters into a *head* (the fresh or kept output
layer) and *body blocks* ordered from the input up. ``model.freeze: N`` freezes the first N
blocks, ``all`` the whole body; ``model.unfreeze_epoch: E`` trains them again from epoch E + 1.
The frozen state is a pure function of the epoch (:meth:`FineTunable.set_epoch`, which the
module engine calls before each epoch), so a resumed run freezes exactly what the original did.

Learning rates (``torch.optim`` parameter groups, one per block, head first): the head trains
at ``head_lr``; the top body block at ``body_lr`` and, with ``layer_decay`` d, block i of n at
``body_lr · d^(n−1−i)``. Schedules multiply each group's own base rate (its ``initial_lr``).
Frozen parameters stay in the optimizer with no gradient, so torch.optim skips them and the
optimizer's groups (and its saved state) keep one shape for the whole run.
"""

from __future__ import annotations

from torch import nn

from tuneforge.config.pretrained import PretrainedModel


class FineTunable(nn.Module):
    """Base of the pretrained models. Subclasses set ``head_names`` and ``block_names``."""

    head_names: list[str]  # parameter names of the head
    block_names: list[list[str]]  # parameter names of each body block, input side first

    def setup_finetuning(self, cfg: PretrainedModel) -> None:
        """Record the recipe and apply the epoch-0 frozen state (call at the end of ``__init__``)."""
        self.cfg = cfg
        params = dict(self.named_parameters())
        # LoRA marks the base weights frozen for good; only the rest may ever train.
        self.trainable = {name for name, p in params.items() if p.requires_grad}
        n_blocks = len(self.block_names)
        frozen = n_blocks if cfg.freeze == "all" else 0 if cfg.freeze == "none" else cfg.freeze
        self.frozen_blocks = min(frozen, n_blocks)
        self._frozen_now = False
        self.set_epoch(0)

    def frozen_names(self, epoch: int) -> set[str]:
        """Names of the body parameters frozen during epoch ``epoch + 1`` (0-based ``epoch``)."""
        unfreeze = self.cfg.unfreeze_epoch
        if self.frozen_blocks == 0 or (unfreeze is not None and epoch >= unfreeze):
            return set()
        return {name for block in self.block_names[: self.frozen_blocks] for name in block}

    def set_epoch(self, epoch: int) -> None:
        """Freeze or unfreeze for the epoch about to run (``epoch`` finished epochs so far)."""
        frozen = self.frozen_names(epoch)
        for name, param in self.named_parameters():
            param.requires_grad_(name in self.trainable and name not in frozen)
        self._frozen_modules = self._modules_of(frozen)
        self.train(self.training)

    def train(self, mode: bool = True) -> FineTunable:
        """Frozen blocks stay in eval mode: a fixed feature extractor (no dropout, no BN stats)."""
        super().train(mode)
        for module in getattr(self, "_frozen_modules", ()):
            module.eval()
        return self

    def param_groups(self, lr: float) -> list[dict]:
        """torch.optim parameter groups: the head first, then body blocks from the top down."""
        cfg, params = self.cfg, dict(self.named_parameters())
        head_lr = cfg.head_lr or lr
        body_lr = cfg.body_lr or lr
        decay = cfg.layer_decay or 1.0
        groups = [{"params": [params[n] for n in self.head_names], "lr": head_lr, "name": "head"}]
        n = len(self.block_names)
        for i in reversed(range(n)):
            block = [params[name] for name in self.block_names[i]]
            if block:
                groups.append({"params": block, "lr": body_lr * decay ** (n - 1 - i),
                               "name": f"block{i}"})  # fmt: skip
        return groups

    def _modules_of(self, names: set[str]) -> list[nn.Module]:
        """The modules whose parameters are all in ``names`` (they go to eval mode)."""
        if not names:
            return []
        out = []
        for prefix, module in self.named_modules():
            own = [f"{prefix}.{n}" if prefix else n for n, _ in module.named_parameters()]
            if own and all(name in names for name in own):
                out.append(module)
        return out


def last_linear(model: nn.Module) -> tuple[nn.Module, str, nn.Linear]:
    """The last ``nn.Linear`` in module order (the output head), its parent and attribute name."""
    found = None
    for module in model.modules():
        for name, child in module.named_children():
            if isinstance(child, nn.Linear):
                found = (module, name, child)
    if found is None:
        raise ValueError("the model has no nn.Linear output layer to use as a head")
    return found


#: Module types that start a new block; parameterised modules in between (norms) join the
#: block before them, and anything inside a block-starting module belongs to it.
BLOCK_STARTS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.RNNBase, nn.Embedding,
                nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)  # fmt: skip


def structural_blocks(model: nn.Module, skip: set[str]) -> list[list[str]]:
    """Body blocks of a tuneforge model in forward order, leaving out the ``skip`` names."""
    blocks: list[list[str]] = []
    inside: str | None = None  # prefix of the block-starting module we are in
    for prefix, module in model.named_modules():
        if inside is not None and prefix.startswith(inside + "."):
            continue
        if isinstance(module, BLOCK_STARTS):
            inside = prefix
            names = [f"{prefix}.{n}" for n, _ in module.named_parameters()]
            blocks.append([n for n in names if n not in skip])
            continue
        names = [f"{prefix}.{n}" if prefix else n for n, _ in module.named_parameters(recurse=False)]
        if names:
            if not blocks:
                blocks.append([])
            blocks[-1] += [n for n in names if n not in skip]
    return [block for block in blocks if block]
