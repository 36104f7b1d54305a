"""Workers of one study finishing together claim its results folder at the same instant.

The folder's owner file (``study.json``) used to be written in place: a worker that looked
between another's ``open`` and ``write`` read an empty file and died with a JSONDecodeError
(seen as one exit 1 of 8 in tests/scale/test_fleet.py). Here many threads claim fresh folders
at once, with the interpreter switching threads as often as it can.
"""

from __future__ import annotations

import sys
import threading

import optuna

from tuneforge.tuning.result import OWNER_FILE, Study, claim_folder

THREADS, FOLDERS = 8, 60


def a_study(name: str) -> Study:
    study = optuna.create_study(study_name=name)
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
    return Study(study, ["value"])


def claims(tmp_path, study: Study) -> list:
    barrier, results = threading.Barrier(THREADS), []

    def worker():
        for i in range(FOLDERS):
            barrier.wait()  # every thread claims folder i at once
            try:
                results.append(claim_folder(study, tmp_path / f"folder{i}"))
            except Exception as exc:  # noqa: BLE001 - what a worker would die of
                results.append(exc)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=worker) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(old)
    return results


def test_workers_claiming_together_all_get_the_folder(tmp_path):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    results = claims(tmp_path, a_study("s"))
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert sorted(results) == sorted(tmp_path / f"folder{i}" for i in range(FOLDERS) for _ in range(THREADS))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"folder{i}" for i in range(FOLDERS))
    for i in range(FOLDERS):  # no private temporary file left behind
        assert [p.name for p in (tmp_path / f"folder{i}").iterdir()] == [OWNER_FILE]


def test_another_study_of_the_same_name_takes_the_next_folder(tmp_path):
    first, second = a_study("same"), a_study("same")
    assert claim_folder(first, tmp_path / "runs") == tmp_path / "runs"
    assert claim_folder(second, tmp_path / "runs") == tmp_path / "runs-2"
    assert claim_folder(first, tmp_path / "runs") == tmp_path / "runs"  # its own folder again
