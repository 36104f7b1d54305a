"""data.prep: polynomial -> select -> pca, fitted on training rows only, saved with the model.

References are scikit-learn's own transformers fitted here on the same training rows.
"""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.feature_selection import SelectFromModel, SelectKBest, f_classif, mutual_info_classif
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from tuneforge.config import load_config
from tuneforge.config.schema import DataConfig
from tuneforge.data import prepare
from tuneforge.errors import ConfigError


def data_cfg(**prep) -> DataConfig:
    return DataConfig(source="digits", prep=prep)


def scaled_train(data) -> tuple[np.ndarray, np.ndarray]:
    """Digits' training rows standardized with statistics of those rows only (the reference)."""
    x, y = load_digits(return_X_y=True)
    train = data.rows["train"]
    return StandardScaler().fit_transform(x[train]), y[train]


def test_pca_fraction_keeps_the_components_sklearn_keeps():
    data = prepare(data_cfg(pca={"components": 0.95}))
    x_ref, _ = scaled_train(data)
    reference = PCA(0.95, svd_solver="full").fit(x_ref)
    assert data.n_features == reference.n_components_
    assert 20 < data.n_features < 64  # it did reduce, and kept more than a handful
    np.testing.assert_allclose(data.x["train"].numpy(), reference.transform(x_ref), atol=1e-4)
    assert data.feature_names[:2] == ["pca0", "pca1"]


def test_pca_count_keeps_that_many_components():
    data = prepare(data_cfg(pca={"components": 7}))
    assert data.n_features == 7 and data.x["test"].shape[1] == 7


@pytest.mark.parametrize(
    "score, func", [("f_test", f_classif), ("mutual_info", mutual_info_classif)]
)
def test_select_keeps_k_columns_sklearn_picks(score, func):
    data = prepare(data_cfg(select={"k": 12, "score": score}))
    x_ref, y_ref = scaled_train(data)
    if func is mutual_info_classif:
        func = partial(func, random_state=data_cfg().split.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # digits' constant corner pixels
        reference = SelectKBest(func, k=12).fit(x_ref, y_ref)
    chosen = [f"pixel_{i // 8}_{i % 8}" for i in np.flatnonzero(reference.get_support())]
    assert data.n_features == 12
    assert data.feature_names == chosen
    np.testing.assert_allclose(data.x["train"].numpy(), reference.transform(x_ref), atol=1e-5)


def test_model_based_select_keeps_k_largest_coefficients():
    data = prepare(data_cfg(select={"k": 9, "score": "linear"}))
    x_ref, y_ref = scaled_train(data)
    reference = SelectFromModel(LogisticRegression(max_iter=2000), max_features=9,
                                threshold=-np.inf).fit(x_ref, y_ref)  # fmt: skip
    assert data.n_features == 9
    np.testing.assert_allclose(data.x["train"].numpy(), reference.transform(x_ref), atol=1e-5)


def test_steps_run_in_the_documented_order():
    data = prepare(data_cfg(pca={"components": 5}, polynomial={"degree": 2}, select={"k": 30}))
    names = [name for name, _ in data.encoder.features.steps]
    assert names == ["encode", "polynomial", "select", "pca"]
    assert data.encoder.features.named_steps["select"].n_features_in_ == 64 + 64 * 65 // 2
    assert data.n_features == 5


# ----------------------------------------------------------------------------- no leakage
def fitted_state(data) -> dict[str, np.ndarray]:
    steps = data.encoder.features.named_steps
    return {"scores": steps["select"].scores_, "components": steps["pca"].components_,
            "mean": steps["pca"].mean_, "train": data.x["train"].numpy()}  # fmt: skip


@pytest.mark.parametrize("fold", [None, 1])
def test_changing_val_and_test_rows_never_changes_the_fitted_steps(tmp_path, fold):
    x, y = load_digits(return_X_y=True, as_frame=True)
    frame = x.assign(label=y)
    clean = tmp_path / "clean.csv"
    frame.to_csv(clean, index=False)
    prep = {"select": {"k": 30, "score": "mutual_info"}, "pca": {"components": 0.9}}
    cfg = DataConfig(source=str(clean), target="label", prep=prep)
    before = prepare(cfg, fold=fold)
    held_out = np.concatenate([before.rows["val"], before.rows["test"]])
    noisy = frame.copy()
    rng = np.random.default_rng(1)
    noisy.iloc[held_out, :64] = rng.normal(0, 30, (len(held_out), 64))
    dirty = tmp_path / "dirty.csv"
    noisy.to_csv(dirty, index=False)
    after = prepare(cfg.model_copy(update={"source": str(dirty)}), fold=fold)
    assert np.array_equal(after.rows["train"], before.rows["train"])
    for key, value in fitted_state(before).items():
        np.testing.assert_array_equal(fitted_state(after)[key], value, err_msg=key)
    assert not np.allclose(after.x["val"].numpy(), before.x["val"].numpy())  # they did change


# ----------------------------------------------------------------------- config and errors
def test_prep_keys_are_dotted_overrides_like_any_other():
    cfg = load_config(None, ["data.prep.pca.components=10", "data.prep.select.score=forest"])
    assert cfg.data.prep.pca.components == 10 and isinstance(cfg.data.prep.pca.components, int)
    assert cfg.data.prep.select.k == 20  # the default k came with the section
    assert load_config(None, ["data.prep.pca.components=0.8"]).data.prep.pca.components == 0.8


@pytest.mark.parametrize("override, key", [("data.prep.pca.components=1.5", "data.prep.pca.components"),
                                           ("data.prep.select.score=chi2", "data.prep.select.score"),
                                           ("data.prep.polynomial.degree=1", "data.prep.polynomial.degree")])  # fmt: skip
def test_bad_prep_values_name_the_key(override, key):
    with pytest.raises(ConfigError, match=key):
        load_config(None, [override])


def test_more_columns_than_reach_a_step_is_a_config_error():
    with pytest.raises(ConfigError, match=r"data\.prep\.select\.k: 100 .* 64 feature columns"):
        prepare(data_cfg(select={"k": 100}))
    with pytest.raises(ConfigError, match=r"data\.prep\.pca\.components: 40 "):
        prepare(data_cfg(select={"k": 30}, pca={"components": 40}))


def test_without_prep_the_encoder_is_the_plain_column_transformer():
    from sklearn.compose import ColumnTransformer

    assert isinstance(prepare(data_cfg()).encoder.features, ColumnTransformer)
