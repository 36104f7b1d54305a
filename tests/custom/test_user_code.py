"""User code named in a recipe: model factories, data functions, losses and metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn import metrics as skm
from sklearn.datasets import load_iris

import tuneforge
from tuneforge.data import prepare
from tuneforge.errors import ConfigError, DataError
from tuneforge.tuning.space import SearchSpace
from tuneforge.usercode import load


def _cfg(nets, *extra, model=True):
    sets = ["data.source=iris", "train.epochs=2", "train.batch_size=32", "logging.report=false",
            "train.diagnostics.grad_every=0"]
    if model:
        sets += ["model.kind=custom", f"model.factory={nets}:ResidualMLP", "model.hidden=null"]
    return tuneforge.load_config(overrides=[s for s in sets + list(extra) if s != "model.hidden=null"])


# ------------------------------------------------------------------------- importing user code
def test_load_names_the_key_and_what_is_missing(nets, tmp_path):
    assert load(f"{nets}:ResidualMLP", "model.factory").__name__ == "ResidualMLP"
    with pytest.raises(ConfigError, match=r"^model.factory: nope:Net: no module named 'nope'"):
        load("nope:Net", "model.factory")
    with pytest.raises(ConfigError, match=rf"^data.source: {nets}:Nope: module '{nets}' has no attribute 'Nope'"):
        load(f"{nets}:Nope", "data.source")
    (tmp_path / "bad_import.py").write_text("import numpy\nraise RuntimeError('no GPU here')\n")
    with pytest.raises(ConfigError, match=r"importing 'bad_import' failed \(RuntimeError: no GPU here\)"):
        load("bad_import:x", "train.loss")


def test_the_working_directory_is_on_the_path_only_for_the_import(nets):
    import sys

    before = list(sys.path)
    load(f"{nets}:iris_xy", "data.source")
    assert sys.path == before


# ------------------------------------------------------------------------------------ models
def test_a_custom_model_trains_and_its_args_reach_the_factory(nets):
    cfg = _cfg(nets, "model.args={width: 12, depth: 2}")
    run = tuneforge.train(cfg)
    assert run.summary["status"] == "completed"
    assert run.model.inp.out_features == 12 and len(run.model.blocks) == 2
    assert run.model.inp.in_features == 4 and run.model.out.out_features == 3  # iris


def test_weights_depend_on_the_seed_only(nets):
    from tuneforge.models import build_model

    cfg = _cfg(nets).model
    a, b = build_model(cfg, 4, 3, seed=5), build_model(cfg, 4, 3, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_images_reach_the_factory_as_their_row_shape(nets):
    cfg = tuneforge.load_config(overrides=[
        f"data.source={nets}:digits_images", "data.shape=image", "model.kind=custom",
        f"model.factory={nets}:small_cnn", "train.epochs=1", "logging.report=false"])  # fmt: skip
    run = tuneforge.train(cfg)
    assert run.model[0].in_channels == 1 and run.summary["model"]["inputs"] == [1, 8, 8]
    assert run.summary["metrics"]["val/accuracy"] > 0.5


@pytest.mark.parametrize(("factory", "message"), [
    ("raises", r"^model.factory: {m}:raises\(n_inputs=4, n_outputs=3, no args\) raised ValueError: width must be even$"),
    ("not_a_module", r"^model.factory: {m}:not_a_module returned a list; expected an nn.Module$"),
    ("wrong_outputs", r"^model.factory: {m}:wrong_outputs: expected outputs of shape \[2, 3\] for 2 rows \(n_outputs=3\), got \[2, 4\]$"),
    ("NOT_CALLABLE", r"^model.factory: {m}:NOT_CALLABLE is a int, not a class or function"),
    ("Missing", r"^model.factory: {m}:Missing: module '{m}' has no attribute 'Missing'$"),
])  # fmt: skip
def test_bad_factories_fail_before_the_first_step(nets, factory, message):
    from tuneforge.run import check_inputs

    cfg = _cfg(nets, f"model.factory={nets}:{factory}")
    steps = []
    with pytest.raises(ConfigError, match=message.format(m=nets)):
        tuneforge.train(cfg, callbacks=[steps.append])
    assert steps == []
    with pytest.raises(ConfigError, match=message.format(m=nets)):
        check_inputs(cfg)  # what `train --nproc` runs before starting the ranks


def test_the_python_api_takes_the_class_itself(nets, tmp_path):
    residual_mlp = load(f"{nets}:ResidualMLP", "test")  # imported as a script would import it
    cfg = _cfg(nets, "model={args: {width: 8}}", model=False)  # no kind, no factory: given below
    with pytest.raises(ConfigError, match="^model.factory: model.kind custom needs a factory"):
        tuneforge.train(cfg)
    run = tuneforge.train(cfg, tmp_path / "run", model=residual_mlp)
    assert run.config.model.factory == f"{nets}:ResidualMLP" and run.model.inp.out_features == 8
    again = tuneforge.load_run(tmp_path / "run")  # rebuilt from config.yaml alone
    x = np.asarray(load_iris().data[:7])
    assert np.array_equal(again.predict(x), run.predict(x))


def test_a_factory_from_a_script_needs_passing_again_to_load_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def factory(n_inputs, n_outputs):  # a local function: no import path
        return torch.nn.Linear(n_inputs, n_outputs)

    cfg = tuneforge.load_config(overrides=["data.source=iris", "train.epochs=1",
                                           "logging.report=false"])  # fmt: skip
    run = tuneforge.train(cfg, tmp_path / "run", model=factory)
    assert run.config.model.factory.startswith("given:")
    import tuneforge.usercode as usercode

    usercode._given.pop(run.config.model.factory)  # as in a fresh process
    with pytest.raises(ConfigError, match=r"model.factory: given:factory_\w+ was handed to the Python API in another process"):
        tuneforge.load_run(tmp_path / "run")
    again = tuneforge.load_run(tmp_path / "run", model=factory)
    assert torch.equal(again.model.weight, run.model.weight)


def test_model_args_are_tunable_keys(nets):
    raw = {"model": {"kind": "custom", "factory": f"{nets}:ResidualMLP", "args": {"width": 8}},
           "data": {"source": "iris"}}  # fmt: skip
    from tuneforge.config.tune_schema import SpaceEntry

    space = SearchSpace({"model.args.width": SpaceEntry(low=4, high=32),
                         "model.args.dropout": SpaceEntry(low=0.0, high=0.5),
                         "model.args.depth": SpaceEntry(choices=[1, 2])}, raw, "t.yaml")  # fmt: skip
    assert space.params["model.args.width"].is_int and not space.params["model.args.dropout"].is_int
    cfg = space.config({"model.args.width": 20, "model.args.depth": 2})
    assert cfg.model.args == {"width": 20, "depth": 2}


# -------------------------------------------------------------------------------------- data
def test_every_return_form_gives_the_rows_of_the_file(nets, tmp_path):
    bunch = load_iris(as_frame=True)
    bunch.frame.to_csv(tmp_path / "iris.csv", index=False)
    from tuneforge.config.schema import DataConfig

    reference = prepare(DataConfig(source=str(tmp_path / "iris.csv"), target="target"))
    for source, target in [("iris_frame", "target"), ("iris_xy", None), ("iris_dict", "species")]:
        data = prepare(DataConfig(source=f"{nets}:{source}", target=target))
        for part in ("train", "val", "test"):
            assert torch.allclose(data.x[part], reference.x[part].to(data.x[part].dtype), atol=1e-6), source
            assert torch.equal(data.y[part], reference.y[part]), source


def test_the_python_api_takes_a_frame_or_arrays(tmp_path):
    frame = load_iris(as_frame=True).frame
    cfg = tuneforge.load_config(overrides=["data.target=target", "train.epochs=2",
                                           "logging.report=false"])  # fmt: skip
    by_frame = tuneforge.train(cfg, data=frame)
    by_arrays = tuneforge.train(cfg, data=(frame.drop(columns="target").to_numpy(), frame.target.to_numpy()))
    assert by_frame.summary["rows"] == {"train": 90, "val": 30, "test": 30}
    assert by_frame.summary["metrics"]["val/loss"] == pytest.approx(by_arrays.summary["metrics"]["val/loss"], rel=1e-5)
    assert list(frame.columns)[-1] == "target"  # the caller's frame is left as it was


def test_a_data_function_that_raises_is_one_line(nets):
    from tuneforge.config.schema import DataConfig

    with pytest.raises(DataError, match=rf"^data.source: {nets}:broken_data\(\) raised OSError: the database is down$"):
        prepare(DataConfig(source=f"{nets}:broken_data"))
    with pytest.raises(DataError, match=r"data.target array 'label' not found in \['X', 'species'\]"):
        prepare(DataConfig(source=f"{nets}:iris_dict", target="label"))


# ------------------------------------------------------------------------------ loss, metrics
def test_a_per_sample_loss_trains_like_the_built_in_one(nets):
    """The user's cross-entropy must give the built-in cross_entropy's run (torch's formula)."""
    built_in = tuneforge.train(_cfg(nets, "train.loss=cross_entropy"))
    user = tuneforge.train(_cfg(nets, f"train.loss={nets}:nll"))
    for a, b in zip(built_in.history, user.history, strict=True):
        assert a["train/loss"] == pytest.approx(b["train/loss"], rel=1e-6)
        assert a["val/loss"] == pytest.approx(b["val/loss"], rel=1e-6)


def test_a_loss_of_the_wrong_shape_fails_before_the_first_step(nets):
    steps = []
    with pytest.raises(ConfigError, match=rf"^train.loss: {nets}:mean_nll: expected per-sample losses of shape \[3\] for 3 rows \(no reduction\), got \[\]$"):
        tuneforge.train(_cfg(nets, f"train.loss={nets}:mean_nll"), callbacks=[steps.append])
    assert steps == []


def test_scorer_names_and_functions_are_reported_per_part(nets):
    cfg = _cfg(nets, f"train.metrics=[balanced_accuracy, matthews_corrcoef, {nets}:macro_recall]")
    run = tuneforge.train(cfg)
    scores = run.summary["metrics"]
    for part in ("val", "test"):
        rows = run.summary["rows"][part]
        data = prepare(run.config.data)
        pred = run.model(data.x[part]).argmax(1).numpy()
        y = data.y[part].numpy()
        assert len(y) == rows
        assert scores[f"{part}/balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
        assert scores[f"{part}/matthews_corrcoef"] == pytest.approx(skm.matthews_corrcoef(y, pred))
        assert scores[f"{part}/macro_recall"] == pytest.approx(skm.recall_score(y, pred, average="macro"))


def test_unknown_metric_names_are_refused(nets):
    with pytest.raises(ConfigError, match=r"train.metrics.0: 'balanced_acc' is neither a scikit-learn scorer name"):
        tuneforge.train(_cfg(nets, "train.metrics=[balanced_acc]"))
    with pytest.raises(ConfigError, match=r"train.metrics.0: accuracy is reported by every run already"):
        tuneforge.train(_cfg(nets, "train.metrics=[accuracy]"))


def test_extra_metrics_are_tuning_objectives(nets):
    from tuneforge.config.tune_schema import ObjectiveSpec
    from tuneforge.tuning.objective import resolve_objectives

    extra = ["neg_log_loss", f"{nets}:macro_recall"]
    [scorer] = resolve_objectives([ObjectiveSpec(metric="val/neg_log_loss")], "classification", 3, None, True, extra)
    assert scorer.direction == "maximize"  # scikit-learn scorers: greater is better
    with pytest.raises(ConfigError, match="give its direction"):
        resolve_objectives([ObjectiveSpec(metric="val/macro_recall")], "classification", 3, None, True, extra)
    [fn] = resolve_objectives([ObjectiveSpec(metric="cv/macro_recall", direction="minimize")],
                              "classification", 3, 3, True, extra)  # fmt: skip
    assert fn.direction == "minimize" and fn.run_metric == "val/macro_recall"
    assert fn.value([{"metrics": {"val/macro_recall": 0.5}}, {"metrics": {"val/macro_recall": 0.7}}]) == pytest.approx(0.6)
    frame = pd.DataFrame()  # noqa: F841  (keeps pandas imported for the frame test above)
