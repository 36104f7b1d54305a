"""model.kind: rnn and sequence data: the built-in sine set, .npz sequences, padding masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tuneforge
from tuneforge.config import validate
from tuneforge.data import prepare
from tuneforge.data.split import holdout
from tuneforge.data.tensors import sine_source
from tuneforge.errors import DataError
from tuneforge.models import build_model

FAST = {"diagnostics": {"grad_every": 0}}


def test_lstm_forecasts_the_sine_clearly_better_than_repeating_the_last_value():
    x, y = sine_source()
    _, _, test = holdout(y, "regression", 0.2, 0.2, 0)
    naive_mse = float(np.mean((x[test, -1, 0] - y[test]) ** 2))  # predict the last value seen
    cfg = tuneforge.Config(data={"source": "sine"}, model={"kind": "rnn", "hidden_size": 32},
                           train={"epochs": 25, "optimizer": {"lr": 0.005}, **FAST})  # fmt: skip
    run = tuneforge.train(cfg)
    mse = run.summary["metrics"]["test/rmse"] ** 2  # rmse is in the target's own units
    assert mse < 0.5 * naive_mse, (mse, naive_mse)


def _model(**keys):
    cfg = validate({"model": {"kind": "rnn", "hidden_size": 6, **keys}}, "t").model
    return build_model(cfg, [9, 3], 2, seed=0).eval()


def _padded(lengths, steps, seed=0):
    x = torch.randn(len(lengths), steps, 3, generator=torch.Generator().manual_seed(seed))
    for i, n in enumerate(lengths):
        x[i, n:] = torch.nan
    return x


@pytest.mark.parametrize("keys", [{"cell": "lstm"}, {"cell": "gru", "layers": 2},
                                  {"bidirectional": True}])  # fmt: skip
def test_padding_never_changes_a_sequences_output(keys):
    model = _model(**keys)
    x = _padded([9, 4, 1, 7], 9)
    longer = torch.cat([x, torch.full((4, 5, 3), torch.nan)], 1)  # padded to T + 5
    with torch.no_grad():
        assert torch.equal(model(x), model(longer))
        alone = model(x[1:2, :4])  # the length-4 sequence with no padding at all
        torch.testing.assert_close(model(x)[1:2], alone, rtol=1e-6, atol=1e-6)


def test_npz_sequences_with_lengths_are_masked_and_standardized_on_valid_steps(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(5, 2, (40, 6, 2)).astype(np.float32)
    lengths = rng.integers(1, 7, 40)
    x[np.arange(6)[None, :] >= lengths[:, None]] = 999.0  # whatever the file pads with
    np.savez(tmp_path / "seq.npz", x=x, y=rng.normal(size=40), lengths=lengths)
    data = prepare(validate({"data": {"source": str(tmp_path / "seq.npz")},
                             "model": {"kind": "rnn"}}, "t").data)  # fmt: skip
    train = data.rows["train"]
    valid = np.arange(6)[None, :] < lengths[train][:, None]
    mean, std = x[train][valid].mean(0), x[train][valid].std(0)
    got = data.x["train"].numpy()
    assert np.isnan(got[~valid]).all()
    np.testing.assert_allclose(got[valid], (x[train][valid] - mean) / std, rtol=1e-4, atol=1e-4)
    assert data.task == "regression"


def test_nan_inside_a_sequence_is_a_data_error(tmp_path):
    x = np.zeros((10, 4, 1), np.float32)
    x[3, 1] = np.nan
    np.savez(tmp_path / "bad.npz", x=x, y=np.arange(10.0))
    cfg = validate({"data": {"source": str(tmp_path / "bad.npz")}, "model": {"kind": "rnn"}}, "t")
    with pytest.raises(DataError, match="NaN inside a sequence"):
        prepare(cfg.data)


def test_token_ids_with_a_vocabulary_train(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, (200, 6))
    np.savez(tmp_path / "tok.npz", x=x, y=(x == 3).sum(1) > 1)
    cfg = tuneforge.Config(data={"source": str(tmp_path / "tok.npz")},
                           model={"kind": "rnn", "vocab_size": 5, "hidden_size": 16},
                           train={"epochs": 20, "optimizer": {"lr": 0.01}, **FAST})  # fmt: skip
    run = tuneforge.train(cfg)
    assert run.summary["metrics"]["test/accuracy"] > 0.85


def test_digits_as_a_sequence_are_eight_rows_of_eight_pixels():
    data = prepare(validate({"model": {"kind": "rnn"}}, "t").data)
    assert data.x["train"].shape[1:] == (8, 8) and data.n_features == [8, 8]


def test_image_augmentation_on_sequences_is_a_config_error_and_noise_trains():
    from tuneforge.errors import ConfigError

    cfg = tuneforge.Config(data={"source": "sine"}, model={"kind": "rnn", "hidden_size": 8},
                           train={"epochs": 1, "augment": {"translate": 1}, **FAST})  # fmt: skip
    with pytest.raises(ConfigError, match=r"^train\.augment: translate/flip/rotate/cutout need image"):
        tuneforge.train(cfg)
    cfg = tuneforge.Config(data={"source": "sine"}, model={"kind": "rnn", "hidden_size": 8},
                           train={"epochs": 1, "augment": {"noise": 0.1, "mixup": 0.2}, **FAST})  # fmt: skip
    assert tuneforge.train(cfg).summary["status"] == "completed"
