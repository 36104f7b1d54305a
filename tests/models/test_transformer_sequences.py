"""model.kind: transformer: a seeded token task, padding masks, positional encodings, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tuneforge
from tuneforge.config import validate
from tuneforge.errors import ConfigError
from tuneforge.models import build_model
from tuneforge.models.sequence import sinusoidal_positions

FAST = {"diagnostics": {"grad_every": 0}}


def _counting_task(path, n=600, seed=0):
    """Variable-length token sequences; label: token 1 occurs more often than token 2."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, (n, 12))
    lengths = rng.integers(4, 13, n)
    valid = np.arange(12)[None, :] < lengths[:, None]
    y = ((x == 1) & valid).sum(1) > ((x == 2) & valid).sum(1)
    np.savez(path, x=x, y=y.astype(int), lengths=lengths)
    return str(path), y


def test_transformer_learns_a_token_task_with_warmup_and_cosine(tmp_path):
    source, y = _counting_task(tmp_path / "count.npz")
    baseline = max(y.mean(), 1 - y.mean())  # always answering the majority class
    cfg = tuneforge.Config(
        data={"source": source},
        model={"kind": "transformer", "vocab_size": 6, "d_model": 32, "heads": 4, "layers": 1,
               "ff": 64, "dropout": 0.0},
        train={"epochs": 20, "optimizer": {"name": "adamw", "lr": 0.003},
               "schedule": {"name": "cosine", "warmup_steps": 30}, **FAST},
    )  # fmt: skip
    run = tuneforge.train(cfg)
    lrs = [r["lr"] for r in run.history]
    assert max(lrs) == pytest.approx(0.003, rel=0.05) and lrs[-1] < 0.1 * max(lrs)
    accuracy = run.summary["metrics"]["test/accuracy"]
    assert accuracy >= max(0.85, baseline + 0.2), (accuracy, baseline)


@pytest.mark.parametrize("pooling", ["mean", "cls", "last"])
@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
def test_padding_does_not_change_the_output(pooling, positional):
    raw = {"kind": "transformer", "d_model": 8, "heads": 2, "ff": 16, "pooling": pooling,
           "positional": positional, "max_length": 16}  # fmt: skip
    model = build_model(validate({"model": raw}, "t").model, [9, 3], 2, seed=0).eval()
    x = torch.randn(3, 9, 3)
    x[1, 4:] = torch.nan
    x[2, 1:] = torch.nan
    longer = torch.cat([x, torch.full((3, 5, 3), torch.nan)], 1)
    with torch.no_grad():
        out = model(x)
        torch.testing.assert_close(model(longer), out, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(model(x[1:2, :4]), out[1:2], rtol=1e-5, atol=1e-6)


def test_sinusoidal_positions_follow_the_formula():
    table = sinusoidal_positions(5, 6)[0]
    pos, i = 3, 2  # dims 2i and 2i+1 at position 3
    angle = pos / 10000 ** (2 * i / 6)
    assert table[pos, 2 * i].item() == pytest.approx(np.sin(angle), abs=1e-6)
    assert table[pos, 2 * i + 1].item() == pytest.approx(np.cos(angle), abs=1e-6)


def test_heads_must_divide_d_model():
    with pytest.raises(ConfigError, match=r"^config: model\.heads: .*d_model 30 must be divisible"):
        tuneforge.Config(model={"kind": "transformer", "d_model": 30, "heads": 4})


def test_token_ids_beyond_the_vocabulary_name_model_vocab_size(tmp_path):
    source, _ = _counting_task(tmp_path / "count.npz", n=60)
    cfg = tuneforge.Config(data={"source": source}, model={"kind": "transformer", "vocab_size": 4})
    with pytest.raises(ConfigError, match=r"^model\.vocab_size: 4, but .* holds token id 5"):
        tuneforge.train(cfg)


def test_float_sequences_without_vocab_and_tokens_without_it_are_named(tmp_path):
    source, _ = _counting_task(tmp_path / "count.npz", n=60)
    with pytest.raises(ConfigError, match=r"^model\.vocab_size: the rows are integer token ids"):
        tuneforge.train(tuneforge.Config(data={"source": source}, model={"kind": "transformer"}))
    with pytest.raises(ConfigError, match=r"^model\.vocab_size: set for token ids"):
        tuneforge.train(tuneforge.Config(data={"source": "sine"},
                                         model={"kind": "transformer", "vocab_size": 9}))  # fmt: skip
