"""The study's best run (``<folder>/best``) is the best trial's own run, written from memory.

The reference is independent of the study: ``tuneforge.train(best.yaml)`` in a fresh call must
leave the same weights, history and scores. The fast path (no retraining) is spied on, and so is
the fallback when this process did not run the best trial.
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file
from tune_helpers import TINY_SPACE, tiny

import tuneforge
from tuneforge.config import load_config
from tuneforge.tuning import result


def _no_retraining(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the best run was trained again")

    monkeypatch.setattr(result, "_retrain_best", refuse)


def _same_run(folder, reference) -> None:
    weights = load_file(folder / "model.safetensors")
    expected = reference.model.state_dict()
    assert weights.keys() == expected.keys()
    for key, value in weights.items():
        torch.testing.assert_close(value, expected[key].cpu(), rtol=1e-5, atol=1e-6)
    history = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert [r["val/loss"] for r in history] == pytest.approx([r["val/loss"] for r in reference.history], rel=1e-5)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["metrics"]["val/accuracy"] == reference.summary["metrics"]["val/accuracy"]
    assert load_config(folder / "config.yaml") == reference.config  # the resolved recipe


@pytest.mark.parametrize("cohort", [1, 4], ids=["module-engine", "cohort-engine"])
def test_the_best_run_is_the_trial_itself_not_a_retraining(monkeypatch, cohort):
    _no_retraining(monkeypatch)
    study = tuneforge.tune(tiny(trials=4, sampler="random", pruner="none", space=TINY_SPACE, cohort=cohort))
    summary = json.loads((study.best_run / "summary.json").read_text())
    assert summary["trial"]["number"] == study.best_trial.number
    assert ("cohort" in summary) == (cohort > 1)  # a member of a cohort, as the trial trained
    reference = tuneforge.train(load_config(study.folder / "best.yaml"))
    _same_run(study.best_run, reference)
    assert tuneforge.load_run(study.best_run).predict(torch.zeros(1, 4).numpy()).shape == (1,)


def test_a_best_trial_from_an_earlier_command_is_kept_or_retrained_visibly(tmp_path):
    raw = tiny(trials=2, sampler="random", pruner="none", space=TINY_SPACE, storage="journal:///s.journal",
               study="resumed")  # fmt: skip
    first = tuneforge.tune(raw)
    best = first.best_trial.number
    weights = (first.best_run / "model.safetensors").read_bytes()
    notes: list[str] = []
    # Resumed for one more trial: if trial `best` is still the best, its run is already there.
    again = tuneforge.tune({**raw, "tune": {**raw["tune"], "trials": 3}}, log=notes.append)
    if again.best_trial.number == best:
        assert (again.best_run / "model.safetensors").read_bytes() == weights
        assert not any("ran in another process" in n for n in notes)
    # Without the folder, the best trial (run by an earlier command) is trained again, and said so.
    shutil.rmtree(again.best_run)
    notes.clear()
    last = tuneforge.tune({**raw, "tune": {**raw["tune"], "trials": 3}}, log=notes.append)
    assert last.kept is None  # the study was complete: this command ran no trial
    assert any(f"the best trial ({last.best_trial.number}) ran in another process" in n for n in notes)
    _same_run(last.best_run, tuneforge.train(load_config(last.folder / "best.yaml")))
