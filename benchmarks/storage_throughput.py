"""Trials finished per second by 1, 2, 4, 8 worker processes on one study, per storage.

The objective is free (``(log10(lr) + 2)**2``, no training), so the numbers are the storage's
and the worker loop's own cost per trial: what a study of very short trials is limited by.

Two kinds of worker:

- ``tuneforge``: tuneforge's own worker loop (:class:`tuneforge.tuning.runner.Runner`, with
  its heartbeat thread, stale-trial check, finished-trial count and surplus check per trial)
  over the storage :func:`tuneforge.tuning.storage.open_storage` opens, with an executor that
  returns the objective instead of training. tuneforge refuses SQLite with more than one
  worker ("database is locked", optuna#820): those cells are n/a.
- ``optuna``: plain ``study.optimize`` on a plain Optuna storage, stopped by
  ``MaxTrialsCallback``: the storage's cost without tuneforge's bookkeeping (SQLite measured
  too, at the risk of "database is locked"; a cell that fails says so).

Each worker opens its storage and study, then waits; the clock starts when all are released
and stops when the last one finishes (process start-up is not counted). Random sampler, so the
sampler's cost does not grow with the study. PostgreSQL: ``--postgres URL``, or a throwaway
server started with tests/pg_server.py (Debian's ``postgresql`` binaries) when none is given.
``grpc`` is the same PostgreSQL through Optuna's gRPC storage proxy: one ``tuneforge storage
serve`` process started here on a free loopback port, the workers on ``grpc://``.

Usage: ``python benchmarks/storage_throughput.py [--trials 200] [--workers 1 2 4 8]
[--storages sqlite journal postgresql grpc] [--modes tuneforge optuna] [--postgres URL]``.
PostgreSQL direct vs the proxy: ``--storages postgresql grpc``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

SPACE = {"train.optimizer.lr": {"low": 1.0e-4, "high": 1.0, "log": True}}


def objective_of(lr: float) -> float:
    return (math.log10(lr) + 2) ** 2


class SquareExecutor:
    """Stands in for training: every trial completes at once with the objective's value."""

    batch_size = 1

    def __call__(self, jobs):
        from tuneforge.tuning.trials import TrialOutcome

        return [TrialOutcome(TrialState.COMPLETE, [objective_of(job.trial.params["train.optimizer.lr"])])
                for job in jobs]  # fmt: skip


def tuneforge_worker(url: str, study: str, trials: int, index: int, ready, go, done) -> None:
    from tuneforge.tuning.plan import make_plan
    from tuneforge.tuning.runner import Runner
    from tuneforge.tuning.startup import open_worker_study

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    raw = {"name": study, "data": {"source": "iris"}, "logging": {"report": False},
           "tune": {"trials": trials, "storage": url, "sampler": "random", "pruner": "none",
                    "seed": 0, "space": SPACE}}  # fmt: skip
    plan = make_plan(raw)
    study_ = open_worker_study(plan, worker=index)
    ready.set()
    go.wait()
    Runner(plan, study_, executor=SquareExecutor()).run()
    done.put(time.time())


def optuna_storage(url: str):
    if url.startswith("grpc://"):
        from tuneforge.tuning.quiet import quiet_optuna

        host, port = url.removeprefix("grpc://").rsplit(":", 1)
        with quiet_optuna():  # GrpcStorageProxy is "experimental"
            return optuna.storages.GrpcStorageProxy(host=host, port=int(port))
    if url.startswith("journal:///"):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url.removeprefix("journal:///")))
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)


def optuna_worker(url: str, study: str, trials: int, index: int, ready, go, done) -> None:
    from optuna.study import MaxTrialsCallback

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler = optuna.samplers.RandomSampler(seed=index)
    study_ = optuna.load_study(study_name=study, storage=optuna_storage(url), sampler=sampler)
    ready.set()
    go.wait()
    stop = MaxTrialsCallback(trials, states=(TrialState.COMPLETE,))
    study_.optimize(lambda t: objective_of(t.suggest_float("lr", 1e-4, 1.0, log=True)),
                    callbacks=[stop])  # fmt: skip
    done.put(time.time())


def measure(mode: str, url: str, study: str, trials: int, workers: int) -> tuple[float, int] | str:
    """(finished trials per second, finished trials), or why the cell has no number."""
    if mode == "tuneforge" and url.startswith("sqlite") and workers > 1:
        return "n/a (refused)"
    if mode == "optuna":
        optuna.create_study(study_name=study, storage=optuna_storage(url))
    ctx = multiprocessing.get_context("spawn")
    go, done = ctx.Event(), ctx.Queue()
    target = tuneforge_worker if mode == "tuneforge" else optuna_worker
    started = []
    for index in range(workers):
        ready = ctx.Event()
        process = ctx.Process(target=target, args=(url, study, trials, index, ready, go, done))
        process.start()
        started.append((process, ready))
    for process, ready in started:
        while not ready.wait(0.2):
            if not process.is_alive():
                return f"failed (worker exit {process.exitcode})"
    released = time.time()
    go.set()
    for process, _ in started:
        process.join()
    if any(process.exitcode for process, _ in started):
        codes = sorted({process.exitcode for process, _ in started})
        return f"failed (exit codes {codes})"
    finished_at = max(done.get() for _ in started)
    found = optuna.load_study(study_name=study, storage=optuna_storage(url))
    complete = sum(t.state == TrialState.COMPLETE for t in found.get_trials(deepcopy=False))
    return complete / (finished_at - released), complete


@contextlib.contextmanager
def grpc_proxy(postgres: str):
    """``tuneforge storage serve`` on ``postgres`` in a subprocess; yields its grpc:// URL."""
    from pg_server import _free_port

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "tuneforge", "storage", "serve", "--storage",
                               postgres, "--port", str(port)], stdout=subprocess.PIPE, text=True)  # fmt: skip
    server.stdout.readline()  # the "serving" line: the storage is open
    try:
        yield f"grpc://127.0.0.1:{port}"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def url_for(storage: str, folder: Path, cell: str, postgres: str | None, proxy: str | None) -> str:
    if storage == "grpc":
        return proxy
    if storage == "sqlite":
        return f"sqlite:///{folder / (cell + '.db')}"
    if storage == "journal":
        return f"journal:///{folder / (cell + '.journal')}"
    return postgres


def table(results: dict, storages: list[str], workers: list[int], modes: list[str]) -> str:
    head = "| workers | " + " | ".join(f"{s} {m}" for s in storages for m in modes) + " |"
    lines = [head, "|---:|" + "---:|" * (len(storages) * len(modes))]
    for n in workers:
        cells = []
        for s in storages:
            for m in modes:
                got, first = results[s, m, n], results.get((s, m, workers[0]))
                if isinstance(got, str):
                    cells.append(got)
                    continue
                ratio = got[0] / first[0] if isinstance(first, tuple) else math.nan
                cells.append(f"{got[0]:.1f}/s ({ratio:.2f}×)")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--storages", nargs="+", default=["sqlite", "journal", "postgresql", "grpc"],
                        choices=["sqlite", "journal", "postgresql", "grpc"])  # fmt: skip
    parser.add_argument("--modes", nargs="+", default=["tuneforge", "optuna"], choices=["tuneforge", "optuna"])
    parser.add_argument("--postgres", help="postgresql:// URL (default: a throwaway local server)")
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"  # workers are spawned: they read it at torch import

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(f"cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} (other jobs on the "
          f"machine make every number here lower and noisier)", flush=True)  # fmt: skip
    with contextlib.ExitStack() as stack:
        postgres, proxy = args.postgres, None
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        if {"postgresql", "grpc"} & set(args.storages) and postgres is None:
            from pg_server import throwaway_postgres

            postgres = stack.enter_context(throwaway_postgres())
        if "grpc" in args.storages:
            proxy = stack.enter_context(grpc_proxy(postgres))
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tf-storage-")))
        results = {}
        for storage in args.storages:
            for mode in args.modes:
                for n in args.workers:
                    cell = f"{storage}-{mode}-{n}"
                    url = url_for(storage, folder, cell, postgres, proxy)
                    results[storage, mode, n] = got = measure(mode, url, cell, args.trials, n)
                    print(f"{cell}: {got}", flush=True)
    print(f"\n{args.trials} finished trials per cell; trials/s (ratio vs {args.workers[0]} worker):\n")
    print(table(results, args.storages, args.workers, args.modes))


if __name__ == "__main__":
    main()
