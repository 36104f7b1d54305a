"""cnn / rnn / transformer through the commands: init, train, resume, predict, evaluate, cv, tune."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import load_file

import tuneforge
from tuneforge.data.tensors import sine_source

SMALL = ["--set", "train.epochs=2", "--set", "train.diagnostics.grad_every=5"]


def test_cnn_starter_trains_writes_a_run_and_resumes(cli, tmp_path):
    assert cli("init", "--example", "cnn", "--out", "cnn.yaml").code == 0
    result = cli("train", "cnn.yaml", "--out", "run", *SMALL, "--set", "model.channels=[4]", "-q")
    assert result.code == 0, result.err
    run_dir = tmp_path / "run"
    for name in ("model.safetensors", "summary.json", "report.html", "config.yaml", "encoder.skops"):
        assert (run_dir / name).is_file(), name
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["model"]["inputs"] == [1, 8, 8] and summary["status"] == "completed"
    assert "Gradient health" in (run_dir / "report.html").read_text()
    # a finished run is not resumed (a stopped one is: the next test)
    assert cli("train", "--resume", "run").code == 2


class Crash(Exception):
    pass


def _crash_after(epoch):
    def callback(record):
        if record["epoch"] > epoch:
            raise Crash

    return callback


@pytest.mark.parametrize("model", [
    {"kind": "cnn", "channels": [4], "head": 8, "dropout": 0.2},
    {"kind": "transformer", "d_model": 8, "heads": 2, "ff": 16, "dropout": 0.2},
])  # fmt: skip
def test_a_stopped_run_resumes_to_identical_weights(tmp_path, model):
    cfg = tuneforge.Config(model=model, train={"epochs": 3, "batch_size": 64,
                                               "augment": {"noise": 0.1}},
                           logging={"report": False})  # fmt: skip
    tuneforge.train(cfg, tmp_path / "whole")
    with pytest.raises(Crash):
        tuneforge.train(cfg, tmp_path / "stopped", callbacks=[_crash_after(1)])
    tuneforge.train(cfg, tmp_path / "stopped", resume=True)
    a, b = (load_file(tmp_path / d / "model.safetensors") for d in ("whole", "stopped"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_bad_model_key_exits_2_with_one_line(cli):
    assert cli("init", "--example", "rnn", "--out", "rnn.yaml").code == 0
    result = cli("train", "rnn.yaml", "--set", "model.hiden_size=3")
    assert result.code == 2 and result.err.strip().count("\n") == 0
    assert "model.hiden_size: unknown key" in result.err
    result = cli("train", "--set", "model.kind=transformer", "--set", "model.heads=5")
    assert result.code == 2 and "model.heads" in result.err and "Traceback" not in result.err


def test_sequence_run_predicts_and_evaluates_from_npz_and_refuses_csv(cli, tmp_path):
    assert cli("init", "--example", "rnn", "--out", "rnn.yaml").code == 0
    assert cli("train", "rnn.yaml", "--out", "run", *SMALL, "-q").code == 0
    x, y = sine_source(n=7, seed=5)
    lengths = np.array([20, 12, 5, 20, 20, 9, 1])
    np.savez(tmp_path / "new.npz", x=x, y=y, lengths=lengths)
    result = cli("predict", "run", "new.npz", "--out", "preds.csv")
    assert result.code == 0, result.err
    preds = pd.read_csv(tmp_path / "preds.csv")
    run = tuneforge.load_run(tmp_path / "run")
    x_padded = np.where(np.arange(20)[None, :, None] < lengths[:, None, None], x, np.nan)
    np.testing.assert_allclose(preds["prediction"], run.predict(x_padded), rtol=1e-5)
    assert list(preds["row"]) == list(range(7))
    scored = cli("evaluate", "run", "--data", "new.npz")
    assert scored.code == 0 and "rmse" in scored.out
    pd.DataFrame({"a": [1.0]}).to_csv(tmp_path / "rows.csv", index=False)
    refused = cli("predict", "run", "rows.csv")
    assert refused.code == 2 and "give an .npz file" in refused.err


def test_cv_and_tune_run_the_new_kinds(cli, tmp_path):
    (tmp_path / "t.yaml").write_text(
        "model: {kind: cnn, channels: [4], head: 0}\n"
        "train: {epochs: 1, diagnostics: {grad_every: 0}}\n"
        "tune:\n  trials: 2\n  cohort: 4\n  storage: memory\n  sampler: random\n"
        "  space: {model.channels: {choices: [[4], [4, 8]]}}\n")  # fmt: skip
    cv = cli("cv", "t.yaml", "--folds", "2")
    assert cv.code == 0 and "val/accuracy" in cv.out
    tuned = cli("tune", "t.yaml")
    assert tuned.code == 0, tuned.err
    assert "trials train one at a time" in tuned.out + tuned.err
    best = yaml.safe_load((tmp_path / "runs" / "digits-cnn" / "best.yaml").read_text())
    assert best["model"]["kind"] == "cnn" and best["model"]["channels"] in ([4], [4, 8])
