"""Pretrained recipes through ``tuneforge cv`` and ``tune`` (cohort > 1 falls back per trial)."""

from __future__ import annotations

import json

from pretrained_helpers import target_config

import tuneforge
from tuneforge.config import to_dict
from tuneforge.engine.cohort import unsupported
from tuneforge.run.cv import cross_validate


def test_cross_validation_of_a_fine_tuned_run(source_run, digits_files):
    cfg = target_config(digits_files[1], {"kind": "pretrained", "source": str(source_run),
                                          "freeze": "all"}, epochs=2, test=0.5)  # fmt: skip
    result = cross_validate(cfg, folds=3)
    assert len(result["folds"]) == 3
    assert result["mean"]["val/accuracy"] > 0.8  # a frozen pre-trained body on its own kind of data


def test_tune_over_head_lr_and_unfreeze_epoch_with_a_cohort(source_run, digits_files, tmp_path):
    raw = to_dict(target_config(digits_files[1], {"kind": "pretrained", "source": str(source_run),
                                                  "freeze": "all", "unfreeze_epoch": 1},
                                epochs=3, test=0.5))  # fmt: skip
    raw["data"]["split"]["val"] = 0.2
    raw["tune"] = {"trials": 4, "cohort": 4, "sampler": "random", "pruner": "none",
                   "objective": "val/accuracy", "out": str(tmp_path / "study"),
                   "space": {"model.head_lr": {"low": 1e-3, "high": 1e-1, "log": True},
                             "model.unfreeze_epoch": {"choices": [1, 2]}}}  # fmt: skip
    assert "not batched" in unsupported(tuneforge.Config(**{k: v for k, v in raw.items() if k != "tune"}))
    study = tuneforge.tune(raw, storage=None)
    frame = study.trials_dataframe()
    assert (frame["state"] == "COMPLETE").sum() == 4  # each trained alone by the module engine
    assert frame["params_model.head_lr"].nunique() == 4
    best = (tmp_path / "study" / "best.yaml").read_text()
    assert "kind: pretrained" in best and f"source: {source_run}" in best
    assert study.best_value > 0.8
    assert study.best_config.model.kind == "pretrained"
    assert (tmp_path / "study" / "report.html").is_file()


def test_finetune_starter_from_the_command_line(tmp_path, monkeypatch, capsys):
    """``tuneforge train --out runs/digits``, ``init --example finetune``, train it: a report."""
    import sys

    from tuneforge.cli import main

    monkeypatch.chdir(tmp_path)

    def cli(*args) -> int:
        monkeypatch.setattr(sys, "argv", ["tuneforge", *args])
        try:
            main()
        except SystemExit as exc:
            return exc.code or 0
        return 0

    assert cli("train", "--out", "runs/digits", "--set", "train.epochs=3", "-q") == 0
    assert cli("init", "--example", "finetune") == 0
    assert cli("train", "tuneforge.yaml", "--out", "runs/tuned", "--set", "train.epochs=6",
               "--set", "model.unfreeze_epoch=3", "-q") == 0  # fmt: skip
    summary = json.loads((tmp_path / "runs/tuned/summary.json").read_text())
    assert summary["status"] == "completed" and summary["metrics"]["test/accuracy"] > 0.9
    assert (tmp_path / "runs/tuned/report.html").is_file()
