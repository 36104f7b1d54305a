"""A command imports only what it uses (issue #14: fixed cost is product speed).

Each test runs a real ``tuneforge`` process and reads its ``sys.modules`` at exit, so an eager
import added anywhere on the path (a module-level ``import optuna`` in a shared file) fails
here instead of silently adding to every run's start-up.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from cli_result import cli_env

IRIS_COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]

# Runs `tuneforge ARGS` in this interpreter and writes which of the watched modules it imported.
PROBE = """
import atexit, json, sys
out, watched = sys.argv[1], sys.argv[2].split(",")
atexit.register(lambda: open(out, "w").write(json.dumps([m for m in watched if m in sys.modules])))
sys.argv = ["tuneforge", *sys.argv[3:]]
from tuneforge.cli import main
main()
"""


def imported(tmp_path, watched: list[str], *args) -> list[str]:
    """The modules of ``watched`` that ``tuneforge ARGS`` imported (it must succeed)."""
    out = tmp_path / "modules.json"
    done = subprocess.run([sys.executable, "-c", PROBE, str(out), ",".join(watched), *args],
                          cwd=tmp_path, env=cli_env(), capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


@pytest.mark.slow
def test_train_and_predict_import_only_what_they_use(tmp_path):
    # The run report draws with matplotlib.figure; Optuna and pyplot belong to study reports.
    # The encoder is written as encoder.json: no skops (2-3 s of imports beside torch).
    args = ["train", "--set", "data.source=iris", "--set", "train.epochs=1", "--out", "run", "-q"]
    # Local SGD's torch.distributed.optim (~0.5 s) only under train.distributed.sync: local_sgd.
    watched = ["optuna", "matplotlib.pyplot", "tuneforge.report.study", "skops.io", "torch.distributed.optim"]
    found = imported(tmp_path, watched, *args)
    assert (tmp_path / "run" / "report.html").is_file()  # the report path did run
    assert found == []
    # predict reads encoder.json: no skops (which imports all of scikit-learn and pytest), and
    # no scikit-learn or scipy at all (~1.5 s beside torch): reading an encoder fits nothing,
    # and rows without a target column are not scored.
    pd.DataFrame([[5.1, 3.5, 1.4, 0.2]], columns=IRIS_COLUMNS).to_csv(tmp_path / "one.csv", index=False)
    watched = ["skops.io", "sklearn", "scipy", "matplotlib", "optuna", "torch._dynamo"]
    assert imported(tmp_path, watched, "predict", "run", "one.csv", "--out", "pred.csv") == []
    assert pd.read_csv(tmp_path / "pred.csv")["prediction"].tolist()[0] in (0, 1, 2)  # it did predict
