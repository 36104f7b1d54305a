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

    kind: Literal["cnn"] = "cnn"
    channels: Annotated[list[PositiveInt], Field(min_length=1)] = [32, 64]  # one per conv block
    kernel_size: PositiveInt = 3  # odd, padded to keep the size ("same")
    pool: Literal["max", "avg"] | None = "max"  # 2x2 after each block while the image is >= 2 px
    batch_norm: bool = True
    activation: Activation = "relu"
    init: Init = "he"
    dropout: Fraction = 0.0  # before the head's layers
    # Width of the head's hidden layer; 0: none. Not `hidden` (mlp's list of widths): a key
    # means one kind of value across kinds, so tune.space can tell how to sample it.
    head: Annotated[int, Field(ge=0)] = 128

    @field_validator("kernel_size")
    @classmethod
    def _odd_kernel(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError("expected an odd size, so 'same' padding is symmetric")
        return value


class _SequenceModel(_Strict):
    #: Token sequences: integer ids in [0, vocab_size) are embedded; None: float features.
    vocab_size: PositiveInt | None = None


class RNNModel(_SequenceModel):
    """A recurrent encoder; the head reads the last valid step's state (both directions)."""

    kind: Literal["rnn"] = "rnn"
    cell: Literal["lstm", "gru"] = "lstm"
    hidden_size: PositiveInt = 64
    layers: PositiveInt = 1
    bidirectional: bool = False
    dropout: Fraction = 0.0  # between stacked layers and before the head
    embed_dim: PositiveInt = 32  # token embedding width (with vocab_size)


class TransformerModel(_SequenceModel):
    """A small pre-norm transformer encoder with a padding mask, pooled into a linear head."""

    kind: Literal["transformer"] = "transformer"
    d_model: PositiveInt = 64
    heads: PositiveInt = 4
    layers: PositiveInt = 2
    ff: PositiveInt = 128  # width of each block's feed-forward layer
    dropout: Fraction = 0.1
    activation: Literal["relu", "gelu"] = "gelu"
    positional: Literal["sinusoidal", "learned"] = "sinusoidal"
    pooling: Literal["mean", "cls", "last"] = "mean"
    max_length: PositiveInt | None = None  # longest sequence; None: the training data's length

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

    kind: Literal["custom"] = "custom"
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
