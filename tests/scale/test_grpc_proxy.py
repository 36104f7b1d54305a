"""Workers through Optuna's gRPC storage proxy (`tuneforge storage serve`) on PostgreSQL.

The server is a real `tuneforge storage serve` process on a fresh database; the workers are real
`tuneforge tune` processes with `--storage grpc://...`; the study is checked by reading the
database directly, not through the proxy.
"""

from __future__ import annotations

import optuna
import pytest
import yaml
from optuna.trial import TrialState
from test_workers import RECIPE, count, finish, worker

from tuneforge.tuning.storage import open_storage


@pytest.mark.slow
def test_four_workers_through_the_proxy_finish_exactly_n_and_the_study_commands_read_it(
    tmp_path, grpc_storage, cli
):
    proxy, database = grpc_storage
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({**RECIPE, "train": {**RECIPE["train"], "epochs": 5}}))
    finish(*[worker(cfg, proxy, "proxied", 8) for _ in range(4)])

    study = optuna.load_study(study_name="proxied", storage=open_storage(database))
    trials = study.get_trials(deepcopy=False)
    assert count(study, TrialState.COMPLETE) == 8
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    assert all(t.user_attrs.get("reason") == "surplus" for t in trials if t.state == TrialState.FAIL)
    assert (tmp_path / "runs" / "proxied" / "best.yaml").is_file()

    shown = cli("study", "show", "--storage", proxy, "--study", "proxied")
    assert shown.code == 0, shown.err
    assert shown.out.count("complete") == 8
    best = cli("study", "best", "--storage", proxy, "--study", "proxied", "--out", "again.yaml")
    assert best.code == 0, best.err
    lr = yaml.safe_load((tmp_path / "again.yaml").read_text())["train"]["optimizer"]["lr"]
    assert lr == study.best_trial.params["train.optimizer.lr"]
    report = cli("report", "--storage", proxy, "--study", "proxied", "--out", "report")
    assert report.code == 0, report.err
    assert (tmp_path / "report" / "report.html").is_file()


def test_a_grpc_url_without_a_port_is_refused_in_one_line(cli, tmp_path):
    done = cli("tune", "--storage", "grpc://localhost", "--trials", "1", "-q")
    assert done.code == 2
    assert done.err.strip().splitlines()[-1] == (  # after the line that names the study
        "error: tune.storage: grpc://localhost is not a gRPC proxy address; expected "
        "grpc://HOST:PORT (the address `tuneforge storage serve` prints)"
    )


def test_serving_a_journal_file_is_refused_in_one_line(cli, tmp_path):
    done = cli("storage", "serve", "--storage", f"journal:///{tmp_path / 'x.journal'}")
    assert done.code == 2
    assert "the gRPC proxy serves an RDB storage only" in done.err
    assert len(done.err.strip().splitlines()) == 1
