"""Members act alone: divergence, early stopping and pruning remove one member, not the others."""

from __future__ import annotations

import math

import pytest
import torch
from cohort_helpers import make, same_history, same_run

import tuneforge
from tuneforge.engine.cohort.network import _dropout
from tuneforge.models import build_model
from tuneforge.run.cohort import train_cohort

IRIS = ["data.source=iris", "train.batch_size=16", "train.epochs=18", "model.hidden=[16, 8]"]


def test_a_diverging_member_never_poisons_the_others() -> None:
    sgd = [*IRIS, "train.optimizer.name=sgd", "train.optimizer.momentum=0.9"]
    cfgs = [
        make(*sgd, "train.optimizer.lr=0.05"),
        make(*sgd, "train.optimizer.lr=1e6"),
        make(*sgd, "train.optimizer.lr=0.01", "model.hidden=[8, 4]"),
    ]
    runs = train_cohort(cfgs)
    assert [r.summary["status"] for r in runs] == ["completed", "diverged", "completed"]
    for cfg, run in zip(cfgs, runs, strict=True):
        same_run(run, tuneforge.train(cfg))  # the diverged one too: same step, same report
    assert runs[1].summary["epochs"] <= 3  # it diverged early; the others went on to the end
    assert all(math.isfinite(v) for r in (runs[0], runs[2]) for v in r.summary["metrics"].values())


class PruneAt:
    """A pruner stand-in: says "pruned" at one epoch; keeps the records it was shown."""

    def __init__(self, epoch: int | None):
        self.epoch, self.seen = epoch, []

    def __call__(self, record: dict) -> str | None:
        self.seen.append(dict(record))
        return "pruned" if record["epoch"] == self.epoch else None


def test_early_stopping_and_pruning_remove_only_their_member() -> None:
    stop = ["train.early_stopping.monitor=val/loss", "train.early_stopping.patience=2",
            "train.early_stopping.min_delta=0.02"]  # fmt: skip
    cfgs = [
        make(*IRIS, "train.optimizer.lr=0.05", *stop),
        make(*IRIS, "train.optimizer.lr=0.01"),
        make(*IRIS, "train.optimizer.lr=0.02", "train.optimizer.name=adamw"),
    ]
    callbacks = [[PruneAt(None)], [PruneAt(3)], [PruneAt(None)]]
    runs = train_cohort(cfgs, callbacks)
    assert [r.summary["status"] for r in runs] == ["early_stopped", "pruned", "completed"]
    assert runs[0].summary["epochs"] < 18 and runs[1].summary["epochs"] == 3
    for cfg, run, (mine,) in zip(cfgs, runs, callbacks, strict=True):
        theirs = PruneAt(mine.epoch)
        alone = tuneforge.train(cfg, callbacks=[theirs])
        same_run(run, alone)
        same_history(mine.seen, theirs.seen)  # the callbacks saw the same records
    # early stopping restored the best epoch's weights, as alone
    assert runs[0].summary["best_epoch"] < runs[0].summary["epochs"]


def test_dropout_is_per_member_and_only_in_training() -> None:
    gen = torch.Generator().manual_seed(0)
    h = torch.ones(3, 4000, 8)
    p = torch.tensor([0.0, 0.25, 0.5])
    out = _dropout(h, p, gen)
    assert torch.equal(out[0], h[0])  # p = 0: the identity
    for k in (1, 2):
        dropped = float((out[k] == 0).float().mean())
        assert abs(dropped - float(p[k])) < 0.02
        assert torch.allclose(out[k][out[k] != 0], torch.tensor(1 / (1 - float(p[k]))))

    cfgs = [make(*IRIS, "train.epochs=4"), make(*IRIS, "train.epochs=4", "model.dropout=0.5")]
    runs = train_cohort(cfgs)
    same_run(runs[0], tuneforge.train(cfgs[0]))  # a neighbour's dropout changes nothing here
    model = runs[1].model
    assert any(isinstance(m, torch.nn.Dropout) for m in model.modules())
    x = torch.randn(64, 4)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), model(x))
        assert not torch.equal(model.train()(x), model(x))


def test_member_models_are_plain_modules_of_their_own_width() -> None:
    cfgs = [make(*IRIS, "train.epochs=3", f"model.hidden={h}") for h in ("[16, 8]", "[4, 12]")]
    runs = train_cohort(cfgs)
    data = tuneforge.data.prepare(cfgs[0].data)
    for cfg, run in zip(cfgs, runs, strict=True):
        expected = build_model(cfg.model, data.n_features, 3)
        assert {k: v.shape for k, v in run.model.state_dict().items()} == \
            {k: v.shape for k, v in expected.state_dict().items()}  # fmt: skip
        alone = tuneforge.train(cfg)
        with torch.no_grad():
            torch.testing.assert_close(run.model(data.x["test"]), alone.model(data.x["test"]),
                                       rtol=1e-4, atol=1e-5)  # fmt: skip
        rows = data.encoder.columns
        frame = {c: [5.1, 6.2] for c in rows}
        import pandas as pd

        assert list(run.predict(pd.DataFrame(frame))) == list(alone.predict(pd.DataFrame(frame)))
        assert run.summary["cohort"] == {"members": 2, "member": cfgs.index(cfg)}


def test_mixed_structures_are_refused() -> None:
    with pytest.raises(tuneforge.ConfigError, match="group_cohorts"):
        train_cohort([make(*IRIS), make(*IRIS, "model.norm=layer")])


@pytest.mark.slow
def test_compiled_cohort_gives_the_same_numbers() -> None:
    """torch.compile (dynamic in K: a member leaves mid-way) changes no number beyond rounding."""
    stop = ["train.early_stopping.monitor=val/loss", "train.early_stopping.patience=1",
            "train.early_stopping.min_delta=0.05"]  # fmt: skip
    cfgs = [
        make(*IRIS, "train.epochs=8", "train.optimizer.lr=0.05", *stop),
        make(*IRIS, "train.epochs=8", "model.dropout=0.3", "train.seed=4"),
        make(*IRIS, "train.epochs=8", "model.hidden=[4, 4]", "train.regularization.l2=0.01"),
    ]
    compiled, eager = train_cohort(cfgs, compile=True), train_cohort(cfgs)
    assert compiled[0].summary["epochs"] < 8  # the cohort shrank while compiled
    for a, b in zip(compiled, eager, strict=True):
        same_run(a, b)
