"""``--workers N``: N processes on one machine share one study through its storage.

The calling process is worker 0; workers 1..N-1 are fresh interpreters (``spawn``: no forked
torch or database state) that rebuild the same plan from the raw recipe and run the same loop.
They coordinate only through the storage (see runner.py), exactly as workers on other machines
sharing a PostgreSQL study do.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from typing import Any

import optuna
import torch


def share_cores(workers: int) -> int:
    """Give each of ``workers`` processes its share of the cores; returns the previous count.

    Several processes each running torch's default thread pool oversubscribe the machine, and
    small models then run many times slower (measured: 0.25 s -> 3.3 s per digits trial).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
    return previous


def start_workers(count: int, raw: dict[str, Any], source: str) -> list:
    """Start workers 1..count-1 and wait until each has its study open (or has died), so all
    workers begin together instead of the caller doing the first trials alone."""
    context = multiprocessing.get_context("spawn")
    started = []
    for index in range(1, count):
        ready = context.Event()
        process = context.Process(target=_worker, args=(raw, source, index, ready),
                                  name=f"tuneforge-worker-{index}")  # fmt: skip
        process.start()
        started.append((process, ready))
    for process, ready in started:
        while not ready.wait(0.2) and process.is_alive():
            pass
    return [process for process, _ in started]


def join_workers(processes: list, log) -> None:
    for process in processes:
        process.join()
        if process.exitcode not in (0, 130, -signal.SIGINT):
            log(f"worker {process.name} exited with code {process.exitcode}")


def _worker(raw: dict[str, Any], source: str, index: int, ready) -> None:
    from tuneforge.errors import TuneforgeError
    from tuneforge.tuning.plan import make_plan
    from tuneforge.tuning.runner import Runner
    from tuneforge.tuning.startup import open_worker_study

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        plan = make_plan(raw)
        share_cores(plan.tune.workers)
        plan.source = source
        study = open_worker_study(plan, worker=index)
        ready.set()
        interrupted = Runner(plan, study).run()
    except TuneforgeError as exc:
        print(f"error: worker {index}: {exc}", flush=True)
        raise SystemExit(2) from None
    raise SystemExit(130 if interrupted else 0)
