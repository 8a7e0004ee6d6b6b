"""How commands talk: results on stdout, progress, notes and warnings on stderr."""

from __future__ import annotations

import json
from typing import Any

import typer

from prefstudy.console import labelled, stderr_console, stdout_console

__all__ = ["note", "print_json", "stdout_console", "warn"]


def print_json(obj: Any) -> None:
    """Print one JSON object on stdout, nothing else."""
    typer.echo(json.dumps(obj, indent=2, default=str))


def note(message: str) -> None:
    """A status line on stderr, printed as it is."""
    stderr_console.print(message, soft_wrap=True)


def warn(message: str) -> None:
    """A warning on stderr, printed as it is after a yellow `warning:`."""
    stderr_console.print(labelled("warning", "yellow", message), soft_wrap=True)
