"""A run trained with data.prep: its saved encoder gives predict/evaluate the same features."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from tuneforge.config import Config
from tuneforge.data import prepare
from tuneforge.engine.module import predict_tensor
from tuneforge.predict import evaluate_run
from tuneforge.run import load_run, train
from tuneforge.run.cv import cross_validate

PREP = {"select": {"k": 48, "score": "f_test"}, "pca": {"components": 0.95}}


def recipe(prep=PREP, **train_keys) -> Config:
    return Config(data={"source": "digits", "prep": prep}, model={"hidden": [64]},
                  train={"epochs": 25, "batch_size": 64, **train_keys})  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prep-run") / "run"
    return train(recipe({"pca": {"components": 0.95}}), folder), folder


def test_pca_features_still_train_to_a_sensible_accuracy(trained):
    run, _ = trained
    assert run.summary["model"]["inputs"] < 64  # PCA reduced digits' 64 pixels
    assert run.summary["metrics"]["test/accuracy"] > 0.93  # all 64 pixels: ~0.96


def test_predict_from_the_run_directory_equals_the_predictions_made_in_training(trained):
    run, folder = trained
    data = prepare(run.config.data)  # the tensors training used (the same rows, same fits)
    inside = predict_tensor(run.model, data.x["test"]).numpy()
    raw, _ = load_digits(return_X_y=True, as_frame=True)
    rows = raw.iloc[data.rows["test"]]
    loaded = load_run(folder)
    np.testing.assert_array_equal(loaded._outputs(rows), inside)
    np.testing.assert_array_equal(run._outputs(rows), inside)
    expected = data.encoder.decode_target(inside.argmax(1))
    np.testing.assert_array_equal(loaded.predict(rows), expected)
    scores = evaluate_run(folder, part="test")
    assert scores["accuracy"] == pytest.approx(run.summary["metrics"]["test/accuracy"])


def test_each_fold_fits_its_own_steps(tmp_path):
    cfg = recipe(epochs=1)
    cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"folds": 3})})
    cross_validate(cfg, out=tmp_path)
    components = [load_run(tmp_path / f"fold{k}").encoder.features.named_steps["pca"].components_
                  for k in range(3)]  # fmt: skip
    for k in range(3):  # each equals a fit on that fold's training rows only
        data = prepare(cfg.data, fold=k)
        np.testing.assert_array_equal(data.encoder.features.named_steps["pca"].components_,
                                      components[k])  # fmt: skip
    assert not np.array_equal(components[0][:1], components[1][:1])
