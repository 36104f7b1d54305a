"""Documented workflows that used to end in a loop or a crash (issue 20, items 4 and 5)."""

from __future__ import annotations

import json

import numpy as np
from sklearn.datasets import load_iris

from tuneforge.sklearn import NeuralNetClassifier


def test_lr_find_apply_then_train_into_the_same_folder(cli, tmp_path):
    # docs/diagnostics.md: `lr-find --apply --out runs/x` then `train runs/x/config.yaml --out runs/x`
    base = ["--set", "data.source=iris", "--set", "train.epochs=2"]
    found = cli("lr-find", *base, "--steps", "30", "--apply", "--out", "exp")
    assert found.code == 0, found.err
    resumed = cli("train", "--resume", "exp")  # nothing trained yet: says how to start it
    assert resumed.code == 2 and "tuneforge train exp/config.yaml --out exp" in resumed.err
    trained = cli("train", "exp/config.yaml", "--out", "exp", "-q")
    assert trained.code == 0, trained.err
    assert (tmp_path / "exp" / "summary.json").is_file() and (tmp_path / "exp" / "lr_find.json").is_file()
    again = cli("train", "exp/config.yaml", "--out", "exp", "-q")  # now it holds a run: refused
    assert again.code == 2 and "already holds a run" in again.err


def test_report_and_evaluate_on_a_saved_estimator(cli, tmp_path):
    x, y = load_iris(return_X_y=True)
    NeuralNetClassifier(epochs=3).fit(x.astype(np.float32), y).save(tmp_path / "est")
    reported = cli("report", "est")
    assert reported.code == 0, reported.err
    assert "NeuralNetClassifier" in (tmp_path / "est" / "report.html").read_text()
    scored = cli("evaluate", "est")  # its rows were arrays in memory: say to pass --data
    assert scored.code == 2 and "--data" in scored.err and "arrays" in scored.err
    assert json.loads((tmp_path / "est" / "summary.json").read_text())["status"]


def test_report_study_defaults_to_the_storage_study_show_reads(cli, tmp_path):
    import optuna

    (tmp_path / "runs").mkdir()
    study = optuna.create_study(study_name="s", storage="sqlite:///runs/studies.db")
    study.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2, n_trials=3)
    named = cli("report", "--study", "s")  # no --storage: runs/studies.db, as `study show`
    assert named.code == 0, named.err
    assert (tmp_path / "runs" / "s" / "report.html").is_file()
    assert cli("report").code == 0  # the only study of the default storage
    both = cli("report", "runs/s", "--study", "s")
    assert both.code == 2 and "not both" in both.err


def test_version_help_and_an_unknown_starter_beside_an_existing_file(cli, tmp_path):
    import tuneforge

    version = cli("--version")
    assert version.code == 0 and version.out.strip() == f"tuneforge {tuneforge.__version__}"
    shown = cli("--help")
    assert "``" not in shown.out and "--version" in shown.out
    (tmp_path / "tuneforge.yaml").write_text("name: mine\n")
    unknown = cli("init", "--example", "nope")  # the unknown starter is the error, not the file
    assert unknown.code == 2 and "unknown starter 'nope'" in unknown.err
    assert (tmp_path / "tuneforge.yaml").read_text() == "name: mine\n"
