"""The key reference is generated from the schema, and the docs quote the schema's defaults.

When ``test_committed_reference_is_what_the_schema_generates`` fails, a key was added or
changed: run ``python -m tuneforge.config.reference`` (or ``make docs``) and commit the result.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from tuneforge.config.arch_schema import CNNModel, RNNModel, TransformerModel
from tuneforge.config.reference import DOC, END, START, _sections, json_schema, render, updated
from tuneforge.config.schema import Config
from tuneforge.config.tune_schema import TuneConfig

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_committed_reference_is_what_the_schema_generates():
    text = DOC.read_text()
    assert updated(text) == text, "docs/recipes.md is stale: run `python -m tuneforge.config.reference`"


def test_every_key_has_a_description_and_a_row():
    reference = render()
    for title, model in _sections(Config, ""):
        assert f"#### {title}\n" in reference
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no Field(description=...)"
    rows = re.findall(r"^\| `(\w+)` \|", reference, flags=re.M)
    assert len(rows) == sum(len(m.model_fields) for _, m in _sections(Config, ""))


def test_a_new_key_shows_up_in_the_reference(monkeypatch):
    """The generator reads the schema, not a list: a key added to a section gets its row."""
    from pydantic import Field, create_model

    from tuneforge.config import schema

    extended = create_model("LoggingConfig", __base__=schema.LoggingConfig,
                            flush_every=(int, Field(3, ge=1, description="records between flushes")))  # fmt: skip
    monkeypatch.setattr(Config.model_fields["logging"], "annotation", extended)
    row = next(line for line in render().splitlines() if "`flush_every`" in line)
    assert row == "| `flush_every` | int | ≥ 1 | `3` | records between flushes |"


def test_reference_rows_state_type_range_and_default():
    rows = {line.split(" | ")[0]: line for line in render().splitlines() if line.startswith("| `")}
    assert rows["| `lr`"].startswith("| `lr` | float | > 0 |")
    reference = render()
    assert "| `dropout` | float | [0, 1) | `0.0` |" in reference
    assert "| `folds` | int | ≥ 2 | `5` |" in reference
    assert "| `cohort` | int \\| null | > 0 | `null` |" in reference


def test_updated_replaces_only_the_marked_part():
    doc = f"# Title\n\nprose\n\n{START}\nold table\n{END}\n\nmore prose\n"
    new = updated(doc)
    assert new.startswith("# Title\n\nprose\n\n" + START) and new.endswith(END + "\n\nmore prose\n")
    assert "old table" not in new
    with pytest.raises(ValueError, match="markers"):
        updated("no markers")


def test_schema_command_writes_pydantics_json_schema(cli, tmp_path):
    assert cli("schema", "--out", "recipe.schema.json").code == 0
    written = json.loads((tmp_path / "recipe.schema.json").read_text())
    assert written["properties"] == Config.model_json_schema()["properties"]
    assert written == json_schema()
    stdout = cli("schema")
    assert stdout.code == 0 and json.loads(stdout.out) == written


def test_init_points_editors_at_the_schema(cli, tmp_path):
    assert cli("init", "--example", "cnn", "--out", "cnn.yaml").code == 0
    first, *_ = (tmp_path / "cnn.yaml").read_text().splitlines()
    assert first == "# yaml-language-server: $schema=tuneforge.schema.json"
    assert json.loads((tmp_path / "tuneforge.schema.json").read_text()) == json_schema()
    assert cli("init", "--example", "cnn", "--out", "cnn.yaml", "--force").code == 0


# --- defaults quoted in the other pages --------------------------------------------------------

#: (page, heading of a `| key | default | meaning |` table) -> the section it describes
QUOTED_TABLES: dict[tuple[str, str], type[BaseModel]] = {
    ("tuning.md", "## The `tune` section"): TuneConfig,
    ("models.md", "## `cnn`"): CNNModel,
    ("models.md", "## `rnn`"): RNNModel,
    ("models.md", "## `transformer`"): TransformerModel,
}


def _default_tables() -> list[tuple[str, str, list[list[str]]]]:
    """Every ``| key | default | meaning |`` table of docs/ (recipes.md's are generated)."""
    found = []
    for page in sorted(DOCS.glob("*.md")):
        heading, rows, inside = "", [], False
        for line in [*page.read_text().splitlines(), ""]:
            if line.startswith("#"):
                heading = line
            if line.startswith("| key | default |"):
                inside, rows = True, []
            elif inside and line.startswith("|"):
                if not line.startswith("|---"):
                    rows.append([c.strip() for c in line.strip("|").split(" | ")])
            elif inside:
                found.append((page.name, heading, rows))
                inside = False
    return found


def test_every_default_table_in_the_docs_is_checked():
    assert {(page, heading) for page, heading, _ in _default_tables()} == set(QUOTED_TABLES)


@pytest.mark.parametrize(("page", "heading", "rows"), _default_tables(), ids=lambda v: str(v)[:30])
def test_defaults_quoted_in_the_docs_are_the_schemas(page, heading, rows):
    model = QUOTED_TABLES[(page, heading)]
    for key, default, _meaning in rows:
        name = key.strip("`")
        assert name in model.model_fields, f"{page}: {name} is not a key of {model.__name__}"
        literal = re.fullmatch(r"`([^`]*)`", default)
        if literal is None:
            continue  # prose ("16 for mlp, 1 for other kinds"): read by people
        expected = model.model_fields[name].default
        quoted = yaml.safe_load(literal.group(1))
        expected = list(expected) if isinstance(expected, tuple) else expected
        assert quoted == expected, f"{page}: {name} is quoted as {quoted!r}, the schema says {expected!r}"


def test_the_default_check_catches_a_wrong_default():
    """docs/tuning.md once said `tune.cohort` defaults to 1; the schema's default is None."""
    with pytest.raises(AssertionError, match="cohort"):
        test_defaults_quoted_in_the_docs_are_the_schemas(
            "tuning.md", "## The `tune` section", [["`cohort`", "`1`", "members at once"]])  # fmt: skip
