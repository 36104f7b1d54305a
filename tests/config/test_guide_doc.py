"""docs/guide.md names only what exists: every dotted key is a schema key, every ``--set`` example
validates, every ``tuneforge`` command and option is the CLI's.

The guide maps each concept to "the key or verb that does it"; a renamed key or option must
fail here rather than leave the page pointing at nothing.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from tuneforge.cli import app
from tuneforge.config import load_config
from tuneforge.config.reference import _sections
from tuneforge.config.schema import Config

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guide.md"
#: verbs the guide may name before they reach this branch (issue 16 item 6 builds `refine`)
PENDING_VERBS = {"refine"}


def _code_spans() -> list[str]:
    text = GUIDE.read_text()
    return [span.replace("\\|", "|") for span in re.findall(r"`([^`\n]+)`", text)]


def schema_keys() -> set[str]:
    """Every dotted key of a recipe (every variant of the tagged sections)."""
    keys = set()
    for title, model in _sections(Config, ""):
        path = "" if title == "top level" else title.split("`")[1]
        keys |= {f"{path}.{name}" if path else name for name in model.model_fields}
    return keys


def dotted_keys() -> set[str]:
    """Dotted keys the page names in code spans: ``train.loss``, ``train.loss: mse``, ``--set k=v``."""
    found = set()
    for span in _code_spans():
        for match in re.finditer(
            r"(?<![\w./-])((?:data|model|train|tune|logging)(?:\.[a-z_0-9]+)+)", span
        ):
            found.add(match.group(1))
    return found


def commands() -> list[list[str]]:
    return [shlex.split(span) for span in _code_spans() if span.startswith("tuneforge ")]


def test_the_page_names_keys_and_commands():
    assert len(dotted_keys()) > 70 and len(commands()) > 40


def test_every_dotted_key_is_a_schema_key():
    known = schema_keys()
    unknown = sorted(
        key for key in dotted_keys() if key not in known and not key.startswith("tune.space.")
    )
    assert not unknown, f"docs/guide.md names keys the schema does not have: {unknown}"


@pytest.mark.parametrize("argv", commands(), ids=lambda a: " ".join(a[1:4]))
def test_every_command_has_its_verb_options_and_valid_overrides(argv):
    root = typer.main.get_command(app)
    verb = argv[1]
    if verb not in root.commands:
        assert verb in PENDING_VERBS, f"docs/guide.md: `tuneforge {verb}` is not a command"
        return
    command = root.commands[verb]
    options = {opt for param in command.params for opt in param.opts if opt.startswith("-")}
    named = {arg for arg in argv[2:] if arg.startswith("--")}
    assert named <= options, f"`{' '.join(argv)}`: {sorted(named - options)} not options of {verb}"
    overrides = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--set"]
    if overrides:
        load_config(overrides=overrides)  # a ConfigError names the bad key or value
