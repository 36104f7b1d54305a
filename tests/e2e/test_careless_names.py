"""Issue #18's name rows: ``--out`` naming a file, run and study names that would leave runs/.

In-process CLI calls (the ``cli`` fixture); each asserts exit 2, one error line naming the
option or key, and that nothing was written outside (or inside) the runs folder.
"""

from __future__ import annotations

import pytest


def error_lines(done) -> list[str]:
    return [line for line in done.err.splitlines() if line.startswith("error:")]


def tree(folder) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("verb", ["train", "cv", "lr-find"])
def test_out_naming_an_existing_file_is_exit_2_and_the_file_is_kept(cli, tmp_path, verb):
    (tmp_path / "afile").write_text("keep me")
    done = cli(verb, "--out", "afile", "--set", "train.epochs=1", "-q" if verb != "lr-find" else "--steps=2")
    assert done.code == 2 and error_lines(done) == ["error: --out afile: is a file, not a folder; "
                                                    "choose a folder for the outputs"]  # fmt: skip
    assert (tmp_path / "afile").read_text() == "keep me" and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("name", ["../../escape", "a/b", "..", "x\\y", " "])
def test_a_study_name_that_leaves_runs_is_exit_2_before_anything_is_written(cli, tmp_path, name):
    outside = set(tree(tmp_path.parent))
    done = cli("tune", "--study", name, "--set", "train.epochs=1", "--trials", "1", "-q")
    assert done.code == 2 and len(error_lines(done)) == 1 and "tune.study" in error_lines(done)[0]
    # Nothing new: no runs/, no studies.db, nothing beside tmp_path. (Not equality: an earlier
    # test's SQLite -wal/-shm files beside it vanish whenever its connections are collected.)
    assert tree(tmp_path.parent) - outside == set()


def test_a_run_name_that_leaves_runs_is_exit_2(cli, tmp_path):
    done = cli("train", "--set", "name=../escape", "--set", "train.epochs=1", "-q")
    assert done.code == 2 and "name: " in error_lines(done)[0] and "one folder name" in done.err
    assert not (tmp_path.parent / "escape").exists() and not (tmp_path / "runs").exists()


def test_tune_out_naming_a_file_is_exit_2(cli, tmp_path):
    (tmp_path / "afile").write_text("keep me")
    done = cli("tune", "--set", "tune.out=afile", "--set", "train.epochs=1", "--trials", "1", "-q")
    assert done.code == 2 and "tune.out: afile is a file" in error_lines(done)[0]
    assert not (tmp_path / "runs").exists()
