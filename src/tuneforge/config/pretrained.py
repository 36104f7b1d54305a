"""Schema of ``model.kind: pretrained``: what to load, what to freeze, which rates to use.

Kept apart from ``schema.py`` (like ``transforms.py``); ``schema`` adds :class:`PretrainedModel`
to the ``model`` union and calls :func:`link_data` so the data section knows what the model
needs (a tokenizer for text, the source run's fitted encoder for tables). Nothing here touches
the file system: a missing source is reported when the model is built, with its key.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LoraConfig(_Strict):
    """Low-rank adapters (``peft``) on a Hugging Face body; the base weights stay frozen."""

    r: PositiveInt = 8
    alpha: Annotated[float, Field(gt=0)] = 16.0
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.0
    target_modules: list[str] | None = None  # None: peft's default for the architecture


class PretrainedModel(_Strict):
    """A saved tuneforge run (``source: runs/xyz``) or a local Hugging Face model (``hf``)."""

    kind: Literal["pretrained"] = "pretrained"
    source: str | None = None  # a tuneforge run directory, or a local Hugging Face model folder
    hf: str | None = None  # a Hugging Face model folder or a name already in the local cache
    new_head: bool | Literal["auto"] = "auto"  # auto: a fresh head when the output count differs
    freeze: Literal["all", "none"] | Annotated[int, Field(ge=0)] = "none"  # int: first N blocks
    unfreeze_epoch: PositiveInt | None = None  # frozen blocks train from after this many epochs
    body_lr: Annotated[float, Field(gt=0)] | None = None  # None: train.optimizer.lr
    head_lr: Annotated[float, Field(gt=0)] | None = None  # None: train.optimizer.lr
    layer_decay: Annotated[float, Field(gt=0, le=1)] | None = None  # each block down: lr × this
    encoder: Literal["auto", "refit"] = "auto"  # auto: reuse the source run's when columns match
    pooling: Literal["mean", "cls"] = "mean"  # Hugging Face bodies: token states -> one vector
    lora: LoraConfig | None = None
    gradient_checkpointing: bool = False  # Hugging Face bodies: recompute activations

    @model_validator(mode="after")
    def _one_source(self) -> PretrainedModel:
        if (self.source is None) == (self.hf is None):
            raise ValueError("model.kind pretrained needs exactly one of model.source "
                             "(a tuneforge run or Hugging Face folder) or model.hf")  # fmt: skip
        if self.unfreeze_epoch is not None and self.freeze in ("none", 0):
            raise ValueError("model.unfreeze_epoch needs model.freeze: all or a block count")
        if self.lora is not None and (self.freeze != "none" or self.unfreeze_epoch is not None):
            raise ValueError("model.lora freezes the base weights itself; leave model.freeze "
                             "at none and model.unfreeze_epoch unset")  # fmt: skip
        return self

    @property
    def location(self) -> str:
        """Where the weights come from, and the key that said so (for error messages)."""
        return self.source if self.source is not None else self.hf  # type: ignore[return-value]

    @property
    def key(self) -> str:
        return "model.source" if self.source is not None else "model.hf"


def link_data(model: PretrainedModel, data) -> None:
    """Fill the data keys the pretrained model decides (``data.tokenizer``, ``data.encoder_from``).

    Text data (``data.text``) goes through the model's own tokenizer; tabular data reuses the
    source run's fitted encoder unless ``model.encoder: refit``. Both are derived every time
    the config is validated, so a changed ``model.source`` never leaves a stale path behind.
    """
    if data.text is not None:
        tokenizer, encoder_from = model.location, None
    else:
        if model.hf is not None:
            raise ValueError("model.hf fine-tunes a Hugging Face model on text: set data.text "
                             "to the text column")  # fmt: skip
        tokenizer = None
        encoder_from = model.source if model.encoder == "auto" else None
    if data.tokenizer != tokenizer:
        data.tokenizer = tokenizer
    if data.encoder_from != encoder_from:
        data.encoder_from = encoder_from
