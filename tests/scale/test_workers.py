"""Many `tuneforge tune` processes on one study: PostgreSQL (many machines) and the journal file.

Each worker is a real `python -m tuneforge tune` process; a killed one is SIGKILLed mid-trial.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from tuneforge.tuning.storage import open_storage

RECIPE = {
    "data": {"source": "iris"},
    "model": {"kind": "mlp", "hidden": [16]},
    "train": {"optimizer": {"name": "adam", "lr": 0.01}, "epochs": 20, "batch_size": 16},
    "tune": {
        "seed": 0,
        "pruner": "none",
        "cohort": 1,  # one trial at a time, so a kill catches exactly one running trial
        "heartbeat": 1,  # a dead worker's trial is stale after three missed beats: ~3 s
        "space": {"train.optimizer.lr": {"low": 1.0e-3, "high": 1.0e-1, "log": True}},
    },
}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def worker(cfg: Path, url: str, study: str, trials: int) -> subprocess.Popen:
    args = ["tune", str(cfg), "--storage", url, "--study", study, "--trials", str(trials), "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "tuneforge", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip


def finish(*processes: subprocess.Popen) -> None:
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err


def count(study: optuna.Study, state: TrialState) -> int:
    return sum(t.state == state for t in study.get_trials(deepcopy=False))


def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(RECIPE))
    return path


def journal_url(tmp_path: Path) -> str:
    return f"journal:///{tmp_path / 'studies.journal'}"


@pytest.mark.slow
def test_four_worker_processes_on_one_postgresql_study_finish_exactly_n(tmp_path, postgres_url):
    cfg = recipe(tmp_path)
    finish(*[worker(cfg, postgres_url, "four", 12) for _ in range(4)])
    study = optuna.load_study(study_name="four", storage=open_storage(postgres_url))
    trials = study.get_trials(deepcopy=False)
    assert count(study, TrialState.COMPLETE) == 12
    assert len({t.number for t in trials}) == len(trials)  # no duplicate trial numbers
    # A worker that lost the race for the last slot gives its trial back unstarted.
    assert all(t.user_attrs.get("reason") == "surplus" for t in trials if t.state == TrialState.FAIL)
    assert len({t.user_attrs["worker"] for t in trials if t.state == TrialState.COMPLETE}) > 1


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql", "journal"])
def test_a_killed_workers_trial_is_failed_and_retried_by_the_others(tmp_path, request, backend):
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else journal_url(tmp_path)
    study_name = f"killed-{backend}"
    cfg = recipe(tmp_path)
    first = worker(cfg, url, study_name, 8)
    running = _wait_for_running_trial(first, url, study_name)
    first.send_signal(signal.SIGKILL)
    first.wait()

    finish(worker(cfg, url, study_name, 8), worker(cfg, url, study_name, 8))
    study = optuna.load_study(study_name=study_name, storage=open_storage(url))
    assert count(study, TrialState.COMPLETE) == 8
    assert study.trials[running.number].state == TrialState.FAIL
    retries = [t for t in study.trials if t.system_attrs.get("failed_trial") == running.number]
    assert len(retries) == 1
    assert retries[0].state == TrialState.COMPLETE and retries[0].params == running.params


def _wait_for_running_trial(process, url: str, name: str, timeout: float = 120.0):
    """The first worker's running trial with its parameters chosen (a trial is RUNNING from the
    ask, a moment before its suggestions are stored), once it has finished at least two."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the worker ended before the kill: {process.stderr.read()}"
        try:
            study = optuna.load_study(study_name=name, storage=open_storage(url))
        except KeyError:  # not created yet
            time.sleep(0.2)
            continue
        trials = study.get_trials(deepcopy=False)
        running = [t for t in trials if t.state == TrialState.RUNNING and t.params]
        if running and sum(t.state == TrialState.COMPLETE for t in trials) >= 2:
            return running[0]
        time.sleep(0.1)
    raise AssertionError("the worker never had a running trial to kill")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql", "journal"])
def test_workers_train_their_own_cohorts_and_finish_exactly_n(tmp_path, request, backend):
    """`tune.cohort: 4` with two workers: each asks up to four trials at once and trains them as
    one batched model; the study still ends with exactly `trials` finished ones."""
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else journal_url(tmp_path)
    cfg = tmp_path / "cohort.yaml"
    # A cohort of 20 epochs on iris trains in ~0.2 s, less than the skew between two workers'
    # start-ups on a loaded machine: one worker could finish all ten before the other asked.
    # At 200 epochs a cohort trains for ~2 s, so both workers are asking while trials remain.
    slow = {**RECIPE["train"], "epochs": 200}
    cfg.write_text(yaml.safe_dump({**RECIPE, "train": slow, "tune": {**RECIPE["tune"], "cohort": 4}}))
    name = f"cohorts-{backend}"
    finish(*[worker(cfg, url, name, 10) for _ in range(2)])
    study = optuna.load_study(study_name=name, storage=open_storage(url))
    trials = study.get_trials(deepcopy=False)
    assert count(study, TrialState.COMPLETE) == 10
    assert len({t.number for t in trials}) == len(trials)
    assert all(t.user_attrs.get("reason") == "surplus" for t in trials if t.state == TrialState.FAIL)
    # Both workers trained cohorts (they start together and each asks four trials at once).
    assert len({t.user_attrs["worker"] for t in trials if t.state == TrialState.COMPLETE}) == 2


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql", "grpc"])
def test_a_worker_killed_while_training_a_cohort_costs_only_that_cohort(tmp_path, request, backend):
    """`tune.cohort: 4`: a worker killed mid-cohort leaves exactly its cohort's members FAIL (no
    more than the cohort size), and each is retried once, by the other workers, with the same
    parameters. Through the gRPC proxy, tuneforge's attribute heartbeat does the same."""
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    url = url or request.getfixturevalue("grpc_storage")[0]
    name, cohort = f"cohort-killed-{backend}", 4
    cfg = tmp_path / "cohort.yaml"
    slow = {**RECIPE["train"], "epochs": 150}  # a cohort trains for seconds: time to kill it
    cfg.write_text(yaml.safe_dump({**RECIPE, "train": slow, "tune": {**RECIPE["tune"], "cohort": cohort}}))
    first = worker(cfg, url, name, 2 * cohort)
    running = _wait_for_running_cohort(first, url, name, cohort)
    first.send_signal(signal.SIGKILL)
    first.wait()

    finish(worker(cfg, url, name, 2 * cohort), worker(cfg, url, name, 2 * cohort))
    study = optuna.load_study(study_name=name, storage=open_storage(url))
    assert count(study, TrialState.COMPLETE) == 2 * cohort
    failed = [t for t in study.trials if t.state == TrialState.FAIL and t.user_attrs.get("reason") != "surplus"]
    assert sorted(t.number for t in failed) == sorted(t.number for t in running)
    for trial in running:
        retries = [t for t in study.trials if t.system_attrs.get("failed_trial") == trial.number]
        assert len(retries) == 1
        assert retries[0].state == TrialState.COMPLETE and retries[0].params == trial.params


def _wait_for_running_cohort(process, url: str, name: str, size: int, timeout: float = 300.0):
    """The worker's first cohort, once all its members have their parameters (it then trains)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the worker ended before the kill: {process.stderr.read()}"
        try:
            trials = optuna.load_study(study_name=name, storage=open_storage(url)).get_trials(deepcopy=False)
        except KeyError:  # not created yet
            time.sleep(0.2)
            continue
        running = [t for t in trials if t.state == TrialState.RUNNING and t.params]
        if len(running) == size:
            return running
        time.sleep(0.1)
    raise AssertionError("the worker never had a running cohort to kill")
