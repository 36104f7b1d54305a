"""A run's report: written by train, self-contained, escaped, with every plot; metrics.jsonl."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml

import tuneforge
from tuneforge.errors import DataError
from tuneforge.report import write_report
from tuneforge.report.html import best_values, read_history, run_title

SECTIONS = ("scores", "warnings", "diagnosis", "gradients", "lr-find", "plots", "recipe")
PLOTS = ("loss.png", "metrics.png", "lr.png", "grad_norms.png", "lr_find.png")


def test_train_writes_a_self_contained_report_with_every_section_and_plot(run_dir):
    page = (run_dir / "report.html").read_text()
    for section in SECTIONS:
        assert f'id="{section}"' in page
    for name in PLOTS:
        png = (run_dir / "plots" / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"({name})" in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == len(PLOTS) and all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r"(href|src)=\"(https?:)?//", page)  # nothing to fetch from anywhere


def test_what_the_run_says_is_escaped(run_dir):
    page = (run_dir / "report.html").read_text()
    name = yaml.safe_load((run_dir / "config.yaml").read_text())["name"]
    assert name == "<img src=x onerror=alert(1)> & digits"  # markup in the run's name ...
    assert name not in page and "&lt;img src=x onerror=alert(1)&gt; &amp; digits" in page  # ... shown as text


def test_best_per_epoch_values_match_the_metrics_file(run_dir):
    frame = pd.read_json(run_dir / "metrics.jsonl", lines=True).set_index("epoch")
    rows = {row["metric"]: row for row in best_values(read_history(run_dir))}
    for key, pick in (("val/loss", "idxmin"), ("val/accuracy", "idxmax"), ("train/loss", "idxmin")):
        epoch = getattr(frame[key], pick)()
        assert rows[key]["epoch"] == epoch and rows[key]["best"] == pytest.approx(frame[key][epoch])


def test_metrics_file_holds_the_gradient_checks(run_dir):
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    checks = [c for r in records for c in r.get("grad_checks", ())]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [c["step"] for c in checks] == list(range(0, summary["steps"], 5))
    assert all(set(c["norm"]) == {"0", "2", "4"} for c in checks)  # three Linear layers
    with_checks = [r for r in records if "grad_checks" in r]
    assert all(r["grad_norm"] > 0 for r in with_checks)
    assert summary["diagnosis"]["gradients"]["checks"] == len(checks)
    assert summary["diagnosis"]["fit"]["verdict"] in ("good", "overfit", "underfit", "not_converged")


def test_report_can_be_switched_off(tmp_path):
    cfg = tuneforge.load_config(overrides=["data.source=iris", "train.epochs=2", "logging.report=false"])
    tuneforge.train(cfg, tmp_path / "run")
    assert (tmp_path / "run" / "summary.json").is_file()
    assert not (tmp_path / "run" / "report.html").exists() and not (tmp_path / "run" / "plots").exists()


def test_a_diverged_run_still_gets_a_report(tmp_path):
    cfg = tuneforge.load_config(overrides=["data.source=iris", "train.epochs=3", "train.optimizer.name=sgd",
                                           "train.optimizer.lr=1e4", "train.diagnostics.grad_every=1"])  # fmt: skip
    run = tuneforge.train(cfg, tmp_path / "run")
    page = (tmp_path / "run" / "report.html").read_text()
    assert run.summary["status"] == "diverged"
    assert "diverged at step" in page and f">{run.summary['divergence']['step']}<" in page


def test_reporting_a_folder_that_is_not_a_run_is_bad_input(tmp_path):
    with pytest.raises(DataError, match="not a finished run directory"):
        write_report(tmp_path)
    done = subprocess.run([sys.executable, "-m", "tuneforge", "report", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1


def test_cli_rewrites_the_report_of_a_run(run_dir, tmp_path):
    run = shutil.copytree(run_dir, tmp_path / "run")  # a copy: run_dir is shared by the module
    (run / "report.html").unlink()
    done = subprocess.run([sys.executable, "-m", "tuneforge", "report", str(run)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "<h1>Run &lt;img src=x onerror=alert(1)&gt; &amp; digits</h1>" in (run / "report.html").read_text()
    assert (run_dir / "report.html").is_file()


@pytest.mark.parametrize(("folder", "name", "title"), [
    (".best.8635", None, "digits-study · best"),  # a best run before it is renamed
    (".refit.12", "my-recipe", "digits-study · refit"),
    ("quick", None, "quick"),
    ("quick", "named", "named"),
])  # fmt: skip
def test_run_reports_are_titled_with_the_runs_own_name(tmp_path, folder, name, title):
    path = tmp_path / "digits-study" / folder
    path.mkdir(parents=True)
    assert run_title(name, path) == title


def test_a_published_best_run_keeps_its_study_title(tmp_path):
    (tmp_path / "study").mkdir()
    (tmp_path / "study" / "best.yaml").write_text("name: x\n")
    assert run_title("x", tmp_path / "study" / "best") == "study · best"
    assert run_title("x", tmp_path / "other" / "best") == "x"  # a user's run named best


@pytest.mark.slow
def test_cli_train_writes_the_report_and_says_where(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tuneforge", "train", "--set", "data.source=iris",
                           "--set", "train.epochs=2", "--out", str(tmp_path / "run"), "-q"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "report.html").is_file()
    assert "report.html" in done.stderr.replace("\n", "")
