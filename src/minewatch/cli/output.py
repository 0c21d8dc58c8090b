"""How the CLI prints user-facing errors and warnings: literally, never as rich markup.

Messages carry paths, hints and values typed by users (``minewatch[gpu]``,
``lab [2024].csv``); passed through rich markup, anything in square brackets would
vanish. Every error and warning line of the CLI goes through :func:`print_error` or
:func:`print_warning`, which print the text as a :class:`rich.text.Text` (styled
label, literal message).
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

def console(*, stderr: bool = False, **kw) -> Console:
    """A console that prints text literally: no rich markup, no highlighting (styles via ``style=``
    or :class:`rich.text.Text`). Every command prints through one of these."""
    return Console(stderr=stderr, markup=False, highlight=False, **kw)


#: The console of errors and warnings (stderr), shared by every command.
err_console = console(stderr=True, soft_wrap=True)


def _line(label: str, style: str, message: str) -> Text:
    return Text.assemble((label, style), " ", str(message))


def print_error(message: object, console: Console | None = None) -> None:
    """Print ``error: <message>`` with the message taken literally (one line, no wrapping)."""
    (console or err_console).print(_line("error:", "bold red", str(message)), soft_wrap=True)


def print_warning(message: object, console: Console | None = None) -> None:
    """Print ``warning: <message>`` with the message taken literally."""
    (console or err_console).print(_line("warning:", "yellow", str(message)), soft_wrap=True)
