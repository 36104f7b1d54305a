"""The main job end to end (issue 14): whole processes, back to back, interleaved repeats.

1. ``tuneforge tune`` (the README's main job: the default study, default storage, in a fresh
   working directory) against benchmarks/canonical_study.py (Optuna TPE + successive halving +
   a PyTorch DataLoader loop, same space, in memory). Goal: >= 2.5x faster at best val >= 0.975.
   Then a breakdown of one instrumented tuneforge run (imports, search, storage, after the search).
2. A study without pruning (64 trials x 20 epochs, widths 32-256, batch sizes 32/64/128,
   relu/tanh, lr, L2; ``tune.cohort: 64``) against the canonical loop without a pruner. Goal: >= 5x.
3. A 24-trial study of the wine data (178 rows) against scikit-learn's
   ``RandomizedSearchCV(MLPClassifier, 24 candidates, cv=3)`` in a StandardScaler pipeline: wall
   time and held-out test accuracy (each on its own stratified 20% test split of the same rows).

Each cell is the median over ``--repeats`` runs; the runs of a table alternate between its
variants, so a noisy neighbour hurts both. Times include interpreter start and imports.

Usage: ``python benchmarks/main_job.py [--repeats 3] [--quick] [--tables 1 2 3]``
(``--quick``: 4 trials x 2 epochs, one repeat: checks that everything runs, measures nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
WIDE_SPACE = {
    "train.optimizer.lr": {"low": 1e-3, "high": 1e-2, "log": True},
    "train.regularization.l2": {"low": 1e-6, "high": 1e-3, "log": True},
    "model.hidden": {"choices": [[32], [64], [128], [256]]},
    "model.activation": {"choices": ["relu", "tanh"]},
    "train.batch_size": {"choices": [32, 64, 128]},
}
SKLEARN_SEARCH = """
import json, sys, warnings
from scipy.stats import loguniform
from sklearn.datasets import load_wine
from sklearn.model_selection import RandomizedSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
x, y = load_wine(return_X_y=True)
x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
space = {"mlpclassifier__learning_rate_init": loguniform(1e-3, 1e-2),
         "mlpclassifier__alpha": loguniform(1e-6, 1e-3),
         "mlpclassifier__hidden_layer_sizes": [(128,), (256,), (512,)],
         "mlpclassifier__activation": ["relu", "tanh"], "mlpclassifier__batch_size": [32, 64]}
pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=int(sys.argv[2]), random_state=0))
search = RandomizedSearchCV(pipe, space, n_iter=int(sys.argv[1]), cv=3, random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    search.fit(x_rest, y_rest)
print(json.dumps({"test": search.score(x_test, y_test)}))
"""
BREAKDOWN = """
import json, sys, time
started = time.perf_counter()
import optuna
from tuneforge.tuning.api import finish, make_plan, run_plan
imported = time.perf_counter()
overrides = json.loads(sys.argv[1])
memory = run_plan(make_plan(None, overrides, {"storage": None, "study": "memory", "out": "mem"}))
in_memory = time.perf_counter()
plan = make_plan(None, overrides, {})
study = run_plan(plan)
searched = time.perf_counter()
finish(plan, study)
done = time.perf_counter()
print(json.dumps({"imports": imported - started, "search in memory": in_memory - imported,
                  "search, default storage": searched - in_memory,
                  "storage (difference)": (searched - in_memory) - (in_memory - imported),
                  "after the search": done - searched}))
"""


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    """Wall seconds of one whole process, and its stdout; a failure stops the benchmark."""
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=os.environ.copy())
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-3000:]}")
    return wall, done.stdout


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def study_best(folder: Path, name: str) -> float:
    """The best value of study ``name`` in the working directory's default storage."""
    import optuna

    from tuneforge.tuning.storage import DEFAULT_STORAGE, open_storage

    with _cwd(folder):
        return optuna.load_study(study_name=name, storage=open_storage(DEFAULT_STORAGE)).best_value


class _cwd:
    def __init__(self, path: Path):
        self.path, self.old = path, Path.cwd()

    def __enter__(self):
        os.chdir(self.path)

    def __exit__(self, *exc):
        os.chdir(self.old)


def tuneforge_tune(recipe: dict | None, study: str, overrides: list[str]) -> tuple[float, float, Path]:
    """``tuneforge tune [recipe]`` in a fresh directory: (wall s, best val, directory)."""
    folder = Path(tempfile.mkdtemp(prefix="main_job_"))
    cmd = [sys.executable, "-m", "tuneforge", "tune", "-q"]
    if recipe is not None:
        (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
        cmd.insert(4, "recipe.yaml")
    for item in overrides:
        cmd += ["--set", item]
    wall, _ = timed(cmd, folder)
    return wall, study_best(folder, study), folder


def canonical(args: list[str]) -> tuple[float, float]:
    wall, out = timed([sys.executable, str(HERE / "canonical_study.py"), *args], HERE)
    return wall, last_json(out)["best_val"]


def table(title: str, runs: dict[str, list[tuple[float, float]]], score: str, goal: str) -> None:
    names = list(runs)
    base = statistics.median(w for w, _ in runs[names[-1]])
    print(f"\n{title}\n{'variant':<50} {'wall s (median)':>16} {score:>10} {'speed-up':>9}")
    for name in names:
        wall = statistics.median(w for w, _ in runs[name])
        value = statistics.median(v for _, v in runs[name])
        print(f"{name:<50} {wall:>16.2f} {value:>10.4f} {base / wall:>8.2f}x")
    print(f"goal: {goal}")


def main_study(args) -> None:
    sizes = ["tune.trials=4", "train.epochs=2"] if args.quick else []
    flags = ["--trials", "4", "--epochs", "2"] if args.quick else []
    runs = {"tuneforge tune (default study, default storage)": [], "canonical script (memory)": []}
    for _ in range(args.repeats):
        wall, best, folder = tuneforge_tune(None, "digits-mlp", sizes)
        runs["tuneforge tune (default study, default storage)"].append((wall, best))
        runs["canonical script (memory)"].append(canonical(flags))
    table("1. the default study, whole processes", runs, "best val", ">= 2.5x at best val >= 0.975")
    folder = Path(tempfile.mkdtemp(prefix="main_job_"))
    _, out = timed([sys.executable, "-c", BREAKDOWN, json.dumps(sizes)], folder)
    print("breakdown of one instrumented tuneforge run (s):",
          ", ".join(f"{k} {v:.2f}" for k, v in last_json(out).items()))  # fmt: skip


def wide_study(args) -> None:
    trials, epochs = (4, 2) if args.quick else (64, 20)
    recipe = {"name": "wide", "train": {"epochs": epochs},
              "tune": {"trials": trials, "pruner": "none", "cohort": 64, "space": WIDE_SPACE}}  # fmt: skip
    flags = ["--trials", str(trials), "--epochs", str(epochs), "--space", "wide", "--pruner", "none"]
    runs = {"tuneforge tune (no pruning, cohort 64)": [], "canonical script, no pruner": []}
    for _ in range(args.repeats):
        wall, best, _ = tuneforge_tune(recipe, "wide", [])
        runs["tuneforge tune (no pruning, cohort 64)"].append((wall, best))
        runs["canonical script, no pruner"].append(canonical(flags))
    table(f"2. {trials} trials x {epochs} epochs without pruning", runs, "best val", ">= 5x")


def small_study(args) -> None:
    trials, epochs = (4, 2) if args.quick else (24, 20)
    recipe = {"name": "wine", "data": {"source": "wine"}, "train": {"epochs": epochs},
              "tune": {"trials": trials}}  # fmt: skip
    runs = {f"tuneforge tune (wine, {trials} trials)": [], f"RandomizedSearchCV(MLP, {trials}, cv=3)": []}
    for _ in range(args.repeats):
        wall, _, folder = tuneforge_tune(recipe, "wine", [])
        test = json.loads((folder / "runs/wine/best/summary.json").read_text())["metrics"]["test/accuracy"]
        runs[f"tuneforge tune (wine, {trials} trials)"].append((wall, test))
        wall, out = timed([sys.executable, "-c", SKLEARN_SEARCH, str(trials), str(epochs)], HERE)
        runs[f"RandomizedSearchCV(MLP, {trials}, cv=3)"].append((wall, last_json(out)["test"]))
    table("3. a small data set (wine, 178 rows)", runs, "test acc", "no slower, equal or better test accuracy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="4 trials x 2 epochs, one repeat")
    parser.add_argument("--tables", type=int, nargs="+", default=[1, 2, 3], choices=[1, 2, 3])
    args = parser.parse_args()
    if args.quick:
        args.repeats = 1
    print(f"{os.cpu_count()} CPUs, python {sys.version.split()[0]}, {args.repeats} repeat(s)")
    for number in args.tables:
        {1: main_study, 2: wide_study, 3: small_study}[number](args)


if __name__ == "__main__":
    main()
