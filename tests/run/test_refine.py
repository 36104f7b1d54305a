"""``tuneforge refine``: the perturbation search over a finished run's weights (run/refine.py).

References are independent of the search: each perturbed model is rebuilt as its own module
(``load_state_dict``) and scored with torch's own loss functions; the noise is redrawn from the
documented protocol; the least-squares optimum comes from NumPy.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

import tuneforge
from tuneforge.data import prepare
from tuneforge.predict import evaluate_run
from tuneforge.recipe import Recipe
from tuneforge.run.refine import evaluate_members, member_losses, perturbations

IRIS = {
    "data": {"source": "iris"},
    "model": {"kind": "mlp", "hidden": [8]},
    "train": {"epochs": 2, "batch_size": 16, "optimizer": {"name": "adam", "lr": 0.01}},
}


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory) -> Path:
    """A briefly trained iris MLP (far from its optimum), with a report."""
    folder = tmp_path_factory.mktemp("refine") / "iris"
    tuneforge.train(tuneforge.Config(**IRIS), folder)
    return folder


def noise(model: torch.nn.Module, trials: int, seed: int) -> dict[str, torch.Tensor]:
    """The documented protocol: one CPU generator, randn((trials, *shape)) per parameter in order."""
    generator = torch.Generator().manual_seed(seed)
    return {name: torch.randn((trials, *p.shape), generator=generator) for name, p in model.named_parameters()}


def module_losses(model, eps: dict, scale: float, x, y) -> list[float]:
    """Each perturbed model as its own module, scored by torch's cross-entropy."""
    losses = []
    for k in range(len(next(iter(eps.values())))):
        member = copy.deepcopy(model)
        state = {name: p.detach() + scale * eps[name][k] for name, p in model.named_parameters()}
        member.load_state_dict(state)
        with torch.no_grad():
            losses.append(float(F.cross_entropy(member.eval()(x), y)))
    return losses


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def test_batched_members_equal_each_perturbed_module(iris_run):
    run = tuneforge.load_run(iris_run)
    data = prepare(run.config.data)
    stacked = perturbations(run.model, 9, 0.3, seed=4)
    eps = noise(run.model, 9, seed=4)
    for name, p in run.model.named_parameters():  # the documented noise, w + σ·ε
        torch.testing.assert_close(stacked[name], p.detach() + 0.3 * eps[name], rtol=0, atol=0)
    x, y = data.x["val"], data.y["val"]
    batched = member_losses(run.model, stacked, x, y, lambda pred, t: F.cross_entropy(
        pred.transpose(1, 2), t.expand(pred.shape[:2]), reduction="none"))  # fmt: skip
    expected = module_losses(run.model, eps, 0.3, x, y)
    np.testing.assert_allclose(batched.numpy(), expected, rtol=0, atol=1e-6)


def test_one_by_one_fallback_gives_the_same_losses(iris_run, monkeypatch):
    import tuneforge.run.refine as refine_module

    run = tuneforge.load_run(iris_run)
    data = prepare(run.config.data)
    stacked = perturbations(run.model, 5, 0.2, seed=0)
    loss = Recipe.build(run.config.train, data).loss
    batched, how = evaluate_members(run.model, stacked, data.x["val"], data.y["val"], loss)
    assert how == "batched (vmap)"

    def cannot_batch(*args, **kwargs):
        raise RuntimeError("no batching rule")

    monkeypatch.setattr(refine_module, "member_losses", cannot_batch)
    alone, how = evaluate_members(run.model, stacked, data.x["val"], data.y["val"], loss)
    assert how.startswith("one by one:") and "no batching rule" in how
    np.testing.assert_allclose(alone.numpy(), batched.numpy(), rtol=0, atol=1e-6)


def test_keeps_the_argmin_in_a_new_run_and_leaves_the_source_alone(iris_run, tmp_path):
    before = tree_digest(iris_run)
    run = tuneforge.load_run(iris_run)
    data = prepare(run.config.data)
    x, y = data.x["val"], data.y["val"]
    eps = noise(run.model, 40, seed=1)
    losses = module_losses(run.model, eps, 0.2, x, y)
    with torch.no_grad():
        unperturbed = float(F.cross_entropy(run.model(x), y))
    assert min(losses) < unperturbed  # the setting: an undertrained run some noise improves

    new = tuneforge.refine(iris_run, trials=40, scale=0.2, part="val", seed=1, out=tmp_path / "new")
    record = new.summary["refine"]
    best = int(np.argmin(losses))
    assert record["trial"] == best
    assert record["loss_before"] == pytest.approx(unperturbed, abs=1e-6)
    assert record["loss_after"] == pytest.approx(losses[best], abs=1e-6)
    assert record["better_trials"] == sum(v < unperturbed for v in losses)
    assert (record["trials"], record["scale"], record["seed"], record["part"]) == (40, 0.2, 1, "val")
    saved = load_file(tmp_path / "new" / "model.safetensors")
    for name, p in run.model.named_parameters():
        torch.testing.assert_close(saved[name], p.detach() + 0.2 * eps[name][best])
    assert tree_digest(iris_run) == before  # the source folder is byte-identical
    assert (tmp_path / "new" / "report.html").is_file()  # the source had one
    assert (tmp_path / "new" / "config.yaml").read_text() == (iris_run / "config.yaml").read_text()


def test_new_runs_scores_are_its_saved_weights_scores(iris_run, tmp_path):
    new = tuneforge.refine(iris_run, trials=30, scale=0.2, seed=2, out=tmp_path / "new")
    metrics = new.summary["metrics"]
    loaded = tuneforge.load_run(tmp_path / "new")
    data = prepare(loaded.config.data)
    with torch.no_grad():
        for part in ("train", "val", "test"):  # a fresh evaluation of the saved weights
            fresh = float(F.cross_entropy(loaded.model(data.x[part]), data.y[part]))
            assert metrics[f"{part}/loss"] == pytest.approx(fresh, abs=1e-6)
    assert metrics["val/loss"] == pytest.approx(new.summary["refine"]["loss_after"], abs=1e-6)
    for part in ("val", "test"):  # what `tuneforge evaluate` prints
        for key, value in evaluate_run(tmp_path / "new", part=part).items():
            assert metrics[f"{part}/{key}"] == pytest.approx(value, abs=1e-9)


def test_a_seed_makes_it_reproducible(iris_run, tmp_path):
    runs = [tuneforge.refine(iris_run, trials=20, scale=0.2, seed=s, out=tmp_path / f"r{i}")
            for i, s in enumerate([5, 5, 6])]  # fmt: skip
    weights = [(tmp_path / f"r{i}" / "model.safetensors").read_bytes() for i in range(3)]
    assert weights[0] == weights[1] and weights[0] != weights[2]
    first, again = (dict(r.summary["refine"]) for r in runs[:2])
    first.pop("wall_time_s"), again.pop("wall_time_s")
    assert {**first, "source": None} == {**again, "source": None}


def test_nothing_beats_the_least_squares_optimum_on_train(tmp_path):
    """Train MSE is strictly convex in a linear model's weights: at NumPy's least-squares
    solution every perturbation is worse, so nothing is written."""
    cfg = tuneforge.Config(data={"source": "linear"}, model={"kind": "linear"},
                           train={"epochs": 1}, logging={"report": False})  # fmt: skip
    tuneforge.train(cfg, tmp_path / "lin")
    trained = tuneforge.refine(tmp_path / "lin", trials=200, scale=0.05, part="train", out=tmp_path / "r")
    assert trained is not None  # one epoch of training leaves room the search finds
    data = prepare(cfg.data)
    x, y = data.x["train"].double().numpy(), data.y["train"].double().numpy()
    design = np.hstack([x, np.ones((len(x), 1))])
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    state = load_file(tmp_path / "lin" / "model.safetensors")
    optimum = {name: torch.tensor(coef[:-1] if name.endswith("weight") else coef[-1:],
                                  dtype=value.dtype).reshape(value.shape)
               for name, value in state.items()}  # fmt: skip
    assert sorted(name.rsplit(".", 1)[-1] for name in optimum) == ["bias", "weight"]
    save_file(optimum, tmp_path / "lin" / "model.safetensors")
    found = tuneforge.refine(tmp_path / "lin", trials=200, scale=0.05, part="train")
    assert found is None and not (tmp_path / "lin-refined").exists()


def test_cli_refines_and_refuses_bad_input(iris_run, cli, tmp_path):
    done = cli("refine", iris_run, "--trials", "20", "--scale", "0.2", "--out", tmp_path / "a")
    assert done.code == 0 and "wrote" in done.err and (tmp_path / "a" / "summary.json").is_file()
    cases = {
        ("refine", tmp_path / "nowhere"): "not a finished run directory",
        ("refine", iris_run, "--trials", "0"): "--trials",
        ("refine", iris_run, "--scale", "0"): "--scale",
        ("refine", iris_run, "--scale", "-0.1"): "--scale",
        ("refine", iris_run, "--part", "holdout"): "--part",
        ("refine", iris_run, "--out", tmp_path / "a"): "already exists",
    }
    for args, words in cases.items():
        done = cli(*args)
        assert done.code == 2 and words in done.err and len(done.err.strip().splitlines()) == 1, args


def test_part_without_rows_is_refused(tmp_path, cli):
    cfg = tuneforge.Config(**{**IRIS, "data": {"source": "iris", "split": {"val": 0}}},
                           logging={"report": False})  # fmt: skip
    tuneforge.train(cfg, tmp_path / "noval")
    done = cli("refine", tmp_path / "noval", "--part", "val")
    assert done.code == 2 and "no val rows" in done.err
    assert not (tmp_path / "noval-refined").exists()


def test_a_fold_run_is_refused(tmp_path):
    """A k-fold run trained on other rows than its recipe's holdout split: scoring it there
    would score rows it trained on."""
    cfg = tuneforge.Config(**IRIS, logging={"report": False})
    tuneforge.cv(cfg, folds=3, out=tmp_path / "cv")
    with pytest.raises(tuneforge.DataError, match="k-fold or refit"):
        tuneforge.refine(tmp_path / "cv" / "fold0", trials=3, scale=0.1)
