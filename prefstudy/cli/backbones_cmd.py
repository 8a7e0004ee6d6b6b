"""`prefstudy backbones list`."""

from __future__ import annotations

from dataclasses import asdict

import typer
from rich.table import Table

from prefstudy.cli.options import JsonOption
from prefstudy.cli.output import print_json, stdout_console
from prefstudy.console import labelled

app = typer.Typer(
    rich_markup_mode=None,
    help="Backbones registered through the prefstudy.backbones entry points.",
    no_args_is_help=True,
)


@app.command("list")
def list_(json_out: JsonOption = False) -> None:
    """List every registered backbone: its distribution, input, cam layer and status.

    Each is built for 64x64 RGB images and checked against the plugin contract; a plugin that
    fails to import or breaks the contract is listed as broken, with its error.
    """
    from prefstudy.backbones import describe_backbones  # builds models: torch

    infos = describe_backbones()
    if json_out:
        print_json({"backbones": [asdict(i) for i in infos]})
        return
    table = Table(title="Backbones (built for 64x64 RGB images)")
    for column in ("name", "example", "distribution", "version", "input", "cam layer", "parameters", "status"):
        table.add_column(column)
    for i in infos:
        status = "ok" if i.status == "ok" else labelled("broken", "red", i.error)
        table.add_row(
            i.name,
            i.example,
            i.distribution or "?",
            i.version or "?",
            "x".join(map(str, i.input_size)) if i.input_size else "—",
            i.cam_layer or "—",
            f"{i.parameters:,}" if i.parameters else "—",
            status,
        )
    stdout_console().print(table)
