"""Bad pretrained sources: exit code 2 and one stderr line naming the key, never a traceback."""

from __future__ import annotations

import shutil

import pytest
from sklearn.datasets import load_digits


def _copy_without(source_run, tmp_path, name):
    copy = tmp_path / "copy"
    shutil.copytree(source_run, copy)
    (copy / name).unlink()
    return copy


CASES = {
    "missing source directory": (
        lambda run, t, target: ["--set", f"model.source={t / 'runs' / 'gone'}",
                                "--set", f"data.source={target}"],
        ["model.source", "gone", "no such directory"]),
    "missing weights": (
        lambda run, t, target: ["--set", f"model.source={_copy_without(run, t, 'model.safetensors')}",
                                "--set", f"data.source={target}"],
        ["model.source", "copy", "missing model.safetensors"]),
    "wrong feature count": (
        lambda run, t, target: ["--set", f"model.source={run}", "--set", "data.source=breast_cancer"],
        ["model.source", "64 input features", "this data has 30"]),
    "hf without text": (
        lambda run, t, target: ["--set", "model.source=null", "--set", "model.hf=some/model",
                                "--set", f"data.source={target}"],
        ["model.hf", "data.text"]),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_source_is_one_line_exit_2(case, cli, source_run, digits_files, tmp_path):
    build, words = CASES[case]
    args = ["train", "--set", "model.kind=pretrained", "--set", "data.target=target",
            "--set", "train.epochs=1", *build(source_run, tmp_path, digits_files[1])]  # fmt: skip
    result = cli(*args)
    code, err = result.code, result.err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert all(word in lines[0] for word in words), lines[0]
    assert "Traceback" not in err


def test_kept_head_with_other_outputs_names_new_head(cli, source_run, tmp_path):
    frame = load_digits(as_frame=True).frame
    frame["target"] = frame["target"] % 3  # 3 classes, same 64 columns
    frame.to_csv(tmp_path / "three.csv", index=False)
    result = cli("train", "--set", "model.kind=pretrained", "--set", f"model.source={source_run}",
                    "--set", "model.new_head=false", "--set", f"data.source={tmp_path / 'three.csv'}",
                    "--set", "data.target=target", "--set", "train.epochs=1")  # fmt: skip
    code, err = result.code, result.err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "model.new_head" in err and "10 outputs" in err and "needs 3" in err
