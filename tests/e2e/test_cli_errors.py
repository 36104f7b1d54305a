"""Bad input: exit code 2, one stderr line naming the file, key or column, never a traceback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def _yaml(tmp_path, text: str, name: str = "recipe.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _csv(tmp_path, frame: pd.DataFrame, name: str = "table.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _table(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                         "label": rng.choice(["cat", "dog"], n), "value": rng.normal(size=n)})  # fmt: skip


def _with_holes(tmp_path):
    frame = _table()
    frame.loc[[4, 8], "b"] = np.nan
    return _csv(tmp_path, frame)


# Each case: (builds the argument list in tmp_path, words the one stderr line must contain).
CASES = {
    "unknown key": (
        lambda t: ["train", _yaml(t, "train:\n  optimizer: {name: adam, lrr: 0.1}\n")],
        ["recipe.yaml", "train.optimizer.lrr", "unknown key"]),
    "wrong type": (
        lambda t: ["train", _yaml(t, "train: {epochs: many}\n")],
        ["recipe.yaml", "train.epochs", "positive integer or 'auto'", "'many'"]),
    "out of range": (
        lambda t: ["train", _yaml(t, "model: {kind: mlp, dropout: 1.5}\n")],
        ["recipe.yaml", "model.dropout", "less than 1"]),
    "bad yaml": (
        lambda t: ["train", _yaml(t, "train: {epochs: 3\nmodel: x\n")],
        ["recipe.yaml", "not valid YAML at line"]),
    "missing config file": (
        lambda t: ["train", t / "nowhere.yaml"],
        ["nowhere.yaml", "cannot read the config file"]),
    "unknown data source": (
        lambda t: ["train", "--set", "data.source=mnist"],
        ["data.source", "'mnist'", "built-in"]),
    "missing data file": (
        lambda t: ["train", "--set", "data.source=absent.csv", "--set", "data.target=y"],
        ["absent.csv", "data file not found"]),
    "missing target column": (
        lambda t: ["train", "--set", f"data.source={_csv(t, _table())}", "--set", "data.target=kind"],
        ["table.csv", "data.target", "'kind'"]),
    "missing values without impute": (
        lambda t: ["train", "--set", f"data.source={_with_holes(t)}", "--set", "data.target=label"],
        ["table.csv", "missing values", "'b' (2 rows)", "data.impute"]),
    "bce with 10 classes": (
        lambda t: ["train", "--set", "train.loss=bce"],
        ["train.loss", "bce needs 2 classes", "10"]),
    "regression loss on classification (given task)": (
        lambda t: ["train", _yaml(t, "data: {source: iris, task: classification}\ntrain: {loss: mse}\n")],
        ["recipe.yaml", "train.loss", "regression loss"]),
    "regression loss on classification (inferred task)": (
        lambda t: ["train", "--set", "train.loss=huber"],
        ["train.loss", "huber is a regression loss", "digits", "classification"]),
    "classification loss on regression": (
        lambda t: ["train", "--set", "data.source=diabetes", "--set", "train.loss=cross_entropy"],
        ["train.loss", "cross_entropy", "diabetes", "regression"]),
    "logistic model on regression": (
        lambda t: ["train", "--set", "data.source=linear", "--set", "model={kind: logistic}"],
        ["model.kind", "logistic", "regression"]),
    "non-numeric regression target": (
        lambda t: ["train", "--set", f"data.source={_csv(t, _table())}", "--set", "data.target=label",
                   "--set", "data.task=regression"],
        ["table.csv", "target column 'label' is not numeric"]),
    "bad --set syntax": (
        lambda t: ["train", "--set", "train.epochs"],
        ["--set", "train.epochs", "expected key=value"]),
    "unknown --set key": (
        lambda t: ["train", "--set", "train.epoch=3"],
        ["train.epoch", "unknown key"]),
    "early stopping monitor unknown": (
        lambda t: ["train", "--set", "train.early_stopping={monitor: val/auc}"],
        ["train.early_stopping.monitor", "'val/auc'", "val/"]),
    "early stopping without validation rows": (
        lambda t: ["train", "--set", "data.split.val=0", "--set", "train.early_stopping={}"],
        ["train.early_stopping.monitor", "data.split.val is 0"]),
    "unknown model kind": (
        lambda t: ["train", "--set", "model.kind=cnn3d"],
        ["model.kind", "'cnn3d'"]),
    "categorical column not in data": (
        lambda t: ["train", "--set", f"data.source={_csv(t, _table())}", "--set", "data.target=label",
                   "--set", "data.categorical=[colour]"],
        ["data.categorical", "colour"]),
    "cv with one fold": (
        lambda t: ["cv", "--folds", "1"],
        ["--folds", "greater than or equal to 2"]),
    "unknown option": (
        lambda t: ["train", "--epochs", "3"],
        ["No such option", "--epochs"]),
    "evaluate a folder that is no run": (
        lambda t: ["evaluate", t],
        ["not a finished run directory", "config.yaml"]),
    "predict with a folder that is no run": (
        lambda t: ["predict", t, t / "rows.csv"],
        ["not a finished run directory", "model.safetensors"]),
    "resume a folder that is no run": (
        lambda t: ["train", "--resume", t],
        ["--resume", "no config.yaml"]),
    "init over an existing file": (
        lambda t: ["init", "--out", _yaml(t, "x: 1\n", "mine.yaml")],
        ["mine.yaml", "already exists", "--force"]),
    "init unknown starter": (
        lambda t: ["init", "--example", "gpt"],
        ["--example", "'gpt'"]),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_2_with_one_line(case, cli, tmp_path):
    build, words = CASES[case]
    result = cli(*build(tmp_path))
    assert result.code == 2, (result.code, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: ")
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert "Traceback" not in result.err + result.out
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_config_error_in_a_real_subprocess(run_cli, tmp_path):
    recipe = _yaml(tmp_path, "train:\n  optimizer: {name: adam, lr: -1}\n")
    result = run_cli("train", recipe, cwd=tmp_path)
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        f"error: {recipe}: train.optimizer.lr: Input should be greater than 0 (got -1)"
    ]
    assert "Traceback" not in result.err and not (tmp_path / "runs").exists()


def test_data_error_in_a_real_subprocess(run_cli, tmp_path):
    path = _with_holes(tmp_path)
    result = run_cli("train", "--set", f"data.source={path}", "--set", "data.target=label",
                     "--out", tmp_path / "run", cwd=tmp_path)  # fmt: skip
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert line.startswith(f"error: {path}: missing values in column 'b' (2 rows)")
    assert "Traceback" not in result.err + result.out
    assert not (tmp_path / "run").exists()


def test_unexpected_errors_exit_1_without_traceback(cli, monkeypatch):
    import tuneforge.run

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(tuneforge.run, "train", broken)
    result = cli("train", "--quiet", "--out", "x")
    assert result.code == 1
    assert result.err.strip().splitlines() == [
        "error: RuntimeError: disk on fire (TUNEFORGE_DEBUG=1 shows the traceback)"
    ]


def test_no_arguments_shows_help_without_an_error_line(cli):
    result = cli()
    assert result.code == 2
    assert "Usage" in result.out + result.err and "error:" not in result.err
