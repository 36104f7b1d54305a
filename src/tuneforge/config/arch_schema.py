"""Schema of the image and sequence model kinds: ``cnn``, ``rnn`` and ``transformer``.

Kept apart from ``schema.py`` (which imports these classes into its ``model.kind`` union) so that
file stays a readable list of sections. docs/models.md describes every key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationInfo, field_validator

Activation = Literal["relu", "tanh", "sigmoid", "gelu", "leaky_relu"]
Init = Literal["default", "xavier", "he"]
Fraction = Annotated[float, Field(ge=0, lt=1)]

#: The data shape each of these kinds takes; ``data.shape`` defaults to it (other kinds: table).
INPUT_SHAPE = {"cnn": "image", "rnn": "sequence", "transformer": "sequence"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CNNModel(_Strict):
    """Conv blocks ``conv -> [batch norm] -> activation -> [pool]``, then a dense head."""

    kind: Literal["cnn"] = Field(
        "cnn",
        description="conv blocks conv -> [batch norm] -> activation -> [pool], then a dense head",
    )
    channels: Annotated[list[PositiveInt], Field(min_length=1)] = Field(
        [32, 64],
        description="output channels of each conv block",
    )
    kernel_size: PositiveInt = Field(
        3,
        description="odd kernel size, padded to keep the image size",
    )
    pool: Literal["max", "avg"] | None = Field(
        "max",
        description="2x2 pooling after each block while the image is at least 2 px; null: none",
    )
    batch_norm: bool = Field(True, description="batch normalization after each convolution")
    activation: Activation = Field(
        "relu",
        description="activation after each block and the head's hidden layer",
    )
    init: Init = Field("he", description="weight initialization: default (torch's), xavier or he")
    dropout: Fraction = Field(0.0, description="dropout before the head's layers")
    # Width of the head's hidden layer; 0: none. Not `hidden` (mlp's list of widths): a key
    # means one kind of value across kinds, so tune.space can tell how to sample it.
    head: Annotated[int, Field(ge=0)] = Field(
        128,
        description="width of the head's hidden layer; 0: none",
    )

    @field_validator("kernel_size")
    @classmethod
    def _odd_kernel(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError("expected an odd size, so 'same' padding is symmetric")
        return value


class _SequenceModel(_Strict):
    #: Token sequences: integer ids in [0, vocab_size) are embedded; None: float features.
    vocab_size: PositiveInt | None = Field(
        None,
        description="token sequences: integer ids in [0, vocab_size) are embedded; null: float features",
    )


class RNNModel(_SequenceModel):
    """A recurrent encoder; the head reads the last valid step's state (both directions)."""

    kind: Literal["rnn"] = Field(
        "rnn",
        description="a recurrent encoder; the head reads the last valid step's state",
    )
    cell: Literal["lstm", "gru"] = Field("lstm", description="the recurrent cell")
    hidden_size: PositiveInt = Field(64, description="width of the hidden state")
    layers: PositiveInt = Field(1, description="stacked recurrent layers")
    bidirectional: bool = Field(False, description="read the sequence both ways")
    dropout: Fraction = Field(0.0, description="dropout between stacked layers and before the head")
    embed_dim: PositiveInt = Field(32, description="token embedding width (with vocab_size)")


class TransformerModel(_SequenceModel):
    """A small pre-norm transformer encoder with a padding mask, pooled into a linear head."""

    kind: Literal["transformer"] = Field(
        "transformer",
        description="a small pre-norm transformer encoder with a padding mask, pooled into a linear head",
    )
    d_model: PositiveInt = Field(64, description="width of the token states (divisible by heads)")
    heads: PositiveInt = Field(4, description="attention heads per block")
    layers: PositiveInt = Field(2, description="encoder blocks")
    ff: PositiveInt = Field(128, description="width of each block's feed-forward layer")
    dropout: Fraction = Field(0.1, description="dropout inside the blocks")
    activation: Literal["relu", "gelu"] = Field(
        "gelu",
        description="activation of the feed-forward layers",
    )
    positional: Literal["sinusoidal", "learned"] = Field(
        "sinusoidal",
        description="positional encoding",
    )
    pooling: Literal["mean", "cls", "last"] = Field(
        "mean",
        description="token states -> one vector: mean over valid steps, a cls token, or the last valid step",
    )
    max_length: PositiveInt | None = Field(
        None,
        description="longest sequence; null: the training data's length",
    )

    @field_validator("heads")
    @classmethod
    def _heads_divide_width(cls, value: int, info: ValidationInfo) -> int:
        d_model = info.data.get("d_model")
        if d_model is not None and d_model % value:
            raise ValueError(f"model.d_model {d_model} must be divisible by the number of heads")
        return value


def _user_code(value: str) -> str:
    """A ``module:attribute`` spec, checked for its form (importing waits for the run)."""
    from tuneforge.usercode import is_spec

    if not is_spec(value):
        raise ValueError("expected 'module:attribute' (e.g. nets:ResidualMLP)")
    return value


class CustomModel(_Strict):
    """Any ``nn.Module``: ``factory(n_inputs=..., n_outputs=..., **args)`` (docs/custom.md)."""

    kind: Literal["custom"] = Field("custom", description="the user's own nn.Module, built by "
                                    "model.factory (docs/custom.md)")
    factory: str | None = Field(default=None, description="The model factory as "
                                "'module:attribute' (a class or function), imported from the "
                                "working directory or PYTHONPATH; called with n_inputs=, "
                                "n_outputs= and the args, it returns an nn.Module. None only when "
                                "the Python API is given the model (tuneforge.train(cfg, model=...)).")
    args: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments of the "
                                 "factory; each one is tunable as model.args.<name>.")

    @field_validator("factory")
    @classmethod
    def _factory_spec(cls, value: str | None) -> str | None:
        return value if value is None else _user_code(value)

    @field_validator("args")
    @classmethod
    def _not_reserved(cls, value: dict[str, Any]) -> dict[str, Any]:
        taken = sorted({"n_inputs", "n_outputs"} & set(value))
        if taken:
            raise ValueError(f"{', '.join(taken)} are given by tuneforge from the data, not args")
        return value
