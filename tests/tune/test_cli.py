"""``tuneforge tune`` and ``tuneforge study`` as a user runs them (real subprocesses)."""

from __future__ import annotations

import json
import re
import signal
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from tune_helpers import FINISHED, TINY_SPACE, cli, cli_popen, states, tiny, write_yaml

from tuneforge.cli import main
from tuneforge.tuning.storage import DEFAULT_STORAGE, open_storage


def recipe(path: Path, **tune) -> Path:
    data = tiny(**tune)
    del data["tune"]["storage"]  # the command's default: DEFAULT_STORAGE
    return write_yaml(path, data)


def load(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(url))


@pytest.mark.slow
def test_tune_then_train_best_yaml_gives_the_same_score_and_study_commands_read_it(tmp_path):
    cfg = recipe(tmp_path / "cfg.yaml", space=TINY_SPACE)
    done = cli("tune", str(cfg), "--trials", "3", "--study", "demo", "-q")
    assert done.returncode == 0, done.stderr
    assert "best trial" in done.stdout and "runs/demo/best.yaml" in done.stdout
    study = load(DEFAULT_STORAGE, "demo")
    assert sum(states(study).get(s.name, 0) for s in FINISHED) == 3

    again = cli("train", "runs/demo/best.yaml", "--out", "again", "-q")
    assert again.returncode == 0, again.stderr
    summary = json.loads(Path("again/summary.json").read_text())
    assert summary["metrics"]["val/accuracy"] == study.best_value

    listed = cli("study", "list")
    assert listed.returncode == 0 and "demo" in listed.stdout and "val/accuracy" in listed.stdout
    shown = cli("study", "show", "--study", "demo")
    rows = re.findall(r"^│ (\d+) +│ (complete|pruned) ", shown.stdout, flags=re.MULTILINE)
    assert shown.returncode == 0 and [int(n) for n, _ in rows] == [0, 1, 2]
    best = cli("study", "best", "--out", "mine.yaml")
    assert best.returncode == 0 and Path("mine.yaml").read_text().count("hidden") == 1
    missing = cli("study", "show", "--study", "nope")
    assert missing.returncode == 2 and "no study named 'nope'" in missing.stderr


BAD_INPUT = [
    ({"space": {"train.optimizer.momentom": {"low": 0.0, "high": 0.9}}},
     "cfg.yaml: tune.space.train.optimizer.momentom: not a config key"),
    ({"space": {"train.optimizer.lr": {"low": 0.1, "high": 0.01}}},
     "cfg.yaml: tune.space.train.optimizer.lr: impossible range"),
    ({"space": {"model.dropout": {"low": 0.0, "high": 1.0}}},
     "cfg.yaml: tune.space.model.dropout: 1.0 is not a valid value"),
    ({"objective": "test/accuracy"}, "tune.objective: 'test/accuracy' would tune on the test part"),
    ({"objective": "val/rmse"}, "tune.objective: unknown metric 'val/rmse'"),
    ({"objective": ["val/accuracy", "params"], "pruner": "asha"}, "tune.pruner: asha needs a single objective"),
    ({"sampler": "annealing"}, "cfg.yaml: tune.sampler: Input should be"),
    ({"sampler": "grid"}, "tune.space.train.optimizer.lr: the grid sampler needs a step"),
]  # fmt: skip


def test_bad_input_exits_2_with_one_line_naming_the_key(tmp_path):
    tune, message = BAD_INPUT[0]
    done = cli("tune", str(recipe(tmp_path / "cfg.yaml", **tune)), "-q")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line


@pytest.mark.parametrize(("tune", "message"), BAD_INPUT[1:])
def test_bad_spaces_and_objectives_exit_2_naming_the_key(tmp_path, monkeypatch, capsys, tune, message):
    cfg = recipe(tmp_path / "cfg.yaml", **({"space": TINY_SPACE} | tune))
    monkeypatch.setattr(sys, "argv", ["tuneforge", "tune", str(cfg), "-q"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_kill_9_mid_study_then_rerun_finishes_exactly_the_requested_trials(tmp_path):
    cfg = recipe(tmp_path / "cfg.yaml", space=TINY_SPACE, heartbeat=1, pruner="none", cohort=1)
    args = ("tune", str(cfg), "--trials", "8", "--study", "k", "-q", "--set", "train.epochs=30")
    worker = cli_popen(*args)
    before = _wait_for(worker, lambda s: s.get("COMPLETE", 0) >= 3 and s.get("RUNNING", 0) == 1)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    killed = [t for t in before.trials if t.state == TrialState.RUNNING][0]
    kept = {t.number: (t.params, t.values) for t in before.trials if t.state == TrialState.COMPLETE}

    done = cli(*args)  # the same command again resumes the study
    assert done.returncode == 0, done.stderr
    study = load(DEFAULT_STORAGE, "k")
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))
    assert states(study) == {"COMPLETE": 8, "FAIL": 1}
    assert {n: (t.params, t.values) for n, t in enumerate(study.trials) if n in kept} == kept
    assert study.trials[killed.number].state == TrialState.FAIL
    retry = [t for t in study.trials if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retry) == 1 and retry[0].params == killed.params
    shown = cli("study", "show", "--study", "k")
    assert f"worker stopped (no heartbeat); retried as trial {retry[0].number}" in shown.stdout


@pytest.mark.slow
def test_two_workers_finish_exactly_n_trials_between_them(tmp_path):
    data = tiny(space=TINY_SPACE, pruner="none")
    del data["tune"]["storage"]  # parallel workers share the default journal file
    data["data"]["source"], data["train"]["epochs"] = "digits", 6  # trials long enough to overlap
    cfg = write_yaml(tmp_path / "cfg.yaml", data)
    done = cli("tune", str(cfg), "--trials", "10", "--workers", "2", "--study", "w", "-q")
    assert done.returncode == 0, done.stderr
    study = load("journal:///runs/studies.journal", "w")
    assert states(study) == {"COMPLETE": 10}
    assert [t.number for t in study.trials] == list(range(10))
    assert len({t.user_attrs["worker"] for t in study.trials}) == 2


def _wait_for(process, condition, timeout: float = 120.0) -> optuna.Study:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the study ended before the kill: {process.stderr.read()}"
        if Path("runs/studies.journal").exists():
            try:
                study = load(DEFAULT_STORAGE, "k")
                if condition(states(study)):
                    return study
            except KeyError:  # the study is not created yet
                pass
        time.sleep(0.1)
    raise AssertionError("the study never reached the state to kill it in")
