"""What tuneforge checks in a table (data/checks.py, docs/data.md): issue #18's data rows.

Each test writes a small CSV into tmp_path and calls ``prepare`` as training does; refusals are
DataError (the CLI's exit code 2) naming the file and the column, doubts are Dataset.warnings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tuneforge.config.schema import DataConfig
from tuneforge.data import prepare
from tuneforge.errors import DataError


def numeric_frame(n: int = 50, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    frame["y"] = 2 * frame["a"] + frame["b"]
    return frame


def data(path, **keys) -> DataConfig:
    return DataConfig(source=str(path), target="y", **keys)


def test_a_target_with_one_value_is_refused_not_taken_as_one_class(tmp_path):
    frame = numeric_frame()
    frame["y"] = 5.0
    frame.to_csv(path := tmp_path / "const.csv", index=False)
    with pytest.raises(DataError, match=r"const.csv: target column 'y' has a single value \(5.0\)"):
        prepare(data(path))


def test_a_single_class_target_is_refused(tmp_path):
    frame = numeric_frame()
    frame["y"] = "cat"
    frame.to_csv(path := tmp_path / "one.csv", index=False)
    with pytest.raises(DataError, match="single value \\('cat'\\)"):
        prepare(data(path, task="classification"))


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinity_in_a_feature_names_the_column_and_its_first_row(tmp_path, value):
    frame = numeric_frame()
    frame.loc[[7, 20], "b"] = value  # rows 8 and 21, counted from 1
    frame.to_csv(path := tmp_path / "inf.csv", index=False)
    with pytest.raises(DataError, match=r"inf.csv: column 'b' holds -?inf in row 8 \(2 rows in all\)"):
        prepare(data(path))


def test_infinity_in_a_regression_target_is_refused(tmp_path):
    frame = numeric_frame()
    frame.loc[3, "y"] = np.inf
    frame.to_csv(path := tmp_path / "t.csv", index=False)
    with pytest.raises(DataError, match="target column 'y' holds inf in row 4"):
        prepare(data(path, task="regression"))


def test_a_number_column_with_stray_text_warns_with_share_and_example(tmp_path):
    frame = numeric_frame()
    frame["b"] = frame["b"].astype(object)
    frame.loc[7, "b"] = "abc"
    frame.to_csv(path := tmp_path / "text.csv", index=False)
    found = prepare(data(path))
    assert len(found.warnings) == 1
    warning = found.warnings[0]
    assert "text.csv: column 'b': 98% of its values are numbers" in warning  # 49 of 50
    assert "'abc' (row 8)" in warning and "data.numeric" in warning and "data.categorical" in warning


def test_data_numeric_reads_the_column_as_numbers_and_imputes_the_text(tmp_path):
    frame = numeric_frame()
    frame["b"] = frame["b"].astype(object)
    frame.loc[7, "b"] = "abc"
    frame.to_csv(path := tmp_path / "text.csv", index=False)
    found = prepare(data(path, numeric=["b"], impute="mean", standardize=False, split={"val": 0, "test": 0}))
    assert found.warnings == [] and found.n_features == 3  # a, b, c: b is one number, not 50 columns
    b = found.x["train"][:, found.feature_names.index("b")].numpy()
    clean = pd.to_numeric(frame["b"], errors="coerce")
    rows = found.rows["train"]
    expected = clean.iloc[rows].fillna(clean.iloc[rows].mean()).to_numpy(np.float32)  # SimpleImputer's mean
    np.testing.assert_allclose(b, expected, rtol=1e-6)
    # predict-time rows go through the same reading: the text becomes missing, then imputed
    again = found.encoder.transform(frame.drop(columns="y"), "new.csv")
    np.testing.assert_allclose(again[:, found.feature_names.index("b")][np.argsort(rows)], expected[np.argsort(rows)],
                               rtol=1e-6)  # fmt: skip


def test_text_in_a_column_left_out_of_data_categorical_is_refused(tmp_path):
    frame = numeric_frame()
    frame["b"] = frame["b"].astype(object)
    frame.loc[7, "b"] = "abc"
    frame.to_csv(path := tmp_path / "text.csv", index=False)
    with pytest.raises(DataError, match="column 'b' is not in data.categorical but holds the text 'abc'"):
        prepare(data(path, categorical=["c"]))


def test_listing_the_column_in_data_categorical_decides_and_silences_the_warning(tmp_path):
    frame = numeric_frame()
    frame["b"] = frame["b"].astype(object)
    frame.loc[7, "b"] = "abc"
    frame.to_csv(path := tmp_path / "text.csv", index=False)
    assert prepare(data(path, categorical=["b"])).warnings == []


def test_an_all_missing_column_dropped_by_impute_warns(tmp_path):
    frame = numeric_frame()
    frame["c"] = np.nan
    frame.to_csv(path := tmp_path / "nan.csv", index=False)
    found = prepare(data(path, impute="mean"))
    assert found.warnings == [f"{path}: column 'c': every value is missing, so data.impute drops it"]
    assert "c" not in found.feature_names  # scikit-learn's SimpleImputer drops it indeed


def test_data_features_listing_the_target_says_it_is_the_target(tmp_path):
    numeric_frame().to_csv(path := tmp_path / "f.csv", index=False)
    with pytest.raises(DataError, match="data.features lists 'y', which is data.target"):
        prepare(data(path, features=["a", "y"]))


def test_a_file_with_only_a_header_is_refused(tmp_path):
    (path := tmp_path / "empty.csv").write_text("a,b,y\n")
    with pytest.raises(DataError, match="empty.csv: no rows"):
        prepare(data(path))
