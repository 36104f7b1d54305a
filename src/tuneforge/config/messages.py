"""One-line messages for pydantic's validation errors: the dotted key, then what was expected.

Its own module because both the schema (``Config(...)`` in code) and the loader (YAML files)
format errors, and the loader imports the schema.
"""

from __future__ import annotations

from pydantic import ValidationError

# Tags pydantic puts into error locations for discriminated unions; they are not config keys.
_UNION_TAGS = {
    "linear", "logistic", "mlp",
    "sgd", "adam", "adamw", "rmsprop", "adagrad",
    "constant", "inverse_time", "exponential", "exponential_growth", "step", "cosine", "plateau",
    "onecycle",
}  # fmt: skip
_UNION_TAGS |= {"cnn", "rnn", "transformer", "pretrained", "custom"}


def format_validation_error(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    loc = first["loc"]
    if first["type"] == "extra_forbidden":  # the last part is the user's own (unknown) key
        key = ".".join([*(str(part) for part in loc[:-1] if is_config_key(part)), str(loc[-1])])
    else:
        key = ".".join(str(part) for part in loc if is_config_key(part))
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "union_tag_invalid":
        field = first["ctx"]["discriminator"].strip("'")
        key = f"{key}.{field}"
        message = f"unknown {first['ctx']['tag']!r}; expected one of {first['ctx']['expected_tags']}"
    elif "input" in first and not isinstance(first["input"], dict):
        message = f"{message} (got {first['input']!r})"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    # Cross-key checks raise from the root and already start with the key they blame.
    return f"{key}: {message}{more}" if key else f"{message}{more}"


def is_config_key(part: str | int) -> bool:
    """Drop the tags pydantic adds for union members (``mlp``, ``constrained-int``, ...)."""
    if isinstance(part, int):
        return True
    return part not in _UNION_TAGS and "[" not in part and "-" not in part and part != "int"
