"""Fixtures for the report tests: one small finished run and one small Optuna study."""

from __future__ import annotations

import pytest
from report_studies import make_study

import tuneforge
from tuneforge.report.lr_find import write_lr_find

#: A run name with markup in it: the report must show it as text.
RUN_NAME = "<img src=x onerror=alert(1)> & digits"  # markup, no '/' (one folder name)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
    """A digits run with gradient checks, an LR-finder result, and its automatic report."""
    folder = tmp_path_factory.mktemp("run")
    cfg = tuneforge.load_config(overrides=["train.epochs=6", "model.hidden=[32,16]",
                                           "train.diagnostics.grad_every=5"], name=RUN_NAME)  # fmt: skip
    write_lr_find(cfg, folder, steps=40, min_lr=1e-5, max_lr=1.0)
    tuneforge.train(cfg, folder)
    return folder


@pytest.fixture(scope="session")
def study_url(tmp_path_factory):
    """``(storage URL, study name)`` of a finished single-objective study in SQLite."""
    url = f"sqlite:///{tmp_path_factory.mktemp('study') / 'studies.db'}"
    make_study(url, "digits-mlp")
    return url, "digits-mlp"
