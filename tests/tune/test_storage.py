"""Storages: resume, heartbeats and retries, parallel-safe choices, PostgreSQL."""

from __future__ import annotations

import time

import optuna
import pytest
from optuna.trial import TrialState
from tune_helpers import FINISHED, TINY_SPACE, states, tiny

import tuneforge
from tuneforge.tuning.heartbeat import HeartbeatJournalStorage
from tuneforge.tuning.plan import PARALLEL_STORAGE, make_plan
from tuneforge.tuning.quiet import quiet_optuna
from tuneforge.tuning.runner import open_study
from tuneforge.tuning.storage import open_storage


def finished(study) -> int:
    return sum(states(study).get(s.name, 0) for s in FINISHED)


@pytest.mark.parametrize("url", ["sqlite:///studies.db", "journal:///studies.journal"])
def test_running_again_resumes_until_the_requested_number_of_trials(url):
    first = tuneforge.tune(tiny(trials=3, storage=url, space=TINY_SPACE))
    assert finished(first.optuna) == 3
    kept = [(t.params, t.values) for t in first.optuna.trials]
    again = tuneforge.tune(tiny(trials=5, storage=url, space=TINY_SPACE))
    trials = again.optuna.trials
    assert finished(again.optuna) == 5 and len(trials) == 5
    assert [t.number for t in trials] == list(range(5))
    assert [(t.params, t.values) for t in trials[:3]] == kept
    # The resumed sampler does not replay the first run's proposals.
    assert trials[3].params not in [t.params for t in trials[:3]]
    done = tuneforge.tune(tiny(trials=5, storage=url, space=TINY_SPACE))
    assert len(done.optuna.trials) == 5  # nothing left to do


def test_a_stale_trial_is_failed_and_retried_with_its_parameters():
    raw = tiny(trials=3, storage="journal:///studies.journal", heartbeat=1, space=TINY_SPACE, pruner="none")
    tuneforge.tune({**raw, "tune": {**raw["tune"], "trials": 1}})
    plan = make_plan(raw)
    storage = open_storage(plan.storage, plan.tune.heartbeat)
    study = open_study(plan, storage)
    with quiet_optuna():
        orphan = study.ask()  # a worker asked this trial, then died without a word
    values = plan.space.sample(orphan)
    storage.set_trial_system_attr(orphan._trial_id, HeartbeatJournalStorage.KEY, [orphan.number, time.time() - 60])

    study = tuneforge.tune(raw).optuna
    by_number = {t.number: t for t in study.trials}
    assert by_number[orphan.number].state == TrialState.FAIL
    retries = [t for t in study.trials if t.system_attrs.get("failed_trial") == orphan.number]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert retries[0].params == by_number[orphan.number].params
    assert retries[0].user_attrs["config"]["train"]["optimizer"]["lr"] == values["train.optimizer.lr"]
    assert finished(study) == 3 and "RUNNING" not in states(study)


def test_a_fresh_heartbeat_is_not_stale():
    raw = tiny(trials=1, storage="journal:///studies.journal", heartbeat=30)
    plan = make_plan(raw)
    storage = open_storage(plan.storage, plan.tune.heartbeat)
    study = open_study(plan, storage)
    with quiet_optuna():
        alive = study.ask()
    storage.record_heartbeat(alive._trial_id)
    assert storage._get_stale_trial_ids(study._study_id) == []
    storage.set_trial_system_attr(alive._trial_id, HeartbeatJournalStorage.KEY, [alive.number, time.time() - 91])
    assert storage._get_stale_trial_ids(study._study_id) == [alive._trial_id]


def test_parallel_workers_never_share_a_sqlite_file():
    default = tiny(workers=2)
    del default["tune"]["storage"]  # not chosen: parallel workers go to the journal file
    assert make_plan(default).storage == PARALLEL_STORAGE
    with pytest.raises(tuneforge.ConfigError, match="tune.storage: sqlite:///x.db is SQLite, which is not safe"):
        make_plan(tiny(workers=2, storage="sqlite:///x.db"))
    with pytest.raises(tuneforge.ConfigError, match="tune.workers: 2 workers need a shared storage"):
        make_plan(tiny(workers=2, storage=None))


def test_an_unusable_storage_url_is_bad_input():
    with pytest.raises(tuneforge.ConfigError, match="tune.storage: cannot open nosuchdb://x"):
        tuneforge.tune(tiny(storage="nosuchdb://x"))


@pytest.fixture
def pg_url(request):
    """The shared ``postgres_url`` fixture where this checkout has it (tests/pg_server.py)."""
    pytest.importorskip("pg_server", reason="the PostgreSQL fixture (tests/pg_server.py) is not here")
    return request.getfixturevalue("postgres_url")


def test_postgresql_storage_resumes(pg_url):
    first = tuneforge.tune(tiny(trials=2, storage=pg_url, study="pg", space=TINY_SPACE))
    again = tuneforge.tune(tiny(trials=3, storage=pg_url, study="pg", space=TINY_SPACE))
    assert finished(again.optuna) == 3
    assert again.optuna.trials[0].params == first.optuna.trials[0].params
    loaded = optuna.load_study(study_name="pg", storage=pg_url)
    assert len(loaded.trials) == 3


def _plain_optuna_trial(path: str, number: int):
    """The trial as Optuna itself reads the journal file (what other workers and the dashboard see)."""
    backend = optuna.storages.journal.JournalFileBackend(path)
    study = optuna.load_study(study_name="b", storage=optuna.storages.JournalStorage(backend))
    return study.trials[number]


def test_held_reports_and_attributes_reach_the_file_before_the_trial_ends():
    storage = open_storage("journal:///b.journal")
    study = optuna.create_study(study_name="b", storage=storage, direction="maximize")
    with quiet_optuna():
        trial = study.ask()
    for step in (1, 2, 3):
        trial.report(0.1 * step, step)
    trial.set_user_attr("status", "completed")
    assert _plain_optuna_trial("b.journal", 0).intermediate_values == {}  # held back
    assert storage.get_trial(trial._trial_id).intermediate_values == {1: 0.1, 2: 0.2, 3: 0.1 * 3}
    assert _plain_optuna_trial("b.journal", 0).intermediate_values == {1: 0.1, 2: 0.2, 3: 0.1 * 3}
    trial.report(0.5, 4)
    trial.set_user_attr("epochs", 4)
    study.tell(trial, 0.5)  # the held writes go first, in the same append
    seen = _plain_optuna_trial("b.journal", 0)
    assert seen.state == TrialState.COMPLETE and seen.value == 0.5
    assert seen.intermediate_values[4] == 0.5 and seen.user_attrs == {"status": "completed", "epochs": 4}


def test_a_value_the_file_cannot_hold_fails_where_it_is_set():
    storage = open_storage("journal:///b.journal")
    study = optuna.create_study(study_name="b", storage=storage)
    with quiet_optuna():
        trial = study.ask()
    with pytest.raises(TypeError):
        trial.set_user_attr("bad", object())
    study.tell(trial, 1.0)  # nothing broken was held back
    assert _plain_optuna_trial("b.journal", 0).state == TrialState.COMPLETE


def test_a_study_kept_in_the_old_sqlite_default_is_resumed_there():
    first = tuneforge.tune(tiny(trials=2, storage="sqlite:///runs/studies.db", space=TINY_SPACE, study="old"))
    kept = [t.params for t in first.optuna.trials]
    raw = tiny(trials=3, space=TINY_SPACE, study="old")
    del raw["tune"]["storage"]  # the default: the journal file, unless the old file holds the study
    plan = make_plan(raw)
    assert plan.storage == "sqlite:///runs/studies.db"
    assert any("resuming study 'old' in sqlite:///runs/studies.db" in note for note in plan.notes)
    again = tuneforge.tune(raw)
    assert [t.params for t in again.optuna.trials[:2]] == kept and finished(again.optuna) == 3
    fresh = tiny(trials=1, space=TINY_SPACE, study="new")
    del fresh["tune"]["storage"]
    assert make_plan(fresh).storage == "journal:///runs/studies.journal"
