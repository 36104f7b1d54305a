"""The commands end to end: train, predict, evaluate, cv, init, and what a run leaves on disk."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from safetensors.torch import load_file

import tuneforge
from tuneforge.predict import evaluate_run

RECIPE = """\
data: {{source: {source}, target: species}}
model: {{kind: mlp, hidden: [16], dropout: 0.1}}
train: {{epochs: {epochs}, batch_size: 32, optimizer: {{name: adam, lr: 0.01}}}}
"""


def _recipe(tmp_path, source, epochs=12):
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE.format(source=source, epochs=epochs))
    return path


def _history(run_dir):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]


def _tree(folder):
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_train_predict_evaluate_with_text_labels(run_cli, cli, tmp_path, animals_csv):
    recipe = _recipe(tmp_path, animals_csv)
    run_dir = tmp_path / "run"
    trained = run_cli("train", recipe, "--out", run_dir, cwd=tmp_path)
    assert trained.code == 0, trained.err
    assert "completed" in trained.out and "test/accuracy" in trained.out

    # SPEC §4 layout (+ encoder.skops, the fitted feature encoding)
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "checkpoint", "config.yaml", "encoder.skops", "metrics.jsonl", "model.safetensors",
        "plots", "report.html", "summary.json"]  # fmt: skip
    assert sorted(p.name for p in (run_dir / "checkpoint").iterdir()) == [
        "COMPLETE", "model.safetensors", "optimizer.pt", "state.json", "tensors.safetensors"]  # fmt: skip
    history = _history(run_dir)
    assert [r["epoch"] for r in history] == list(range(1, 13))
    assert {"epoch", "step", "lr", "train/loss", "val/loss", "val/accuracy"} <= set(history[0])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["model"]["classes"] == [
        "mid",
        "short",
        "tall",
    ]
    assert {"wall_time_s", "parameters", "warnings", "metrics"} <= set(summary)
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["data"]["task"] == "classification" and config["train"]["loss"] == "cross_entropy"

    # predict: the CLI's file equals Run.predict, and holds the original text labels
    rows = pd.read_csv(animals_csv).drop(columns=["species"]).iloc[:40]
    rows.to_csv(tmp_path / "rows.csv", index=False)
    predicted = run_cli("predict", run_dir, tmp_path / "rows.csv", "--out", tmp_path / "p.csv",
                        cwd=tmp_path)  # fmt: skip
    assert predicted.code == 0, predicted.err
    written = pd.read_csv(tmp_path / "p.csv")
    expected = tuneforge.load_run(run_dir).predict(rows)
    assert written["prediction"].tolist() == expected.tolist()
    assert set(written["prediction"]) <= {"mid", "short", "tall"}
    pd.testing.assert_frame_equal(written.drop(columns=["prediction"]), rows)

    # evaluate (in-process, to spare a third interpreter start): test scores equal summary.json's
    evaluated = cli("evaluate", run_dir)
    assert evaluated.code == 0, evaluated.err
    for name in ("accuracy", "f1", "log_loss"):
        assert f"{summary['metrics'][f'test/{name}']:.4f}" in evaluated.out


def test_evaluate_scores_equal_the_summary(cli, tmp_path, animals_csv):
    run_dir = tmp_path / "run"
    assert cli("train", _recipe(tmp_path, animals_csv, 5), "--out", run_dir, "-q").code == 0
    summary = json.loads((run_dir / "summary.json").read_text())["metrics"]
    for part in ("val", "test"):
        scores = evaluate_run(run_dir, part=part)
        assert scores == pytest.approx({k.split("/")[1]: v for k, v in summary.items()
                                        if k.startswith(f"{part}/") and k != f"{part}/loss"},
                                       rel=1e-6)  # fmt: skip
    # a labelled file with the test rows scores the same
    run = tuneforge.load_run(run_dir)
    from tuneforge.data import prepare

    rows = prepare(run.config.data).rows["test"]
    pd.read_csv(animals_csv).iloc[rows].to_csv(tmp_path / "test_rows.csv", index=False)
    on_file = evaluate_run(run_dir, tmp_path / "test_rows.csv")
    assert on_file == pytest.approx(evaluate_run(run_dir, part="test"), rel=1e-6)
    result = cli("evaluate", run_dir, "--part", "holdout")
    assert result.code == 2 and "--part" in result.err


def test_written_config_reproduces_the_run(cli, tmp_path, animals_csv):
    first, second = tmp_path / "first", tmp_path / "second"
    assert cli("train", _recipe(tmp_path, animals_csv, 6), "--out", first, "-q").code == 0
    assert cli("train", first / "config.yaml", "--out", second, "-q").code == 0
    assert (first / "config.yaml").read_text() == (second / "config.yaml").read_text()
    assert _history(first) == _history(second)
    metrics = [json.loads((d / "summary.json").read_text())["metrics"] for d in (first, second)]
    assert metrics[0] == metrics[1]
    weights = [load_file(d / "model.safetensors") for d in (first, second)]
    assert weights[0].keys() == weights[1].keys()
    assert all(np.array_equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_predict_refuses_rows_it_cannot_use(cli, tmp_path, animals_csv):
    run_dir = tmp_path / "run"
    assert cli("train", _recipe(tmp_path, animals_csv, 2), "--out", run_dir, "-q").code == 0
    rows = pd.read_csv(animals_csv).drop(columns=["species"]).iloc[:5]
    rows.drop(columns=["weight"]).to_csv(tmp_path / "no_weight.csv", index=False)
    holes = rows.copy()
    holes.loc[2, "height"] = np.nan
    holes.to_csv(tmp_path / "holes.csv", index=False)
    for name, words in (("no_weight.csv", "missing feature columns ['weight']"),
                        ("holes.csv", "missing values in column 'height' (1 rows)")):  # fmt: skip
        result = cli("predict", run_dir, tmp_path / name)
        assert result.code == 2 and len(result.err.strip().splitlines()) == 1
        assert name in result.err and words in result.err
    result = cli("predict", run_dir, tmp_path / "absent.csv")
    assert result.code == 2 and "absent.csv: file not found" in result.err


def test_predict_writes_csv_to_stdout(cli, tmp_path):
    run_dir = tmp_path / "run"
    assert cli("train", "--set", "data.source=diabetes", "--set", "train.epochs=2", "--out",
               run_dir, "-q").code == 0  # fmt: skip
    from sklearn.datasets import load_diabetes

    rows = load_diabetes(as_frame=True).data.iloc[:7]
    rows.to_csv(tmp_path / "rows.csv", index=False)
    result = cli("predict", run_dir, tmp_path / "rows.csv")
    assert result.code == 0, result.err
    from io import StringIO

    printed = pd.read_csv(StringIO(result.out))
    expected = tuneforge.load_run(run_dir).predict(rows)
    np.testing.assert_allclose(printed["prediction"], expected, rtol=1e-6)


def test_quiet_hides_the_progress_bar(cli, tmp_path):
    args = ["train", "--set", "data.source=iris", "--set", "train.epochs=3"]
    loud = cli(*args, "--out", tmp_path / "loud")
    quiet = cli(*args, "--out", tmp_path / "quiet", "--quiet")
    assert loud.code == quiet.code == 0
    assert "3/3" in loud.out + loud.err
    assert "3/3" not in quiet.out + quiet.err and "test/accuracy" in quiet.out


def test_an_existing_run_is_never_overwritten(cli, tmp_path):
    args = ["train", "--set", "data.source=iris", "--set", "train.epochs=2", "-q"]
    assert cli(*args, "--out", tmp_path / "run").code == 0
    before = _tree(tmp_path / "run")
    again = cli(*args, "--set", "train.epochs=3", "--out", tmp_path / "run")
    assert again.code == 2 and "already holds a run" in again.err
    assert _tree(tmp_path / "run") == before
    # default run names: a second run with the same name gets its own folder
    assert cli(*args, "--set", "name=iris-mlp").code == 0
    assert cli(*args, "--set", "name=iris-mlp").code == 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["iris-mlp", "iris-mlp-2"]


def test_init_writes_a_starter_that_trains(cli, tmp_path):
    result = cli("init")
    assert result.code == 0 and (tmp_path / "tuneforge.yaml").is_file()
    text = (tmp_path / "tuneforge.yaml").read_text()
    assert text.count("#") > 5  # commented
    assert tuneforge.load_config(tmp_path / "tuneforge.yaml").data.source == "digits"
    assert cli("init", "--example", "linear", "--out", "lin.yaml").code == 0
    trained = cli("train", "lin.yaml", "--set", "train.epochs=5", "--out", "lin", "-q")
    assert trained.code == 0, trained.err
    assert cli("init", "--force").code == 0
    listed = cli("init", "--list")
    assert all(name in listed.out for name in ("mlp", "linear", "logistic"))


def test_cv_reports_mean_and_std_over_folds(cli, tmp_path):
    result = cli("cv", "--set", "data.source=iris", "--set", "train.epochs=4", "--folds", "3",
                 "--out", tmp_path / "cv", "-q")  # fmt: skip
    assert result.code == 0, result.err
    folds = [json.loads((tmp_path / "cv" / f"fold{k}" / "summary.json").read_text())["metrics"]
             for k in range(3)]  # fmt: skip
    accuracy = [m["val/accuracy"] for m in folds]
    assert len(set(accuracy)) > 1 or len(set(m["val/loss"] for m in folds)) > 1  # folds differ
    line = next(x for x in result.out.splitlines() if "val/accuracy" in x)
    assert f"{np.mean(accuracy):.4f} ± {np.std(accuracy):.4f}" in line
    stored = json.loads((tmp_path / "cv" / "cv.json").read_text())
    assert stored["mean"]["val/accuracy"] == pytest.approx(np.mean(accuracy))
    assert "3-fold" in result.out
