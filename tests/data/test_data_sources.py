"""Sources: the built-in data sets, csv/parquet/npz files, task inference and bad files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

from tuneforge.config.schema import DataConfig
from tuneforge.data import BUILTIN, load_table, prepare
from tuneforge.data.sources import MAX_INFERRED_CLASSES, infer_task
from tuneforge.errors import DataError

SKLEARN = {
    "digits": (datasets.load_digits, "classification"),
    "breast_cancer": (datasets.load_breast_cancer, "classification"),
    "wine": (datasets.load_wine, "classification"),
    "iris": (datasets.load_iris, "classification"),
    "diabetes": (datasets.load_diabetes, "regression"),
}


@pytest.mark.parametrize("name", sorted(SKLEARN))
def test_builtin_sets_are_scikit_learns(name):
    loader, task = SKLEARN[name]
    reference = loader()
    table = load_table(name)
    assert table.task == task
    np.testing.assert_array_equal(table.features.to_numpy(), reference.data)
    np.testing.assert_array_equal(table.target.to_numpy(), reference.target)


def test_builtin_registry_lists_exactly_the_spec_sets():
    assert set(BUILTIN) == {"linear", "digits", "breast_cancer", "wine", "iris", "diabetes"}


def test_linear_is_three_x_plus_noise():
    table = load_table("linear")
    x, y = table.features["x"].to_numpy(), table.target.to_numpy()
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    assert table.task == "regression" and table.features.shape == (500, 1)
    assert abs(slope - 3.0) < 0.15 and abs(intercept) < 0.15
    assert 0.4 < residual.std() < 0.6  # σ = 0.5


def test_builtin_feature_selection():
    table = load_table("iris", features=["petal length (cm)", "sepal width (cm)"])
    assert list(table.features.columns) == ["petal length (cm)", "sepal width (cm)"]
    with pytest.raises(DataError, match=r"iris: data.features names missing columns \['petal'\]"):
        load_table("iris", features=["petal"])


def _save(frame: pd.DataFrame, path, target: str):
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        numeric = frame.drop(columns=[target])
        # text labels as a fixed-width string array: npz files are read without pickle
        np.savez(path, X=numeric.to_numpy(), **{target: frame[target].to_numpy().astype(str)})


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npz"])
def test_file_formats_give_the_same_tensors(tmp_path, frame, suffix):
    numeric = frame.drop(columns=["color"])
    path = tmp_path / f"animals{suffix}"
    _save(numeric, path, "species")
    cfg = DataConfig(source=str(path), target="species")
    data = prepare(cfg)
    reference = prepare(DataConfig(source=str(_reference_csv(tmp_path, numeric)), target="species"))
    assert data.task == "classification" and data.classes == ["mid", "short", "tall"]
    for part in ("train", "val", "test"):
        np.testing.assert_allclose(data.x[part].numpy(), reference.x[part].numpy(), rtol=1e-6)
        assert data.y[part].tolist() == reference.y[part].tolist()


def _reference_csv(tmp_path, frame):
    path = tmp_path / "reference.csv"
    frame.to_csv(path, index=False)
    return path


def test_npz_columns_are_named_after_x(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.arange(12.0).reshape(6, 2), y=np.arange(6.0), w=np.ones(6))
    table = load_table(str(path), target="y")
    assert list(table.features.columns) == ["x0", "x1", "w"]


@pytest.mark.parametrize(
    ("arrays", "fragment"),
    [
        ({"data": np.zeros((4, 2)), "y": np.zeros(4)}, "expected a 2-D array named 'X'"),
        ({"X": np.zeros((4, 2)), "y": np.zeros(3)}, "array 'y' has shape (3,), expected (4,)"),
    ],
)
def test_bad_npz(tmp_path, arrays, fragment):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as caught:
        load_table(str(path), target="y")
    assert fragment in str(caught.value) and str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["a", "b", "a", "c"], "classification"),
        ([True, False, True, True], "classification"),
        ([0, 1, 2, 1], "classification"),
        ([0.0, 1.0, 2.0, 1.0], "classification"),  # integral floats with few values
        ([0.5, 1.25, 2.0, 3.5], "regression"),
        (list(range(MAX_INFERRED_CLASSES + 1)), "regression"),  # too many integers for classes
    ],
)
def test_task_is_inferred_from_the_target(values, task):
    assert infer_task(pd.Series(values)) == task


def test_task_given_in_the_config_wins(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": range(40), "y": [0, 1, 2, 3] * 10}).to_csv(path, index=False)
    assert load_table(str(path), "y").task == "classification"
    assert load_table(str(path), "y", task="regression").task == "regression"


def test_missing_target_column_names_it(csv_file):
    with pytest.raises(DataError) as caught:
        load_table(str(csv_file), target="label")
    assert str(caught.value).startswith(f"{csv_file}: data.target column 'label' not found")


def test_file_without_target_asks_for_one(csv_file):
    with pytest.raises(
        DataError, match=r"^data.target: .*animals.csv needs the name of its target"
    ):
        load_table(str(csv_file))


@pytest.mark.parametrize("source", ["mnist", "data.xlsx", "folder/"])
def test_unknown_source(source):
    with pytest.raises(DataError, match=rf"^data.source: '{source}' is neither a built-in"):
        load_table(source)


def test_missing_file(tmp_path):
    path = tmp_path / "gone.parquet"
    with pytest.raises(DataError, match=rf"^{path}: data file not found$"):
        load_table(str(path), "y")


def test_unreadable_file(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_text("this is not parquet")
    with pytest.raises(DataError, match=rf"^{path}: cannot read the file"):
        load_table(str(path), "y")


def test_missing_values_in_the_target_are_an_error(tmp_path, frame):
    frame.loc[[3, 9], "species"] = None
    path = tmp_path / "holes.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"target column 'species' has 2 missing values"):
        load_table(str(path), "species")


def test_text_target_cannot_be_regression(csv_file):
    cfg = DataConfig(source=str(csv_file), target="species", task="regression")
    with pytest.raises(DataError) as caught:
        prepare(cfg)
    assert str(caught.value) == (f"{csv_file}: target column 'species' is not numeric, "
                                 "so data.task cannot be regression")  # fmt: skip
