"""The ``minewatch`` command: a typer app assembling one sub-module per command.

Each command module defines its commands on :data:`app` (or a sub-typer added
here). Three kinds of failure, three exit codes (docs/batch-contract.md):

* a usage mistake (missing or unknown option, misspelled command, a value of the
  wrong type, a bad choice): click's usage message, exit 2 - handled by typer's
  own standalone mode, whatever click typer bundles;
* a :class:`minewatch.errors.MinewatchError` (bad input or data): one
  ``error: ...`` line, exit 2 - handled by :class:`MinewatchGroup`, so
  :func:`main`, the console script and typer's ``CliRunner`` behave alike;
* anything else is a bug: a traceback, exit 1.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from minewatch import __version__
from minewatch.cli.output import err_console, print_error
from minewatch.errors import MinewatchError

#: Exit code of a user or data error (MinewatchError, usage mistake), and of an interrupt.
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class MinewatchGroup(TyperGroup):
    """The root command group: turns a :class:`MinewatchError` raised by any command
    into one ``error:`` line and exit code 2, and Ctrl-C into exit code 130."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except MinewatchError as exc:
            print_error(exc)
            raise typer.Exit(EXIT_USER_ERROR) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None


app = typer.Typer(
    name="minewatch",
    cls=MinewatchGroup,
    help=(
        "Watch mining sites and what they do to land and water: map new mining "
        "disturbance from Sentinel-2/Landsat time series, check it against licences, "
        "trace it downstream to water sources and villages, and report evidence."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"minewatch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", callback=_version_callback,
        is_eager=True,
    ),
) -> None:
    """minewatch: mining-site monitoring from orbit and from the field."""


# One module per command or command group, under minewatch/cli/.
COMMAND_MODULES: tuple[str, ...] = ("demo", "analyze", "ingest", "samples", "river", "registry", "fetch", "verify",
                                   "keys", "hydrology", "notify", "serve", "users", "monitor", "analyze_all")


def register_commands() -> None:
    """Import every command module (each adds its commands to :data:`app`)."""
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"minewatch.cli.{name}")


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the command line ``argv`` and return its exit code."""
    register_commands()
    try:
        app(args=argv, prog_name="minewatch")  # standalone mode: always ends in SystemExit
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print_error(code)
        return 1
    return 0
