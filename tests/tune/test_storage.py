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
