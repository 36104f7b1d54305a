"""A study's report from a plain optuna.Study: plots, top trials, best config, the CLI."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import subprocess
import sys

import optuna
import pytest
import yaml
from report_studies import make_study

from tuneforge.errors import DataError
from tuneforge.report import write_study_report
from tuneforge.report.html import trial_rows
from tuneforge.report.study import open_study, safe_name
from tuneforge.report.study_plots import study_plots


def load(study_url) -> optuna.Study:
    url, name = study_url
    return optuna.load_study(study_name=name, storage=url)


def test_study_report_has_optunas_plots_top_trials_and_best_config(study_url, tmp_path):
    study = load(study_url)
    page = write_study_report(study, tmp_path).read_text()
    for title in ("Optimization history", "Parameter importance", "Parallel coordinates",
                  "Slice: model.hidden", "Slice: train.optimizer.lr", "Slice: train.regularization.l2",
                  "Learning curves"):  # fmt: skip
        assert f'aria-label="{title}"' in page
    best_yaml = re.search(r'id="best-config">.*?<details>.*?<pre>(.*?)</pre>', page, re.S).group(1)
    stored = study.best_trial.user_attrs["config"]
    assert stored["name"] is None
    assert yaml.safe_load(best_yaml.replace("&#39;", "'")) == {k: v for k, v in stored.items() if v is not None}
    assert f"Trial {study.best_trial.number}:" in page
    states = {t.state for t in study.trials}
    assert optuna.trial.TrialState.PRUNED in states and optuna.trial.TrialState.FAIL in states
    for state in states:
        count = sum(t.state == state for t in study.trials)
        assert f"{count} {state.name.lower()}" in page


def test_study_report_leads_with_the_tuned_keys_and_their_change(study_url, tmp_path):
    study = load(study_url)
    page = write_study_report(study, tmp_path).read_text()
    assert page.index('id="tuned-keys"') < page.index('id="trials"') < page.index('id="best-config"')
    table = re.search(r'id="tuned-keys">.*?</table>', page, re.S).group(0)
    rows = re.findall(r"<tr><td>(.*?)</td><td class=\"num\">(.*?)</td><td class=\"num\">(.*?)</td><td>(.*?)</td></tr>", table)
    best = study.best_trial
    lr = best.params["train.optimizer.lr"]
    assert [r[0] for r in rows] == sorted(best.params)  # every tuned key, nothing else
    by_key = {r[0]: r[1:] for r in rows}
    assert by_key["train.optimizer.lr"] == (f"{lr:.4g}", "0.001", f"×{lr / 0.001:.3g}")
    assert by_key["model.hidden"][1] == "[128]"
    assert by_key["model.hidden"][2] == ("same" if best.params["model.hidden"] == "[128]" else "changed")
    l2 = best.params["train.regularization.l2"]
    assert by_key["train.regularization.l2"][2] == f"{l2:+.3g}"  # from 0: a difference, not a ratio


def test_each_tuned_key_gets_its_own_slice_plot(tmp_path):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(lambda t: sum(t.suggest_float(f"k{i}", 0, 1) for i in range(7)), n_trials=8)
    made, _ = study_plots(study, tmp_path)
    assert [p["param"] for p in made if p["kind"] == "slice"] == [f"k{i}" for i in range(7)]


def test_the_page_runs_only_its_own_scripts(study_url, tmp_path):
    """The plots are drawn by inline scripts: the page's policy names each by its SHA-256 and
    allows nothing else (no 'unsafe-inline', no source to load from)."""
    page = write_study_report(load(study_url), tmp_path).read_text()
    policy = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1))
    allowed = re.search(r"script-src ([^;]*)", policy).group(1).split()
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 2 and "Chart.js v4" in scripts[0]
    digests = [base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() for code in scripts]
    assert allowed == [f"'sha256-{d}'" for d in digests]
    assert "default-src 'none'" in policy and "unsafe" not in policy.split("script-src")[1]


def test_names_in_the_plot_data_cannot_close_its_script_element(tmp_path):
    study = optuna.create_study()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(lambda t: t.suggest_float("</script><img src=x onerror=alert(1)>", 0, 1), n_trials=3)
    page = write_study_report(study, tmp_path).read_text()
    block = re.search(r'<script type="application/json" id="plot-data">(.*?)</script>', page, re.S).group(1)
    assert "<" not in block and "<img src=x" not in page.replace("&lt;img src=x", "")
    assert "</script><img src=x onerror=alert(1)>" in json.dumps(json.loads(block))  # the name is kept


def test_top_trials_are_the_best_completed_ones_in_order(study_url):
    study = load(study_url)
    frame = study.trials_dataframe()
    done = frame[frame.state == "COMPLETE"].sort_values("value").head(10)
    _, rows = trial_rows(study)
    assert [r["number"] for r in rows] == done.number.tolist()
    assert [r["values"][0] for r in rows] == pytest.approx(done.value.tolist())


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_multi_objective_study_shows_the_pareto_front(tmp_path):
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=optuna.samplers.RandomSampler(seed=1))  # fmt: skip
    study.set_metric_names(["val/accuracy", "parameters"])
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_int("n", 1, 100)), n_trials=12)
    page = write_study_report(study, tmp_path).read_text()
    assert 'aria-label="Pareto front"' in page and "maximize val/accuracy" in page
    _, rows = trial_rows(study)
    assert {r["number"] for r in rows} == {t.number for t in study.best_trials}


def test_a_study_without_finished_trials_still_reports(tmp_path):
    study = optuna.create_study()
    study.enqueue_trial({"x": 1.0})
    page = write_study_report(study, tmp_path).read_text()
    assert "No completed trial yet" in page and "Not drawn" in page


def test_open_study_finds_the_only_study_and_refuses_typos(study_url, tmp_path):
    url, name = study_url
    assert open_study(None, url).study_name == name
    with pytest.raises(DataError, match="no study 'nope'.*digits-mlp"):
        open_study("nope", url)
    missing = tmp_path / "missing.db"
    with pytest.raises(DataError, match="does not exist"):
        open_study(None, f"sqlite:///{missing}")
    assert not missing.exists()  # a report never creates a storage


def test_journal_storage_urls_work(tmp_path):
    path = tmp_path / "studies.journal"
    backend = optuna.storages.journal.JournalFileBackend(str(path))
    make_study(optuna.storages.JournalStorage(backend), "in-a-journal", trials=6)
    url = f"journal:///{path}"
    assert open_study("in-a-journal", url).study_name == "in-a-journal"


def test_study_names_become_safe_folder_names():
    assert safe_name("../../etc/passwd") == "_.._etc_passwd"
    assert "/" not in safe_name("a/b") and safe_name("..") == "study"


@pytest.mark.slow
def test_cli_study_report(study_url, tmp_path):
    url, name = study_url
    cmd = [sys.executable, "-m", "tuneforge", "report", "--study", name, "--storage", url]
    done = subprocess.run([*cmd, "--out", str(tmp_path / "r")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r" / "report.html").is_file()
    wrong = subprocess.run([*cmd[:-3], "nope", "--storage", url], capture_output=True, text=True, timeout=300)
    assert wrong.returncode == 2 and "no study named 'nope'; there are: digits-mlp" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1
