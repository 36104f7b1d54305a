"""The config schema: defaults, and every kind of bad key rejected with its dotted path."""

from __future__ import annotations

import pytest

import tuneforge
from tuneforge.config import Config, validate
from tuneforge.config.schema import AdamConfig, ConstantSchedule, MLPModel
from tuneforge.errors import ConfigError


def test_default_config_is_the_digits_mlp_recipe():
    cfg = Config()
    assert cfg.data.source == "digits"
    assert isinstance(cfg.model, MLPModel) and cfg.model.hidden == [128, 64]
    assert isinstance(cfg.train.optimizer, AdamConfig) and cfg.train.optimizer.lr == 1e-3
    assert isinstance(cfg.train.schedule, ConstantSchedule)
    assert (cfg.data.split.val, cfg.data.split.test) == (0.2, 0.2)


def test_spec_example_sections_validate():
    # SPEC §3, the data/model/train sections as printed there.
    raw = {
        "data": {"source": "digits", "target": "label", "task": "classification",
                 "split": {"val": 0.2, "test": 0.2, "seed": 0}, "standardize": True},
        "model": {"kind": "mlp", "hidden": [128, 64], "activation": "relu", "init": "he",
                  "dropout": 0.1},
        "train": {"loss": "cross_entropy",
                  "optimizer": {"name": "adam", "lr": 0.001, "betas": [0.9, 0.999]},
                  "batch_size": 64, "epochs": 50, "regularization": {"l1": 0.0, "l2": 0.0001},
                  "schedule": {"name": "inverse_time", "decay": 0.01, "warmup_steps": 0},
                  "clip_grad_norm": 1.0, "early_stopping": {"monitor": "val/loss", "patience": 10},
                  "seed": 0},
    }  # fmt: skip
    cfg = validate(raw)
    assert cfg.train.optimizer.betas == (0.9, 0.999)
    assert cfg.train.schedule.name == "inverse_time" and cfg.train.schedule.decay == 0.01
    assert cfg.train.early_stopping.patience == 10


BAD = [
    # (raw config, dotted key that must be named, words the message must hold)
    ({"data": {"sauce": "iris"}}, "data.sauce", "unknown key"),
    ({"train": {"optimizer": {"name": "sgd", "betas": [0.9, 0.9]}}}, "train.optimizer.betas", "unknown key"),
    ({"train": {"schedule": {"name": "constant", "gamma": 0.5}}}, "train.schedule.gamma", "unknown key"),
    ({"train": {"my-key": 1}}, "train.my-key", "unknown key"),
    ({"data": {"linear": 1}}, "data.linear", "unknown key"),
    ({"fit": {}}, "fit", "unknown key"),
    ({"train": {"epochs": "many"}}, "train.epochs", "integer"),
    ({"train": {"epochs": 2.5}}, "train.epochs", "integer"),
    ({"model": {"hidden": "wide"}}, "model.hidden", "list"),
    ({"data": {"standardize": "sometimes"}}, "data.standardize", "boolean"),
    ({"train": {"epochs": 0}}, "train.epochs", "a positive integer or 'auto'"),
    ({"train": {"optimizer": {"lr": -0.1}}}, "train.optimizer.lr", "greater than 0"),
    ({"model": {"dropout": 1.5}}, "model.dropout", "less than 1"),
    ({"model": {"hidden": [64, 0]}}, "model.hidden.1", "greater than 0"),
    ({"data": {"split": {"val": -0.1}}}, "data.split.val", "greater than or equal to 0"),
    ({"data": {"folds": 1}}, "data.folds", "greater than or equal to 2"),
    ({"train": {"batch_size": 0}}, "train.batch_size", "positive integer or 'full'"),
    ({"train": {"batch_size": "half"}}, "train.batch_size", "positive integer or 'full'"),
    ({"train": {"schedule": {"name": "exponential", "gamma": 1.5}}}, "train.schedule.gamma", "less than or equal to 1"),
    ({"train": {"schedule": {"name": "exponential_growth", "gamma": 1.0, "max_lr": 1}}}, "train.schedule.gamma", "greater than 1"),
    ({"train": {"schedule": {"name": "exponential_growth", "gamma": 1.1}}}, "train.schedule.max_lr", "required"),
    ({"train": {"schedule": {"name": "exponential_growth", "max_lr": 0}}}, "train.schedule.max_lr", "greater than 0"),
    ({"train": {"loss_reduction": "median"}}, "train.loss_reduction", "'mean' or 'sum'"),
    ({"train": {"loss_scale": 0}}, "train.loss_scale", "greater than 0"),
    ({"train": {"loss_scale": "half"}}, "train.loss_scale", "number"),
    ({"train": {"shuffle": "sometimes"}}, "train.shuffle", "boolean"),
    ({"train": {"max_steps": 0}}, "train.max_steps", "greater than 0"),
    ({"train": {"max_steps": "many"}}, "train.max_steps", "integer"),
    ({"train": {"stop_at": {"metric": "train/loss"}}}, "train.stop_at", "exactly one of below or above"),
    ({"train": {"stop_at": {"below": 1, "above": 2}}}, "train.stop_at", "exactly one of below or above"),
    ({"train": {"stop_at": {"below": "small"}}}, "train.stop_at.below", "number"),
    ({"train": {"stop_at": {"under": 0.1}}}, "train.stop_at.under", "unknown key"),
    ({"model": {"kind": "cnn3d"}}, "model.kind", "'linear', 'logistic', 'mlp'"),
    ({"train": {"optimizer": {"name": "lbfgs"}}}, "train.optimizer.name", "'sgd'"),
    ({"train": {"loss": "hinge"}}, "train.loss", "cross_entropy"),
    ({"model": {"activation": "swish"}}, "model.activation", "relu"),
    ({"data": {"task": "clustering"}}, "data.task", "regression"),
    ({"data": {"impute": "zero"}}, "data.impute", "median"),
    # contradictions between keys
    ({"data": {"split": {"val": 0.5, "test": 0.45}}}, "data.split", "10%"),
    ({"train": {"optimizer": {"name": "sgd", "nesterov": True}}}, "train.optimizer", "nesterov needs momentum"),
    ({"data": {"task": "regression"}, "train": {"loss": "cross_entropy"}}, "train.loss", "classification"),
    ({"data": {"task": "classification"}, "train": {"loss": "mse"}}, "train.loss", "regression loss"),
    ({"model": {"kind": "logistic"}, "train": {"loss": "huber"}}, "train.loss", "regression loss"),
    ({"data": {"task": "regression"}, "model": {"kind": "logistic"}}, "model.kind", "classification"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "key", "words"), BAD, ids=[b[1] + ":" + b[2] for b in BAD])
def test_bad_config_names_the_dotted_key(raw, key, words):
    with pytest.raises(ConfigError) as caught:
        validate(raw, source="recipe.yaml")
    message = str(caught.value)
    assert message.startswith(f"recipe.yaml: {key}: "), message
    assert words in message
    assert "\n" not in message


def test_several_problems_report_the_first_and_count_the_rest():
    with pytest.raises(ConfigError, match=r"\(and 1 more problems\)"):
        validate({"train": {"epochs": 0, "seed": "x"}})


def test_non_string_top_level_key_is_a_config_error():
    with pytest.raises(ConfigError, match="recipe.yaml: 1: unknown key"):
        validate({1: "x"}, source="recipe.yaml")


def test_config_built_in_code_equals_the_yaml_and_fails_the_same_way():
    in_code = tuneforge.Config(data={"source": "iris"}, model={"hidden": [16]},
                               train={"optimizer": {"name": "sgd", "lr": 0.1}, "schedule": "cosine"})  # fmt: skip
    from_dict = validate({"data": {"source": "iris"}, "model": {"kind": "mlp", "hidden": [16]},
                          "train": {"optimizer": {"name": "sgd", "lr": 0.1},
                                    "schedule": {"name": "cosine"}}})  # fmt: skip
    assert in_code == from_dict
    with pytest.raises(ConfigError, match=r"^config: train.optimizer.lr: .*greater than 0"):
        tuneforge.Config(train={"optimizer": {"lr": 0}})


def test_section_shorthands_keep_the_default_family():
    cfg = validate({"model": {"hidden": [8]}, "train": {"optimizer": {"lr": 0.5}}})
    assert cfg.model.kind == "mlp" and cfg.train.optimizer.name == "adam"
    assert cfg.train.optimizer.lr == 0.5


@pytest.mark.parametrize(("name", "decay"), [("adam", 0.0), ("adamw", 0.01)])
def test_adam_weight_decay_defaults_follow_torch(name, decay):
    import torch

    cfg = validate({"train": {"optimizer": {"name": name}}})
    reference = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[name]
    default = reference([torch.zeros(1, requires_grad=True)]).defaults["weight_decay"]
    assert cfg.train.optimizer.weight_decay == decay == default
