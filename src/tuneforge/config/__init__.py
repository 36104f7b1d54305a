"""The recipe: schema, loading, ``--set`` overrides and the starter config."""

from __future__ import annotations

from tuneforge.config.loading import (
    dump_config,
    load_config,
    parse_override,
    read_yaml,
    set_dotted,
    to_dict,
    validate,
)
from tuneforge.config.schema import Config

__all__ = [
    "Config",
    "dump_config",
    "load_config",
    "parse_override",
    "read_yaml",
    "set_dotted",
    "to_dict",
    "validate",
]
