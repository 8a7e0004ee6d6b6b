"""The ``prefstudy`` command: one Typer sub-app per command group, combined here.

Errors a user can fix (:class:`~prefstudy.errors.PrefstudyError`) print one line and exit 1;
``PREFSTUDY_DEBUG=1`` shows the traceback instead. Command modules import what they compute
with only when they run, so this tree imports neither numpy, DuckDB nor torch.
"""

from __future__ import annotations

import os
from typing import Any

import typer
from typer.core import TyperGroup

from prefstudy.cli import (
    backbones_cmd,
    curve_cmd,
    data_cmd,
    demo_cmd,
    explain_cmd,
    label_cmd,
    recommend_cmd,
    report_cmd,
    run_cmd,
    runs_cmd,
    study_cmd,
    subject_cmd,
)
from prefstudy.console import labelled, stderr_console
from prefstudy.env import DEBUG_ENV
from prefstudy.errors import PrefstudyError

# The order a study goes in, which `prefstudy --help` and docs/cli.md follow.
ORDER = (
    "study",
    "data",
    "subject",
    "label",
    "run",
    "runs",
    "explain",
    "curve",
    "report",
    "recommend",
    "backbones",
    "demo",
)


class PrefstudyGroup(TyperGroup):
    """The root group: lists commands in ORDER; turns known errors into one line on stderr and exit status 1."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = {name: self.commands[name] for name in sorted(self.commands, key=ORDER.index)}

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PrefstudyError as error:
            if os.environ.get(DEBUG_ENV) == "1":
                raise
            one_line = " ".join(str(error).splitlines())  # a message from a library may span lines
            stderr_console.print(labelled("error", "red", one_line), soft_wrap=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    rich_markup_mode=None,
    cls=PrefstudyGroup,
    name="prefstudy",
    help="Personal visual preference studies with many subjects: label, learn, transfer, explain, report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(study_cmd.app, name="study")
app.add_typer(data_cmd.app, name="data")
app.add_typer(subject_cmd.app, name="subject")
app.add_typer(label_cmd.app, name="label")
app.add_typer(backbones_cmd.app, name="backbones")
app.add_typer(runs_cmd.app, name="runs")
app.command("run")(run_cmd.run)
app.command("explain")(explain_cmd.explain)
app.command("curve")(curve_cmd.curve)
app.command("report")(report_cmd.report)
app.command("recommend")(recommend_cmd.recommend)
app.command("demo")(demo_cmd.demo)


def main() -> None:
    """Console-script entry point."""
    app()
