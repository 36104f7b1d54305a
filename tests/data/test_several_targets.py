"""``data.target: [y1, y2, y3]``: several regression targets at once (issue 16, item 4).

References: scikit-learn's LinearRegression on the same training rows (a converged linear model
is the least-squares solution), scikit-learn's multi-output scores (``multioutput="raw_values"``
and the uniform average) and the CLI's own files against ``Run.predict``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

import tuneforge
from tuneforge.data import prepare
from tuneforge.errors import ConfigError, DataError
from tuneforge.predict import evaluate_run

TARGETS = ["y1", "y2", "y3"]


def _frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    w = rng.normal(size=(4, 3))
    # targets on different scales and offsets, so un-standardizing per target matters
    y = (x @ w + 0.3 * rng.normal(size=(n, 3))) * [1.0, 20.0, 0.1] + [5.0, -40.0, 0.0]
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    return frame.assign(**{name: y[:, i] for i, name in enumerate(TARGETS)})


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "multi.csv"
    _frame().to_csv(path, index=False)
    return path


def _cfg(path, *more: str):
    return tuneforge.load_config(overrides=[
        f"data.source={path}", f"data.target=[{', '.join(TARGETS)}]", "model.kind=linear",
        "train.batch_size=full", "train.epochs=120", "train.optimizer.name=sgd",
        "train.optimizer.lr=0.3", "train.device=cpu", "train.checkpoint_every=0",
        "logging.report=false", *more,
    ])  # fmt: skip


def test_a_converged_linear_model_is_scikit_learns_least_squares_fit(table, tmp_path) -> None:
    cfg = _cfg(table)
    run = tuneforge.train(cfg, out=tmp_path / "run")
    assert tuple(run.model.weight.shape) == (3, 4)
    frame, rows = pd.read_csv(table), prepare(cfg.data).rows
    x, y = frame[["a", "b", "c", "d"]].to_numpy(), frame[TARGETS].to_numpy()
    reference = LinearRegression().fit(x[rows["train"]], y[rows["train"]])
    for part in ("val", "test"):
        mine = run.predict(frame[["a", "b", "c", "d"]].iloc[rows[part]])
        theirs = reference.predict(x[rows[part]])
        scale = y[rows["train"]].std(0)  # each target's own units
        np.testing.assert_allclose(mine / scale, theirs / scale, atol=1e-4)


def test_scores_per_target_and_averaged_are_scikit_learns(table, tmp_path) -> None:
    cfg = _cfg(table, "train.epochs=20")  # far from converged: the scores are not trivial
    run = tuneforge.train(cfg, out=tmp_path / "run")
    frame, rows = pd.read_csv(table), prepare(cfg.data).rows
    val = frame.iloc[rows["val"]]
    truth, guess = val[TARGETS].to_numpy(), run.predict(val[["a", "b", "c", "d"]])
    scores = {"rmse": root_mean_squared_error, "mae": mean_absolute_error, "r2": r2_score}
    for name, fn in scores.items():
        each = fn(truth, guess, multioutput="raw_values")
        for i, target in enumerate(TARGETS):  # final (scikit-learn) and last epoch (torch)
            assert run.summary["metrics"][f"val/{name}/{target}"] == pytest.approx(each[i], rel=1e-4)
            assert run.history[-1][f"val/{name}/{target}"] == pytest.approx(each[i], rel=1e-3)
        assert run.summary["metrics"][f"val/{name}"] == pytest.approx(each.mean(), rel=1e-4)
        assert run.history[-1][f"val/{name}"] == pytest.approx(each.mean(), rel=1e-3)
    # the loss is the mean squared error over every value, in standardized units
    std = prepare(cfg.data).encoder.target_std
    z = (truth - guess) / np.asarray(std)
    assert run.summary["metrics"]["val/loss"] == pytest.approx(float((z**2).mean()), rel=1e-3)


def test_predict_writes_one_column_per_target_and_evaluate_scores_each(cli, table, tmp_path) -> None:
    run = tuneforge.train(_cfg(table, "train.epochs=30"), out=tmp_path / "run")
    rows = pd.read_csv(table).drop(columns=TARGETS).head(7)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    result = cli("predict", tmp_path / "run", tmp_path / "rows.csv", "--out", tmp_path / "p.csv")
    assert result.code == 0, result.err
    written = pd.read_csv(tmp_path / "p.csv")
    assert list(written.columns) == [*rows.columns, *(f"prediction_{t}" for t in TARGETS)]
    expected = tuneforge.load_run(tmp_path / "run").predict(rows)
    np.testing.assert_allclose(written[[f"prediction_{t}" for t in TARGETS]], expected, rtol=1e-6)
    scores = evaluate_run(tmp_path / "run", part="test")
    assert {f"r2/{t}" for t in TARGETS} <= set(scores)
    assert scores["r2"] == pytest.approx(run.summary["metrics"]["test/r2"], rel=1e-6)


def test_early_stopping_may_watch_one_target() -> None:
    from tuneforge.evaluate.metrics import direction

    assert direction("val/r2/y1") == "maximize" and direction("val/rmse/y1") == "minimize"


@pytest.mark.parametrize(("overrides", "error", "words"), [
    (["data.target=[y1, nope, y3]"], DataError, ["data.target columns ['nope'] not found"]),
    (["data.target=[y1, y2]", "data.task=classification"], ConfigError,
     ["data.target lists several columns", "regression"]),
    (["data.target=[y1, y1]"], ConfigError, ["data.target", "listed twice"]),
    (["data.target=[y1, kind]"], DataError, ["target columns ['kind'] are not numeric"]),
    (["data.target=[y1, y2]", "data.features=[a, y2]"], DataError, ["data.features lists 'y2'"]),
    (["data.source=diabetes", "data.target=[y1, y2]"], DataError, ["data.target", "diabetes"]),
    (["data.target=[y1, y2]", "train.loss=cross_entropy"], ConfigError, ["train.loss"]),
    (["data.target=[y1, y2]", "train.loss=nowhere:loss"], ConfigError, ["train.loss", "2 columns"]),
    (["data.target=[y1, y2]", "model.kind=rnn"], DataError, ["data.target", "sequence rows"]),
])  # fmt: skip
def test_bad_several_targets_are_one_line_errors(tmp_path, overrides, error, words) -> None:
    frame = _frame(60).assign(kind=["x", "y"] * 30)
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(error) as caught:
        cfg = tuneforge.load_config(overrides=[f"data.source={tmp_path / 't.csv'}", *overrides,
                                               "logging.report=false"])  # fmt: skip
        tuneforge.train(cfg, out=tmp_path / "run")
    message = str(caught.value)
    assert "\n" not in message and all(w in message for w in words), message


def test_cli_exit_2_for_several_targets_on_a_classification_task(cli, tmp_path) -> None:
    _frame(60).to_csv(tmp_path / "t.csv", index=False)
    result = cli("train", "--set", f"data.source={tmp_path / 't.csv'}", "--set", "data.target=[y1,y2]",
                 "--set", "data.task=classification")  # fmt: skip
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert "data.target lists several columns" in line
