"""``tuneforge lr-find``'s files: the range test's curve as JSON, its plot, and the recipe with
the suggested learning rate.

Here rather than in ``diagnose`` because it writes a plot, and plots are the report layer's
(``diagnose`` computes; ``report`` draws and writes).
"""

from __future__ import annotations

import json
from pathlib import Path

from tuneforge.config import dump_config, set_dotted, to_dict, validate
from tuneforge.diagnose.lr_finder import LRCurve, lr_find
from tuneforge.errors import TuneforgeError
from tuneforge.report.plots import lr_finder as plot_lr_finder


def write_lr_find(cfg, folder: str | Path, *, apply: bool = False, **options) -> tuple[LRCurve, list[Path]]:
    """Run :func:`lr_find` and write ``lr_find.json`` and ``plots/lr_find.png`` into ``folder``.

    With ``apply``, also ``config.yaml``: the fully resolved recipe with ``train.optimizer.lr``
    set to the suggestion (three significant digits). A folder holding a finished run is
    refused for that, since its config.yaml must keep describing its model.
    """
    folder = Path(folder)
    if apply and (folder / "summary.json").is_file():
        raise TuneforgeError(f"--apply: {folder} holds a finished run, whose config.yaml must stay "
                             "as it is; choose another --out")  # fmt: skip
    curve = lr_find(cfg, **options)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lr_find.json").write_text(json.dumps(curve.to_dict(), indent=1))
    written = [folder / "lr_find.json", plot_lr_finder(curve.to_dict(), folder / "plots" / "lr_find.png")]
    if apply and curve.suggestion is not None:
        raw = to_dict(cfg)
        set_dotted(raw, "train.optimizer.lr", float(f"{curve.suggestion:.3g}"))
        dump_config(validate(raw, "lr-find --apply"), folder / "config.yaml")
        written.append(folder / "config.yaml")
    return curve, written
