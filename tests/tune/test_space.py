"""The search space: schema-checked keys, suggestions, conditions and per-trial configs."""

from __future__ import annotations

import math

import optuna
import pytest
import yaml

from tuneforge.config import validate
from tuneforge.config.tune_schema import SpaceEntry
from tuneforge.errors import ConfigError
from tuneforge.tuning.space import CLASSIFICATION_ONLY, SearchSpace, default_space


def space(text: str, raw: dict | None = None) -> SearchSpace:
    entries = {k: SpaceEntry.model_validate(v) for k, v in yaml.safe_load(text).items()}
    return SearchSpace(entries, raw if raw is not None else {}, "cfg.yaml")


def sample_many(s: SearchSpace, n: int = 40, seed: int = 0) -> list[tuple[dict, optuna.Trial]]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        trial = study.ask()
        values = s.sample(trial)
        out.append((values, trial))
        study.tell(trial, 0.0)
    return out


def test_ranges_follow_the_schema_type_and_stay_inside_their_bounds():
    s = space("""
        train.optimizer.lr: {low: 1.0e-4, high: 1.0e-1, log: true}
        model.dropout: {low: 0, high: 0.5}     # int-looking low, but dropout is a float key
        train.epochs: {low: 2, high: 10, step: 4}
        train.batch_size: [16, 32]
    """)
    for values, _ in sample_many(s):
        assert 1e-4 <= values["train.optimizer.lr"] <= 1e-1
        assert isinstance(values["model.dropout"], float) and 0 <= values["model.dropout"] <= 0.5
        assert values["train.epochs"] in (2, 6, 10)
        assert values["train.batch_size"] in (16, 32)


def test_log_ranges_are_sampled_log_uniformly():
    s = space("train.optimizer.lr: {low: 1.0e-5, high: 1.0e-1, log: true}")
    logs = [math.log10(v["train.optimizer.lr"]) for v, _ in sample_many(s, n=300)]
    below = sum(x < -3 for x in logs) / len(logs)  # half of [-5, -1] lies below -3
    assert 0.4 < below < 0.6


def test_list_choices_are_stored_as_json_text_and_decoded_back():
    s = space("model.hidden: [[64], [128, 64]]")
    seen = set()
    for values, trial in sample_many(s, n=20):
        hidden = values["model.hidden"]
        assert isinstance(hidden, list)
        assert trial.params["model.hidden"] == str(hidden)  # Optuna keeps "[128, 64]"
        assert s.config(values).model.hidden == hidden
        seen.add(tuple(hidden))
    assert seen == {(64,), (128, 64)}


def test_conditional_entry_is_sampled_only_when_its_condition_holds():
    raw = {"train": {"optimizer": {"name": "adam", "lr": 0.001, "betas": [0.9, 0.99]}}}
    s = space("""
        train.optimizer.name: [adam, sgd]
        train.optimizer.momentum: {low: 0.0, high: 0.9, when: {train.optimizer.name: sgd}}
    """, raw)
    names = set()
    for values, trial in sample_many(s):
        name = values["train.optimizer.name"]
        names.add(name)
        assert ("train.optimizer.momentum" in trial.params) == (name == "sgd")
        optimizer = s.config(values).train.optimizer
        assert optimizer.name == name
        if name == "sgd":  # adam's betas, written by the user, were not carried into sgd
            assert optimizer.momentum == values["train.optimizer.momentum"]
        else:
            assert optimizer.betas == (0.9, 0.99)
    assert names == {"adam", "sgd"}


def test_condition_on_a_fixed_key_reads_the_resolved_recipe():
    s = space("train.optimizer.momentum: {low: 0.0, high: 0.9, when: {train.optimizer.name: [sgd, rmsprop]}}",
              {"train": {"optimizer": {"name": "sgd"}}})  # fmt: skip
    assert all("train.optimizer.momentum" in v for v, _ in sample_many(s, n=5))


def test_trial_config_is_the_raw_recipe_with_the_values_set():
    raw = {"name": "mine", "model": {"hidden": [32]}, "train": {"epochs": 7}}
    cfg = space("train.optimizer.lr: {low: 0.001, high: 0.1}", raw).config({"train.optimizer.lr": 0.02})
    expected = validate({**raw, "train": {"epochs": 7, "optimizer": {"lr": 0.02}}})
    assert cfg == expected


def test_grid_values():
    s = space("""
        train.epochs: {low: 1, high: 7, step: 3}
        model.dropout: {low: 0.0, high: 0.2, step: 0.1}
        model.hidden: [[8], [8, 8]]
    """)
    grid = s.grid()
    assert grid["train.epochs"] == [1, 4, 7]
    assert grid["model.dropout"] == pytest.approx([0.0, 0.1, 0.2])
    assert grid["model.hidden"] == ["[8]", "[8, 8]"]


@pytest.mark.parametrize(
    ("text", "blamed"),
    [
        ("train.optimizer.momentom: {low: 0.0, high: 0.9}", "tune.space.train.optimizer.momentom: not a config key"),
        ("data.nothing: [1, 2]", "tune.space.data.nothing: not a config key"),
        ("train.epochs.x: [1, 2]", "tune.space.train.epochs.x: not a config key"),
        ("tune.trials: [1, 2]", "tune.space.tune.trials: not a config key"),
        ("model.dropout: {low: 0.1, high: 1.5}", "tune.space.model.dropout: 1.5 is not a valid value"),
        ("train.optimizer.lr: {low: 0, high: 0.1}", "tune.space.train.optimizer.lr: 0 is not a valid value"),
        ("train.epochs: {low: 1.5, high: 4}", "tune.space.train.epochs: an integer key needs integer"),
        ("model.hidden: {low: 8, high: 64}", "tune.space.model.hidden: not a number; give choices"),
        ("model.hidden: [[8], [0]]", "tune.space.model.hidden: [0] is not a valid value"),
        ("model.activation: [relu, swish]", "tune.space.model.activation: 'swish' is not a valid value"),
        ("train.optimizer.momentum: {low: 0.0, high: 0.5}", "tune.space.train.optimizer.momentum: not a key of the recipe as configured"),
        ("train.optimizer.lr: {low: 0.01, high: 0.1, when: {train.nothing: 1}}", "tune.space.train.optimizer.lr.when: train.nothing"),
        ("model.dropout: {low: 0.0, high: 0.1, when: {train.epochs: 3}}\ntrain.epochs: {low: 1, high: 4, when: {model.dropout: 0.1}}",
         "conditions form a cycle"),
    ],
)  # fmt: skip
def test_bad_space_names_the_key(text, blamed):
    with pytest.raises(ConfigError) as info:
        space(text)
    assert blamed in str(info.value)
    assert str(info.value).startswith("cfg.yaml: ")


@pytest.mark.parametrize(
    ("entry", "blamed"),
    [
        ({"low": 2, "high": 1}, "impossible range: low 2 > high 1"),
        ({"low": 0, "high": 1, "log": True}, "log: true needs low > 0"),
        ({"choices": []}, "choices is empty"),
        ({"low": 1}, "needs low and high, or choices"),
        ({"low": 0.0, "high": 1.0, "step": 2.0}, "step 2.0 is larger than the range"),
        ({"low": 0.1, "high": 1.0, "step": 0.1, "log": True}, "log and step cannot be combined"),
        ({"low": 0.0, "high": 1.0, "choices": [1]}, "either choices or low/high"),
        ({"low": 0.0, "high": 1.0, "lo": 1}, "lo: unknown key"),
    ],
)
def test_impossible_entries_are_refused_at_load_time(entry, blamed):
    with pytest.raises(ConfigError) as info:
        validate({"tune": {"space": {"train.optimizer.lr": entry}}}, "cfg.yaml")
    assert "tune.space.train.optimizer.lr" in str(info.value)
    assert blamed in str(info.value)


def test_grid_needs_a_step_for_float_ranges():
    with pytest.raises(ConfigError, match="tune.space.train.optimizer.lr: the grid sampler needs a step"):
        space("train.optimizer.lr: {low: 0.001, high: 0.1}").grid()


def test_default_space_depends_on_the_model_kind_and_task():
    mlp = default_space("mlp", "classification")
    assert {"train.optimizer.lr", "model.hidden"} <= set(mlp)
    assert CLASSIFICATION_ONLY <= set(mlp)
    assert not CLASSIFICATION_ONLY & set(default_space("mlp", "regression"))
    assert set(default_space("linear", "regression")) == {"train.optimizer.lr", "train.regularization.l2"}
    # Each default is valid against the default recipe of its kind.
    SearchSpace(mlp, {}, "default")
    SearchSpace(default_space("logistic", "classification"), {"model": {"kind": "logistic"}}, "default")


def test_the_default_spaces_in_docs_tuning_md_are_the_codes():
    """docs/tuning.md once listed `model.dropout` and `[256, 128]` in the MLP space long after
    the code dropped them: each kind's row must name exactly its keys and choices."""
    import re
    from pathlib import Path

    from tuneforge.tuning.space import DEFAULT_SPACES, FALLBACK_SPACE

    page = (Path(__file__).parents[2] / "docs" / "tuning.md").read_text()
    section = page.split("### Default spaces", 1)[1].split("\n#", 1)[0]
    rows = dict(re.findall(r"^\| (`\w+`|every other kind) \| (.+) \|$", section, flags=re.M))
    spaces = {f"`{kind}`": space for kind, space in DEFAULT_SPACES.items()}
    spaces["every other kind"] = FALLBACK_SPACE
    assert set(rows) == set(spaces)
    for kind, space in spaces.items():
        keys = re.findall(r"`([a-z_]+\.[a-z0-9_.]+)`", rows[kind])
        assert keys == list(space), kind
        for key, entry in space.items():
            described = rows[kind].split(f"`{key}` ", 1)[1].split(", `", 1)[0]
            if "choices" in entry:
                assert described.split(" (")[0].split(" / ") == [
                    str(c).replace("'", "") for c in entry["choices"]
                ], (kind, key)
            else:
                low, high = described.split(" ")[0].split("..")
                assert (float(low), float(high)) == (entry["low"], entry["high"]), (kind, key)
                assert ("(log)" in described) == entry.get("log", False), (kind, key)
