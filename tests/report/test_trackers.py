"""Opt-in TensorBoard and MLflow logging (``logging:``); neither package is required."""

from __future__ import annotations

import importlib.util
import json

import pytest

import tuneforge
from tuneforge.errors import ConfigError
from tuneforge.report import trackers

SMALL = ["data.source=iris", "train.epochs=3", "logging.report=false", "train.diagnostics.grad_every=2"]


def records(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def test_tensorboard_event_file_holds_the_metrics_of_every_epoch(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed (optional)")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = tuneforge.load_config(overrides=[*SMALL, "logging.tensorboard=true"])
    tuneforge.train(cfg, tmp_path / "run")
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard")).Reload()
    logged = {e.step: e.value for e in events.Scalars("train/loss")}
    expected = {r["step"]: r["train/loss"] for r in records(tmp_path / "run")}
    assert logged.keys() == expected.keys()
    assert all(logged[s] == pytest.approx(v, rel=1e-6) for s, v in expected.items())
    assert "grad_norm/0" in events.Tags()["scalars"] and "final/test/accuracy" in events.Tags()["scalars"]


@pytest.mark.slow
def test_mlflow_run_holds_params_metrics_status_and_artifacts(tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="mlflow (or mlflow-skinny) is not installed (optional)")
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)  # MLflow puts artifacts beside the working directory
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = tuneforge.load_config(overrides=[*SMALL, "logging.mlflow=true", "logging.report=true",
                                           f"logging.mlflow_tracking_uri={uri}",
                                           "logging.mlflow_experiment=tests"], name="iris-mlp")  # fmt: skip
    run = tuneforge.train(cfg, tmp_path / "run")
    client = MlflowClient(uri)
    found = client.search_runs([client.get_experiment_by_name("tests").experiment_id])
    assert len(found) == 1 and found[0].info.status == "FINISHED"
    logged = found[0]
    assert logged.info.run_name == "iris-mlp" and logged.data.params["train.optimizer.name"] == "adam"
    history = client.get_metric_history(logged.info.run_id, "val_loss")
    expected = records(tmp_path / "run")
    assert [m.step for m in history] == [r["step"] for r in expected]
    assert [m.value for m in history] == pytest.approx([r["val/loss"] for r in expected])
    assert logged.data.metrics["final_test_accuracy"] == pytest.approx(run.summary["metrics"]["test/accuracy"])
    names = {a.path for a in client.list_artifacts(logged.info.run_id)}
    assert {"summary.json", "config.yaml", "report.html"} <= names


def test_asking_for_a_tracker_that_is_not_installed_fails_before_any_work(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    cfg = tuneforge.load_config(overrides=[*SMALL, "logging.mlflow=true"])
    with pytest.raises(ConfigError, match=r"logging\.mlflow: .*pip install mlflow-skinny"):
        tuneforge.train(cfg)


def test_no_tracker_is_made_unless_asked():
    cfg = tuneforge.load_config(overrides=SMALL)
    with trackers.Trackers(cfg, None) as opened:
        assert opened.callbacks == []
