"""``cv --seeds N``: k-fold cross-validation repeated for N training seeds on the same folds."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

from tuneforge.config import Config
from tuneforge.run import train
from tuneforge.run.cv import cross_validate
from tuneforge.run.seeds import with_seed

SETS = ["data.source=iris", "data.split.seed=2", "train.epochs=2", "train.batch_size=16",
        "train.seed=4", "model.hidden=[8]", "logging.report=false"]  # fmt: skip


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """``tuneforge cv --seeds 2 --folds 3`` once; its output folder and stdout."""
    out = tmp_path_factory.mktemp("cvseeds") / "cv"
    args = [sys.executable, "-m", "tuneforge", "cv", "--seeds", "2", "--folds", "3", "-q",
            "--out", str(out)] + [a for s in SETS for a in ("--set", s)]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out, done.stdout


def per_run_metrics(out) -> dict[tuple[int, int], dict]:
    return {(seed, fold): json.loads((out / f"seed{seed}" / f"fold{fold}" / "summary.json")
                                     .read_text())["metrics"]
            for seed in (4, 5) for fold in range(3)}  # fmt: skip


def test_six_trainings_and_their_numpy_mean_and_std(cli_run):
    out, stdout = cli_run
    result = json.loads((out / "cv.json").read_text())
    runs = per_run_metrics(out)  # six run folders, read back from disk
    assert len(runs) == 6 and len(result["runs"]) == 6
    assert result["seeds"] == [4, 5] and result["n_folds"] == 3
    for key in ("val/loss", "val/accuracy", "test/accuracy", "train/loss"):
        values = np.array([m[key] for m in runs.values()])
        assert result["mean"][key] == pytest.approx(values.mean(), rel=1e-12)
        assert result["std"][key] == pytest.approx(values.std(ddof=0), rel=1e-12, abs=1e-15)
        for entry in result["per_seed"]:
            mine = np.array([runs[(entry["seed"], f)][key] for f in range(3)])
            assert entry["mean"][key] == pytest.approx(mine.mean(), rel=1e-12)
            assert entry["std"][key] == pytest.approx(mine.std(), rel=1e-12, abs=1e-15)
        means = [np.mean([runs[(s, f)][key] for f in range(3)]) for s in (4, 5)]
        assert result["seed_std"][key] == pytest.approx(np.std(means), rel=1e-12, abs=1e-15)
    assert "seed 4" in stdout and "seed 5" in stdout and "±" in stdout


def test_only_the_training_seed_changes_between_seeds(cli_run):
    out, _ = cli_run
    for fold in range(3):
        a, b = (yaml.safe_load((out / f"seed{s}" / f"fold{fold}" / "config.yaml").read_text())
                for s in (4, 5))  # fmt: skip
        assert (a["train"].pop("seed"), b["train"].pop("seed")) == (4, 5)
        assert a == b  # same data section (folds, split seed), same recipe
    runs = per_run_metrics(out)
    assert runs[(4, 0)]["val/loss"] != runs[(5, 0)]["val/loss"]  # the seed does change the run


def test_a_seed_fold_run_is_the_plain_run_with_that_seed_and_fold(cli_run):
    out, _ = cli_run
    from tuneforge import load_config

    cfg = load_config(overrides=[*SETS, "data.folds=3"])
    alone = train(with_seed(cfg, 5), fold=1)
    assert per_run_metrics(out)[(5, 1)] == {k: v for k, v in alone.summary["metrics"].items()
                                            if v is not None}  # fmt: skip


def test_one_seed_keeps_the_plain_cv_result():
    cfg = Config(data={"source": "iris"}, model={"hidden": [8]}, train={"epochs": 1})
    result = cross_validate(cfg, folds=2)
    assert set(result) == {"folds", "mean", "std"} and len(result["folds"]) == 2
