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
    RNNModel,
    TransformerModel,
)
from tuneforge.config.distributed_schema import DistributedConfig
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
    val: Fraction = Field(0.2, description="fraction of all rows held out for validation (0: none)")
    test: Fraction = Field(
        0.2,
        description="fraction of all rows held out for the final test score; val + test leave at least 10% for training",
    )
    seed: int = Field(
        0,
        description="seed of the split (apart from train.seed); classification splits are stratified",
    )

    @model_validator(mode="after")
    def _leaves_training_rows(self) -> SplitConfig:
        if self.val + self.test >= 0.9:
            raise ValueError("val + test must leave at least 10% of the rows for training")
        return self


class DataConfig(Strict):
    source: str = Field(
        "digits",
        description="a built-in set (linear, digits, breast_cancer, wine, iris, diabetes, sine; nothing is downloaded), a .csv/.parquet/.npz file, or a folder of class sub-folders of images",
    )
    target: str | list[str] | None = Field(
        None,
        description="the target column of a file (built-ins know theirs); a list of columns: several regression targets at once (an n-output model, metrics per target as val/r2/<column> beside their average, one prediction column per target)",
    )
    task: Literal["classification", "regression"] | None = Field(
        None,
        description="classification or regression; null: inferred (text, boolean, categorical and integer targets with at most 20 values are classes)",
    )
    features: list[str] | None = Field(
        None,
        description="feature columns to keep; null: every other column",
    )
    categorical: list[str] | None = Field(
        None,
        description="columns to one-hot encode; null: the non-numeric and boolean columns",
    )
    numeric: list[str] | None = Field(
        None,
        description="columns read as numbers: a value that is not a number (stray text) becomes missing, filled by data.impute or refused without it; null: a column holding any text is one-hot encoded as categories (with a warning when most of it is numbers)",
    )
    split: SplitConfig = Field(
        SplitConfig(),
        description="the validation and test fractions and the split's seed",
    )
    folds: Annotated[int, Field(ge=2)] = Field(
        5,
        description="folds of `tuneforge cv` (k-fold over the non-test rows)",
    )
    standardize: bool = Field(
        True,
        description="scale numeric features to zero mean and unit variance (training rows' statistics)",
    )
    standardize_target: bool = Field(
        True,
        description="regression: train on (y - mean) / std of the training rows; scores and predictions stay in the target's units",
    )
    impute: Literal["mean", "median", "most_frequent"] | None = Field(
        None,
        description="fill missing feature values (fitted on training rows); null: missing values are an error naming the columns",
    )
    prep: PrepConfig = Field(
        PrepConfig(),
        description="fitted feature steps after the encoding: polynomial -> select -> pca",
    )
    #: table: feature rows; image: [C, H, W] per row; sequence: [T, F] (or [T] token ids) per row.
    #: None: from model.kind (cnn -> image, rnn/transformer -> sequence, else table).
    shape: Literal["table", "image", "sequence"] | None = Field(
        None,
        description="table rows, [C, H, W] images or [T, F] / [T] sequences; null: from model.kind",
    )
    image_size: tuple[PositiveInt, PositiveInt] = Field(
        (32, 32),
        description="[H, W] the images of a folder are resized to",
    )
    text: str | None = Field(
        None,
        description="a text column, tokenized for a pretrained Hugging Face model",
    )
    max_length: PositiveInt = Field(
        128,
        description="tokens kept per text (longer texts are truncated)",
    )
    # Filled from model.* for kind pretrained (config/pretrained.py), not written by hand:
    tokenizer: str | None = Field(
        None,
        description="filled in from model.* for kind pretrained; not written by hand",
    )
    encoder_from: str | None = Field(
        None,
        description="filled in from model.source for kind pretrained: the run whose fitted encoder is reused",
    )

    @field_validator("target")
    @classmethod
    def _distinct_targets(cls, target: str | list[str] | None) -> str | list[str] | None:
        if not isinstance(target, list):
            return target
        if not target:
            raise ValueError("an empty list names no target column")
        repeated = sorted({name for name in target if target.count(name) > 1})
        if repeated:
            raise ValueError(f"columns {repeated} are listed twice")
        return target[0] if len(target) == 1 else target

    @model_validator(mode="after")
    def _several_targets_regress(self) -> DataConfig:
        if isinstance(self.target, list) and self.task == "classification":
            raise ValueError("data.target lists several columns, which needs data.task: "
                             "regression (one classification target at a time)")  # fmt: skip
        return self


# -------------------------------------------------------------------------------------- model
#: Initializations of linear, logistic and MLP models: the architectures' (``Init``) and two
#: closed-form starts, zeros and N(0, init_std²) (models/init.py).
LinearInit = Literal["default", "xavier", "he", "zeros", "normal"]
_INIT_HELP = ("weight initialization: default (torch's), xavier, he, zeros or normal "
              "(N(0, init_std²)); every scheme but default starts the biases at zero")


class _AffineModel(Strict):
    """Keys of the one-layer models (linear and logistic)."""

    init: LinearInit = Field("default", description=_INIT_HELP)
    init_std: PositiveFloat = Field(
        1.0,
        description="standard deviation of init: normal (torch.nn.init.normal_'s default 1.0); other schemes ignore it",
    )
    bias: bool = Field(
        True,
        description="an intercept term; false: the map is x·W with no bias (a line through the origin)",
    )


class LinearModel(_AffineModel):
    kind: Literal["linear"] = Field("linear", description="one affine map (regression)")


class LogisticModel(_AffineModel):
    kind: Literal["logistic"] = Field(
        "logistic",
        description="one affine map read as (multinomial) logistic regression; classification only",
    )


class MLPModel(Strict):
    kind: Literal["mlp"] = Field(
        "mlp",
        description="a multilayer perceptron: Linear -> [norm] -> activation -> [dropout] per hidden width, then a linear head",
    )
    hidden: Annotated[list[PositiveInt], Field(min_length=1)] = Field(
        [128, 64],
        description="widths of the hidden layers",
    )
    activation: Activation = Field("relu", description="activation after each hidden layer")
    init: LinearInit = Field("he", description=_INIT_HELP)
    init_std: PositiveFloat = Field(
        1.0,
        description="standard deviation of init: normal (torch.nn.init.normal_'s default 1.0); other schemes ignore it",
    )
    bias: bool = Field(
        True,
        description="a bias on the output layer; false: the head is x·W with no bias (hidden layers keep theirs)",
    )
    dropout: Fraction = Field(0.0, description="dropout probability after each hidden activation")
    norm: Literal["batch", "layer"] | None = Field(
        None,
        description="batch or layer normalization after each hidden linear layer; null: none",
    )


ModelConfig = Annotated[
    LinearModel | LogisticModel | MLPModel | CNNModel | RNNModel | TransformerModel | PretrainedModel
    | CustomModel,
    Field(discriminator="kind"),
]


# ---------------------------------------------------------------------------------- optimizer
class SGDConfig(Strict):
    name: Literal["sgd"] = Field("sgd", description="torch.optim.SGD")
    lr: PositiveFloat = Field(0.01, description="learning rate")
    momentum: Fraction = Field(0.0, description="momentum factor")
    nesterov: bool = Field(
        False,
        description="Nesterov momentum (needs momentum > 0 and dampening 0)",
    )
    dampening: Fraction = Field(0.0, description="dampening of the momentum")
    weight_decay: NonNegFloat = Field(0.0, description="L2 penalty added to the gradient")

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> SGDConfig:
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError("nesterov needs momentum > 0 and dampening 0")
        return self


class AdamConfig(Strict):
    name: Literal["adam", "adamw"] = Field(
        "adam",
        description="torch.optim.Adam, or AdamW (decoupled weight decay)",
    )
    lr: PositiveFloat = Field(1e-3, description="learning rate")
    betas: tuple[Fraction, Fraction] = Field(
        (0.9, 0.999),
        description="decay rates of the gradient's running mean and of its square",
    )
    eps: PositiveFloat = Field(1e-8, description="added to the denominator")
    weight_decay: NonNegFloat | None = Field(
        None,
        description="null: 0 for adam, 0.01 for adamw (torch's defaults)",
    )
    amsgrad: bool = Field(False, description="the AMSGrad variant")

    @model_validator(mode="after")
    def _torch_default_decay(self) -> AdamConfig:
        if self.weight_decay is None:
            self.weight_decay = 0.01 if self.name == "adamw" else 0.0
        return self


class RMSpropConfig(Strict):
    name: Literal["rmsprop"] = Field("rmsprop", description="torch.optim.RMSprop")
    lr: PositiveFloat = Field(1e-2, description="learning rate")
    alpha: Fraction = Field(0.99, description="decay rate of the squared-gradient average")
    eps: PositiveFloat = Field(1e-8, description="added to the denominator")
    momentum: Fraction = Field(0.0, description="momentum factor")
    centered: bool = Field(False, description="normalize by the gradient's estimated variance")
    weight_decay: NonNegFloat = Field(0.0, description="L2 penalty added to the gradient")


class AdagradConfig(Strict):
    name: Literal["adagrad"] = Field("adagrad", description="torch.optim.Adagrad")
    lr: PositiveFloat = Field(1e-2, description="learning rate")
    lr_decay: NonNegFloat = Field(0.0, description="learning-rate decay per step")
    eps: PositiveFloat = Field(1e-10, description="added to the denominator")
    initial_accumulator_value: NonNegFloat = Field(
        0.0,
        description="starting value of the squared-gradient sums",
    )
    weight_decay: NonNegFloat = Field(0.0, description="L2 penalty added to the gradient")


OptimizerConfig = Annotated[
    SGDConfig | AdamConfig | RMSpropConfig | AdagradConfig, Field(discriminator="name")
]


# ----------------------------------------------------------------------------------- schedule
class _Schedule(Strict):
    warmup_steps: Annotated[int, Field(ge=0)] = Field(
        0,
        description="steps of linear warm-up from 0 before the schedule",
    )
    interval: Literal["step", "epoch"] = Field(
        "step",
        description="step: the factor changes every optimizer step; epoch: once per epoch",
    )


class ConstantSchedule(_Schedule):
    name: Literal["constant"] = Field("constant", description="the base learning rate throughout")


class InverseTimeSchedule(_Schedule):
    name: Literal["inverse_time"] = Field("inverse_time", description="lr / (1 + decay * t)")
    decay: NonNegFloat = Field(0.01, description="decay per step (or epoch)")


class ExponentialSchedule(_Schedule):
    name: Literal["exponential"] = Field("exponential", description="lr * gamma^t")
    gamma: Annotated[float, Field(gt=0, le=1)] = Field(
        0.999,
        description="factor per step (or epoch)",
    )


class ExponentialGrowthSchedule(_Schedule):
    name: Literal["exponential_growth"] = Field(
        "exponential_growth",
        description="min(lr * gamma^t, max_lr): a growing rate (gamma > 1) with a cap",
    )
    gamma: Annotated[float, Field(gt=1)] = Field(
        1.01,
        description="growth factor per step (or epoch), above 1",
    )
    max_lr: PositiveFloat = Field(
        description="the cap: the (base) learning rate never exceeds it; required, so the growth cannot run away",
    )


class StepSchedule(_Schedule):
    name: Literal["step"] = Field("step", description="lr * gamma^floor(t / step_size)")
    step_size: PositiveInt = Field(1000, description="steps (or epochs) between drops")
    gamma: Annotated[float, Field(gt=0, le=1)] = Field(0.1, description="factor of each drop")


class CosineSchedule(_Schedule):
    name: Literal["cosine"] = Field(
        "cosine",
        description="cosine annealing from lr to lr * min_factor",
    )
    min_factor: Fraction = Field(0.0, description="the final factor")
    period: PositiveInt | None = Field(
        None,
        description="steps (or epochs) of one cosine; null: the whole run after warm-up",
    )


class PlateauSchedule(_Schedule):
    name: Literal["plateau"] = Field(
        "plateau",
        description="lr * factor whenever the monitored metric stops improving (torch's ReduceLROnPlateau)",
    )
    monitor: str = Field("val/loss", description="the metric watched, e.g. val/loss")
    mode: Literal["min", "max"] | None = Field(
        None,
        description="min or max; null: min for losses and errors, max for scores",
    )
    factor: Annotated[float, Field(gt=0, lt=1)] = Field(0.1, description="factor of each reduction")
    patience: Annotated[int, Field(ge=0)] = Field(
        5,
        description="epochs without improvement before a reduction",
    )
    threshold: NonNegFloat = Field(1e-4, description="relative improvement that counts")
    min_factor: NonNegFloat = Field(0.0, description="the factor never goes below this")
    interval: Literal["epoch"] = Field(
        "epoch",
        description="plateau schedules update once per epoch",
    )


class OneCycleSchedule(_Schedule):
    name: Literal["onecycle"] = Field(
        "onecycle",
        description="torch's OneCycleLR: up to lr, then down far below it",
    )
    pct_start: Annotated[float, Field(gt=0, lt=1)] = Field(
        0.3,
        description="fraction of the steps spent rising",
    )
    div_factor: Annotated[float, Field(gt=1)] = Field(
        25.0,
        description="the start is lr / div_factor",
    )
    final_div_factor: Annotated[float, Field(gt=1)] = Field(
        1e4,
        description="the end is the start / final_div_factor",
    )


ScheduleConfig = Annotated[
    ConstantSchedule | InverseTimeSchedule | ExponentialSchedule | ExponentialGrowthSchedule
    | StepSchedule | CosineSchedule | PlateauSchedule | OneCycleSchedule,
    Field(discriminator="name"),
]


# ------------------------------------------------------------------------------------- train
class RegularizationConfig(Strict):
    l1: NonNegFloat = Field(0.0, description="lambda_1 of the L1 penalty")
    l2: NonNegFloat = Field(0.0, description="lambda_2 of the L2 penalty")
    l1_mode: Literal["penalty", "proximal"] = Field(
        "penalty",
        description="penalty (in the loss) or proximal (soft-threshold after each step: exact zeros)",
    )
    include_bias: bool = Field(
        False,
        description="also penalize biases and normalization parameters",
    )


class EarlyStoppingConfig(Strict):
    monitor: str = Field("val/loss", description="the metric watched, e.g. val/loss")
    mode: Literal["min", "max"] | None = Field(
        None,
        description="min or max; null: min for losses and errors, max for scores",
    )
    patience: Annotated[int, Field(ge=0)] = Field(
        10,
        description="epochs without improvement before stopping",
    )
    min_delta: NonNegFloat = Field(0.0, description="smallest change that counts as an improvement")
    restore_best: bool = Field(True, description="keep the best epoch's weights, not the last")


class StopAtConfig(Strict):
    """Stop once a per-epoch metric crosses a threshold (the guide's "until the loss < ε")."""

    metric: str = Field(
        "train/loss",
        description="the metric watched after each epoch: train/loss or val/<a per-epoch metric>",
    )
    below: float | None = Field(
        None,
        description="stop after the first epoch whose value is below this; give below or above",
    )
    above: float | None = Field(
        None,
        description="stop after the first epoch whose value is above this; give below or above",
    )

    @model_validator(mode="after")
    def _one_threshold(self) -> StopAtConfig:
        if (self.below is None) == (self.above is None):
            raise ValueError("give exactly one of below or above (the threshold and its side)")
        return self


class DiagnosticsConfig(Strict):
    """Gradient health checks during training (rules in docs/diagnostics.md)."""

    grad_every: Annotated[int, Field(ge=0)] = Field(
        50,
        description="optimizer steps between gradient checks; 0 turns them off",
    )
    vanishing: Annotated[float, Field(gt=0, lt=1)] = Field(
        1e-3,
        description="an early layer's gradient norm below this fraction of the largest layer's is vanishing",
    )
    vanishing_checks: PositiveInt = Field(3, description="... for this many checks in a row")
    exploding: Annotated[float, Field(gt=1)] = Field(
        100.0,
        description="a total gradient norm above this multiple of the earlier checks' median is exploding",
    )


def _positive_int_or(value: Any, word: str) -> Any:
    """One error for a key that takes a positive integer or one word (a union would give two)."""
    if value == word or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return value
    raise ValueError(f"expected a positive integer or {word!r}")


BUILTIN_LOSSES = ("mse", "mae", "huber", "cross_entropy", "bce")


class TrainConfig(Strict):
    loss: str | None = Field(
        None,
        description="mse, mae, huber, cross_entropy, bce, or a per-sample loss 'module:function' (docs/custom.md); null: cross_entropy for classification, mse for regression",
    )
    metrics: list[str] = Field(
        default_factory=list,
        description="extra scores reported on val and test (and usable as tune.objective): scikit-learn scorer names (balanced_accuracy, matthews_corrcoef, ...) or 'module:function' (docs/custom.md)",
    )
    huber_delta: PositiveFloat = Field(1.0, description="delta of the Huber loss")
    label_smoothing: Fraction = Field(0.0, description="epsilon of cross-entropy label smoothing")
    loss_reduction: Literal["mean", "sum"] = Field(
        "mean",
        description="what a step minimizes: mean, the loss averaged over the batch's rows (1/n)Σ; sum, summed over them (mse: the SSE); train/loss and val/loss stay per-row means",
    )
    loss_scale: PositiveFloat = Field(
        1.0,
        description="a constant factor of the training loss: 0.5 with mse is the ½·MSE = (1/2n)Σ(y - ŷ)² form; the L1/L2 penalty is not scaled",
    )
    optimizer: OptimizerConfig = Field(
        AdamConfig(),
        description="the torch.optim optimizer; `{lr: 0.01}` keeps Adam",
    )
    batch_size: PositiveInt | Literal["full"] = Field(
        64,
        description="rows per mini-batch, or full for gradient descent on the whole training part",
    )
    epochs: PositiveInt | Literal["auto"] = Field(
        "auto",
        description="passes over the training rows; auto: enough for min_steps optimizer steps, at least 20 and at most 200 (docs/recipes.md, Training budget)",
    )
    min_steps: PositiveInt = Field(
        300,
        description="optimizer steps that `epochs: auto` trains for (within 20 to 200 epochs)",
    )
    max_steps: PositiveInt | None = Field(
        None,
        description="a step budget: stop after this many optimizer steps (mid-epoch if need be), or after `epochs` if that comes first; with epochs: auto, the epochs these steps need",
    )
    shuffle: bool = Field(
        True,
        description="draw a new row order each epoch (seeded by train.seed); false: batches in row order, every epoch alike",
    )
    regularization: RegularizationConfig = Field(
        RegularizationConfig(),
        description="L1 / L2 penalties",
    )
    schedule: ScheduleConfig = Field(
        ConstantSchedule(),
        description="learning-rate schedule; `cosine` is short for `{name: cosine}`",
    )
    clip_grad_norm: PositiveFloat | None = Field(
        None,
        description="rescale the whole gradient to this L2 norm when it is larger; null: no clipping",
    )
    clip_grad_value: PositiveFloat | None = Field(
        None,
        description="clamp every gradient entry to [-v, v]; null: no clamping",
    )
    accumulate: PositiveInt = Field(
        1,
        description="micro-batches per optimizer step (gradient accumulation)",
    )
    precision: Literal["fp32", "bf16"] = Field(
        "fp32",
        description="bf16: the forward pass under torch.autocast; weights, gradients and loss stay fp32",
    )
    early_stopping: EarlyStoppingConfig | None = Field(
        None,
        description="stop when a monitored metric stops improving; null: train every epoch",
    )
    stop_at: StopAtConfig | None = Field(
        None,
        description="stop when a metric crosses a threshold, e.g. {metric: train/loss, below: 1.0e-3}; null: no threshold",
    )
    augment: AugmentConfig | None = Field(
        None,
        description="random changes to training batches (docs/data.md); null: none",
    )
    seed: int = Field(
        0,
        description="seeds Python, NumPy and torch, the initial weights and the batch shuffling",
    )
    deterministic: bool = Field(
        False,
        description="torch.use_deterministic_algorithms(True): bit-identical reruns, sometimes slower",
    )
    device: str = Field(
        "auto",
        description="auto (CUDA when available, else CPU), cpu, cuda, cuda:1, ...",
    )
    checkpoint_every: Annotated[int, Field(ge=0)] = Field(
        1,
        description="epochs between resumable checkpoints (and after the last); 0: none",
    )
    diagnostics: DiagnosticsConfig = Field(
        DiagnosticsConfig(),
        description="gradient health checks during training",
    )
    distributed: DistributedConfig = Field(
        DistributedConfig(),
        description="how the processes of train --nproc / torchrun synchronize: ddp or local_sgd (docs/scaling.md)",
    )

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

    report: bool = Field(
        True,
        description="write report.html and plots/ into the run directory at the end",
    )
    tensorboard: bool = Field(
        False,
        description="event files under <run dir>/tensorboard (needs tensorboard)",
    )
    mlflow: bool = Field(
        False,
        description="one MLflow run per training run (needs mlflow or mlflow-skinny)",
    )
    mlflow_tracking_uri: str | None = Field(
        None,
        description="null: MLflow's own default or MLFLOW_TRACKING_URI",
    )
    mlflow_experiment: str | None = Field(
        None,
        description="the MLflow experiment; null: MLflow's default",
    )


class Config(Strict):
    """A whole recipe. ``Config()`` is the built-in default: an MLP on ``digits``."""

    name: FolderName | None = Field(
        None,
        description="the run's name: its folder is runs/<name> (one folder name: no '/', '\\' or '..'), and a study's default name",
    )
    data: DataConfig = Field(
        DataConfig(),
        description="where the rows come from and how they are encoded and split",
    )
    model: ModelConfig = Field(
        MLPModel(),
        description="the model; `kind` picks it and each kind takes only its own keys",
    )
    train: TrainConfig = Field(
        TrainConfig(),
        description="loss, optimizer, batches, schedule, regularization and stopping",
    )
    logging: LoggingConfig = Field(
        LoggingConfig(),
        description="where a run reports to besides its run directory",
    )
    # Read by `tuneforge tune` only (tune_schema.py); a recipe without one dumps without `tune:`.
    tune: TuneConfig | None = Field(
        default=None, exclude_if=lambda tune: tune is None,
        description="`tuneforge tune` settings (docs/tuning.md); ignored by `train`",
    )

    def __init__(self, **sections: Any) -> None:
        """``Config(data={...}, ...)`` in code fails like a config file: one ConfigError line."""
        from pydantic import ValidationError

        from tuneforge.config.messages import format_validation_error
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
