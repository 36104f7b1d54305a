"""Dotted config keys read off the pydantic schema: does a key exist, is it an int, which
sections change shape with a tag (``model.kind``, ``train.optimizer.name``, ...).

Read from the schema rather than listed by hand, so a model kind or optimizer added to
``config/schema.py`` is tunable with no change here.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from tuneforge.config.schema import Config


@dataclass(frozen=True)
class KeyInfo:
    """What the schema says about one dotted key."""

    exists: bool
    kind: str = "other"  # "int", "float", "other" (choices only) or "free" (as the range says)
    owners: tuple[str, ...] = ()  # keys of the nearest section, for "did you mean" messages


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation may hold (through Optional, Union and Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) in (typing.Union, types.UnionType, typing.Annotated):
        return [m for arg in get_args(annotation) for m in _models_in(arg)]
    return []


def _free_form(annotation: Any) -> bool:
    """A ``dict[str, Any]`` field: any key below it is the user's."""
    return get_origin(annotation) is dict


def _scalar_kinds(annotation: Any) -> set[type]:
    """``int``/``float`` found in a leaf annotation (``PositiveInt | Literal['full']`` -> {int})."""
    if annotation in (int, float):
        return {annotation}
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _scalar_kinds(get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_scalar_kinds(arg) for arg in get_args(annotation)))
    return set()


def key_info(key: str) -> KeyInfo:
    """Look ``key`` up in :class:`Config`, across every variant of a tagged section."""
    sections: list[type[BaseModel]] = [Config]
    parts = key.split(".")
    for i, part in enumerate(parts):
        fields = [cls.model_fields[part] for cls in sections if part in cls.model_fields]
        if not fields:
            owners = sorted({name for cls in sections for name in cls.model_fields})
            return KeyInfo(False, owners=tuple(owners))
        last = i == len(parts) - 1
        if not last and any(_free_form(f.annotation) for f in fields):
            # model.args.<name>: a free-form mapping (the user's factory arguments); the value's
            # type comes from the space entry itself (integer low/high -> an int).
            return KeyInfo(True, "free")
        if last:
            kinds = set().union(*(_scalar_kinds(f.annotation) for f in fields))
            kind = "float" if float in kinds else "int" if int in kinds else "other"
            return KeyInfo(True, kind)
        sections = [m for f in fields for m in _models_in(f.annotation)]
        if not sections:  # a value, not a section: `train.epochs.x`
            return KeyInfo(False, owners=())
    return KeyInfo(False)


@cache
def tagged_sections() -> dict[str, tuple[str, dict[str, type[BaseModel]]]]:
    """``{"train.optimizer": ("name", {"sgd": SGDConfig, "adam": AdamConfig, ...}), ...}``."""
    found: dict[str, tuple[str, dict[str, type[BaseModel]]]] = {}

    def walk(cls: type[BaseModel], prefix: str) -> None:
        for name, field in cls.model_fields.items():
            path = f"{prefix}{name}"
            members = _models_in(field.annotation)
            if isinstance(field.discriminator, str):
                tag = field.discriminator
                variants = {value: member for member in members
                            for value in get_args(member.model_fields[tag].annotation)}  # fmt: skip
                found[path] = (tag, variants)
            for member in members:
                walk(member, f"{path}.")

    walk(Config, "")
    return found


def get_dotted(data: dict, key: str, default: Any = None) -> Any:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node
