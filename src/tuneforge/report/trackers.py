"""Opt-in experiment trackers (``logging:`` section): TensorBoard and MLflow.

Neither package is a dependency: a config that asks for one that is not installed fails before
any work, with the ``pip install`` line to run. Each tracker is an epoch callback that logs the
record's numbers at its optimizer step, plus a ``finish`` that logs the final summary.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

from tuneforge.config import to_dict
from tuneforge.errors import ConfigError

#: config flag -> (the module that must import, what to pip install)
NEEDS = {"tensorboard": ("tensorboard", "tensorboard"), "mlflow": ("mlflow", "mlflow-skinny")}


def numbers(record: dict) -> dict[str, float]:
    """The record's finite scalar values (grad checks and counters left out)."""
    skip = {"epoch", "step", "grad_checks"}
    return {k: float(v) for k, v in record.items() if k not in skip
            and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}  # fmt: skip


def flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= flatten(value, f"{name}.")
        else:
            flat[name] = value
    return flat


class TensorBoardTracker:
    def __init__(self, cfg, folder: Path | None):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(folder / "tensorboard") if folder else None)

    def __call__(self, record: dict) -> None:
        for key, value in numbers(record).items():
            self.writer.add_scalar(key, value, global_step=record["step"])
        for check in record.get("grad_checks", ()):
            for layer, norm in check["norm"].items():
                if math.isfinite(norm):
                    self.writer.add_scalar(f"grad_norm/{layer}", norm, global_step=check["step"])

    def finish(self, summary: dict, folder: Path | None) -> None:
        for key, value in numbers(summary["metrics"]).items():
            self.writer.add_scalar(f"final/{key}", value, global_step=summary["steps"])

    def close(self, failed: bool) -> None:
        self.writer.close()


class MLflowTracker:
    def __init__(self, cfg, folder: Path | None):
        import mlflow

        self.mlflow = mlflow
        if cfg.logging.mlflow_tracking_uri:
            mlflow.set_tracking_uri(cfg.logging.mlflow_tracking_uri)
        if cfg.logging.mlflow_experiment:
            mlflow.set_experiment(cfg.logging.mlflow_experiment)
        self.run = mlflow.start_run(run_name=cfg.name or (folder.name if folder else None))
        params = {k: str(v) for k, v in flatten(to_dict(cfg)).items()}
        mlflow.log_params(params)

    def __call__(self, record: dict) -> None:
        values = {k.replace("/", "_"): v for k, v in numbers(record).items()}
        self.mlflow.log_metrics(values, step=record["step"])

    def finish(self, summary: dict, folder: Path | None) -> None:
        final = {f"final_{k.replace('/', '_')}": v for k, v in numbers(summary["metrics"]).items()}
        self.mlflow.log_metrics(final, step=summary["steps"])
        self.mlflow.set_tag("status", summary["status"])
        if folder is not None:
            for name in ("summary.json", "config.yaml", "report.html"):
                if (folder / name).is_file():
                    self.mlflow.log_artifact(str(folder / name))

    def close(self, failed: bool) -> None:
        self.mlflow.end_run(status="FAILED" if failed else "FINISHED")


TRACKERS = {"tensorboard": TensorBoardTracker, "mlflow": MLflowTracker}


class Trackers:
    """The trackers a config switches on; a context manager that closes them."""

    def __init__(self, cfg, out: str | Path | None, enabled: bool = True):
        """``enabled=False``: check the packages, open nothing (DDP ranks other than 0)."""
        self.cfg, self.folder = cfg, Path(out) if out is not None else None
        self.wanted = [name for name in TRACKERS if getattr(cfg.logging, name)]
        for name in self.wanted:
            module, package = NEEDS[name]
            if importlib.util.find_spec(module) is None:
                raise ConfigError(f"logging.{name}: the {module} package is not installed "
                                  f"(pip install {package}), or set logging.{name}: false")  # fmt: skip
        self.wanted = self.wanted if enabled else []
        self.callbacks: list = []

    def __enter__(self) -> Trackers:
        for name in self.wanted:
            try:
                self.callbacks.append(TRACKERS[name](self.cfg, self.folder))
            except BaseException:
                self.__exit__(*sys.exc_info())  # close the ones already open
                raise
        return self

    def finish(self, summary: dict, folder: Path | None) -> None:
        for tracker in self.callbacks:
            tracker.finish(summary, folder)

    def __exit__(self, kind, value, traceback) -> None:
        for tracker in self.callbacks:
            tracker.close(failed=kind is not None)
