"""`prefstudy backbones list`."""

from __future__ import annotations

import typer

from prefstudy.backbones import list_backbones
from prefstudy.cli.options import JsonOption
from prefstudy.cli.output import print_json

app = typer.Typer(help="Backbones registered through the prefstudy.backbones entry points.", no_args_is_help=True)


@app.command("list")
def list_(json_out: JsonOption = False) -> None:
    """List the registered backbone families."""
    names = list_backbones()
    if json_out:
        print_json({"backbones": [{"name": n} for n in names]})
        return
    for name in names:
        typer.echo(name)
