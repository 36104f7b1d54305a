"""``--seeds N``: N runs differing only in train.seed, and the mean ± std of their metrics."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tuneforge.config import Config
from tuneforge.run import load_run, train
from tuneforge.run.seeds import train_seeds, with_seed


def recipe() -> Config:
    return Config(data={"source": "iris", "split": {"seed": 3}}, model={"hidden": [16]},
                  train={"epochs": 3, "batch_size": 16, "seed": 5})  # fmt: skip


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    out = tmp_path_factory.mktemp("seeds")
    return train_seeds(recipe(), 3, out), out


def test_three_seeds_give_three_different_runs_on_the_same_split(three):
    result, out = three
    assert result["seeds"] == [5, 6, 7]
    runs = [load_run(out / f"seed{s}") for s in result["seeds"]]
    assert [r.config.train.seed for r in runs] == [5, 6, 7]
    assert {r.config.data.split.seed for r in runs} == {3}  # the split is fixed
    losses = [r.summary["metrics"]["val/loss"] for r in runs]
    assert len(set(losses)) == 3
    first = [t.detach() for t in runs[0].model.parameters()]
    second = [t.detach() for t in runs[1].model.parameters()]
    assert not all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_mean_and_std_are_those_of_the_per_seed_summaries(three):
    result, out = three
    on_disk = json.loads((out / "seeds.json").read_text())
    assert on_disk == json.loads(json.dumps(result))
    per_seed = [json.loads((out / f"seed{s}" / "summary.json").read_text())["metrics"]
                for s in result["seeds"]]  # fmt: skip
    for key in ("val/loss", "val/accuracy", "test/accuracy", "test/log_loss"):
        values = np.array([m[key] for m in per_seed])
        assert result["mean"][key] == pytest.approx(values.sum() / 3, rel=1e-12)
        assert result["std"][key] == pytest.approx(np.sqrt(((values - values.mean()) ** 2).mean()))


def test_each_seed_run_is_the_plain_run_with_that_seed(three):
    result, _ = three
    alone = train(with_seed(recipe(), 6))
    assert result["runs"][1]["metrics"] == {k: v for k, v in alone.summary["metrics"].items()
                                            if v is not None}  # fmt: skip


def test_cli_prints_the_spread_and_refuses_resume(tmp_path):
    env_cmd = [sys.executable, "-m", "tuneforge", "train", "--seeds", "2", "-q", "--out",
               str(tmp_path / "s"), "--set", "data.source=iris", "--set", "train.epochs=1"]  # fmt: skip
    done = subprocess.run(env_cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "val/accuracy" in done.stdout and "±" in done.stdout
    assert json.loads((tmp_path / "s" / "seeds.json").read_text())["seeds"] == [0, 1]
    refused = subprocess.run([*env_cmd[:5], "3", "--resume", str(tmp_path / "s")],
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert refused.returncode == 2 and "--seeds" in refused.stderr


def test_the_seeds_report_shows_each_metric_mean_std_and_per_seed_values(three):
    import re

    from tuneforge.report import write_report

    result, out = three
    page = (out / "report.html").read_text()
    assert 'id="spread"' in page and "seeds.png" in page
    rows = dict(re.findall(r"<tr><td>([^<]+)</td>(.*?)</tr>", page, flags=re.S))
    per_seed = [json.loads((out / f"seed{s}" / "summary.json").read_text())["metrics"]
                for s in result["seeds"]]  # fmt: skip
    for key in ("val/accuracy", "val/loss", "test/accuracy"):
        values = np.array([m[key] for m in per_seed])
        cells = re.findall(r'<td class="num">([^<]+)</td>', rows[key])
        assert cells[0] == f"{values.mean():.4g} ± {values.std():.4g}"
        assert cells[1:] == [f"{v:.4g}" for v in values]
    for seed in result["seeds"]:
        assert f'href="seed{seed}/report.html"' in page and (out / f"seed{seed}" / "report.html").is_file()
    assert write_report(out) == out / "report.html"  # `tuneforge report DIR` rewrites it
