"""Self-contained HTML reports (jinja2): one file, images inlined, no network requests.

``write_report(run_dir)`` reads what :func:`tuneforge.train` left in a run directory and writes
its PNGs under ``plots/`` too; ``write_study_report(study, folder)`` takes a plain
``optuna.Study`` and embeds its plots' numbers, which the page draws (Chart.js, inlined). Both
return the path of ``report.html``. Everything shown is escaped (autoescape), and the page's
Content-Security-Policy allows no request to anywhere and no script but the page's own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
import yaml

from tuneforge.config import load_config
from tuneforge.errors import DataError
from tuneforge.evaluate.metrics import direction

if TYPE_CHECKING:
    import optuna

# A run's report needs no Optuna: the study helpers (report/study.py, study_plots.py) are
# imported inside the study functions, so `tuneforge train` skips them. A study's report needs
# no matplotlib (the page draws its plots): the run's plots (report/plots.py) are imported
# inside the run functions.

TEMPLATES = Path(__file__).parent / "templates"
#: Chart.js, vendored (vendor/README.md): draws the study report's plots in the page
CHART_JS = Path(__file__).parent / "vendor" / "chart.umd.min.js"


def _number(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)  # fmt: skip
    env.filters["num"] = _number
    return env


def _image(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _plot(title: str, path: Path, wide: bool = False) -> dict:
    """An image for the template, with the smallest font its PNG recorded (pixels)."""
    from PIL import Image

    from tuneforge.report.plots import FONT_KEY

    with Image.open(path) as image:
        font = image.text.get(FONT_KEY) if hasattr(image, "text") else None
    return {"title": title, "src": _image(path), "file": path.name, "wide": wide, "kind": "image",
            "font": float(font) if font else None}  # fmt: skip


def _script(code: str) -> dict:
    """An inline script and the Content-Security-Policy source that lets it run: the page runs
    no script but those whose SHA-256 it names (no 'unsafe-inline')."""
    digest = base64.b64encode(hashlib.sha256(code.encode("utf-8")).digest()).decode("ascii")
    return {"code": code, "csp": f"'sha256-{digest}'"}


def _json_block(data) -> str:
    """JSON for a ``<script type="application/json">`` element: no ``<`` can end it early."""
    return json.dumps(data, allow_nan=False).replace("<", "\\u003c")


def _render(template: str, out: Path, **context) -> Path:
    page = _environment().get_template(template).render(
        generated=time.strftime("%Y-%m-%d %H:%M:%S"), **context)  # fmt: skip
    tmp = out.with_name(f".{out.name}.{os.getpid()}")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)  # workers finishing together each write it whole
    return out


# ----------------------------------------------------------------------------------- a run
def read_history(folder: Path) -> list[dict]:
    path = folder / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def best_values(history: list[dict]) -> list[dict]:
    """Best value and epoch of every per-epoch loss/metric (min or max by the metric's name)."""
    keys = [k for k in history[0] if "/" in k] if history else []
    rows = []
    for key in keys:
        points = [(r[key], r["epoch"]) for r in history
                  if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]  # fmt: skip
        if points:
            pick = max if direction(key) == "maximize" else min
            value, epoch = pick(points, key=lambda p: p[0])
            rows.append({"metric": key, "best": value, "epoch": epoch, "last": history[-1].get(key)})
    return rows


def write_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` (and ``run_dir/plots/*.png``) for a finished run.

    A ``train --seeds N`` folder (``seeds.json``, one run folder per seed) gets the seeds report.
    """
    folder = Path(run_dir)
    if (folder / "seeds.json").is_file() and not (folder / "config.yaml").is_file():
        return write_seeds_report(folder)
    for needed in ("config.yaml", "summary.json"):
        if not (folder / needed).is_file():
            raise DataError(f"{folder}: no {needed}, so it is not a finished run directory")
    cfg = load_config(folder / "config.yaml")
    summary = json.loads((folder / "summary.json").read_text())
    history = read_history(folder)
    lr_find = _lr_find(folder)
    from tuneforge.report.plots import run_plots

    plots = run_plots(history, summary, cfg, folder / "plots", lr_find)
    diagnosis = summary.get("diagnosis") or {}
    return _render(
        "run.html.j2", folder / "report.html",
        title=run_title(cfg.name, folder), summary=summary,
        recipe=(folder / "config.yaml").read_text(), best=best_values(history),
        fit=diagnosis.get("fit"), gradients=diagnosis.get("gradients"), lr_find=lr_find,
        plots=[_plot(t, p) for t, p in plots.items()],
    )  # fmt: skip


def run_title(cfg_name: str | None, folder: Path) -> str:
    """A run report's title: the recipe's name, else its folder's. A study's best and refit runs
    are trained in a private folder (``.best.<pid>``) and renamed: they are "<study> · best"."""
    folder = folder.resolve()
    own = re.sub(r"^\.(best|refit)\.\d+(\.old)?$", r"\1", folder.name)
    if own != folder.name or (own in ("best", "refit") and (folder.parent / "best.yaml").is_file()):
        return f"{folder.parent.name} · {own}"
    return cfg_name or own


def seed_rows(result: dict) -> list[dict]:
    """One row per metric: mean, std and each seed's value (None where a seed has none)."""
    return [{"metric": key, "mean": mean, "std": result["std"][key],
             "values": [run["metrics"].get(key) for run in result["runs"]]}
            for key, mean in result["mean"].items()]  # fmt: skip


def write_seeds_report(folder: str | Path) -> Path:
    """``folder/report.html`` for ``train --seeds N``: each metric's mean ± std and per-seed values."""
    from tuneforge.report.plots import seed_curves

    folder = Path(folder)
    result = json.loads((folder / "seeds.json").read_text())
    seeds = result["seeds"]
    histories = {seed: read_history(folder / f"seed{seed}") for seed in seeds}
    plot = seed_curves(histories, folder / "plots" / "seeds.png")
    first = folder / f"seed{seeds[0]}" / "config.yaml"
    links = {seed: f"seed{seed}/report.html" for seed in seeds
             if (folder / f"seed{seed}" / "report.html").is_file()}  # fmt: skip
    return _render(
        "seeds.html.j2", folder / "report.html", title=folder.resolve().name, result=result,
        rows=seed_rows(result), links=links, recipe=first.read_text() if first.is_file() else None,
        plots=[_plot("Seeds", plot)] if plot else [],
    )  # fmt: skip


def _lr_find(folder: Path) -> dict | None:
    path = folder / "lr_find.json"
    return json.loads(path.read_text()) if path.is_file() else None


# --------------------------------------------------------------------------------- a study
def trial_rows(study: optuna.Study, n: int = 10) -> tuple[list[str], list[dict]]:
    """The top trials as table rows, and the parameter columns they use."""
    from tuneforge.report import study as study_info

    trials = study_info.top_trials(study, n)
    params = sorted({p for t in trials for p in t.params})
    rows = [{"number": t.number, "values": t.values or [], "state": t.state.name.lower(),
             "params": [t.params.get(p) for p in params],
             "seconds": t.duration.total_seconds() if t.duration else None} for t in trials]  # fmt: skip
    return params, rows


def best_seed_spread(best) -> tuple[list[int], list[dict]]:
    """Under ``tune.seeds``: the best trial's seeds and, per objective, mean ± std and values."""
    if best is None or "seed_values" not in best.user_attrs:
        return [], []
    attrs = best.user_attrs
    rows = [{"metric": metric, "mean": sum(values) / len(values), "std": attrs["seed_std"][metric],
             "values": values} for metric, values in attrs["seed_values"].items()]  # fmt: skip
    return attrs["seeds"], rows


def write_study_report(study: optuna.Study, folder: str | Path) -> Path:
    """Write ``folder/report.html`` for an Optuna study: its plots are numbers in the page, drawn
    there by Chart.js (the Pareto front of 3+ objectives is a PNG, ``folder/plots``)."""
    from tuneforge.report import study as study_info
    from tuneforge.report.study_plots import study_plots

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    made, missing = study_plots(study, folder / "plots")
    figures, charts = [], {}
    for i, plot in enumerate(made, 1):
        if plot["kind"] == "image":
            figures.append(_plot(plot["title"], plot["path"], wide=plot["wide"]))
        else:
            figures.append({"title": plot["title"], "wide": plot["wide"], "kind": plot["kind"],
                            "id": f"chart-{i}"})  # fmt: skip
            charts[f"chart-{i}"] = {k: v for k, v in plot.items() if k not in ("title", "wide")}
    scripts = [_script(CHART_JS.read_text(encoding="utf-8")),
               _script((TEMPLATES / "study_plots.js").read_text(encoding="utf-8"))] if charts else []  # fmt: skip
    params, rows = trial_rows(study)
    config, best = study_info.best_config(study)
    seeds, spread = best_seed_spread(best)
    config = study_info.without_nulls(config)
    return _render(
        "study.html.j2", folder / "report.html",
        title=study.study_name, objectives=study_info.objective_names(study),
        directions=[d.name.lower() for d in study.directions], counts=study_info.counts(study),
        engines=study_info.engines(study),
        params=params, rows=rows, best=best, seeds=seeds, spread=spread,
        tuned=study_info.tuned_keys(study, best),
        best_config=yaml.safe_dump(config, sort_keys=False) if config is not None else None,
        plots=figures, missing=missing, plot_data=_json_block(charts), scripts=scripts,
    )  # fmt: skip

