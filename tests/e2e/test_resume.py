"""Bit-exact resume of a killed run, incomplete checkpoints, and resumes that must not start."""

from __future__ import annotations

import json
import shutil
import signal
import time

import pytest
import torch
from safetensors.torch import load_file

import tuneforge
from tuneforge.engine import checkpoint

# Dropout, shuffled mini-batches, a schedule and decoupled weight decay: every random stream and
# every piece of optimizer/schedule state has to come back for the weights to match.
RECIPE = """\
data: {source: digits}
model: {kind: mlp, hidden: [48, 24], dropout: 0.2}
train:
  epochs: 24
  batch_size: 16
  optimizer: {name: adamw, lr: 0.003}
  schedule: {name: cosine, warmup_steps: 20}
"""


def _history(run_dir):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]


def _tree(folder):
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _same_weights(a, b) -> bool:
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.slow
def test_killed_run_resumes_to_bit_identical_weights(run_cli, start_cli, tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE)
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert run_cli("train", recipe, "--out", whole, "-q", cwd=tmp_path).code == 0

    process = start_cli("train", recipe, "--out", killed, "-q", cwd=tmp_path)
    try:
        deadline = time.monotonic() + 240
        while not (killed / "checkpoint" / checkpoint.MARKER).exists():
            assert process.poll() is None, "the run ended before its first checkpoint"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.15)  # kill somewhere in the epochs after the first checkpoint
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (killed / "summary.json").exists(), "the run finished before it was killed"
    stopped_at = json.loads(
        (checkpoint.latest(killed / "checkpoint") / "state.json").read_text())["epoch"]  # fmt: skip
    assert 1 <= stopped_at < 24

    resumed = run_cli("train", "--resume", killed, "-q", cwd=tmp_path)
    assert resumed.code == 0, resumed.err
    assert (killed / "model.safetensors").read_bytes() == (whole / "model.safetensors").read_bytes()
    assert _same_weights(killed, whole)
    assert _history(killed) == _history(whole)
    summaries = [json.loads((d / "summary.json").read_text()) for d in (killed, whole)]
    assert summaries[0]["metrics"] == summaries[1]["metrics"]


class Crash(Exception):
    """Stands in for a kill: raised from an epoch callback, after some checkpoints exist."""


def _crash_after(epoch):
    def callback(record):
        if record["epoch"] > epoch:
            raise Crash

    return callback


def _small_cfg(epochs=5):
    return tuneforge.load_config(overrides=[
        "data.source=iris", f"train.epochs={epochs}", "train.batch_size=16",
        "model.hidden=[12]", "model.dropout=0.3"])  # fmt: skip


def test_a_checkpoint_without_its_marker_is_skipped(tmp_path):
    cfg = _small_cfg()
    tuneforge.train(cfg, tmp_path / "whole")
    run_dir = tmp_path / "crashed"
    with pytest.raises(Crash):
        tuneforge.train(cfg, run_dir, callbacks=[_crash_after(2)])
    ckpt = run_dir / "checkpoint"
    assert json.loads((ckpt / "state.json").read_text())["epoch"] == 2
    # a kill between the two renames of a save leaves the last good one as checkpoint.old and a
    # newer folder without COMPLETE: resume must take the complete one
    ckpt.rename(run_dir / "checkpoint.old")
    ckpt.mkdir()
    (ckpt / "model.safetensors").write_bytes(b"half-written")
    assert checkpoint.latest(ckpt) == run_dir / "checkpoint.old"
    tuneforge.train(tuneforge.load_config(run_dir / "config.yaml"), run_dir, resume=True)
    assert _same_weights(run_dir, tmp_path / "whole")
    assert _history(run_dir) == _history(tmp_path / "whole")


def test_resume_without_a_complete_checkpoint_fails_and_keeps_the_folder(cli, tmp_path):
    run_dir = tmp_path / "crashed"
    with pytest.raises(Crash):
        tuneforge.train(_small_cfg(), run_dir, callbacks=[_crash_after(1)])
    (run_dir / "checkpoint" / checkpoint.MARKER).unlink()
    before = _tree(run_dir)
    result = cli("train", "--resume", run_dir, "-q")
    assert result.code == 2 and "no complete checkpoint" in result.err
    assert _tree(run_dir) == before


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--set", "train.epochs=9"], "--set cannot be combined"),
        (["--out", "elsewhere"], "--out cannot be combined"),
    ],
)
def test_resume_refuses_to_change_the_recipe(cli, tmp_path, extra, words):
    run_dir = tmp_path / "crashed"
    with pytest.raises(Crash):
        tuneforge.train(_small_cfg(), run_dir, callbacks=[_crash_after(2)])
    before = _tree(run_dir)
    result = cli("train", "--resume", run_dir, *extra)
    assert result.code == 2 and words in result.err
    assert _tree(run_dir) == before and not (tmp_path / "elsewhere").exists()


def test_failing_resume_leaves_the_run_intact(cli, tmp_path):
    data = tmp_path / "iris.csv"
    from sklearn.datasets import load_iris

    load_iris(as_frame=True).frame.to_csv(data, index=False)
    cfg = tuneforge.load_config(overrides=[f"data.source={data}", "data.target=target",
                                           "train.epochs=4", "model.hidden=[8]"])  # fmt: skip
    run_dir = tmp_path / "crashed"
    with pytest.raises(Crash):
        tuneforge.train(cfg, run_dir, callbacks=[_crash_after(2)])
    data.unlink()  # the data moved away: resuming cannot work
    before = _tree(run_dir)
    result = cli("train", "--resume", run_dir, "-q")
    assert result.code == 2 and f"{data}: data file not found" in result.err
    assert _tree(run_dir) == before


def test_a_finished_run_is_not_resumed(cli, tmp_path):
    run_dir = tmp_path / "done"
    tuneforge.train(_small_cfg(2), run_dir)
    before = _tree(run_dir)
    result = cli("train", "--resume", run_dir)
    assert result.code == 2 and "already finished" in result.err
    assert _tree(run_dir) == before


def test_the_resume_test_would_catch_a_forgotten_rng_state(tmp_path, monkeypatch):
    """Sensitivity check: skip restoring the random streams and the weights differ."""
    cfg = _small_cfg()
    tuneforge.train(cfg, tmp_path / "whole")
    with pytest.raises(Crash):
        tuneforge.train(cfg, tmp_path / "crashed", callbacks=[_crash_after(2)])
    monkeypatch.setattr(checkpoint, "restore_rng", lambda state, generator: None)
    tuneforge.train(cfg, tmp_path / "crashed", resume=True)
    assert not _same_weights(tmp_path / "crashed", tmp_path / "whole")


def test_resumed_run_from_a_copy_continues_where_the_checkpoint_stopped(tmp_path):
    """The API alone: resume=True reads checkpoint/, and metrics.jsonl keeps only its epochs."""
    cfg = _small_cfg(6)
    tuneforge.train(cfg, tmp_path / "whole")
    with pytest.raises(Crash):
        tuneforge.train(cfg, tmp_path / "crashed", callbacks=[_crash_after(4)])
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "crashed", copy)
    seen = []
    run = tuneforge.train(cfg, copy, resume=True, callbacks=[lambda r: seen.append(r["epoch"])])
    assert seen == [5, 6] and len(run.history) == 6
    assert _same_weights(copy, tmp_path / "whole")
