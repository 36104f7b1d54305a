"""The Python API of SPEC §5: load_config, Config in code, train -> Run, load_run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_iris

import tuneforge


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_public_names():
    for name in ("Config", "load_config", "train", "cv", "Run", "load_run", "refine", "ConfigError",
                 "DataError", "TuneforgeError"):  # fmt: skip
        assert hasattr(tuneforge, name) and name in tuneforge.__all__
    with pytest.raises(AttributeError):
        tuneforge.no_such_name  # noqa: B018


def test_load_config_and_config_in_code_agree(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("data: {source: iris}\nmodel: {kind: mlp, hidden: [8]}\ntrain: {epochs: 3}\n")
    from_file = tuneforge.load_config(path)
    in_code = tuneforge.Config(data={"source": "iris"}, model={"kind": "mlp", "hidden": [8]},
                               train={"epochs": 3})  # fmt: skip
    assert from_file == in_code
    assert tuneforge.load_config(path, ["train.epochs=4"]).train.epochs == 4
    assert tuneforge.load_config(data={"source": "wine"}).data.source == "wine"


def test_train_returns_a_run(tmp_path):
    cfg = tuneforge.Config(data={"source": "iris"}, model={"hidden": [16]},
                           train={"epochs": 4, "batch_size": 16, "optimizer": {"lr": 0.01}})  # fmt: skip
    run = tuneforge.train(cfg)
    assert isinstance(run, tuneforge.Run) and run.path is None
    assert isinstance(run.model, torch.nn.Module)
    assert [r["epoch"] for r in run.history] == [1, 2, 3, 4]
    assert run.summary["status"] == "completed" and run.summary["epochs"] == 4
    assert run.summary["parameters"] == sum(p.numel() for p in run.model.parameters())
    assert run.summary["rows"] == {"train": 90, "val": 30, "test": 30}
    assert run.config.data.task == "classification"  # resolved from the data

    # predict: original labels from raw rows; equals the model's argmax on the encoded rows
    iris = load_iris(as_frame=True)
    rows = iris.data.iloc[::10]
    labels = run.predict(rows)
    encoded = torch.as_tensor(run.encoder.transform(rows))
    with torch.no_grad():
        expected = run.model.eval()(encoded).argmax(1).numpy()
    assert labels.tolist() == expected.tolist()
    assert run.predict(rows.to_numpy()).tolist() == labels.tolist()  # arrays in column order
    with pytest.raises(tuneforge.DataError, match=r"^rows: expected rows of 4 feature columns"):
        run.predict(np.zeros((2, 3)))


def test_train_from_a_path_writes_a_run_that_loads_back(tmp_path):
    from sklearn.datasets import load_diabetes

    path = tmp_path / "cfg.yaml"
    path.write_text("data: {source: diabetes}\nmodel: {kind: linear}\n"
                    "train: {epochs: 3, optimizer: {name: sgd, lr: 0.05}}\n")  # fmt: skip
    run = tuneforge.train(path, out=tmp_path / "run")
    assert run.path == tmp_path / "run"
    loaded = tuneforge.load_run(tmp_path / "run")
    assert loaded.config == run.config
    assert loaded.summary["metrics"] == pytest.approx(run.summary["metrics"])
    assert loaded.history == run.history
    rows = load_diabetes(as_frame=True).data.iloc[:9]
    np.testing.assert_array_equal(loaded.predict(rows), run.predict(rows))


def test_regression_predictions_are_in_target_units():
    cfg = tuneforge.Config(data={"source": "linear"}, model={"kind": "linear"},
                           train={"epochs": 60, "batch_size": "full",
                                  "optimizer": {"name": "sgd", "lr": 0.1}})  # fmt: skip
    run = tuneforge.train(cfg)
    x = pd.DataFrame({"x": [0.0, 1.0, 2.0]})
    # y = 3x + noise: the fit recovers the line in y's own units (target scaling undone)
    np.testing.assert_allclose(run.predict(x), [0.0, 3.0, 6.0], atol=0.3)


def test_cv_averages_folds():
    cfg = tuneforge.Config(data={"source": "iris", "folds": 3}, model={"hidden": [8]},
                           train={"epochs": 2})  # fmt: skip
    result = tuneforge.cv(cfg)
    assert len(result["folds"]) == 3
    values = [fold["val/accuracy"] for fold in result["folds"]]
    assert result["mean"]["val/accuracy"] == pytest.approx(np.mean(values))
    assert result["std"]["val/accuracy"] == pytest.approx(np.std(values))


def test_bad_input_raises_tuneforge_errors():
    with pytest.raises(tuneforge.ConfigError, match=r"^config: model.dropout"):
        tuneforge.Config(model={"dropout": 2})
    with pytest.raises(tuneforge.DataError, match=r"^data.source: 'nowhere'"):
        tuneforge.train(tuneforge.Config(data={"source": "nowhere"}))
    with pytest.raises(tuneforge.ConfigError, match=r"^train.loss: mse is a regression loss"):
        tuneforge.train(tuneforge.Config(data={"source": "iris"}, train={"loss": "mse"}))
    assert issubclass(tuneforge.ConfigError, tuneforge.TuneforgeError)
    assert issubclass(tuneforge.DataError, tuneforge.TuneforgeError)
