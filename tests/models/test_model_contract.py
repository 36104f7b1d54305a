"""Contract tests over every entry of the model registry (a new kind adds an example here)."""

from __future__ import annotations

import functools
import tempfile

import pytest
import torch

from tuneforge.config import validate
from tuneforge.models import MODELS, build_model
from tuneforge.usercode import give

#: kind -> (model config, n_in as the data gives it, a batch of 5 rows)
EXAMPLES = {
    "linear": ({"kind": "linear"}, 6, lambda: torch.randn(5, 6)),
    "logistic": ({"kind": "logistic"}, 6, lambda: torch.randn(5, 6)),
    "mlp": ({"kind": "mlp", "hidden": [8], "norm": "batch"}, 6, lambda: torch.randn(5, 6)),
    "cnn": ({"kind": "cnn", "channels": [4, 8], "head": 8}, [1, 8, 8],
            lambda: torch.randn(5, 1, 8, 8)),
    "rnn": ({"kind": "rnn", "hidden_size": 8, "layers": 2, "bidirectional": True}, [7, 3],
            lambda: torch.randn(5, 7, 3)),
    "transformer": ({"kind": "transformer", "d_model": 8, "heads": 2, "ff": 16}, [7, 3],
                    lambda: torch.randn(5, 7, 3)),
    # a tiny finished run (iris: 4 features) as the source, with a new, seeded head
    "pretrained": (lambda: {"kind": "pretrained", "source": _source_run(), "new_head": True}, 4,
                   lambda: torch.randn(5, 4)),
    # the user's factory, handed over as the Python API does (tuneforge.train(cfg, model=...))
    "custom": (lambda: {"kind": "custom", "factory": give(_users_net, "model"), "args": {"width": 5}},
               6, lambda: torch.randn(5, 6)),
}  # fmt: skip


def _users_net(n_inputs, n_outputs, width):
    return torch.nn.Sequential(torch.nn.Linear(n_inputs, width), torch.nn.LayerNorm(width),
                               torch.nn.GELU(), torch.nn.Linear(width, n_outputs))  # fmt: skip


@functools.cache
def _source_run() -> str:
    import tuneforge

    folder = tempfile.mkdtemp(prefix="tuneforge-contract-")
    tuneforge.train(tuneforge.load_config(overrides=[
        "data.source=iris", "model.hidden=[8]", "train.epochs=1", "logging.report=false"]), folder)
    return folder


def test_every_registered_kind_has_an_example():
    assert set(MODELS) == set(EXAMPLES)


def _model(kind, seed=0):
    raw, n_in, _ = EXAMPLES[kind]
    raw = raw() if callable(raw) else raw
    cfg = validate({"model": raw, "data": {"task": "classification"}}, "test")
    return build_model(cfg.model, n_in, 3, seed=seed)


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_output_shape_and_every_parameter_gets_a_gradient(kind):
    model = _model(kind)
    out = model(EXAMPLES[kind][2]())
    assert out.shape == (5, 3) and out.dtype == torch.float32
    out.square().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_the_seed_alone_decides_the_initial_weights(kind):
    torch.manual_seed(123)
    a = _model(kind, seed=7).state_dict()
    torch.manual_seed(456)
    b = _model(kind, seed=7).state_dict()
    c = _model(kind, seed=8).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_in_eval_mode_each_rows_output_depends_on_that_row_alone(kind):
    """Eval mode turns dropout off and makes batch norm use its running statistics: a row's
    output is the same in a batch of 5 as alone, and the same on every call (an independent
    reference: the row computed on its own, not the same batch twice)."""
    model = _model(kind)
    x = EXAMPLES[kind][2]()
    model.train()
    with torch.no_grad():
        model(x)  # a training forward moves batch-norm running statistics away from their start
    model.eval()
    with torch.no_grad():
        together = model(x)
        alone = torch.cat([model(x[i : i + 1]) for i in range(len(x))])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        assert torch.equal(model(x), together)


def test_the_row_check_fails_for_a_model_left_in_training_mode():
    """Batch norm in training mode normalizes over the batch: rows depend on each other."""
    model = _model("mlp").train()
    x = EXAMPLES["mlp"][2]()
    with torch.no_grad():
        together, first = model(x)[:2], model(x[:2])
    assert not torch.allclose(together, first, atol=1e-4)
