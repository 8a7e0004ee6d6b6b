"""`prefstudy explain RUN_ID`: heat maps (Grad-CAM, or occlusion for a head run's extractor) and their agreement
with the subject."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prefstudy.bounds import COUNT, COUNT_OR_NONE, OPEN_FRACTION
from prefstudy.cli.options import DeviceOption, JsonOption, StudyOption, bounded, workspace
from prefstudy.cli.output import note, print_json
from prefstudy.explain.chance import DEFAULT_TOP


def _rate(value: float | None, chance: float) -> str:
    return "—" if value is None else f"{100 * value:.1f} % (chance {100 * chance:.1f} %)"


def explain(
    run_id: Annotated[str, typer.Argument(help="A finished run, e.g. alice-faces-model2-3fa9c1.")],
    n: Annotated[
        int, bounded(COUNT_OR_NONE, "--n", help="Pictures for N items per group (class x correct/wrong).")
    ] = 8,
    items: Annotated[
        list[str] | None, typer.Option("--items", help="Also draw these item keys (repeat, or comma-separated).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write pictures here (default runs/<id>/explain/<layer>/).")] = None,
    layer: Annotated[
        str | None, typer.Option(help="Grad-CAM: take maps at this module instead of the cam layer.")
    ] = None,
    top: Annotated[
        float, bounded(OPEN_FRACTION, "--top", help="Share of the map's top pixels scored by IoU.")
    ] = DEFAULT_TOP,
    window: Annotated[
        int | None,
        bounded(COUNT, "--window", help="Occlusion: the grey square's side, pixels (default: a quarter of the side)."),
    ] = None,
    stride: Annotated[
        int | None, bounded(COUNT, "--stride", help="Occlusion: its step in pixels (default: half the window).")
    ] = None,
    device: DeviceOption = "auto",
    study: StudyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Explain a run's test predictions and score the maps against the subject's regions.

    A network run, and a head run on a torch backbone's features, are explained with Grad-CAM; a head run on
    any other extractor (e.g. face) with occlusion: of its aligned crop where it offers one (the detection held
    as found), else of the whole image."""
    from prefstudy.explain.service import explain_run  # Grad-CAM and occlusion: torch and Captum
    from prefstudy.progress import RichReporter

    keys = [k.strip() for value in items or [] for k in value.split(",") if k.strip()]
    with RichReporter() as reporter:
        result = explain_run(
            workspace(study),
            run_id,
            n=n,
            items=keys,
            out=out,
            layer=layer,
            top=top,
            window=window,
            stride=stride,
            device=device,
            report=reporter,
        )
    if json_out:
        print_json(result.to_dict())
        return
    note(f"{result.items_explained} items explained ({result.note}); {len(result.files)} files written")
    for answer, s in (("preferred", result.preferred), ("not_preferred", result.not_preferred)):
        if s.n:
            chance = s.chance
            typer.echo(
                f"{answer} (correct, n = {s.n}): pointing game {_rate(s.pointing_game, chance['pointing_game'])}, "
                f"energy {_rate(s.energy, chance['energy'])}, IoU {_rate(s.iou, chance['iou'])}"
            )
        else:
            typer.echo(f"{answer}: no correctly classified test item carries a region")
