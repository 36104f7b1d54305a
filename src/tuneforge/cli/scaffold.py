"""Starting a recipe: ``tuneforge init`` (a commented starter) and ``tuneforge schema``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tuneforge.cli.common import console
from tuneforge.errors import TuneforgeError

SCHEMA_FILE = "tuneforge.schema.json"


def init(
    example: Annotated[str, typer.Option(help="Starter to write (see --list).")] = "mlp",
    out: Annotated[Path, typer.Option(help="Where to write it.")] = Path("tuneforge.yaml"),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
    list_: Annotated[bool, typer.Option("--list", help="List the starters.")] = False,
) -> None:
    """Write a commented starter config."""
    from tuneforge.config.starters import STARTERS, companion_files, starter_text

    if list_:
        for name, description in STARTERS.items():
            typer.echo(f"{name:12} {description}")
        return
    text, companions = starter_text(example), companion_files(example)  # an unknown starter is named first
    for path in [out, *(out.parent / file for file in companions)]:
        if path.exists() and not force:
            raise TuneforgeError(f"{path}: already exists; pass --force to overwrite it")
    # Editors with the YAML language server check and complete keys against the schema,
    # written beside the recipe (it is derived: rewriting it is always safe).
    schema = out.parent / SCHEMA_FILE
    write_schema(schema)
    out.write_text(f"# yaml-language-server: $schema={SCHEMA_FILE}\n{text}")
    for file, code in companions.items():
        (out.parent / file).write_text(code)
        console.print(f"wrote {out.parent / file}")
    console.print(f"wrote {out} (and {schema} for editors); run it with: tuneforge train {out}")


def write_schema(path: Path | None) -> None:
    import json

    from tuneforge.config.reference import json_schema

    text = json.dumps(json_schema(), indent=1) + "\n"
    if path is None:
        sys.stdout.write(text)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def schema(
    out: Annotated[Path | None, typer.Option(help="Where to write it (default: stdout).")] = None,
) -> None:
    """Write the JSON Schema of a recipe (for editors: completion and checks of every key)."""
    write_schema(out)
    if out is not None:
        console.print(f"wrote {out}")
