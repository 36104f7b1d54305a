"""Reading, overriding and writing configs, with errors that name the file and the dotted key."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tuneforge.config.messages import format_validation_error
from tuneforge.config.schema import Config
from tuneforge.errors import ConfigError


def load_config(
    path: str | Path | None = None, overrides: Iterable[str] = (), **sections: Any
) -> Config:
    """Load a YAML recipe (or the built-in default when ``path`` is None) and validate it.

    Args:
        path: a YAML file; ``None`` starts from the built-in default recipe.
        overrides: ``"dotted.key=value"`` strings; values are parsed as YAML (``0.01``, ``[64, 32]``).
        **sections: whole sections given in code, e.g. ``data={"source": "iris"}``.

    Example:
        >>> cfg = load_config(overrides=["train.epochs=3", "data.source=iris"])
        >>> cfg.train.epochs, cfg.data.source
        (3, 'iris')
    """
    raw = read_yaml(path) if path is not None else {}
    raw.update(sections)
    for item in overrides:
        key, value = parse_override(item)
        set_dotted(raw, key, value)
    return validate(raw, source=str(path) if path is not None else "config")


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (data, model, train, ...)")
    return raw


def validate(raw: Mapping[str, Any], source: str = "config") -> Config:
    """Validate a plain dict into a :class:`Config`; raise one :class:`ConfigError` line."""
    for key in raw:
        if not isinstance(key, str):  # e.g. a YAML `1:` line; Config(**raw) needs string keys
            raise ConfigError(f"{source}: {key!r}: unknown key; sections are name, data, model, train")
    try:
        return Config.model_validate(dict(raw))
    except ConfigError as exc:  # raised by Config.__init__ from pydantic's ValidationError
        raise ConfigError(f"{source}: {getattr(exc, 'detail', exc)}") from None
    except ValidationError as exc:
        raise ConfigError(f"{source}: {format_validation_error(exc)}") from None


def parse_override(item: str) -> tuple[str, Any]:
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. train.optimizer.lr=0.01")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        raise ConfigError(f"--set {key}: value {text!r} is not valid YAML") from None
    return key.strip(), value


def set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set ``raw["a"]["b"]["c"] = value`` for ``key == "a.b.c"``, creating mappings on the way."""
    parts = key.split(".")
    if parts[:2] == ["tune", "space"] and len(parts) > 2:
        # A search-space entry is named by a dotted key itself: tune.space.model.dropout is the
        # entry "model.dropout" of tune.space, not tune.space.model.dropout as nested mappings.
        parts = [*parts[:2], ".".join(parts[2:])]
    node = raw
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{'.'.join(parts[: i + 1])}: is a value, cannot set {key} inside it")
        node = child
    node[parts[-1]] = value


def to_dict(cfg: Config) -> dict[str, Any]:
    """The fully resolved recipe as plain YAML-able data (defaults filled in)."""
    return _tags_first(cfg.model_dump(mode="json"))


def _tags_first(node: Any) -> Any:
    """Put ``kind``/``name`` first in each mapping, so the written YAML reads ``name: cosine, ...``."""
    if not isinstance(node, dict):
        return node
    tags = [k for k in ("kind", "name") if k in node and isinstance(node[k], str)]
    return {k: _tags_first(node[k]) for k in [*tags, *(k for k in node if k not in tags)]}


def dump_config(cfg: Config, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
