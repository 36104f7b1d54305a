"""The report writers' imports run in a background thread while a run or a study trains
(report/preload.py), and only where a report will be written."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent(
    """
    import json, sys
    import tuneforge
    from tuneforge.report import preload

    seen = []

    def during(record):  # an epoch callback: has the preload begun while the model trains?
        seen.append(preload._thread is not None)

    {body}
    print(json.dumps({{"seen": seen, "started": preload._thread is not None,
                      "matplotlib": "matplotlib" in sys.modules}}))
    """
)


def _probe(body: str, tmp_path) -> dict:
    script = PROBE.format(body=textwrap.dedent(body).strip())
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_run_with_a_report_imports_its_writers_while_it_trains(tmp_path):
    out = _probe(
        """
        cfg = tuneforge.load_config(overrides=["train.epochs=2"])
        tuneforge.train(cfg, "run", callbacks=[during])
        """,
        tmp_path,
    )
    assert out["seen"] == [True, True]  # begun before the first epoch ended
    assert (tmp_path / "run" / "report.html").is_file()
    assert list((tmp_path / "run" / "plots").glob("*.png"))


@pytest.mark.slow
def test_no_report_no_preload_and_no_matplotlib(tmp_path):
    out = _probe(
        """
        cfg = tuneforge.load_config(overrides=["train.epochs=1", "logging.report=false"])
        tuneforge.train(cfg, "run", callbacks=[during])
        tuneforge.train(cfg, callbacks=[during])  # no folder: nothing is written
        """,
        tmp_path,
    )
    assert out["seen"] == [False, False] and not out["started"]
    assert not out["matplotlib"]
    assert not (tmp_path / "run" / "report.html").exists()


@pytest.mark.slow
def test_a_study_preloads_before_its_trials_and_writes_both_reports(tmp_path):
    out = _probe(
        """
        from tuneforge.tuning.api import finish, make_plan, run_plan
        plan = make_plan(None, ["train.epochs=1", "tune.trials=2"], {"out": "study"})
        study = run_plan(plan)
        seen.append(preload._thread is not None)  # begun by the search, before finish()
        finish(plan, study)
        """,
        tmp_path,
    )
    assert out["seen"] == [True]
    assert (tmp_path / "study" / "report.html").is_file()
    assert (tmp_path / "study" / "best" / "report.html").is_file()


def test_start_imports_the_writers_once_and_wait_joins(tmp_path):
    out = _probe(
        """
        preload.wait()  # nothing started: returns at once
        preload.start(preload.STUDY)
        first = preload._thread
        preload.start(preload.STUDY)
        preload.wait()
        seen.append([name for name in preload.STUDY if name not in sys.modules])
        seen.append([first is preload._thread, first.is_alive()])
        """,
        tmp_path,
    )
    assert out["seen"] == [[], [True, False]]
