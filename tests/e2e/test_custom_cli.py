"""The user's own model and data through the CLI: the `init --example custom` starter trained,
killed and resumed bit-exactly, predicted from its run directory in a fresh process, tuned in
cohorts and one at a time with the same trial values; bad user code is exit 2, one line."""

from __future__ import annotations

import json
import signal
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits

import tuneforge
from tuneforge.engine import checkpoint

SMALL = ["--set", "model.args={width: 24, depth: 1, dropout: 0.2}", "--set", "train.batch_size=32"]


@pytest.fixture
def starter(run_cli, tmp_path):
    """The custom starter (recipe + nets.py), written by `tuneforge init` into tmp_path."""
    done = run_cli("init", "--example", "custom", "--out", tmp_path / "recipe.yaml", cwd=tmp_path)
    assert done.code == 0, done.err
    assert (tmp_path / "nets.py").is_file()
    return tmp_path / "recipe.yaml"


@pytest.mark.slow
def test_killed_custom_run_resumes_bit_exactly_and_predicts_in_a_fresh_process(run_cli, start_cli, starter, tmp_path):
    args = [*SMALL, "--set", "train.epochs=14", "-q"]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert run_cli("train", starter, "--out", whole, *args, cwd=tmp_path).code == 0
    process = start_cli("train", starter, "--out", killed, *args, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 240
        while not (killed / "checkpoint" / checkpoint.MARKER).exists():
            assert process.poll() is None, "the run ended before its first checkpoint"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.15)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not (killed / "summary.json").exists(), "the run finished before it was killed"
    resumed = run_cli("train", "--resume", killed, "-q", cwd=tmp_path)
    assert resumed.code == 0, resumed.err
    assert (killed / "model.safetensors").read_bytes() == (whole / "model.safetensors").read_bytes()

    digits = load_digits()
    rows = pd.DataFrame(digits.data[:20], columns=[f"x{i}" for i in range(64)])
    rows.to_csv(tmp_path / "rows.csv", index=False)
    done = run_cli("predict", whole, tmp_path / "rows.csv", "--out", tmp_path / "p.csv", cwd=tmp_path)
    assert done.code == 0, done.err
    predicted = pd.read_csv(tmp_path / "p.csv")["prediction"].to_numpy()
    with pytest.MonkeyPatch.context() as patch:  # the same model loaded here, for reference
        patch.chdir(tmp_path)
        assert np.array_equal(predicted, tuneforge.load_run(whole).predict(rows))
    elsewhere = run_cli("predict", whole, tmp_path / "rows.csv", cwd=tmp_path.parent)
    assert elsewhere.code == 2 and "no module named 'nets'" in elsewhere.err
    assert "Traceback" not in elsewhere.err and len(elsewhere.err.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.parametrize(("code", "message"), [
    ("def ResidualMLP(n_inputs, n_outputs, **args):\n    raise ValueError('bad width')\n",
     "model.factory: nets:ResidualMLP(n_inputs=64, n_outputs=10, width=24, depth=1, dropout=0.2) raised ValueError: bad width"),
    ("def ResidualMLP(n_inputs, n_outputs, **args):\n    return 'a module'\n",
     "model.factory: nets:ResidualMLP returned a str; expected an nn.Module"),
    ("from torch import nn\ndef ResidualMLP(n_inputs, n_outputs, **args):\n    return nn.Linear(n_inputs, 3)\n",
     "model.factory: nets:ResidualMLP: expected outputs of shape [2, 10] for 2 rows (n_outputs=10), got [2, 3]"),
])  # fmt: skip
def test_bad_user_code_is_one_line_and_exit_2_also_with_nproc(run_cli, starter, tmp_path, code, message):
    from sklearn.datasets import load_digits  # noqa: F401  (the starter's data function needs it)

    source = (tmp_path / "nets.py").read_text()
    (tmp_path / "nets.py").write_text(source + "\n\n" + code)  # the last definition wins
    for extra in ([], ["--nproc", "2"]):
        done = run_cli("train", starter, *SMALL, "--out", tmp_path / "run", *extra, cwd=tmp_path)
        assert done.code == 2, done.err
        assert done.err.strip() == f"error: {message}", done.err
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


@pytest.mark.slow
def test_cohorts_and_one_at_a_time_give_the_same_trial_values(starter, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    options = dict(trials=4, storage=None, sampler="random", pruner="none", refit=False)
    overrides = ["model.args={width: 16, depth: 1, dropout: 0.0}", "train.epochs=3",
                 "data.split={val: 0.3, test: 0.2, seed: 0}", "logging.report=false",
                 "tune.space={train.optimizer.lr: {low: 0.001, high: 0.02, log: true}, "
                 "train.regularization.l2: {low: 1.0e-6, high: 1.0e-3, log: true}}"]  # fmt: skip
    import tuneforge.engine.cohort.trainer as trainer_module

    built = []  # spy: the torch.func cohort really trains the cohort=4 study
    real = trainer_module.FunctionalNet
    monkeypatch.setattr(trainer_module, "FunctionalNet",
                        lambda modules, *a: built.append(len(modules)) or real(modules, *a))  # fmt: skip
    values = {}
    for cohort in (4, 1):
        study = tuneforge.tune(starter, overrides=overrides, cohort=cohort, out=str(tmp_path / f"c{cohort}"), **options)
        trials = study.optuna.get_trials(deepcopy=False)
        assert [t.state.name for t in trials] == ["COMPLETE"] * 4
        values[cohort] = [(t.params, t.value) for t in trials]
        assert built == [4]  # one cohort of 4 members; with cohort 1, no cohort at all
    for (params4, value4), (params1, value1) in zip(values[4], values[1], strict=True):
        assert params4 == params1
        assert value4 == pytest.approx(value1, rel=1e-4)
    assert json.dumps(values[4])  # plain numbers
