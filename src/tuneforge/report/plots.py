"""A run's plots as PNG files (matplotlib): curves, learning rate, gradient norms, LR finder.

Figures are made with ``matplotlib.figure.Figure`` rather than pyplot: no global figure state,
no GUI backend, nothing left open in a notebook. Each plot function takes plain data (the
``metrics.jsonl`` records, the ``lr_find.json`` dict) and returns the path it wrote, or ``None``
when there is nothing to draw.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tuneforge.diagnose.gradients import all_checks
from tuneforge.evaluate.metrics import MAXIMIZED
from tuneforge.recipe import lr_factors

DPI = 90
SIZE = (6.4, 3.6)
PER_EPOCH_METRICS = ("accuracy", "f1", "rmse", "mae", "r2")


#: PNG text key holding a plot's smallest font in pixels (the report checks it stays legible)
FONT_KEY = "tuneforge:smallest-font-px"


def smallest_font_px(fig: Figure, dpi: float = DPI) -> float:
    """The smallest visible text of ``fig`` in pixels of a PNG saved at ``dpi``."""
    from matplotlib.text import Text

    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes, default=10.0) * dpi / 72


def save_png(fig: Figure, path: Path, dpi: float = DPI) -> Path:
    """Save ``fig`` as a PNG that records its smallest font size (for the report's check).

    One draw, then the font sizes, then the pixels: ``savefig`` after reading the fonts drew
    twice over (reading them first made matplotlib create every tick's artists only for the
    draw to make them again): the wine study's PNGs 1.00 -> 0.84 s. This is what
    ``savefig(format="png")`` does on the Agg canvas (draw, then ``imsave`` of its buffer).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.image import imsave

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    metadata = {FONT_KEY: f"{smallest_font_px(fig, dpi):.2f}"}
    imsave(tmp, canvas.buffer_rgba(), format="png", origin="upper", dpi=dpi, metadata=metadata)
    os.replace(tmp, path)  # workers finishing together each write it whole: no reader sees half
    return path


def _save(fig: Figure, path: Path) -> Path:
    # Fixed margins: tight_layout measures every artist and costs as much as drawing them.
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.13, top=0.9, hspace=0.5)
    return save_png(fig, path)


def _finite(xs: list, ys: list) -> tuple[list, list]:
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None and math.isfinite(y)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def loss_curves(history: list[dict], path: Path, best_epoch: int | None = None) -> Path | None:
    """train/loss and val/loss per epoch; a dotted line at the best validation epoch."""
    epochs = [r["epoch"] for r in history]
    fig = Figure(figsize=SIZE)
    ax = fig.add_subplot()
    drawn = False
    for key, style in (("train/loss", "-"), ("val/loss", "-")):
        xs, ys = _finite(epochs, [r.get(key) for r in history])
        if xs:
            ax.plot(xs, ys, style, marker="." if len(xs) < 40 else None, label=key)
            drawn = True
    if not drawn:
        return None
    if best_epoch:
        ax.axvline(best_epoch, color="grey", linestyle=":", label=f"best val epoch {best_epoch}")
    ax.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def metric_curves(history: list[dict], path: Path) -> Path | None:
    """The per-epoch validation metrics (accuracy, f1 / rmse, mae, r2)."""
    keys = [f"val/{m}" for m in PER_EPOCH_METRICS if any(f"val/{m}" in r for r in history)]
    if not keys:
        return None
    epochs = [r["epoch"] for r in history]
    fig = Figure(figsize=(SIZE[0], SIZE[1] * (1 + 0.6 * (len(keys) > 2))))
    scores = [k for k in keys if k.split("/")[1] in MAXIMIZED]
    errors = [k for k in keys if k not in scores]
    groups = [g for g in (scores, errors) if g]
    for i, group in enumerate(groups):
        ax = fig.add_subplot(len(groups), 1, i + 1)
        for key in group:
            ax.plot(*_finite(epochs, [r.get(key) for r in history]), label=key)
        ax.set(xlabel="epoch", title="Validation metrics" if i == 0 else None)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def lr_curve(history: list[dict], cfg, path: Path) -> Path | None:
    """The learning rate at every optimizer step (from the schedule; plateau from the records)."""
    if not history or not history[-1].get("step"):
        return None
    schedule, base = cfg.train.schedule, cfg.train.optimizer.lr
    steps_done = history[-1]["step"]
    fig = Figure(figsize=SIZE)
    ax = fig.add_subplot()
    if schedule.name != "plateau" and schedule.interval == "step":
        per_epoch = history[0]["step"]
        total = per_epoch * cfg.train.epochs
        factors = lr_factors(schedule, min(total, cfg.train.max_steps or total), base)[:steps_done]
        ax.plot(range(len(factors)), (base * factors).tolist())
    else:  # per epoch, or reduced on plateau: the LR each epoch ended with
        ax.step([0] + [r["step"] for r in history], [history[0]["lr"]] + [r["lr"] for r in history],
                where="pre")  # fmt: skip
    ax.set(xlabel="optimizer step", ylabel="learning rate", title="Learning rate")
    ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.05)
    ax.ticklabel_format(axis="y", useOffset=False, style="sci", scilimits=(-3, 3))
    ax.grid(alpha=0.3)
    return _save(fig, path)


def gradient_norms(history: list[dict], path: Path) -> Path | None:
    """Per-layer gradient norm and update/parameter ratio at each check (log scale)."""
    checks = all_checks(history)
    if not checks:
        return None
    steps = [c["step"] for c in checks]
    fig = Figure(figsize=(SIZE[0], SIZE[1] * 1.7))
    top, bottom = fig.add_subplot(2, 1, 1), fig.add_subplot(2, 1, 2, sharex=None)
    for layer in checks[0]["norm"]:
        for ax, key in ((top, "norm"), (bottom, "update_ratio")):
            xs, ys = _finite(steps, [c[key][layer] for c in checks])
            pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if y > 0]  # a log axis cannot show zeros
            ax.plot([p[0] for p in pairs], [p[1] for p in pairs], marker=".", label=f"layer {layer}")
    top.set(yscale="log", ylabel="‖∇θ‖", title="Gradient norm by layer (before clipping)")
    bottom.set(yscale="log", xlabel="optimizer step", ylabel="‖Δθ‖ / ‖θ‖",
               title="Update-to-parameter ratio by layer")  # fmt: skip
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    top.legend(fontsize="small", ncol=2)
    return _save(fig, path)


def lr_finder(curve: dict, path: Path) -> Path | None:
    """The range test: raw and smoothed loss against the LR (log), the suggestion marked."""
    lrs, raw, smooth = curve["lrs"], curve["losses"], curve["smoothed"]
    if not lrs:
        return None
    fig = Figure(figsize=SIZE)
    ax = fig.add_subplot()
    ax.plot(*_finite(lrs, raw), color="tab:blue", alpha=0.3, label="loss")
    ax.plot(*_finite(lrs, smooth), color="tab:blue", label="smoothed loss")
    if curve.get("suggestion") is not None:
        at = curve["index"]
        ax.plot([lrs[at]], [smooth[at]], "o", color="tab:red",
                label=f"suggestion ({curve['rule']}): {curve['suggestion']:.3g}")  # fmt: skip
    finite = [v for v in smooth if math.isfinite(v)]
    if finite:  # an exploding tail would squash the interesting part
        low, high = min(finite), finite[0]
        ax.set_ylim(low - 0.1 * abs(high - low), max(high, low) + 0.25 * abs(high - low) + 1e-12)
    ax.set(xscale="log", xlabel="learning rate", ylabel="loss", title="Learning-rate range test")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return _save(fig, path)


def run_plots(history: list[dict], summary: dict, cfg, folder: Path,
              lr_find: dict | None = None) -> dict[str, Path]:  # fmt: skip
    """Every plot that has data, written to ``folder``; ``{title: path}``."""
    fit = (summary.get("diagnosis") or {}).get("fit") or {}
    made = {
        "Loss": loss_curves(history, folder / "loss.png", fit.get("best_epoch")),
        "Validation metrics": metric_curves(history, folder / "metrics.png"),
        "Learning rate": lr_curve(history, cfg, folder / "lr.png"),
        "Gradient norms": gradient_norms(history, folder / "grad_norms.png"),
        "Learning-rate finder": lr_finder(lr_find, folder / "lr_find.png") if lr_find else None,
    }
    return {title: path for title, path in made.items() if path is not None}


def seed_curves(histories: dict[int, list[dict]], path: Path) -> Path | None:
    """val/loss (else train/loss) per epoch, one line per training seed: the spread over time."""
    key = "val/loss" if any("val/loss" in r for h in histories.values() for r in h) else "train/loss"
    fig = Figure(figsize=SIZE)
    ax = fig.add_subplot()
    drawn = False
    for seed, history in histories.items():
        xs, ys = _finite([r["epoch"] for r in history], [r.get(key) for r in history])
        if xs:
            ax.plot(xs, ys, marker="." if len(xs) < 40 else None, label=f"seed {seed}")
            drawn = True
    if not drawn:
        return None
    ax.set(xlabel="epoch", ylabel=key, title=f"{key} by training seed")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", ncol=2)
    return _save(fig, path)
