"""``encoder.json``: the plain form ``tuneforge predict`` reads instead of ``encoder.skops``.

The reference is the complete scikit-learn encoder read back from ``encoder.skops``: the plain
form must encode rows and decode predictions to exactly the same values, and must not exist
for an encoder it cannot represent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tuneforge.config.schema import DataConfig
from tuneforge.data import Encoder, prepare
from tuneforge.data.plain import StandardizedColumns
from tuneforge.data.reuse import load_encoder
from tuneforge.errors import DataError


def saved(tmp_path, cfg: DataConfig) -> tuple[Encoder, Encoder]:
    """The fitted scikit-learn encoder (the reference) and the one a run saves and reads back."""
    fitted = prepare(cfg).encoder
    fitted.save(tmp_path / "encoder.skops")
    return fitted, load_encoder(tmp_path / "encoder.skops")


def test_numeric_rows_and_text_labels_match_the_skops_encoder_exactly(tmp_path, frame):
    numeric = frame.drop(columns=["color"])
    numeric.to_csv(tmp_path / "a.csv", index=False)
    full, plain = saved(tmp_path, DataConfig(source=str(tmp_path / "a.csv"), target="species"))
    assert isinstance(plain.features, StandardizedColumns)
    assert not (tmp_path / "encoder.skops").exists()  # the plain form is the whole record
    rows = numeric.drop(columns=["species"]).sample(frac=1.0, random_state=1)
    np.testing.assert_array_equal(plain.transform(rows, "new.csv"), full.transform(rows, "new.csv"))
    index = np.array([2, 0, 1, 1])
    assert plain.decode_target(index).tolist() == full.decode_target(index).tolist()
    assert plain.columns == full.columns
    assert plain.features.get_feature_names_out().tolist() == full.features.get_feature_names_out().tolist()
    labels = numeric["species"].sample(frac=1.0, random_state=2)
    np.testing.assert_array_equal(plain.encode_target(labels), full.encode_target(labels))
    with pytest.raises(ValueError, match="previously unseen labels"):
        full.labels.transform(["huge"])  # scikit-learn's refusal ...
    with pytest.raises(ValueError, match=r"previously unseen labels: \['huge'\]"):
        plain.labels.transform(["huge", "mid"])  # ... and the plain form's
    # A plain encoder read back is saved again as the same encoder.json (a refined run, an estimator).
    written = (tmp_path / "encoder.json").read_text()
    (tmp_path / "again").mkdir()
    plain.save(tmp_path / "again" / "encoder.skops")
    assert (tmp_path / "again" / "encoder.json").read_text() == written
    assert not (tmp_path / "again" / "encoder.skops").exists()


def test_integer_classes_decode_as_the_skops_encoder_does(tmp_path):
    full, plain = saved(tmp_path, DataConfig(source="digits"))
    assert isinstance(plain.features, StandardizedColumns)
    index = np.arange(10)[::-1]
    np.testing.assert_array_equal(plain.decode_target(index), full.decode_target(index))
    classes = np.array([3, 0, 9, 9, 1])
    np.testing.assert_array_equal(plain.encode_target(pd.Series(classes)), full.encode_target(pd.Series(classes)))


def test_regression_target_scaling_is_kept(tmp_path):
    full, plain = saved(tmp_path, DataConfig(source="diabetes", standardize_target=True))
    assert (plain.target_mean, plain.target_std) == (full.target_mean, full.target_std) != (0.0, 1.0)
    values = np.array([-1.0, 0.0, 2.5])
    np.testing.assert_array_equal(plain.decode_target(values), full.decode_target(values))


def test_bad_rows_are_refused_with_the_same_messages(tmp_path, frame):
    frame.drop(columns=["color"]).to_csv(tmp_path / "a.csv", index=False)
    _, plain = saved(tmp_path, DataConfig(source=str(tmp_path / "a.csv"), target="species"))
    rows = frame[["height", "weight"]].copy()
    with pytest.raises(DataError, match=r"^new.csv: missing feature columns \['weight'\]"):
        plain.transform(rows.drop(columns=["weight"]), "new.csv")
    rows.loc[0, "height"] = np.inf
    with pytest.raises(DataError, match=r"^new.csv: cannot encode the feature columns"):
        plain.transform(rows, "new.csv")
    with pytest.raises(DataError, match=r"^new.csv: cannot encode the feature columns"):
        plain.transform(pd.DataFrame({"height": ["tall"], "weight": [1.0]}), "new.csv")


def test_encoders_without_a_plain_form_are_read_from_skops(tmp_path, csv_file):
    # A categorical column (one-hot) and imputation: only encoder.skops holds them.
    for cfg in (DataConfig(source=str(csv_file), target="species"),
                DataConfig(source="digits", impute="median")):  # fmt: skip
        full, plain = saved(tmp_path, cfg)
        assert not (tmp_path / "encoder.json").exists()  # a stale one from the loop is removed
        assert (tmp_path / "encoder.skops").is_file()
        assert type(plain.features) is type(full.features)
