"""Fuzzing the command line: argument combinations of every verb, good and careless.

Each example runs in a copy of a folder holding a finished run (runs/base), a study ``s`` in
runs/studies.db, a tiny recipe and a few traps (a plain file, an empty folder, a broken YAML).
``dashboard`` only gets arguments that must fail: a valid one would serve until stopped.
"""

from __future__ import annotations

import pytest
from fuzz_helpers import run_checked
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.slow

PATHS = ["tiny.yaml", "bad.yaml", "afile.txt", "emptydir", "missing.yaml", "runs/base", "runs",
         "rows.csv", "ünï.yaml", "", "../outside"]  # fmt: skip
OUTS = ["runs/new", "afile.txt", "runs/base", "emptydir", "", "new.yaml", "runs/base/config.yaml"]
SETS = ["train.epochs=abc", "nonsense", "train.epochs=1", "model.hidden=[2]", "=", "train.optimizer.lr=-1",
        "name=../x", "data.source=missing.csv", "train.optimizer.lr=nan", "tune.space=5", "model.ü=1"]
STORAGES = ["sqlite:///runs/studies.db", "garbage", "sqlite:///afile.txt", "memory",
            "journal:///runs/j.journal", "sqlite:///missing/none.db", ""]  # fmt: skip
STUDIES = ["s", "../x", "", "new", "a/b", "ü", "nope"]
NUMBERS = ["0", "1", "2", "-1", "abc", "1e9", "nan"]
LRS = ["0", "-1", "1e-5", "nan", "inf", "abc", "10"]


def flag(name: str, values) -> st.SearchStrategy[list[str]]:
    return st.sampled_from(values).map(lambda v: [name, v])


def opts(*choices: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.one_of(*choices), max_size=3).map(lambda groups: [a for g in groups for a in g])


positional = st.sampled_from(PATHS).map(lambda p: [p])
VERBS = {
    "train": opts(positional, flag("--out", OUTS), flag("--set", SETS),
                  flag("--resume", PATHS), flag("--seeds", ["0", "1", "2", "abc"]),
                  flag("--nproc", ["0", "1", "-1", "abc"]), st.just(["-q"])),
    "cv": opts(positional, flag("--folds", NUMBERS), flag("--out", OUTS), flag("--set", SETS),
               flag("--seeds", ["0", "1"]), st.just(["-q"])),
    "tune": opts(positional, flag("--trials", ["0", "1", "3", "abc", "-3"]), flag("--study", STUDIES),
                 flag("--storage", STORAGES), flag("--workers", ["0", "1", "abc"]), flag("--set", SETS),
                 st.just(["-q"])),
    "lr-find": opts(positional, flag("--min-lr", LRS), flag("--max-lr", LRS), flag("--steps", ["0", "1", "5", "abc"]),
                    flag("--rule", ["steepest", "valley", "minimum", "nonsense"]), st.just(["--apply"]),
                    flag("--out", OUTS), flag("--set", SETS)),
    "evaluate": opts(positional, flag("--data", ["rows.csv", "afile.txt", "missing.csv", "tiny.yaml"]),
                     flag("--part", ["train", "val", "test", "nonsense"])),
    "predict": opts(positional, positional, flag("--out", ["preds.csv", "emptydir", "runs/base/p.csv"])),
    "refine": opts(positional, flag("--trials", ["0", "1", "3", "abc", "-3", "1e9"]), flag("--scale", LRS),
                   flag("--part", ["train", "val", "test", "nonsense"]), flag("--seed", NUMBERS),
                   flag("--out", OUTS)),
    "report": opts(positional, flag("--storage", STORAGES), flag("--study", STUDIES), flag("--out", OUTS)),
    "study list": opts(flag("--storage", STORAGES)),
    "study show": opts(flag("--storage", STORAGES), flag("--study", STUDIES)),
    "study best": opts(flag("--storage", STORAGES), flag("--study", STUDIES), flag("--out", OUTS)),
    "init": opts(flag("--example", ["mlp", "nonsense", "cnn", ""]), flag("--out", OUTS),
                 st.just(["--force"]), st.just(["--list"])),
    "dashboard": st.sampled_from([[], ["--port", "-1", "--storage", "x"], ["--port", "abc", "--storage", "x"],
                                  ["--storage"], ["--host"]]),
    "": st.sampled_from([["--version"], ["--help"], ["nonsense"], ["study"], ["study", "nonsense"], []]),
}  # fmt: skip


def setup(folder) -> None:
    """The traps beside the seeded run and study."""
    from sklearn.datasets import load_iris

    (folder / "afile.txt").write_text("not a folder\n")
    (folder / "emptydir").mkdir()
    (folder / "bad.yaml").write_text("data: [\n")
    (folder / "ünï.yaml").write_text((folder / "tiny.yaml").read_text())
    load_iris(as_frame=True).data.head(5).to_csv(folder / "rows.csv", index=False)


@st.composite
def commands(draw) -> list[str]:
    verb = draw(st.sampled_from(sorted(VERBS)))
    return [*verb.split(), *draw(VERBS[verb])]


@given(commands())
def test_every_verb_exits_0_or_2_and_exit_2_changes_nothing(seeded, args):
    names = {a for a in args} | {a.lstrip("-") for a in args} | {"CONFIG", "RUN_DIR", "INPUT", "--"}
    run_checked(seeded, args, names, setup)
