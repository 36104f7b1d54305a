"""scikit-learn's own estimator checks on both estimators (issue 8, item 3).

No check is listed as an expected failure: every one passes, for the defaults users get and for
recipes that take the other code paths (early stopping with a validation split, dropout, layer
norm, a schedule, logistic/linear models, bce, SGD with momentum, L1/L2).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from tuneforge.sklearn import NeuralNetClassifier, NeuralNetRegressor

CHECKED = [
    NeuralNetClassifier(),
    NeuralNetRegressor(),
    # Quick recipes (the suite fits each a few dozen times) along the other code paths.
    NeuralNetClassifier(hidden=(16,), lr=0.05, batch_size=16, epochs=15, dropout=0.1, norm="layer",
                        schedule="cosine", early_stopping=True, patience=3),  # fmt: skip
    NeuralNetClassifier(model="logistic", lr=0.1, batch_size="full", epochs=30, l2=1e-3),
    NeuralNetRegressor(model="linear", optimizer="sgd", optimizer_params={"momentum": 0.9},
                       lr=0.05, batch_size="full", epochs=30, l1=1e-4, l2=1e-3,
                       early_stopping=True),  # fmt: skip
]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models gain nothing from intra-op threads and lose much when cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@parametrize_with_checks(CHECKED)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_tags_declare_what_the_estimators_do_not_accept():
    kinds = {type(est) for est in CHECKED}
    assert kinds == {NeuralNetClassifier, NeuralNetRegressor}
    for est in CHECKED:
        tags = est.__sklearn_tags__()
        assert not tags.input_tags.allow_nan and not tags.target_tags.multi_output
        assert not tags.non_deterministic


def test_array_api_check_passes_where_scipy_allows_it():
    """scikit-learn skips ``check_array_api_input`` unless SCIPY_ARRAY_API=1 is set before
    scipy is imported, so it runs here in a fresh interpreter."""
    code = (
        "import inspect\n"
        "from sklearn.utils.estimator_checks import check_array_api_input\n"
        "from tuneforge.sklearn import NeuralNetClassifier, NeuralNetRegressor\n"
        "# scikit-learn 1.7 added this switch (predictions are label arrays, not namespace arrays)\n"
        "known = inspect.signature(check_array_api_input).parameters\n"
        "kw = {'expect_only_array_outputs': False} if 'expect_only_array_outputs' in known else {}\n"
        "import sys, unittest\n"
        "try:\n"
        "    for est in (NeuralNetClassifier(epochs=3), NeuralNetRegressor(epochs=3)):\n"
        "        check_array_api_input(type(est).__name__, est, array_namespace='numpy', **kw)\n"
        "except unittest.SkipTest as why:  # e.g. scikit-learn 1.6 without array_api_compat\n"
        "    sys.exit(f'skip: {why}')\n"
    )
    env = os.environ | {"SCIPY_ARRAY_API": "1"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if done.stderr.startswith("skip: "):
        pytest.skip(done.stderr.strip())
    assert done.returncode == 0, done.stderr
