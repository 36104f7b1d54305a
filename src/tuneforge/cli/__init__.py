"""The ``tuneforge`` command. Thin: parse arguments, call the API, map errors to exit codes.

Exit codes: 0 success; 2 bad input (config, data, arguments) with one line on stderr naming the
file, key or column; 1 anything else. Each verb lives in the module of its kind (training,
runs, studies, reports, scaffold, storage); this one registers them and runs the app.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from typer.exceptions import TyperException

from tuneforge.cli.common import console, fail
from tuneforge.cli.reports import dashboard, lr_find, report
from tuneforge.cli.runs import evaluate, predict, refine
from tuneforge.cli.scaffold import init, schema
from tuneforge.cli.storage import storage_app
from tuneforge.cli.studies import study_app, tune
from tuneforge.cli.training import cv, train
from tuneforge.errors import TuneforgeError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Train PyTorch models from a recipe and tune their hyperparameters.")  # fmt: skip


def _show_version(value: bool) -> None:
    if value:
        from tuneforge import __version__

        typer.echo(f"tuneforge {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                          help="Print the version and exit.")] = False,  # fmt: skip
) -> None:
    """Train PyTorch models from a recipe and tune their hyperparameters."""


# In the order `tuneforge --help` lists them.
for verb in (train, cv, evaluate, refine, predict, init, schema, lr_find, report, dashboard, tune):
    app.command(verb.__name__.replace("_", "-"))(verb)
app.add_typer(study_app, name="study")
app.add_typer(storage_app, name="storage")


def main() -> None:
    """Console entry point: run the app, turning bad input into one line and exit code 2."""
    try:
        app(standalone_mode=False)
    except TuneforgeError as exc:
        fail(str(exc), 2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except TyperException as exc:  # usage errors: unknown option, missing argument (exit code 2)
        if type(exc).__name__ == "NoArgsIsHelpError":  # the help text was shown; no error line
            sys.exit(exc.exit_code)
        fail(exc.format_message(), exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        console.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # anything else is our bug or the machine's: exit 1
        if os.environ.get("TUNEFORGE_DEBUG"):
            raise
        fail(f"{type(exc).__name__}: {exc} (TUNEFORGE_DEBUG=1 shows the traceback)", 1)


if __name__ == "__main__":
    main()
