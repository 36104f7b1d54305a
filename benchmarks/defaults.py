"""First contact: tuneforge's defaults against scikit-learn's MLPs, 5-fold CV on small data sets.

Two tables, each data set scored by 5-fold cross-validation (stratified for classes, shuffled
with seed 0), mean ± std of the held-out folds' accuracy (classification) or R² (regression)
and the wall time of all five folds (each fold's fixed cost counts):

  (1) the estimators: ``NeuralNetClassifier()`` / ``NeuralNetRegressor()`` with their defaults
      against ``make_pipeline(StandardScaler(), MLPClassifier())`` / ``MLPRegressor()`` with
      theirs (random_state 0), on the same folds;
  (2) ``tuneforge cv`` of the built-in default recipe (no recipe file, ``data.source`` set, the
      test part off so the folds cover every row) against the same scikit-learn pipeline.

Goal (issue #21): on every data set tuneforge's mean >= scikit-learn's mean - half its std, at
no more wall time. Usage: ``python benchmarks/defaults.py [--threads 1] [--only iris wine]``
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn import datasets
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import tuneforge
from tuneforge.sklearn import NeuralNetClassifier, NeuralNetRegressor

SETS = {
    "iris": lambda: datasets.load_iris(return_X_y=True),
    "wine": lambda: datasets.load_wine(return_X_y=True),
    "breast_cancer": lambda: datasets.load_breast_cancer(return_X_y=True),
    "digits": lambda: datasets.load_digits(return_X_y=True),
    "diabetes": lambda: datasets.load_diabetes(return_X_y=True),
    "friedman1": lambda: datasets.make_friedman1(n_samples=1000, random_state=0),
}
REGRESSION = {"diabetes", "friedman1"}
BUILT_IN = ["iris", "wine", "breast_cancer", "digits", "diabetes"]  # tuneforge's data.source names


def timed_scores(estimator, X, y, folds) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's "not converged" at max_iter
        scores = cross_val_score(estimator, X, y, cv=folds)
    return scores, time.perf_counter() - started


def pair(name: str):
    regression = name in REGRESSION
    folds = (KFold if regression else StratifiedKFold)(5, shuffle=True, random_state=0)
    ours = NeuralNetRegressor(device="cpu") if regression else NeuralNetClassifier(device="cpu")
    model = MLPRegressor(random_state=0) if regression else MLPClassifier(random_state=0)
    return folds, ours, make_pipeline(StandardScaler(), model)


def tuneforge_cv(name: str) -> tuple[np.ndarray, float]:
    cfg = tuneforge.load_config(overrides=[f"data.source={name}", "data.split.test=0",
                                           "train.device=cpu", "logging.report=false"])  # fmt: skip
    metric = "val/r2" if name in REGRESSION else "val/accuracy"
    started = time.perf_counter()
    result = tuneforge.cv(cfg, folds=5)
    return np.array([fold[metric] for fold in result["folds"]]), time.perf_counter() - started


def row(name: str, ours: tuple, theirs: tuple) -> str:
    (a, ta), (b, tb) = ours, theirs
    ok = a.mean() >= b.mean() - b.std() / 2
    return (f"| {name} | {a.mean():.3f} ± {a.std():.3f} | {ta:.1f} | {b.mean():.3f} ± {b.std():.3f} "
            f"| {tb:.1f} | {'yes' if ok else 'NO'} | {ta / tb:.2f} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", nargs="+", default=list(SETS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    head = ("| data set | tuneforge mean ± std | s | scikit-learn mean ± std | s | "
            "mean ≥ sk − std/2 | time ratio |\n|---|---:|---:|---:|---:|:-:|---:|")  # fmt: skip
    print(f"torch {torch.__version__}, {args.threads} thread(s); accuracy, R² for "
          f"{', '.join(sorted(REGRESSION))}\n\n(1) estimators with their defaults\n{head}")  # fmt: skip
    for name in args.only:
        X, y = SETS[name]()
        folds, ours, theirs = pair(name)
        print(row(name, timed_scores(ours, X, y, folds), timed_scores(theirs, X, y, folds)), flush=True)
    print(f"\n(2) `tuneforge cv` of the default recipe (data.source=NAME, test part off)\n{head}")
    for name in [n for n in args.only if n in BUILT_IN]:
        X, y = SETS[name]()
        folds, _, theirs = pair(name)
        print(row(name, tuneforge_cv(name), timed_scores(theirs, X, y, folds)), flush=True)


if __name__ == "__main__":
    main()
