"""Running ``tuneforge`` (or a script) under torchrun from a test, and killing it (not a test module)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml
from safetensors.torch import load_file

import tuneforge


def env() -> dict[str, str]:
    """This checkout's tuneforge, one thread per rank, no torchrun variables of our own."""
    environ = dict(os.environ)
    src = str(Path(tuneforge.__file__).resolve().parents[1])
    environ["PYTHONPATH"] = os.pathsep.join(p for p in (src, environ.get("PYTHONPATH")) if p)
    environ["OMP_NUM_THREADS"] = "1"
    for key in ("TUNEFORGE_DEBUG", "WORLD_SIZE", "RANK", "LOCAL_RANK"):
        environ.pop(key, None)
    return environ


def start(*args, cwd: Path, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """``tuneforge ARGS`` in its own session: a kill takes torchrun and both ranks, nothing else."""
    return start_command([sys.executable, "-m", "tuneforge", *map(str, args)], cwd, extra_env)


def start_command(command: list[str], cwd: Path, extra_env: dict[str, str] | None = None):
    return subprocess.Popen(command, cwd=cwd, env=env() | (extra_env or {}),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip


def finish(process: subprocess.Popen) -> None:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, out + err


def run(*args, cwd: Path) -> None:
    finish(start(*args, cwd=cwd))


def write(tmp_path: Path, recipe: dict, name: str = "recipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(recipe))
    return path


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


def history(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL the launcher, torchrun and both ranks (torchrun starts each rank in its own
    session, so a kill of the launcher's process group alone would leave them running)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:  # "pid (name) state ppid ...": the name may hold spaces, so split after ")"
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except OSError:  # the process ended while we looked
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    tree, todo = [], [process.pid]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.communicate()


def checkpointed(state: Path, epoch: int) -> bool:
    try:  # the folder is renamed while rank 0 writes the next checkpoint
        return json.loads(state.read_text())["epoch"] >= epoch
    except (FileNotFoundError, json.JSONDecodeError):
        return False


def train_killed_after(path: Path, killed: Path, epoch: int, cwd: Path) -> Path:
    """Start ``train path --nproc 2 --out killed`` and kill its whole process tree once its
    checkpoint holds ``epoch`` and before it finishes; returns the checkpoint's state.json."""
    process = start("train", path, "--nproc", "2", "--out", killed, "-q", cwd=cwd)
    state = killed / "checkpoint" / "state.json"
    try:
        deadline = time.monotonic() + 240
        while not checkpointed(state, epoch):
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
    finally:
        kill_tree(process)
    assert not (killed / "summary.json").exists(), "killed too late: nothing left to resume"
    return state
