"""The search space: ``tune.space`` entries -> Optuna suggestions -> one validated config per trial.

Each entry names a dotted config key. Ranges become ``suggest_int``/``suggest_float`` (the key's
type in the schema decides which); ``choices`` become ``suggest_categorical``. Choices Optuna
cannot store (lists such as hidden widths) are stored as their JSON text (``"[128, 64]"``) and
decoded back. ``when`` makes an entry conditional on another key's value.

A trial's config is the user's *raw* YAML with the trial's values set, then validated: switching
``train.optimizer.name`` from adam to sgd drops adam-only keys (``betas``) the user wrote for
adam, instead of failing on them.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import optuna
from pydantic import ValidationError

from tuneforge.config import Config, set_dotted, to_dict, validate
from tuneforge.config.messages import is_config_key
from tuneforge.config.tune_schema import SpaceEntry
from tuneforge.errors import ConfigError
from tuneforge.tuning.keys import get_dotted, key_info, tagged_sections

#: ``tune.space`` when the config has none, by ``model.kind`` (docs/tuning.md lists them). The MLP
#: ranges are where Adam trains small tabular MLPs well in ~20 epochs; on the default digits
#: study (64 trials, TPE + successive halving) sampler seeds 0-7 reach best val/accuracy
#: 0.969-0.978, median 0.975 (docs/tuning.md).
DEFAULT_SPACES: dict[str, dict[str, dict]] = {
    # Chosen to batch: everything but activation and batch size trains in one cohort (widths are
    # masked, label smoothing and schedules are per member). Dropout is left out: a cohort
    # member's dropout masks differ from a lone run's, so its score would not reproduce exactly.
    "mlp": {
        "train.optimizer.lr": {"low": 1e-3, "high": 1e-2, "log": True},
        "train.regularization.l2": {"low": 1e-6, "high": 1e-3, "log": True},
        "model.hidden": {"choices": [[128], [256], [512]]},
        "model.activation": {"choices": ["relu", "gelu"]},
        "train.batch_size": {"choices": [32, 64]},
        "train.label_smoothing": {"low": 0.0, "high": 0.2},
        "train.schedule.name": {"choices": ["constant", "cosine"]},
    },
}
# Image and sequence kinds train one trial at a time (cohorts batch MLPs only): a few
# structural keys beside the learning rate.
DEFAULT_SPACES |= {
    "cnn": {
        "train.optimizer.lr": {"low": 1e-3, "high": 1e-2, "log": True},
        "model.channels": {"choices": [[16, 32], [32, 64]]},
        "model.head": {"choices": [0, 64, 128]},
        "model.dropout": {"low": 0.0, "high": 0.3},
    },
    "rnn": {
        "train.optimizer.lr": {"low": 1e-3, "high": 2e-2, "log": True},
        "model.hidden_size": {"choices": [32, 64, 128]},
        "model.cell": {"choices": ["lstm", "gru"]},
    },
    "transformer": {
        "train.optimizer.lr": {"low": 3e-4, "high": 3e-3, "log": True},
        "model.d_model": {"choices": [32, 64]},
        "model.layers": {"choices": [1, 2]},
        "model.dropout": {"low": 0.0, "high": 0.2},
    },
}
#: Every other kind (linear, logistic and kinds added later): learning rate and L2 strength.
FALLBACK_SPACE: dict[str, dict] = {
    "train.optimizer.lr": {"low": 1e-4, "high": 3e-1, "log": True},
    "train.regularization.l2": {"low": 1e-6, "high": 1e-1, "log": True},
}
CLASSIFICATION_ONLY = {"train.label_smoothing"}
_INACTIVE = object()  # a conditional entry whose condition does not hold in this trial


def default_space(kind: str, task: str) -> dict[str, SpaceEntry]:
    raw = DEFAULT_SPACES.get(kind, FALLBACK_SPACE)
    return {key: SpaceEntry.model_validate(entry) for key, entry in raw.items()
            if task == "classification" or key not in CLASSIFICATION_ONLY}  # fmt: skip


def _storable(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


@dataclass(frozen=True)
class Param:
    """One tuned key and how Optuna samples it."""

    key: str
    entry: SpaceEntry
    is_int: bool

    @property
    def labels(self) -> list:
        """Choices as Optuna stores them: themselves, or JSON text when one is a list/mapping."""
        choices = self.entry.choices or []
        if all(_storable(c) for c in choices):
            return list(choices)
        return [json.dumps(c) for c in choices]

    def decode(self, label: Any) -> Any:
        return self.entry.choices[self.labels.index(label)]

    def suggest(self, trial: optuna.Trial) -> Any:
        e = self.entry
        if e.choices is not None:
            return self.decode(trial.suggest_categorical(self.key, self.labels))
        if self.is_int:
            return trial.suggest_int(self.key, int(e.low), int(e.high), step=int(e.step or 1), log=e.log)
        return trial.suggest_float(self.key, float(e.low), float(e.high), step=e.step, log=e.log)

    def distribution(self) -> optuna.distributions.BaseDistribution:
        """The distribution :meth:`suggest` asks Optuna for (the one stored with each trial)."""
        e = self.entry
        if e.choices is not None:
            return optuna.distributions.CategoricalDistribution(self.labels)
        if self.is_int:
            return optuna.distributions.IntDistribution(int(e.low), int(e.high), log=e.log,
                                                        step=int(e.step or 1))  # fmt: skip
        return optuna.distributions.FloatDistribution(float(e.low), float(e.high), log=e.log, step=e.step)

    def values(self) -> list:
        """Every value the grid sampler visits (ranges need a step, or must be integers)."""
        e = self.entry
        if e.choices is not None:
            return self.labels
        if self.is_int:
            return list(range(int(e.low), int(e.high) + 1, int(e.step or 1)))
        if e.step is None:
            raise ConfigError(f"tune.space.{self.key}: the grid sampler needs a step (or choices) "
                              "for a float range")  # fmt: skip
        count = math.floor((e.high - e.low) / e.step + 1e-9) + 1
        return [e.low + i * e.step for i in range(count)]

    def endpoints(self) -> list:
        return list(self.entry.choices) if self.entry.choices is not None else [self.entry.low, self.entry.high]


class SearchSpace:
    """The tuned keys of a study, checked against the schema and the base recipe."""

    def __init__(self, entries: Mapping[str, SpaceEntry], raw: Mapping[str, Any], source: str):
        self.raw = {k: copy.deepcopy(v) for k, v in raw.items() if k != "tune"}
        self.source = source
        self.base = to_dict(validate(self.raw, source))  # defaults filled in, for `when`
        self.params = {key: self._param(key, entry) for key, entry in entries.items()}
        self._check_conditions()
        for param in self.params.values():
            self._check_values(param)

    # ------------------------------------------------------------------- sampling a trial
    def sample(self, trial: optuna.Trial) -> dict[str, Any]:
        """This trial's values of the active keys (decoded: ``model.hidden`` is a list)."""
        decided: dict[str, Any] = {}
        for key in self.params:
            self._decide(key, trial, decided, ())
        return {k: v for k, v in decided.items() if v is not _INACTIVE}

    def _decide(self, key: str, trial, decided: dict, visiting: tuple) -> Any:
        if key not in self.params:
            return get_dotted(self.base, key)
        if key in decided:
            return decided[key]
        if key in visiting:
            raise ConfigError(f"{self.source}: tune.space.{key}: its `when` conditions form a cycle")
        when = self.params[key].entry.when or {}
        active = all(_matches(self._decide(k, trial, decided, (*visiting, key)), want)
                     for k, want in when.items())  # fmt: skip
        decided[key] = self.params[key].suggest(trial) if active else _INACTIVE
        return decided[key]

    def config(self, values: Mapping[str, Any], source: str = "trial") -> Config:
        """The recipe of one trial: the raw YAML with ``values`` set, validated."""
        return validate(self.apply(values), source)

    def apply(self, values: Mapping[str, Any]) -> dict[str, Any]:
        raw = copy.deepcopy(self.raw)
        for key, value in values.items():
            set_dotted(raw, key, copy.deepcopy(value))
        for path, (tag, variants) in tagged_sections().items():
            section = get_dotted(raw, path)
            chosen = f"{path}.{tag}"
            if chosen in values and isinstance(section, dict) and values[chosen] in variants:
                accepted = variants[values[chosen]].model_fields
                for name in [n for n in section if n not in accepted and f"{path}.{n}" not in values]:
                    del section[name]  # a key of the variant the user wrote, not of this one
        return raw

    def grid(self) -> dict[str, list]:
        return {key: param.values() for key, param in self.params.items()}

    # ---------------------------------------------------------------------------- checks
    def _param(self, key: str, entry: SpaceEntry) -> Param:
        info = key_info(key)
        if key.split(".")[0] == "tune" or not info.exists:
            hint = f"; that section has: {', '.join(info.owners)}" if info.owners else ""
            raise ConfigError(f"{self.source}: tune.space.{key}: not a config key{hint}")
        if entry.choices is None and info.kind == "other":
            raise ConfigError(f"{self.source}: tune.space.{key}: not a number; give choices")
        is_int = entry.choices is None and (info.kind == "int" or (info.kind == "free" and entry.is_int))
        if is_int and not entry.is_int:
            raise ConfigError(f"{self.source}: tune.space.{key}: an integer key needs integer "
                              f"low/high/step (got {entry.low}..{entry.high})")  # fmt: skip
        return Param(key, entry, is_int)

    def _check_conditions(self) -> None:
        for key, param in self.params.items():
            for other in param.entry.when or {}:
                if not key_info(other).exists:
                    raise ConfigError(f"{self.source}: tune.space.{key}.when: {other} is not a config key")
        for key in self.params:
            self._no_cycle(key, ())

    def _no_cycle(self, key: str, visiting: tuple[str, ...]) -> None:
        if key in visiting:
            raise ConfigError(f"{self.source}: tune.space.{key}: its `when` conditions form a cycle")
        for other in self.params[key].entry.when or {} if key in self.params else {}:
            self._no_cycle(other, (*visiting, key))

    def _check_values(self, param: Param) -> None:
        """Validate the recipe at each end of a range (or each choice), with its conditions met."""
        when = param.entry.when or {}
        conditions = {k: (w[0] if isinstance(w, list) and w else w) for k, w in when.items()}
        for value in param.endpoints():
            try:
                Config.model_validate(self.apply({**conditions, param.key: value}))
            except ValidationError as exc:
                self._blame(param.key, value, exc)
            except ConfigError as exc:  # Config.__init__ wraps pydantic's error; sort its parts
                self._blame(param.key, value, exc.validation_error)

    def _blame(self, key: str, value: Any, exc: ValidationError) -> None:
        """Fail when an error is about the tuned key itself; cross-key errors wait for trials."""
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"] if is_config_key(part))
            if error["type"] == "union_tag_invalid":  # the tag itself: train.optimizer.name
                tag = error["ctx"]["discriminator"].strip("'")
                where = f"{where}.{tag}"
            if where != key and not where.startswith(f"{key}."):
                continue
            if error["type"] == "extra_forbidden":
                raise ConfigError(f"{self.source}: tune.space.{key}: not a key of the recipe as "
                                  "configured; if it belongs to another variant (optimizer name, "
                                  "model kind), make it conditional with `when`")  # fmt: skip
            message = error["msg"].removeprefix("Value error, ")
            raise ConfigError(f"{self.source}: tune.space.{key}: {value!r} is not a valid value "
                              f"({message})")  # fmt: skip


def _matches(value: Any, wanted: Any) -> bool:
    return value in wanted if isinstance(wanted, list) else value == wanted
