"""Saving a fitted estimator as a tuneforge run directory, and loading it back, without pickle.

``est.save(path)`` writes what :func:`tuneforge.train` leaves (``config.yaml``,
``summary.json``, ``metrics.jsonl``, ``model.safetensors``, ``encoder.skops``), so
``tuneforge predict``/``evaluate`` and :func:`tuneforge.load_run` read it, plus
``estimator.json`` (parameters and counters) and ``optimizer.pt`` (a plain state dict for
``partial_fit``, read with ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from tuneforge.config import dump_config
from tuneforge.errors import DataError
from tuneforge.models import count_parameters
from tuneforge.run import load_run


def save_estimator(est, path: str | Path) -> Path:
    """Write ``est`` (fitted) into the folder ``path``; returns the folder."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    dump_config(est.config_, folder / "config.yaml")
    est.encoder_.save(folder / "encoder.skops")
    weights = {k: v.detach().contiguous().cpu() for k, v in est.module_.state_dict().items()}
    save_file(weights, folder / "model.safetensors")
    torch.save(est.optimizer_state_, folder / "optimizer.pt")
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in est.history_))
    classes = getattr(est, "classes_", None)
    summary = {
        "status": est.status_,
        "task": est._task,
        "epochs": est.n_iter_,
        "steps": est.t_,
        "best_epoch": est.best_epoch_,
        "metrics": {},
        "warnings": [],
        "parameters": count_parameters(est.module_),
        "model": {"inputs": int(est.n_features_in_), "outputs": _outputs(est),
                  "classes": None if classes is None else classes.tolist()},  # fmt: skip
    }
    (folder / "summary.json").write_text(json.dumps(summary, indent=2))
    names = getattr(est, "feature_names_in_", None)
    state = {
        "class": type(est).__name__,
        "params": est.get_params(deep=False),
        "feature_names_in": None if names is None else names.tolist(),
    }
    (folder / "estimator.json").write_text(json.dumps(state, indent=2, default=_plain))
    return folder


def load_estimator(cls, path: str | Path):
    """Rebuild a fitted ``cls`` from a folder written by :func:`save_estimator`."""
    folder = Path(path)
    if not (folder / "estimator.json").is_file():
        raise DataError(f"{folder}: no estimator.json; not saved by {cls.__name__}.save")
    state = json.loads((folder / "estimator.json").read_text())
    if state["class"] != cls.__name__:
        raise DataError(f"{folder}: holds a {state['class']}, not a {cls.__name__}")
    params = state["params"]
    if isinstance(params.get("hidden"), list):
        params["hidden"] = tuple(params["hidden"])
    est = cls(**params)
    run = load_run(folder)
    est.module_, est.encoder_, est.config_, est.history_ = run.model, run.encoder, run.config, run.history
    summary = run.summary
    est.n_iter_, est.t_ = summary["epochs"], summary["steps"]
    est.status_, est.best_epoch_ = summary["status"], summary["best_epoch"]
    est.n_features_in_ = summary["model"]["inputs"]
    if state["feature_names_in"] is not None:
        est.feature_names_in_ = np.asarray(state["feature_names_in"], dtype=object)
    if run.encoder.labels is not None:
        est.classes_ = run.encoder.labels.classes_
    est.optimizer_state_ = torch.load(folder / "optimizer.pt", weights_only=True)
    return est


def _plain(value):
    """NumPy values a grid search may have put into the parameters."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"parameter value {value!r} cannot be saved as JSON")


def _outputs(est) -> int:
    last = [m for m in est.module_.modules() if isinstance(m, torch.nn.Linear)][-1]
    return last.out_features
