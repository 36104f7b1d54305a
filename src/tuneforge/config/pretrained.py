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

    r: PositiveInt = Field(8, description="rank of the adapters")
    alpha: Annotated[float, Field(gt=0)] = Field(
        16.0,
        description="scaling of the adapters (alpha / r)",
    )
    dropout: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.0,
        description="dropout on the adapters' input",
    )
    target_modules: list[str] | None = Field(
        None,
        description="module names to adapt; null: peft's default for the architecture",
    )


class PretrainedModel(_Strict):
    """A saved tuneforge run (``source: runs/xyz``) or a local Hugging Face model (``hf``)."""

    kind: Literal["pretrained"] = Field(
        "pretrained",
        description="a saved tuneforge run or a local Hugging Face model (docs/pretrained.md)",
    )
    source: str | None = Field(
        None,
        description="a tuneforge run directory, or a local Hugging Face model folder",
    )
    hf: str | None = Field(
        None,
        description="a Hugging Face model folder or a name already in the local cache",
    )
    new_head: bool | Literal["auto"] = Field(
        "auto",
        description="a fresh output layer; auto: when the output count differs",
    )
    freeze: Literal["all", "none"] | Annotated[int, Field(ge=0)] = Field(
        "none",
        description="all, none, or the number of first blocks whose weights stay fixed",
    )
    unfreeze_epoch: PositiveInt | None = Field(
        None,
        description="frozen blocks train from after this many epochs; null: never",
    )
    body_lr: Annotated[float, Field(gt=0)] | None = Field(
        None,
        description="learning rate of the body; null: train.optimizer.lr",
    )
    head_lr: Annotated[float, Field(gt=0)] | None = Field(
        None,
        description="learning rate of the head; null: train.optimizer.lr",
    )
    layer_decay: Annotated[float, Field(gt=0, le=1)] | None = Field(
        None,
        description="each block down from the head trains at lr times this; null: one rate",
    )
    encoder: Literal["auto", "refit"] = Field(
        "auto",
        description="auto: reuse the source run's fitted encoder when the columns match; refit: fit a new one",
    )
    pooling: Literal["mean", "cls"] = Field(
        "mean",
        description="Hugging Face bodies: token states -> one vector",
    )
    lora: LoraConfig | None = Field(
        None,
        description="low-rank adapters (peft) on a Hugging Face body; the base weights stay frozen",
    )
    gradient_checkpointing: bool = Field(
        False,
        description="Hugging Face bodies: recompute activations in the backward pass to save memory",
    )

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
