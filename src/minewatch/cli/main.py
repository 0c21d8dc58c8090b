"""The ``minewatch`` command: a typer app assembling one sub-module per command.

Each command module defines its commands on :data:`app` (or a sub-typer added
here). User mistakes raise :class:`minewatch.errors.MinewatchError`; :func:`main`
turns them into a one-line message and exit code 2, never a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from minewatch import __version__
from minewatch.errors import MinewatchError

app = typer.Typer(
    name="minewatch",
    help=(
        "Watch mining sites and what they do to land and water: map new mining "
        "disturbance from Sentinel-2/Landsat time series, check it against licences, "
        "trace it downstream to water sources and villages, and report evidence."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

err_console = Console(stderr=True)


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
                                   "keys", "hydrology")


def _register_commands() -> None:
    # Imported for their side effect of adding commands to ``app``.
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"minewatch.cli.{name}")


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    _register_commands()
    try:
        app(args=argv, standalone_mode=False)
    except MinewatchError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err_console.print("aborted")
        return 130
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
