"""Fuzzing data files: CSV, parquet and npz tables a careless user might point a recipe at.

NaN and ±inf, constant and single-class targets, text in numeric columns, duplicate, empty and
unicode headers, one row, no rows, wide and ragged rows. Each file is trained on (one epoch).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml
from fuzz_helpers import run_checked
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.slow

headers = st.one_of(st.sampled_from(["a", "b", "", " ", "ñame", "列", "🙂", "x,y", "a.1", "Unnamed: 0"]),
                    st.text(max_size=6))  # fmt: skip
specials = st.sampled_from([math.nan, math.inf, -math.inf, "abc", "", "1e400", "—"])


@st.composite
def column(draw, rows: int) -> list:
    kind = draw(st.sampled_from(["float", "float", "int", "text", "missing"]))
    rng = np.random.default_rng(draw(st.integers(0, 3)))
    if kind == "float":
        values = list(rng.normal(size=rows))
    elif kind == "int":
        values = [int(v) for v in rng.integers(0, 5, rows)]
    elif kind == "text":
        values = [str(v) for v in rng.choice(["red", "green", "ß"], rows)]
    else:
        values = [math.nan] * rows
    for _ in range(draw(st.integers(0, 2)) if rows else 0):  # a few odd cells
        values[draw(st.integers(0, rows - 1))] = draw(specials)
    return values


@st.composite
def target(draw, rows: int) -> list:
    kind = draw(st.sampled_from(["classes", "classes", "regression", "constant", "one class", "odd"]))
    rng = np.random.default_rng(1)
    if kind == "classes":
        return [["no", "yes", "maybe"][i % draw(st.integers(2, 3))] for i in range(rows)]
    if kind == "regression":
        return list(rng.normal(size=rows) * 3.5)
    if kind == "constant":
        return [5.0] * rows
    if kind == "one class":
        return ["cat"] * rows
    values = list(rng.normal(size=rows))
    if rows:
        values[draw(st.integers(0, rows - 1))] = draw(specials)
    return values


@st.composite
def tables(draw) -> tuple[pd.DataFrame, str]:
    rows = draw(st.sampled_from([0, 1, 2, 3, 12, 40]))
    width = draw(st.sampled_from([1, 2, 3, 150]))  # 150: a wide table
    names = [draw(headers) for _ in range(min(width, 4))] + [f"w{i}" for i in range(width - 4)]
    target_name = draw(st.sampled_from(["y", "", "ÿ", names[0]]))
    columns = {f"c{i}": draw(column(rows)) for i in range(width)}
    frame = pd.DataFrame(columns)
    frame.columns = names  # may repeat a name, or repeat the target's
    frame[target_name] = draw(target(rows))
    return frame, target_name


def write(folder, frame: pd.DataFrame, fmt: str, ragged: bool) -> str:
    if fmt == "parquet":
        try:
            frame.to_parquet(folder / "data.parquet")
            return "data.parquet"
        except Exception:  # duplicate or odd names pandas will not write: the CSV instead
            fmt = "csv"
    if fmt == "npz":
        x = frame.iloc[:, :-1].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
        y = frame.iloc[:, -1].to_numpy()
        y = y.astype(str) if y.dtype == object else y
        np.savez(folder / "data.npz", X=x, y=y)
        return "data.npz"
    frame.to_csv(folder / "data.csv", index=False)
    if ragged:
        with open(folder / "data.csv", "a", encoding="utf-8") as f:
            f.write("1,2,3,4,5,6,7\n1\n")
    return "data.csv"


@given(tables(), st.sampled_from(["csv", "csv", "parquet", "npz"]), st.booleans(),
       st.sampled_from([None, "mean"]), st.sampled_from([None, "classification", "regression"]))  # fmt: skip
def test_fuzzed_data_files_train_or_exit_2_naming_the_file(seeded, table, fmt, ragged, impute, task):
    frame, target_name = table
    written = {}

    def setup(folder):
        name = written["name"] = write(folder, frame, fmt, ragged)
        data = {"source": name, "target": "y" if name.endswith(".npz") else target_name,
                "impute": impute, "task": task}  # fmt: skip
        recipe = {"data": data, "model": {"kind": "mlp", "hidden": [4]}, "train": {"epochs": 1}}
        (folder / "cfg.yaml").write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")

    names = ["data.csv", "data.parquet", "data.npz", "data.", "cfg.yaml", *map(str, frame.columns)]
    run_checked(seeded, ["train", "cfg.yaml", "--out", "runs/fuzzed", "-q"], names, setup)
