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
    help="Backbones and feature extractors registered through the prefstudy.backbones and prefstudy.extractors "
    "entry points.",
    no_args_is_help=True,
)


@app.command("list")
def list_(json_out: JsonOption = False) -> None:
    """List every registered backbone (its distribution, input, cam layer and status) and feature extractor (its
    dimension, image size, weights' licence and whether Grad-CAM can explain it).

    Each is built for 64x64 RGB images and checked against the plugin contract; a plugin that
    fails to import or breaks the contract is listed as broken, with its error.
    """
    from prefstudy.backbones import describe_backbones  # builds models: torch
    from prefstudy.extractors.registry import describe_extractors

    infos, extractors = describe_backbones(), describe_extractors()
    if json_out:
        print_json({"backbones": [asdict(i) for i in infos], "extractors": [asdict(e) for e in extractors]})
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
    _extractor_table(extractors)


def _extractor_table(extractors) -> None:
    table = Table(title="Feature extractors (for --head: images to vectors, computed once per dataset)")
    for column in (
        "name",
        "distribution",
        "version",
        "dim",
        "image size",
        "differentiable",
        "weights licence",
        "status",
    ):
        table.add_column(column)
    for e in extractors:
        status = "ok" if e.status == "ok" else labelled("broken", "red", e.error)
        explained = "—" if e.differentiable is None else "yes (Grad-CAM)" if e.differentiable else "no"
        table.add_row(
            e.name,
            e.distribution or "?",
            e.version or "?",
            str(e.dim or "—"),
            f"{e.image_size} px" if e.image_size else "—",
            explained,
            e.licence or "—",
            status,
        )
    stdout_console().print(table)
