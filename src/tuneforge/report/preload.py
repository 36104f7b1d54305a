"""Import the report writers in a background thread while a search or a run trains.

A run's report needs matplotlib (PNGs) and jinja2, a study's report also Optuna's fANOVA:
~0.6 s of imports that used to come after the last epoch, in the user's wait. Imports are
Python bytecode under the GIL, so two imports side by side gain nothing (measured: torch and
scikit-learn in two threads took as long as one after the other). But while a model trains, the
main thread spends most of its time inside torch kernels, which release the GIL, so a thread
can import meanwhile. Measured on the default study (one-off, 3 interleaved rounds, 2 cores):
after the search 1.0-1.3 s -> 0.4-0.6 s, the search no slower.

The writers call :func:`wait` before they import, so the report modules are never imported by
two threads at once; and what the main thread imports meanwhile shares nothing with them (a
default study's search imports no module after its plan; a run imports three torch modules
during its epochs), so no two imports can wait on each other. A failed import here is
ignored: the writer imports the same module itself and reports what went wrong the usual way.
"""

from __future__ import annotations

import importlib
import sys
import threading

#: what writing a run's report imports beyond what training already has
RUN = ("matplotlib.backends.backend_agg", "tuneforge.report.plots", "tuneforge.report.html")
#: ... and a study's (fANOVA importances; a run alone must not import Optuna)
STUDY = (*RUN, "optuna.importance")

_thread: threading.Thread | None = None


def start(modules: tuple[str, ...] = RUN) -> None:
    """Begin importing ``modules`` in a daemon thread (once per process)."""
    global _thread
    if _thread is not None or all(name in sys.modules for name in modules):
        return
    _thread = threading.Thread(target=_load, args=(modules,), name="tuneforge-report-preload",
                               daemon=True)  # fmt: skip
    _thread.start()


def wait() -> None:
    """Block until the background imports are done (a no-op when none were started)."""
    if _thread is not None and _thread is not threading.current_thread():
        _thread.join()


def _load(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the writer's own import reports it
            return
