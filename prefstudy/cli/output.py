"""How commands talk: results on stdout, progress, notes and warnings on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from prefstudy.console import stderr_console


def print_json(obj: Any) -> None:
    """Print one JSON object on stdout, nothing else."""
    typer.echo(json.dumps(obj, indent=2, default=str))


def note(message: str) -> None:
    stderr_console.print(escape(message), highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    stderr_console.print(f"[yellow]warning:[/yellow] {escape(message)}", highlight=False, soft_wrap=True)


def stdout_console() -> Console:
    """A console on the current stdout; wide when stdout is not a terminal, so tables do not wrap."""
    return Console(file=sys.stdout, width=None if sys.stdout.isatty() else 200)
