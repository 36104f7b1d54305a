"""YAML loading, ``--set`` overrides, the resolved dump and the starter configs."""

from __future__ import annotations

import pytest
import yaml

from tuneforge.config import (
    Config,
    dump_config,
    load_config,
    parse_override,
    set_dotted,
    to_dict,
    validate,
)
from tuneforge.config.starters import STARTERS, starter_text
from tuneforge.errors import ConfigError


def write(path, text: str):
    path.write_text(text)
    return path


def test_load_yaml_file(tmp_path):
    path = write(
        tmp_path / "r.yaml", "data: {source: iris}\ntrain: {epochs: 7, batch_size: full}\n"
    )
    cfg = load_config(path)
    assert (cfg.data.source, cfg.train.epochs, cfg.train.batch_size) == ("iris", 7, "full")


def test_empty_file_and_no_file_give_the_default_recipe(tmp_path):
    assert load_config(write(tmp_path / "empty.yaml", "")) == Config()
    assert load_config() == Config()


@pytest.mark.parametrize(
    ("item", "key", "value"),
    [
        ("train.optimizer.lr=0.01", "train.optimizer.lr", 0.01),
        ("train.optimizer.lr=1e-3", "train.optimizer.lr", 0.001),  # YAML 1.1 reads this as text
        ("train.epochs=3", "train.epochs", 3),
        ("model.hidden=[64, 32]", "model.hidden", [64, 32]),
        ("data.standardize=false", "data.standardize", False),
        ("train.batch_size=full", "train.batch_size", "full"),
        ("data.source=iris", "data.source", "iris"),
        ("name=my run", "name", "my run"),
    ],
)
def test_set_overrides_any_key(item, key, value):
    cfg = load_config(overrides=[item])
    node = cfg
    for part in key.split("."):
        node = getattr(node, part)
    assert node == value or list(node) == value


def test_overrides_win_over_the_file_and_create_sections(tmp_path):
    path = write(tmp_path / "r.yaml", "train: {epochs: 7, optimizer: {name: sgd, lr: 0.5}}\n")
    cfg = load_config(path, ["train.optimizer.lr=0.25", "train.regularization.l2=0.001",
                             "train.optimizer.momentum=0.9"])  # fmt: skip
    assert cfg.train.epochs == 7
    assert cfg.train.optimizer.name == "sgd" and cfg.train.optimizer.lr == 0.25
    assert cfg.train.optimizer.momentum == 0.9 and cfg.train.regularization.l2 == 0.001


def test_override_switches_a_union_member():
    cfg = load_config(overrides=["train.schedule={name: step, step_size: 10, gamma: 0.5}"])
    assert cfg.train.schedule.name == "step" and cfg.train.schedule.step_size == 10


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ("train.epochs", "--set 'train.epochs': expected key=value"),
        ("=3", "--set '=3': expected key=value"),
        ("model.hidden=[1, 2", "--set model.hidden: value '[1, 2' is not valid YAML"),
    ],
)
def test_bad_override_syntax(item, fragment):
    with pytest.raises(ConfigError) as caught:
        load_config(overrides=[item])
    assert str(caught.value).startswith(fragment)


def test_override_unknown_key_is_rejected_with_its_path():
    with pytest.raises(ConfigError, match=r"^config: train.optimizer.lrr: unknown key$"):
        load_config(overrides=["train.optimizer.lrr=0.1"])


def test_override_into_a_value_is_rejected():
    raw = {"train": {"epochs": 3}}
    with pytest.raises(ConfigError, match=r"^train.epochs: is a value, cannot set train.epochs.x"):
        set_dotted(raw, "train.epochs.x", 1)


def test_parse_override_reads_values_as_yaml():
    assert parse_override("a.b= [1, 2] ") == ("a.b", [1, 2])
    assert parse_override("a=") == ("a", None)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("train: {epochs: 3\n", "not valid YAML at line"),
        ("- just\n- a list\n", "expected a mapping of sections"),
        ("train:\n  epochs: [3\n", "not valid YAML at line"),
    ],
)
def test_bad_yaml_names_the_file(tmp_path, text, fragment):
    path = write(tmp_path / "bad.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: ") and fragment in str(caught.value)


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.yaml: cannot read the config file"):
        load_config(tmp_path / "nope.yaml")


def test_errors_in_a_file_name_the_file_and_key(tmp_path):
    path = write(tmp_path / "r.yaml", "model:\n  kind: mlp\n  dropout: 2\n")
    with pytest.raises(ConfigError, match=rf"^{path}: model.dropout: Input should be less than 1"):
        load_config(path)


CONFIGS = [
    {},
    {"data": {"source": "linear", "task": "regression"}, "model": {"kind": "linear"},
     "train": {"loss": "huber", "optimizer": {"name": "sgd", "momentum": 0.9, "nesterov": True},
               "schedule": {"name": "inverse_time", "decay": 0.1, "warmup_steps": 5}}},
    {"model": {"kind": "logistic", "init": "xavier"},
     "train": {"optimizer": {"name": "adamw", "betas": [0.8, 0.99]}, "schedule": "onecycle",
               "early_stopping": {"monitor": "val/accuracy", "patience": 3}}},
    {"train": {"optimizer": {"name": "rmsprop", "centered": True}, "batch_size": "full",
               "schedule": {"name": "plateau", "factor": 0.5}}},
    {"train": {"optimizer": {"name": "adagrad"}, "schedule": {"name": "step", "step_size": 3}},
     "data": {"impute": "median", "categorical": ["a"], "features": ["a", "b"]}},
]  # fmt: skip


@pytest.mark.parametrize("raw", CONFIGS)
def test_resolved_dump_reproduces_the_config(tmp_path, raw):
    cfg = validate(raw)
    dump_config(cfg, tmp_path / "config.yaml")
    written = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert load_config(tmp_path / "config.yaml") == cfg
    # fully resolved: every section and every default is written out
    assert set(written) == set(Config.model_fields) - {"tune"}  # tune: only when given
    assert written["train"]["optimizer"] == to_dict(cfg)["train"]["optimizer"]
    assert "lr" in written["train"]["optimizer"] and "seed" in written["data"]["split"]
    # the discriminating key comes first, so a reader sees the family before its settings
    assert next(iter(written["train"]["schedule"])) == "name"
    assert next(iter(written["model"])) == "kind"


@pytest.mark.parametrize("name", sorted(STARTERS))
def test_starters_are_commented_and_valid(name):
    text = starter_text(name)
    assert text.lstrip().startswith("#")
    assert sum(line.lstrip().startswith("#") or " # " in line for line in text.splitlines()) >= 2
    validate(yaml.safe_load(text), source=f"starter {name}")


def test_mlp_starter_is_the_default_recipe():
    from tuneforge.recipe.losses import default_loss

    starter = to_dict(validate(yaml.safe_load(starter_text("mlp"))))
    default = to_dict(Config())
    # the starter spells out the loss the default recipe picks for a classification task
    assert starter["train"].pop("loss") == default_loss("classification")
    assert default["train"].pop("loss") is None
    assert starter == default


def test_unknown_starter():
    with pytest.raises(ConfigError, match="--example: unknown starter 'gpt'"):
        starter_text("gpt")


def test_set_overrides_one_search_space_entry(tmp_path):
    # Issue 20.7: a space entry's name is a dotted key itself (model.dropout).
    path = tmp_path / "t.yaml"
    path.write_text("tune:\n  space:\n    train.optimizer.lr: {low: 1.0e-4, high: 1.0e-1, log: true}\n")
    cfg = load_config(path, ["tune.space.model.dropout={low: 0, high: 0.5}",
                             "tune.space.train.optimizer.lr={low: 0.001, high: 0.01}"])  # fmt: skip
    space = cfg.tune.space
    assert set(space) == {"model.dropout", "train.optimizer.lr"}
    assert (space["model.dropout"].high, space["train.optimizer.lr"].low) == (0.5, 0.001)
