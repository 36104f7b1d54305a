"""The recipe schema: every key a config file may hold, its type, range and default.

Models are pydantic v2 with ``extra="forbid"`` so a misspelt key is an error, not a silent
default. Sections that change shape with a name (``model.kind``, ``train.optimizer.name``,
``train.schedule.name``) are discriminated unions, so each variant only accepts its own keys.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

from tuneforge.config.arch_schema import (
    INPUT_SHAPE,
    Activation,
    CNNModel,
    CustomModel,
    Init,
    RNNModel,
    TransformerModel,
)
from tuneforge.config.names import FolderName
from tuneforge.config.pretrained import PretrainedModel, link_data
from tuneforge.config.transforms import AugmentConfig, PrepConfig
from tuneforge.config.tune_schema import TuneConfig

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --------------------------------------------------------------------------------------- data
class SplitConfig(Strict):
    val: Fraction = 0.2
    test: Fraction = 0.2
    seed: int = 0

    @model_validator(mode="after")
    def _leaves_training_rows(self) -> SplitConfig:
        if self.val + self.test >= 0.9:
            raise ValueError("val + test must leave at least 10% of the rows for training")
        return self


class DataConfig(Strict):
    source: str = "digits"
    target: str | None = None
    task: Literal["classification", "regression"] | None = None
    features: list[str] | None = None
    categorical: list[str] | None = None
    numeric: list[str] | None = Field(default=None, description=(
        "Columns read as numbers: a value that is not a number (stray text) becomes missing, "
        "filled by data.impute or refused without it. Without it, a column holding any text "
        "is one-hot encoded as categories (with a warning when most of it is numbers)."))
    split: SplitConfig = SplitConfig()
    folds: Annotated[int, Field(ge=2)] = 5
    standardize: bool = True
    standardize_target: bool = True
    impute: Literal["mean", "median", "most_frequent"] | None = None
    prep: PrepConfig = PrepConfig()  # polynomial -> select -> pca, fitted on training rows
    #: table: feature rows; image: [C, H, W] per row; sequence: [T, F] (or [T] token ids) per row.
    #: None: from model.kind (cnn -> image, rnn/transformer -> sequence, else table).
    shape: Literal["table", "image", "sequence"] | None = None
    image_size: tuple[PositiveInt, PositiveInt] = (32, 32)  # [H, W] images of a folder are resized to
    text: str | None = None  # a text column, tokenized for a pretrained Hugging Face model
    max_length: PositiveInt = 128  # tokens kept per text (longer texts are truncated)
    # Filled from model.* for kind pretrained (config/pretrained.py), not written by hand:
    tokenizer: str | None = None  # the Hugging Face tokenizer folder or name for data.text
    encoder_from: str | None = None  # a run directory whose fitted encoder.skops is reused


# -------------------------------------------------------------------------------------- model
class LinearModel(Strict):
    kind: Literal["linear"] = "linear"
    init: Init = "default"


class LogisticModel(Strict):
    kind: Literal["logistic"] = "logistic"
    init: Init = "default"


class MLPModel(Strict):
    kind: Literal["mlp"] = "mlp"
    hidden: Annotated[list[PositiveInt], Field(min_length=1)] = [128, 64]
    activation: Activation = "relu"
    init: Init = "he"
    dropout: Fraction = 0.0
    norm: Literal["batch", "layer"] | None = None


ModelConfig = Annotated[
    LinearModel | LogisticModel | MLPModel | CNNModel | RNNModel | TransformerModel | PretrainedModel
    | CustomModel,
    Field(discriminator="kind"),
]


# ---------------------------------------------------------------------------------- optimizer
class SGDConfig(Strict):
    name: Literal["sgd"] = "sgd"
    lr: PositiveFloat = 0.01
    momentum: Fraction = 0.0
    nesterov: bool = False
    dampening: Fraction = 0.0
    weight_decay: NonNegFloat = 0.0

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> SGDConfig:
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError("nesterov needs momentum > 0 and dampening 0")
        return self


class AdamConfig(Strict):
    name: Literal["adam", "adamw"] = "adam"
    lr: PositiveFloat = 1e-3
    betas: tuple[Fraction, Fraction] = (0.9, 0.999)
    eps: PositiveFloat = 1e-8
    weight_decay: NonNegFloat | None = None  # None: 0 for adam, 0.01 for adamw (torch's defaults)
    amsgrad: bool = False

    @model_validator(mode="after")
    def _torch_default_decay(self) -> AdamConfig:
        if self.weight_decay is None:
            self.weight_decay = 0.01 if self.name == "adamw" else 0.0
        return self


class RMSpropConfig(Strict):
    name: Literal["rmsprop"] = "rmsprop"
    lr: PositiveFloat = 1e-2
    alpha: Fraction = 0.99
    eps: PositiveFloat = 1e-8
    momentum: Fraction = 0.0
    centered: bool = False
    weight_decay: NonNegFloat = 0.0


class AdagradConfig(Strict):
    name: Literal["adagrad"] = "adagrad"
    lr: PositiveFloat = 1e-2
    lr_decay: NonNegFloat = 0.0
    eps: PositiveFloat = 1e-10
    initial_accumulator_value: NonNegFloat = 0.0
    weight_decay: NonNegFloat = 0.0


OptimizerConfig = Annotated[
    SGDConfig | AdamConfig | RMSpropConfig | AdagradConfig, Field(discriminator="name")
]


# ----------------------------------------------------------------------------------- schedule
class _Schedule(Strict):
    warmup_steps: Annotated[int, Field(ge=0)] = 0
    interval: Literal["step", "epoch"] = "step"


class ConstantSchedule(_Schedule):
    name: Literal["constant"] = "constant"


class InverseTimeSchedule(_Schedule):
    name: Literal["inverse_time"] = "inverse_time"
    decay: NonNegFloat = 0.01


class ExponentialSchedule(_Schedule):
    name: Literal["exponential"] = "exponential"
    gamma: Annotated[float, Field(gt=0, le=1)] = 0.999


class StepSchedule(_Schedule):
    name: Literal["step"] = "step"
    step_size: PositiveInt = 1000
    gamma: Annotated[float, Field(gt=0, le=1)] = 0.1


class CosineSchedule(_Schedule):
    name: Literal["cosine"] = "cosine"
    min_factor: Fraction = 0.0
    period: PositiveInt | None = None  # None: the whole run after warmup


class PlateauSchedule(_Schedule):
    name: Literal["plateau"] = "plateau"
    monitor: str = "val/loss"
    mode: Literal["min", "max"] | None = None
    factor: Annotated[float, Field(gt=0, lt=1)] = 0.1
    patience: Annotated[int, Field(ge=0)] = 5
    threshold: NonNegFloat = 1e-4
    min_factor: NonNegFloat = 0.0
    interval: Literal["epoch"] = "epoch"


class OneCycleSchedule(_Schedule):
    name: Literal["onecycle"] = "onecycle"
    pct_start: Annotated[float, Field(gt=0, lt=1)] = 0.3
    div_factor: Annotated[float, Field(gt=1)] = 25.0
    final_div_factor: Annotated[float, Field(gt=1)] = 1e4


ScheduleConfig = Annotated[
    ConstantSchedule | InverseTimeSchedule | ExponentialSchedule | StepSchedule | CosineSchedule | PlateauSchedule | OneCycleSchedule,
    Field(discriminator="name"),
]


# ------------------------------------------------------------------------------------- train
class RegularizationConfig(Strict):
    l1: NonNegFloat = 0.0
    l2: NonNegFloat = 0.0
    l1_mode: Literal["penalty", "proximal"] = "penalty"
    include_bias: bool = False


class EarlyStoppingConfig(Strict):
    monitor: str = "val/loss"
    mode: Literal["min", "max"] | None = None  # None: min for losses/errors, max for scores
    patience: Annotated[int, Field(ge=0)] = 10
    min_delta: NonNegFloat = 0.0
    restore_best: bool = True


class DiagnosticsConfig(Strict):
    """Gradient health checks during training (rules in docs/diagnostics.md)."""

    grad_every: Annotated[int, Field(ge=0)] = 50  # optimizer steps between checks; 0 turns them off
    vanishing: Annotated[float, Field(gt=0, lt=1)] = 1e-3  # early layer norm / largest layer norm
    vanishing_checks: PositiveInt = 3  # ... below `vanishing` for this many checks in a row
    exploding: Annotated[float, Field(gt=1)] = 100.0  # total norm / median of the earlier checks


def _positive_int_or(value: Any, word: str) -> Any:
    """One error for a key that takes a positive integer or one word (a union would give two)."""
    if value == word or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return value
    raise ValueError(f"expected a positive integer or {word!r}")


BUILTIN_LOSSES = ("mse", "mae", "huber", "cross_entropy", "bce")


class TrainConfig(Strict):
    loss: str | None = Field(default=None, description="mse, mae, huber, cross_entropy, bce, or "
                             "a per-sample loss 'module:function' (docs/custom.md); None: "
                             "cross_entropy for classification, mse for regression.")
    metrics: list[str] = Field(default_factory=list, description="Extra scores reported on "
                               "val and test (and usable as tune.objective): scikit-learn "
                               "scorer names (balanced_accuracy, matthews_corrcoef, ...) or "
                               "'module:function' (docs/custom.md).")
    huber_delta: PositiveFloat = 1.0
    label_smoothing: Fraction = 0.0
    optimizer: OptimizerConfig = AdamConfig()
    batch_size: PositiveInt | Literal["full"] = 64
    epochs: PositiveInt | Literal["auto"] = Field(
        "auto", description="passes over the training rows; `auto`: enough for `min_steps` "
        "optimizer steps, at least 20 and at most 200 (see Training budget)")
    min_steps: PositiveInt = Field(
        300, description="optimizer steps that `epochs: auto` trains for (within 20 to 200 epochs)")
    regularization: RegularizationConfig = RegularizationConfig()
    schedule: ScheduleConfig = ConstantSchedule()
    clip_grad_norm: PositiveFloat | None = None
    clip_grad_value: PositiveFloat | None = None
    accumulate: PositiveInt = 1
    precision: Literal["fp32", "bf16"] = "fp32"  # bf16: forward under torch.autocast; weights stay fp32
    early_stopping: EarlyStoppingConfig | None = None
    augment: AugmentConfig | None = None  # random changes to training batches (docs/data.md)
    seed: int = 0
    deterministic: bool = False
    device: str = "auto"
    checkpoint_every: Annotated[int, Field(ge=0)] = 1  # epochs; 0 turns checkpoints off
    diagnostics: DiagnosticsConfig = DiagnosticsConfig()

    @field_validator("epochs", mode="before")
    @classmethod
    def _epochs(cls, value: Any) -> Any:
        return _positive_int_or(value, "auto")

    @field_validator("loss")
    @classmethod
    def _loss_name(cls, value: str | None) -> str | None:
        from tuneforge.usercode import is_spec

        if value is None or value in BUILTIN_LOSSES or is_spec(value):
            return value
        raise ValueError(f"unknown loss {value!r}; expected one of {list(BUILTIN_LOSSES)} or a "
                         "per-sample loss 'module:function'")  # fmt: skip

    @field_validator("batch_size", mode="before")
    @classmethod
    def _batch_size(cls, value: Any) -> Any:
        return _positive_int_or(value, "full")

    @field_validator("optimizer", mode="before")
    @classmethod
    def _default_optimizer_name(cls, value: Any) -> Any:
        # `optimizer: {lr: 0.01}` keeps the default family instead of failing the discriminator.
        if isinstance(value, dict) and "name" not in value:
            return {"name": "adam", **value}
        return value

    @field_validator("schedule", mode="before")
    @classmethod
    def _default_schedule_name(cls, value: Any) -> Any:
        if isinstance(value, dict) and "name" not in value:
            return {"name": "constant", **value}
        if isinstance(value, str):
            return {"name": value}
        return value


# ----------------------------------------------------------------------------------- logging
class LoggingConfig(Strict):
    """Where a run reports to, besides its run directory. None of it changes the results."""

    report: bool = True  # write report.html + plots/ into the run directory at the end
    tensorboard: bool = False  # event files under <run dir>/tensorboard (needs `tensorboard`)
    mlflow: bool = False  # one MLflow run per training run (needs `mlflow` or `mlflow-skinny`)
    mlflow_tracking_uri: str | None = None  # None: MLflow's own default / MLFLOW_TRACKING_URI
    mlflow_experiment: str | None = None


class Config(Strict):
    """A whole recipe. ``Config()`` is the built-in default: an MLP on ``digits``."""

    name: FolderName | None = Field(default=None, description=(
        "The run's name: its folder is runs/<name> (one folder name: no '/', '\\' or '..')."))
    data: DataConfig = DataConfig()
    model: ModelConfig = MLPModel()
    train: TrainConfig = TrainConfig()
    logging: LoggingConfig = LoggingConfig()
    # Read by `tuneforge tune` only (tune_schema.py); a recipe without one dumps without `tune:`.
    tune: TuneConfig | None = Field(default=None, exclude_if=lambda tune: tune is None)

    def __init__(self, **sections: Any) -> None:
        """``Config(data={...}, ...)`` in code fails like a config file: one ConfigError line."""
        from pydantic import ValidationError

        from tuneforge.config.loading import format_validation_error  # loading imports schema
        from tuneforge.errors import ConfigError

        try:
            super().__init__(**sections)
        except ValidationError as exc:
            # pydantic runs a custom __init__ inside model_validate too: keep the detail so
            # loading.validate can name the file instead of "config".
            error = ConfigError(f"config: {format_validation_error(exc)}")
            error.detail = format_validation_error(exc)
            error.validation_error = exc  # the structured errors, for callers that sort them
            raise error from None

    @field_validator("model", mode="before")
    @classmethod
    def _default_model_kind(cls, value: Any) -> Any:
        if isinstance(value, dict) and "kind" not in value:  # factory/args: the user's model
            custom = "factory" in value or "args" in value
            return {"kind": "custom" if custom else "mlp", **value}
        return value

    @model_validator(mode="before")
    @classmethod
    def _default_data_shape(cls, raw: Any) -> Any:
        """``data.shape`` left out: the input the model kind takes (cnn -> image, ...)."""
        if not isinstance(raw, dict):
            return raw
        model, data = raw.get("model"), raw.get("data", {})
        kind = model.get("kind") if isinstance(model, dict) else getattr(model, "kind", None)
        if kind not in INPUT_SHAPE:
            return raw
        if isinstance(data, dict) and data.get("shape") is None:
            return {**raw, "data": {**data, "shape": INPUT_SHAPE[kind]}}
        if isinstance(data, DataConfig) and data.shape is None:
            return {**raw, "data": data.model_copy(update={"shape": INPUT_SHAPE[kind]})}
        return raw

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        loss, kind, task = self.train.loss, self.model.kind, self.data.task
        if kind == "logistic" and task == "regression":
            raise ValueError("model.kind: logistic needs a classification task, not regression")
        if loss in ("cross_entropy", "bce") and task == "regression":
            raise ValueError(f"train.loss: {loss} needs a classification task, not regression")
        if loss in ("mse", "mae", "huber") and (task == "classification" or kind == "logistic"):
            raise ValueError(f"train.loss: {loss} is a regression loss; use cross_entropy or bce")
        wanted, shape = INPUT_SHAPE.get(kind, "table"), self.data.shape or "table"
        if kind in INPUT_SHAPE and shape != wanted:
            raise ValueError(f"model.kind: {kind} needs {wanted} data, but data.shape is {shape}")
        if shape != "table" and kind in ("linear", "logistic", "mlp"):
            raise ValueError(f"model.kind: {kind} takes table rows, but data.shape is {shape}; "
                             "use cnn (image) or rnn/transformer (sequence)")  # fmt: skip
        if kind == "pretrained":
            link_data(self.model, self.data)
        return self
