"""`prefstudy explain RUN_ID`: Grad-CAM for a run's test items, pictures, and agreement with the subject.

Every test item gets the map of the class the model predicted. Items whose label carries the
subject's region (a simulated ``feature:NAME@REGION`` subject, or a person's marked reason) are
scored against it; the paper's Table 5 is the agreement on correctly classified preferred and
correctly classified not-preferred items, beside each rate its chance level. Pictures are drawn
for a seeded sample of N items per group (preferred / not preferred x correct / wrong) and for
items named with ``--items``; everything is written under ``runs/<id>/explain/<layer>/`` (or
``--out``) and indexed in DuckDB.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from prefstudy.backbones import module_name
from prefstudy.bounds import COUNT_OR_NONE, OPEN_FRACTION
from prefstudy.datasets.catalog import load_images
from prefstudy.engine.device import resolve_device
from prefstudy.engine.inputs import InputAdapter
from prefstudy.errors import PrefstudyError
from prefstudy.explain.chance import DEFAULT_TOP, chance_levels
from prefstudy.explain.gradcam import GradCam
from prefstudy.explain.pictures import contact_sheet, draw_region, heat_image, original_image, overlay_image, save
from prefstudy.explain.records import ExplanationFile, ExplanationRow, write_explanations
from prefstudy.explain.region_scores import Agreement, agreement, region_mask
from prefstudy.files import writable_dir
from prefstudy.progress import Reporter, SilentReporter
from prefstudy.runs.record import predictions
from prefstudy.runs.trained import read_saved_model
from prefstudy.subjects.labels import label_regions
from prefstudy.subjects.regions import region_share
from prefstudy.workspace import Workspace

GROUPS = (
    ("preferred", True, True),
    ("preferred", True, False),
    ("not_preferred", False, True),
    ("not_preferred", False, False),
)


@dataclass(frozen=True)
class Explained:
    item_idx: int
    split: str
    label: bool
    predicted: bool
    heat: np.ndarray  # (H, W) at the model's input size
    region: tuple[float, float, float, float] | None
    agreement: Agreement | None


def _layer(module: torch.nn.Module, name: str | None, default: torch.nn.Module) -> tuple[str, torch.nn.Module]:
    if name is None:
        return module_name(module, default), default
    try:
        return name, module.get_submodule(name)
    except AttributeError:
        convs = [n for n, m in module.named_modules() if isinstance(m, torch.nn.Conv2d)][-4:]
        raise PrefstudyError(f"the model has no layer {name!r}; e.g. {', '.join(convs)}") from None


def _summary(explained: list[Explained], answer: bool, top: float) -> dict[str, Any]:
    scored = [e for e in explained if e.label == answer and e.predicted == answer and e.agreement is not None]
    if not scored:
        return {"n": 0, "pointing_game": None, "energy": None, "iou": None, "chance": None, "empty_maps": 0}
    share = statistics.fmean(region_share(e.region) for e in scored)
    return {
        "n": len(scored),
        "pointing_game": statistics.fmean(e.agreement.pointing for e in scored),
        "energy": statistics.fmean(e.agreement.energy for e in scored),
        "iou": statistics.fmean(e.agreement.iou for e in scored),
        "chance": chance_levels(share, top),
        "empty_maps": sum(e.agreement.empty for e in scored),
    }


def _safe(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", key)[-60:]


def explain_run(
    ws: Workspace,
    run_id: str,
    *,
    n: int = 8,
    items: list[str] | None = None,
    out: Path | None = None,
    layer: str | None = None,
    top: float = DEFAULT_TOP,
    batch_size: int = 128,
    device: str = "auto",
    report: Reporter | None = None,
) -> dict[str, Any]:
    """Explain a finished run's test items (and ``items``); returns the `--json` object."""
    report = report or SilentReporter()
    OPEN_FRACTION.check("--top", top)
    COUNT_OR_NONE.check("--n", n)
    if out is not None:
        writable_dir(Path(out))  # before the maps are computed, not after
    saved = read_saved_model(ws, run_id)
    backbone, plan = saved.build()
    layer_name, layer_module = _layer(backbone.module, layer, backbone.cam_layer)
    images = load_images(ws, saved.dataset)
    key_to_idx = {k: i for i, k in enumerate(images.keys)}
    wanted = set()
    for key in items or []:
        if key not in key_to_idx:
            raise PrefstudyError(f"no item {key!r} in dataset {saved.dataset!r}")
        wanted.add(key_to_idx[key])
    predicted_items = predictions(ws, run_id)
    # A rated subject's ties have no answer to explain or to agree with: they are left out.
    chosen = [p for p in predicted_items if p.label is not None and (p.split == "test" or p.item_idx in wanted)]
    missing = wanted - {p.item_idx for p in predicted_items}
    if missing:
        raise PrefstudyError(f"item(s) {sorted(images.keys[i] for i in missing)[:3]} were not labelled in this run")
    regions = label_regions(ws, saved.subject, saved.dataset)

    where = resolve_device(device)
    adapter = InputAdapter(plan, backbone).to(where)
    backbone.module.to(where)
    cam = GradCam(backbone.module, layer_module)
    idx = torch.tensor([p.item_idx for p in chosen], dtype=torch.long)
    predicted = torch.tensor([p.p_preferred > 0.5 for p in chosen])
    pixels = torch.from_numpy(images.images).permute(0, 3, 1, 2)
    report.start(len(chosen), f"Grad-CAM at {layer_name}")
    heat = cam.attribute_batched(pixels[idx], predicted.long(), batch_size, transform=adapter, advance=report.advance)

    explained = []
    height, width = plan.model[1:]
    for p, pred, item_heat in zip(chosen, predicted.tolist(), heat, strict=True):
        region = regions.get(p.item_idx)
        score = agreement(item_heat, region_mask(region, height, width), top) if region else None
        explained.append(Explained(p.item_idx, p.split, p.label, pred, item_heat.numpy(), region, score))

    target = Path(out) if out else ws.run_dir(run_id) / "explain" / _safe(layer_name)
    files = _draw(explained, images, wanted, n, target, report)
    write_explanations(ws, run_id, layer_name, top, [_row(e) for e in explained], files)
    test = [e for e in explained if e.split == "test"]
    return {
        "run_id": run_id,
        "layer": layer_name,
        "items_explained": len(explained),
        "top": top,
        "files": [str(f.path) for f in files],
        "agreement": {"preferred": _summary(test, True, top), "not_preferred": _summary(test, False, top)},
    }


def _draw(
    explained: list[Explained], images, wanted: set[int], n: int, out: Path, report: Reporter
) -> list[ExplanationFile]:
    """Item pictures for N per group (seeded) and the wanted items; a contact sheet per group."""
    rng = np.random.default_rng(0)
    files: list[ExplanationFile] = []
    to_draw: dict[int, Explained] = {e.item_idx: e for e in explained if e.item_idx in wanted}
    sheets = []
    for name, answer, correct in GROUPS:
        group = [e for e in explained if e.split == "test" and e.label == answer and (e.predicted == answer) == correct]
        sample = [group[i] for i in sorted(rng.permutation(len(group))[:n])]
        to_draw.update({e.item_idx: e for e in sample})
        sheets.append((f"{name}-{'correct' if correct else 'wrong'}", sample))
    report.start(len(to_draw), "drawing heat maps")
    overlays = {}
    for e in to_draw.values():
        stem = f"{e.item_idx:06d}-{_safe(str(images.keys[e.item_idx]))}"
        original = original_image(images.images[e.item_idx])
        heat = heat_image(e.heat, original.size)
        overlays[e.item_idx] = draw_region(overlay_image(original, heat), e.region)
        for kind, picture in (("original", original), ("heatmap", heat), ("overlay", overlays[e.item_idx])):
            files.append(ExplanationFile(e.item_idx, kind, save(picture, out / "items" / f"{stem}-{kind}.png")))
        report.advance()
    for title, sample in sheets:
        if sample:
            sheet = contact_sheet([overlays[e.item_idx] for e in sample], f"{title} ({len(sample)} shown)")
            files.append(ExplanationFile(None, "sheet", save(sheet, out / f"sheet-{title}.png")))
    return files


def _row(e: Explained) -> ExplanationRow:
    score = e.agreement
    return ExplanationRow(
        item_idx=e.item_idx,
        split=e.split,
        label=e.label,
        predicted=e.predicted,
        region=e.region,
        pointing=None if score is None else score.pointing,
        energy=None if score is None else score.energy,
        iou=None if score is None else score.iou,
        empty_map=score is not None and score.empty,
    )
