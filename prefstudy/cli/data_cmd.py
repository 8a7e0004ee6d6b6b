"""`prefstudy data add|fetch|list`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from prefstudy.bounds import CHANNELS, COUNT, IMAGE_SIZE
from prefstudy.cli.options import JsonOption, SeedOption, StudyOption, bounded, workspace
from prefstudy.cli.output import note, print_json, stdout_console, warn
from prefstudy.datasets.kinds import DATASET_KINDS
from prefstudy.errors import PrefstudyError
from prefstudy.studyfile import DatasetSpec

app = typer.Typer(
    rich_markup_mode=None, help="Add, fetch and list datasets, and list their kinds.", no_args_is_help=True
)
KINDS = ", ".join(DATASET_KINDS.builtin_names())


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The dataset's name in this study, e.g. fm, faces, rooms.")],
    kind: Annotated[
        str | None,
        typer.Option(
            help=f"One of: {KINDS}, or a plugin's (`prefstudy data kinds`). Default: as declared in study.toml."
        ),
    ] = None,
    path: Annotated[str | None, typer.Option(help="Where the files are (folder, or .tgz for lfw).")] = None,
    limit: Annotated[int | None, bounded(COUNT, "--limit", help="Keep a seeded random subset of N images.")] = None,
    seed: SeedOption = 0,
    size: Annotated[
        int | None, bounded(IMAGE_SIZE, "--size", help="Cache images at SIZE x SIZE (photos: default 64).")
    ] = None,
    channels: Annotated[
        int | None, bounded(CHANNELS, "--channels", help="1 = grayscale, 3 = RGB (photos: default 3).")
    ] = None,
    study: StudyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Decode a dataset's images once into the study's cache and record its items."""
    from prefstudy.datasets.catalog import add_dataset
    from prefstudy.progress import RichReporter

    ws = workspace(study)
    if kind is None:
        declared = ws.spec().datasets.get(name)
        if declared is None:
            raise PrefstudyError(f"dataset {name!r} is not declared in study.toml; give --kind ({KINDS}, ...)")
        spec = declared
    else:
        spec = DatasetSpec(name=name, kind=kind, path=path, limit=limit, seed=seed, size=size, channels=channels)
        declared = ws.spec().datasets.get(name)
        if declared is not None and declared != spec:
            raise PrefstudyError(
                f"dataset {name!r} is declared differently in study.toml; drop --kind to add it as declared, "
                "or edit study.toml"
            )
    with RichReporter() as reporter:
        result = add_dataset(ws, spec, reporter)
    ws.declare_dataset(spec)
    if result.skipped:
        listed = "; ".join(f"{key} ({why})" for key, why in result.skipped[:10])
        more = f"; and {len(result.skipped) - 10} more" if len(result.skipped) > 10 else ""
        warn(f"{len(result.skipped)} file(s) left out: {listed}{more}")
    info = result.info
    if json_out:
        print_json(
            {
                "name": info.name,
                "kind": info.kind,
                "path": info.path,
                "n_items": info.n_items,
                "image_size": [info.height, info.width, info.channels],
                "classes": len(info.class_names),
                "skipped": [{"key": k, "reason": r} for k, r in result.skipped],
            }
        )
    else:
        note(
            f"added {info.name}: {info.n_items} images of {info.height}x{info.width}x{info.channels}, "
            f"{len(info.class_names)} classes"
        )


@app.command("fetch")
def fetch(
    what: Annotated[str, typer.Argument(help="The dataset to download: fashion-mnist.")],
    dest: Annotated[Path | None, typer.Option(help="Where to put the files (default ~/.cache/prefstudy).")] = None,
    url: Annotated[
        str | None, typer.Option(help="Base URL of a mirror of the official files (default: the official site).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Download even when a local copy is found.")] = False,
) -> None:
    """Download the official Fashion-MNIST files, sha256-checked; local copies are used first."""
    from prefstudy.datasets.readers.fetch import fetch_fashion_mnist
    from prefstudy.progress import RichReporter

    if what != "fashion-mnist":
        raise PrefstudyError(f"only fashion-mnist can be fetched; {what!r} must be obtained by hand (see README)")
    with RichReporter() as reporter:
        result = fetch_fashion_mnist(dest, url, force, reporter)
    if result.found_locally:
        note(f"Fashion-MNIST already available in {result.folder}; nothing downloaded")
    else:
        note(f"Fashion-MNIST in {result.folder} (downloaded {len(result.downloaded)} file(s), all sha256-checked)")


@app.command("list")
def list_(study: StudyOption = None, json_out: JsonOption = False) -> None:
    """List the study's datasets."""
    from prefstudy.datasets.catalog import list_datasets

    infos = list_datasets(workspace(study))
    if json_out:
        print_json(
            {
                "datasets": [
                    {
                        "name": i.name,
                        "kind": i.kind,
                        "path": i.path,
                        "n_items": i.n_items,
                        "image_size": [i.height, i.width, i.channels],
                        "classes": i.class_names,
                    }
                    for i in infos
                ]
            }
        )
        return
    table = Table(title="Datasets")
    for column in ("name", "kind", "images", "size", "classes", "path"):
        table.add_column(column)
    for i in infos:
        table.add_row(
            i.name,
            i.kind,
            str(i.n_items),
            f"{i.height}x{i.width}x{i.channels}",
            str(len(i.class_names)),
            i.path or "(embedded)",
        )
    stdout_console().print(table)


@app.command("kinds")
def kinds(json_out: JsonOption = False) -> None:
    """List the dataset kinds `data add --kind` takes: prefstudy's own and those plugins register."""
    listed = [
        {"name": e.name, "summary": e.summary or _summary_of(e.name), "distribution": e.distribution or "prefstudy"}
        for e in DATASET_KINDS.entries().values()
    ]
    if json_out:
        print_json({"kinds": listed})
        return
    table = Table(title="Dataset kinds")
    for column in ("kind", "what it reads", "from"):
        table.add_column(column)
    for kind in listed:
        table.add_row(kind["name"], kind["summary"], kind["distribution"])
    stdout_console().print(table)


def _summary_of(kind: str) -> str:
    """A plugin's kind, described by the first line of its reader's docstring (loading it shows whether it works)."""
    try:
        reader = DATASET_KINDS.get(kind)
    except PrefstudyError as error:
        return f"broken: {error}"
    return ((reader.__doc__ or "").strip().splitlines() or [""])[0]
