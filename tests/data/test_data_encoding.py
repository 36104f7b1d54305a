"""Encoding fitted on the training rows only: scaling, one-hot, imputation, targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tuneforge.config.schema import DataConfig
from tuneforge.data import load_encoder, prepare
from tuneforge.errors import DataError


def _scaler(data):
    return data.encoder.features.named_transformers_["num"].named_steps["standardscaler"]


def test_standardization_uses_training_rows_only(tmp_path, frame_factory):
    frame = frame_factory()
    path = tmp_path / "a.csv"
    frame.to_csv(path, index=False)
    cfg = DataConfig(source=str(path), target="species")
    data = prepare(cfg)
    train = frame.iloc[data.rows["train"]]
    scaler = _scaler(data)
    # the reference: plain numpy statistics of the training rows
    np.testing.assert_allclose(scaler.mean_, train[["height", "weight"]].mean().to_numpy())
    np.testing.assert_allclose(scaler.scale_, train[["height", "weight"]].std(ddof=0).to_numpy())
    numeric = data.x["train"][:, :2]
    np.testing.assert_allclose(numeric.mean(0).numpy(), 0.0, atol=1e-5)
    np.testing.assert_allclose(numeric.std(0, unbiased=False).numpy(), 1.0, atol=1e-5)

    # Change every validation and test row: the fitted scaler and the training tensors stay.
    changed = frame.copy()
    held_out = np.concatenate([data.rows["val"], data.rows["test"]])
    changed.loc[held_out, "height"] *= 100.0
    changed.loc[held_out, "weight"] = -5.0
    changed.loc[held_out, "color"] = "blue"
    changed.to_csv(path, index=False)
    again = prepare(cfg)
    assert np.array_equal(again.rows["train"], data.rows["train"])
    np.testing.assert_array_equal(_scaler(again).mean_, scaler.mean_)
    np.testing.assert_array_equal(_scaler(again).scale_, scaler.scale_)
    assert torch.equal(again.x["train"], data.x["train"])
    assert not torch.equal(again.x["test"], data.x["test"])


def test_standardize_off_keeps_raw_numbers(csv_file, frame):
    data = prepare(DataConfig(source=str(csv_file), target="species", standardize=False))
    rows = data.rows["train"]
    np.testing.assert_allclose(data.x["train"][:, 0].numpy(), frame.height.iloc[rows], rtol=1e-6)


def test_text_columns_are_one_hot_encoded(csv_file, frame):
    data = prepare(DataConfig(source=str(csv_file), target="species"))
    names = data.feature_names
    assert names == ["height", "weight", "color_blue", "color_green", "color_red"]
    onehot = data.x["train"][:, 2:]
    assert set(onehot.unique().tolist()) == {0.0, 1.0}
    assert torch.all(onehot.sum(1) == 1)
    colors = frame.color.iloc[data.rows["train"]].to_numpy()
    assert np.array_equal(onehot[:, 2].numpy() == 1, colors == "red")


def test_listed_categorical_columns_are_one_hot_even_when_numeric(tmp_path, frame_factory):
    frame = frame_factory()
    frame["size"] = np.arange(len(frame)) % 3 + 1
    path = tmp_path / "s.csv"
    frame.to_csv(path, index=False)
    data = prepare(DataConfig(source=str(path), target="species", categorical=["color", "size"]))
    assert [n for n in data.feature_names if n.startswith("size")] == ["size_1", "size_2", "size_3"]
    with pytest.raises(DataError, match=r"^data.categorical: columns \['shade'\] are not in"):
        prepare(DataConfig(source=str(path), target="species", categorical=["shade"]))


def test_categories_come_from_training_rows_only(tmp_path, frame_factory):
    frame = frame_factory()
    cfg = DataConfig(source=str(tmp_path / "c.csv"), target="species")
    frame.to_csv(cfg.source, index=False)
    rows = prepare(cfg).rows
    frame.loc[rows["test"][:5], "color"] = "purple"  # never seen while fitting
    frame.to_csv(cfg.source, index=False)
    data = prepare(cfg)
    assert "color_purple" not in data.feature_names
    purple = np.isin(data.rows["test"], rows["test"][:5])
    assert torch.all(data.x["test"][purple][:, 2:] == 0)


def test_missing_values_name_the_column(tmp_path, frame_factory):
    frame = frame_factory()
    frame.loc[[1, 5, 7], "weight"] = np.nan
    frame.loc[[2], "color"] = None
    path = tmp_path / "holes.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError) as caught:
        prepare(DataConfig(source=str(path), target="species"))
    message = str(caught.value)
    assert message.startswith(
        f"{path}: missing values in columns 'weight' (3 rows), 'color' (1 rows)"
    )
    assert "data.impute" in message and "\n" not in message


@pytest.mark.parametrize("strategy", ["mean", "median"])
def test_imputation_uses_training_statistics(tmp_path, strategy, frame_factory):
    frame = frame_factory()
    holes = [1, 5, 7, 11, 40]
    frame.loc[holes, "weight"] = np.nan
    frame.loc[[2, 3], "color"] = None
    path = tmp_path / "holes.csv"
    frame.to_csv(path, index=False)
    cfg = DataConfig(source=str(path), target="species", impute=strategy, standardize=False)
    data = prepare(cfg)
    train = frame.iloc[data.rows["train"]]
    expected = getattr(train.weight.dropna(), strategy)()
    for part in ("train", "val", "test"):
        filled = np.isin(data.rows[part], holes)
        np.testing.assert_allclose(data.x[part][filled][:, 1].numpy(), expected, rtol=1e-6)
    assert not any(torch.isnan(x).any() for x in data.x.values())
    # the text column gets its most frequent training value
    most_frequent = train.color.mode().iloc[0]
    for part in ("train", "val", "test"):
        row = np.flatnonzero(np.isin(data.rows[part], [2, 3]))
        if len(row):
            column = data.feature_names.index(f"color_{most_frequent}")
            assert torch.all(data.x[part][row, column] == 1)


def test_regression_target_standardized_on_training_rows(tmp_path, frame_factory):
    rng = np.random.default_rng(1)
    frame = frame_factory().drop(columns=["species"])
    frame["price"] = rng.normal(1000, 250, len(frame))
    path = tmp_path / "r.csv"
    frame.to_csv(path, index=False)
    data = prepare(DataConfig(source=str(path), target="price"))
    price = frame.price.to_numpy()
    train = price[data.rows["train"]]
    assert data.task == "regression" and data.classes is None
    assert data.encoder.target_mean == pytest.approx(train.mean())
    assert data.encoder.target_std == pytest.approx(train.std())
    decoded = data.encoder.decode_target(data.y["test"].numpy().astype(np.float64))
    np.testing.assert_allclose(decoded, price[data.rows["test"]], rtol=1e-5)


def test_class_labels_are_indices_into_the_sorted_classes(csv_file, frame):
    data = prepare(DataConfig(source=str(csv_file), target="species"))
    assert data.classes == sorted(frame.species.unique()) and data.n_classes == 3
    labels = frame.species.iloc[data.rows["val"]].to_numpy()
    assert data.encoder.decode_target(data.y["val"].numpy()).tolist() == labels.tolist()
    assert data.y["train"].dtype == torch.int64 and data.x["train"].dtype == torch.float32


def test_encoder_round_trips_through_skops(tmp_path, csv_file, frame):
    data = prepare(DataConfig(source=str(csv_file), target="species", impute="median"))
    data.encoder.save(tmp_path / "encoder.skops")
    loaded = load_encoder(tmp_path / "encoder.skops")
    assert loaded.columns == data.encoder.columns and loaded.impute == "median"
    np.testing.assert_array_equal(loaded.transform(frame), data.encoder.transform(frame))
    assert loaded.decode_target(np.array([0, 2])).tolist() == ["mid", "tall"]


def test_encoder_refuses_rows_it_cannot_use(csv_file, frame):
    encoder = prepare(DataConfig(source=str(csv_file), target="species")).encoder
    with pytest.raises(DataError, match=r"^new.csv: missing feature columns \['weight'\]"):
        encoder.transform(frame.drop(columns=["weight"]), "new.csv")
    holes = frame.copy()
    holes.loc[0, "height"] = np.nan
    with pytest.raises(DataError, match=r"^new.csv: missing values in column 'height' \(1 rows\)"):
        encoder.transform(holes, "new.csv")
