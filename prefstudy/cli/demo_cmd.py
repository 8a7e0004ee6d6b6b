"""`prefstudy demo`: the embedded-default study, end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prefstudy.bounds import COUNT
from prefstudy.cli.options import DeviceOption, PrecisionOption, bounded
from prefstudy.cli.output import note, stdout_console, warn


def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where to create (or reuse) the demo study.")] = Path(
        "prefstudy-demo"
    ),
    device: DeviceOption = "auto",
    epochs: Annotated[
        int | None, bounded(COUNT, "--epochs", help="Override the demo runs' epochs (default: as in demo.toml).")
    ] = None,
    precision: PrecisionOption = "auto",
) -> None:
    """Run the demo study: real Fashion-MNIST, three simulated subjects, a model2 run each, the report.

    Re-running it reuses the study and skips finished runs.
    """
    from prefstudy.demo import run_demo
    from prefstudy.progress import RichReporter
    from prefstudy.report import render_table

    with RichReporter() as reporter:
        ws, setup, report = run_demo(directory, reporter, device, epochs, precision)
    for problem in setup.problems:
        warn(problem)
    render_table(report, stdout_console())
    note(f"demo study in {ws.root}; try `prefstudy report --study {directory} --format markdown`")
