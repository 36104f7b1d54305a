"""Rolling cohorts: members that join a running cohort get the run they would get alone.

Members join at different epochs, so within one batched model they sit at different epochs and
steps of their own schedules, bias corrections and batch orders (seeds replayed from their
start); every member's records and summary must still equal ``tuneforge.train`` of its recipe.
"""

from __future__ import annotations

import pytest
from cohort_helpers import make, same_run

import tuneforge
from tuneforge.data import prepare
from tuneforge.errors import ConfigError
from tuneforge.run.cohort import CohortPool

IRIS = ["data.source=iris", "train.batch_size=16", "model.kind=mlp"]  # 6 steps/epoch
ADAM = [*IRIS, "model.activation=relu"]
SGD = [*IRIS, "model.activation=sigmoid", "train.optimizer.name=sgd"]  # padded units masked
NORM = [*IRIS, "model.norm=layer", "train.optimizer.name=adagrad", "model.activation=tanh"]
# batch norm with SGD (Adam amplifies the rounding noise of the bias before a batch norm:
# docs/cohort.md); running statistics start afresh for each member that joins
BATCH = [*IRIS, "model.norm=batch", "train.optimizer.name=sgd", "train.optimizer.momentum=0.9",
         "model.activation=relu", "model.hidden=[8, 6]"]  # fmt: skip

JOINS = {  # pool epoch -> (tag, recipe) joining before it
    0: [("a1", make(*ADAM, "model.hidden=[12]", "train.optimizer.lr=0.01", "train.epochs=18")),
        ("b1", make(*SGD, "model.hidden=[6]", "train.optimizer.lr=0.3", "train.optimizer.momentum=0.9",
                    "train.optimizer.dampening=0.3", "train.epochs=8"))],
    1: [("d1", make(*BATCH, "train.optimizer.lr=0.01", "train.epochs=8")),
        ("c1", make(*NORM, "model.hidden=[5]", "train.optimizer.lr=0.05",
                    "train.optimizer.lr_decay=0.01", "train.epochs=6"))],
    2: [("a2", make(*ADAM, "model.hidden=[16]", "train.optimizer.name=adamw", "train.optimizer.lr=0.02",
                    "train.optimizer.weight_decay=0.1", "train.schedule.name=cosine",
                    "train.schedule.warmup_steps=10", "train.seed=3", "train.epochs=12"))],
    3: [("b2", make(*SGD, "model.hidden=[8]", "train.optimizer.lr=0.1", "train.optimizer.momentum=0.8",
                    "train.optimizer.nesterov=true", "train.regularization.l1=0.05",
                    "train.regularization.l1_mode=proximal", "train.epochs=7"))],
    4: [("a5", make(*ADAM, "model.hidden=[14]", "train.optimizer.lr=0.05", "train.epochs=12",
                    "train.early_stopping.patience=2", "train.early_stopping.monitor=val/loss",
                    "train.schedule.name=plateau", "train.schedule.patience=1",
                    "train.schedule.factor=0.5")),
        ("d2", make(*BATCH, "train.optimizer.lr=0.005", "train.epochs=6", "train.seed=2"))],
    5: [("a3", make(*ADAM, "model.hidden=[9]", "train.optimizer.amsgrad=true", "train.optimizer.lr=0.03",
                    "train.regularization.l2=0.001", "train.clip_grad_norm=0.5", "train.epochs=10")),
        ("a4", make(*ADAM, "model.hidden=[16]", "train.optimizer.lr=0.005", "train.epochs=3",
                    "train.schedule.name=step", "train.schedule.step_size=1",
                    "train.schedule.gamma=0.7", "train.schedule.interval=epoch"))],
}  # fmt: skip


def run_pool(joins: dict, data) -> tuple[dict, list[int]]:
    pool, runs, sizes, epoch = CohortPool(), {}, [], 0
    while epoch in joins or len(pool):
        for tag, cfg in joins.get(epoch, []):
            pool.join(cfg, [], data, tag)
        done = pool.epoch()
        assert not done.failed, done.error
        runs.update(done.left)
        sizes.append(len(pool.cohorts))
        epoch += 1
    return runs, sizes


def test_members_joining_a_running_cohort_get_their_lone_runs() -> None:
    recipes = {tag: cfg for entries in JOINS.values() for tag, cfg in entries}
    runs, sizes = run_pool(JOINS, prepare(recipes["a1"].data))
    assert max(sizes) == 4  # adam / sgd+sigmoid / adagrad+layer norm / batch norm, joined in place
    assert set(runs) == set(recipes)
    for tag, cfg in recipes.items():
        same_run(runs[tag], tuneforge.train(cfg))
    assert runs["a1"].summary["steps"] == 108
    assert runs["a2"].summary["cohort"]["members"] >= 2  # it left a cohort it shared
    assert runs["a5"].summary["status"] == "early_stopped"  # restored its best epoch in place


def test_a_width_above_the_band_starts_its_own_cohort() -> None:
    """Widths 12 and 16 share the band up to 16; 17 needs the next one (up to 32)."""
    data = prepare(make(*ADAM).data)
    pool = CohortPool()
    for width in (12, 16, 17):
        pool.join(make(*ADAM, f"model.hidden=[{width}]", "train.epochs=1"), [], data, width)
    done = pool.epoch()
    assert sorted(tag for tag, _ in done.left) == [12, 16, 17] and not done.failed
    assert not pool.cohorts and len(pool) == 0


def test_a_failing_cohort_gives_back_its_members_and_the_others_go_on(monkeypatch) -> None:
    data = prepare(make(*ADAM).data)
    pool = CohortPool()
    pool.join(make(*ADAM, "train.epochs=2"), [], data, "adam")
    pool.join(make(*SGD, "train.epochs=2"), [], data, "sgd")
    pool.epoch()
    adam = next(t for t in pool.cohorts.values() if t.optimizer.family == "adam")
    monkeypatch.setattr(adam, "train_epoch", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    done = pool.epoch()
    assert done.failed == ["adam"] and str(done.error) == "boom"
    assert [tag for tag, _ in done.left] == ["sgd"] and len(pool) == 0


def test_recipes_the_cohort_cannot_batch_are_refused() -> None:
    data = prepare(make(*ADAM).data)
    with pytest.raises(ConfigError, match="train.augment"):
        CohortPool().join(make(*ADAM, "train.augment={noise: 0.1}"), [], data, "x")
