"""Fuzzing recipes: a valid tiny recipe, mutated as a careless or hostile user would, trained.

Mutations: wrong types, out-of-range and non-finite numbers, unknown and misspelt keys, wrong
nesting, huge lists, unicode, and files that are not YAML mappings at all. ``train.epochs`` and
layer widths stay small so every example trains in well under a second (the widths a machine
cannot allocate are a different failure: out of memory, exit 1).
"""

from __future__ import annotations

import copy
import math

import pytest
import yaml
from fuzz_helpers import run_checked
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.slow

BASE = {
    "name": "fuzzed",
    "data": {"source": "iris", "split": {"val": 0.2, "test": 0.2, "seed": 0}, "standardize": True},
    "model": {"kind": "mlp", "hidden": [4], "activation": "relu", "dropout": 0.0},
    "train": {"epochs": 1, "batch_size": 32, "seed": 0, "clip_grad_norm": 1.0,
              "optimizer": {"name": "adam", "lr": 0.01},
              "regularization": {"l1": 0.0, "l2": 0.0001}},
}  # fmt: skip
LEAVES = ["name", "data.source", "data.split.val", "data.split.test", "data.split.seed",
          "data.standardize", "data.task", "data.target", "data.impute", "data.features",
          "data.categorical", "data.numeric", "model.kind", "model.hidden", "model.activation",
          "model.dropout", "train.batch_size", "train.seed", "train.clip_grad_norm",
          "train.optimizer.name", "train.optimizer.lr", "train.regularization.l1",
          "train.regularization.l2", "train.loss", "train.schedule"]  # fmt: skip
SECTIONS = ["data", "data.split", "model", "train", "train.optimizer", "train.regularization"]

odd_numbers = st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1.0, 0.0, -0.0, 1e-320, 2**63, -(2**63)])
text = st.text(max_size=12)  # unicode, control characters and empty strings included
small_lists = st.lists(st.one_of(st.integers(-3, 4), text, odd_numbers, st.none()), max_size=4)
huge_lists = st.lists(st.integers(1, 3), min_size=300, max_size=600)
hostile = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), odd_numbers, text, small_lists,
                    huge_lists, st.dictionaries(text, st.integers(0, 2), max_size=2))  # fmt: skip


def get_parent(tree: dict, dotted: str) -> tuple[dict | None, str]:
    *head, last = dotted.split(".")
    node = tree
    for part in head:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return None, last
        if not isinstance(node, dict):
            return None, last
    return node, last


def misspell(key: str, index: int) -> str:
    i = index % len(key)
    return key[:i] + key[i + 1 :] if len(key) > 1 else key + "x"


@st.composite
def mutated_recipes(draw) -> tuple[str, list[str]]:
    """(the file's text, what an error about it may name)."""
    tree = copy.deepcopy(BASE)
    names = ["cfg.yaml"]
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["value", "value", "unknown", "misspelt", "nesting", "delete"]))
        key = draw(st.sampled_from(LEAVES if kind != "nesting" else SECTIONS))
        names += key.split(".")
        parent, last = get_parent(tree, key)
        if parent is None:
            continue
        if kind == "value":
            parent[last] = draw(hostile)
        elif kind == "unknown":
            new = draw(text.filter(bool))
            parent[new] = draw(hostile)
            names.append(new)
        elif kind == "misspelt" and last in parent:
            wrong = misspell(last, draw(st.integers(0, 20)))
            parent[wrong] = parent.pop(last)
            names.append(wrong)
        elif kind == "nesting":
            parent[last] = draw(st.one_of(small_lists, text, st.integers(), st.just({"x": parent.get(last)})))
        elif kind == "delete":
            parent.pop(last, None)
    if draw(st.integers(0, 9)) == 0:  # not a YAML mapping at all
        return draw(st.sampled_from(["", "- a\n- b\n", "data: [\n", "\t:", "5", "データ: {"])), names
    return yaml.safe_dump(tree, allow_unicode=True), names


@given(mutated_recipes())
def test_mutated_recipes_train_or_exit_2_naming_the_key(seeded, recipe):
    body, names = recipe

    def setup(folder):
        (folder / "cfg.yaml").write_text(body, encoding="utf-8")

    run_checked(seeded, ["train", "cfg.yaml", "--out", "runs/fuzzed", "-q"], names, setup)
