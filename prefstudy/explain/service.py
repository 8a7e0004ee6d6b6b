"""`prefstudy explain RUN_ID`: maps of a run's test items, pictures, and agreement with the subject.

A network run's maps are Grad-CAM's (:mod:`.gradcam`); a head run's are made through its
extractor and head (:mod:`.head_maps`): Grad-CAM through a pooled torch backbone, occlusion
(:mod:`.occlusion`) of a localising extractor's crop (a face chip) or of the whole image
otherwise. Every test item gets the map of the class the model predicted. Items whose label
carries the subject's region (a simulated ``feature:NAME@REGION`` subject, or a person's marked
reason) are scored against it, whichever the method; the paper's Table 5 is the agreement on
correctly classified preferred and correctly classified not-preferred items, beside each rate its
chance level. Pictures are drawn for a seeded sample of N items per group (preferred / not
preferred x correct / wrong) and for items named with ``--items``; everything is written under
``runs/<id>/explain/<layer>/`` (or ``--out``) and indexed in DuckDB, each row marked with its method.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from prefstudy.bounds import COUNT, COUNT_OR_NONE, OPEN_FRACTION
from prefstudy.datasets.catalog import load_images
from prefstudy.engine.device import resolve_device
from prefstudy.engine.inputs import InputAdapter
from prefstudy.errors import PrefstudyError
from prefstudy.explain.chance import DEFAULT_TOP, chance_levels
from prefstudy.explain.gradcam import GradCam, cam_layer
from prefstudy.explain.head_maps import head_run_maps
from prefstudy.explain.maps import GRAD_CAM, Maps
from prefstudy.explain.pictures import contact_sheet, draw_region, heat_image, original_image, overlay_image, save
from prefstudy.explain.records import ExplanationFile, ExplanationRow, Method, write_explanations
from prefstudy.explain.region_scores import Agreement, agreement, region_mask
from prefstudy.files import writable_dir
from prefstudy.progress import Reporter, SilentReporter
from prefstudy.runs.record import Prediction, get_run, predictions
from prefstudy.runs.trained import read_saved_model
from prefstudy.splits import TEST
from prefstudy.subjects.labels import label_regions
from prefstudy.subjects.regions import Region, region_share
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
    heat: np.ndarray  # (H, W) on the picture: a network's input size, a head run's extractor's
    region: tuple[float, float, float, float] | None
    agreement: Agreement | None
    picture: np.ndarray  # (H, W, C) uint8: the image the map is of
    crop: np.ndarray | None = None  # an occluded crop (a face chip) and its own map, when there is one
    crop_heat: np.ndarray | None = None


@dataclass(frozen=True)
class AnswerAgreement:
    """How the maps of one answer's correctly classified test items with a region agree with it (Table 5)."""

    n: int  # the items it is over; the rates below are None when there are none
    pointing_game: float | None
    energy: float | None
    iou: float | None
    chance: dict[str, float] | None  # each rate's chance level, by the rate's name
    empty_maps: int  # maps that are zero everywhere

    def to_dict(self) -> dict[str, Any]:
        """The answer's object under ``agreement`` in `prefstudy explain --json`."""
        return asdict(self)


@dataclass(frozen=True)
class ExplainResult:
    """What `explain_run` computed and wrote."""

    run_id: str
    layer: str
    items_explained: int
    top: float
    files: tuple[Path, ...]  # pictures and contact sheets, as indexed in DuckDB
    preferred: AnswerAgreement
    not_preferred: AnswerAgreement
    method: str = GRAD_CAM  # grad-cam or occlusion
    window: int | None = None  # occlusion's grey square and its step, in pixels of what it covered
    stride: int | None = None
    note: str = ""  # how the maps were made

    def to_dict(self) -> dict[str, Any]:
        """The `prefstudy explain --json` object (docs/json.md)."""
        return {
            "run_id": self.run_id,
            "method": self.method,
            "layer": self.layer,
            "window": self.window,
            "stride": self.stride,
            "note": self.note,
            "items_explained": self.items_explained,
            "top": self.top,
            "files": [str(f) for f in self.files],
            "agreement": {"preferred": self.preferred.to_dict(), "not_preferred": self.not_preferred.to_dict()},
        }


def _summary(explained: list[Explained], answer: bool, top: float) -> AnswerAgreement:
    scored = [e for e in explained if e.label == answer and e.predicted == answer and e.agreement is not None]
    if not scored:
        return AnswerAgreement(n=0, pointing_game=None, energy=None, iou=None, chance=None, empty_maps=0)
    share = statistics.fmean(region_share(e.region) for e in scored)
    return AnswerAgreement(
        n=len(scored),
        pointing_game=statistics.fmean(e.agreement.pointing for e in scored),
        energy=statistics.fmean(e.agreement.energy for e in scored),
        iou=statistics.fmean(e.agreement.iou for e in scored),
        chance=chance_levels(share, top),
        empty_maps=sum(e.agreement.empty for e in scored),
    )


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
    window: int | None = None,
    stride: int | None = None,
    batch_size: int = 128,
    device: str = "auto",
    report: Reporter | None = None,
) -> ExplainResult:
    """Explain a finished run's test items (and ``items``): draw and index their maps, score them per answer.

    ``window`` and ``stride`` (pixels) size occlusion, which explains a head run on an extractor that is not a
    torch backbone; by default a quarter of the side, moved by half of itself."""
    report = report or SilentReporter()
    OPEN_FRACTION.check("--top", top)
    COUNT_OR_NONE.check("--n", n)
    for option, value in (("--window", window), ("--stride", stride)):
        if value is not None:
            COUNT.check(option, value)
    if out is not None:
        writable_dir(Path(out))  # before the maps are computed, not after
    row = get_run(ws, run_id)
    images = load_images(ws, row.dataset)
    wanted = _item_indices(images.keys, items or [], row.dataset)
    chosen = _chosen(predictions(ws, run_id), wanted, images.keys)
    regions = label_regions(ws, row.subject, row.dataset)
    if row.settings.get("head") is not None:
        options = {"layer": layer, "window": window, "stride": stride, "batch_size": batch_size, "device": device}
        maps = head_run_maps(ws, row, chosen, **options, report=report)
    elif window is not None or stride is not None:
        raise PrefstudyError(f"run {run_id} is explained with Grad-CAM; --window and --stride are occlusion's")
    else:
        maps = _network_maps(ws, run_id, images.images, chosen, layer, batch_size, device, report)
    explained = _scored(chosen, maps, regions, top)

    target = Path(out) if out else ws.run_dir(run_id) / "explain" / _safe(maps.layer)
    files = _draw(explained, images.keys, wanted, n, target, report)
    method = Method(maps.method, maps.window, maps.stride)
    write_explanations(ws, run_id, maps.layer, top, [_row(e) for e in explained], files, method)
    test = [e for e in explained if e.split == TEST]
    return ExplainResult(
        run_id=run_id,
        layer=maps.layer,
        items_explained=len(explained),
        top=top,
        files=tuple(f.path for f in files),
        preferred=_summary(test, True, top),
        not_preferred=_summary(test, False, top),
        method=maps.method,
        window=maps.window,
        stride=maps.stride,
        note=maps.note,
    )


def _network_maps(
    ws: Workspace,
    run_id: str,
    images: np.ndarray,
    chosen: list[Prediction],
    layer: str | None,
    batch_size: int,
    device: str,
    report: Reporter,
) -> Maps:
    """Grad-CAM of a network run, at its cam layer or ``layer``, on the dataset's cached images."""
    saved = read_saved_model(ws, run_id)
    backbone, plan = saved.build()
    layer_name, layer_module = cam_layer(backbone.module, layer, backbone.cam_layer)
    where = resolve_device(device)
    adapter = InputAdapter(plan, backbone).to(where)
    backbone.module.to(where)
    cam = GradCam(backbone.module, layer_module)
    report.start(len(chosen), f"Grad-CAM at {layer_name}")
    heat = _maps(cam, adapter, images, chosen, batch_size, report)
    pictures = images[np.array([p.item_idx for p in chosen], dtype=np.int64)]
    return Maps(GRAD_CAM, layer_name, heat.numpy(), pictures, f"Grad-CAM at {layer_name}")


def _item_indices(keys: np.ndarray, items: list[str], dataset: str) -> set[int]:
    """The dataset's indices of the named items."""
    key_to_idx = {k: i for i, k in enumerate(keys)}
    for key in items:
        if key not in key_to_idx:
            raise PrefstudyError(f"no item {key!r} in dataset {dataset!r}")
    return {key_to_idx[key] for key in items}


def _chosen(predicted_items: list[Prediction], wanted: set[int], keys: np.ndarray) -> list[Prediction]:
    """The run's answered test items and the wanted ones, each of which the run must have labelled."""
    missing = wanted - {p.item_idx for p in predicted_items}
    if missing:
        raise PrefstudyError(f"item(s) {sorted(keys[i] for i in missing)[:3]} were not labelled in this run")
    # A rated subject's ties have no answer to explain or to agree with: they are left out.
    return [p for p in predicted_items if p.label is not None and (p.split == TEST or p.item_idx in wanted)]


def _maps(
    cam: GradCam,
    adapter: InputAdapter,
    images: np.ndarray,
    chosen: list[Prediction],
    batch_size: int,
    report: Reporter,
) -> torch.Tensor:
    """The map of each chosen item, of the class it was predicted."""
    idx = torch.tensor([p.item_idx for p in chosen], dtype=torch.long)
    predicted = torch.tensor([p.p_preferred > 0.5 for p in chosen])
    pixels = torch.from_numpy(images).permute(0, 3, 1, 2)
    heat = cam.attribute_batched(pixels[idx], predicted.long(), batch_size, transform=adapter, advance=report.advance)
    return heat


def _scored(chosen: list[Prediction], maps: Maps, regions: dict[int, Region], top: float) -> list[Explained]:
    """Each map, with its agreement with the item's region where the label carries one."""
    height, width = maps.heat.shape[1:]
    explained = []
    for i, p in enumerate(chosen):
        region = regions.get(p.item_idx)
        heat = maps.heat[i]
        score = agreement(torch.from_numpy(heat), region_mask(region, height, width), top) if region else None
        crop = None if maps.crops is None else maps.crops[i]
        crop_heat = None if maps.crop_heat is None else maps.crop_heat[i]
        predicted = bool(p.p_preferred > 0.5)
        explained.append(
            Explained(p.item_idx, p.split, p.label, predicted, heat, region, score, maps.pictures[i], crop, crop_heat)
        )
    return explained


def _draw(
    explained: list[Explained], keys: np.ndarray, wanted: set[int], n: int, out: Path, report: Reporter
) -> list[ExplanationFile]:
    """Item pictures for N per group (seeded) and the wanted items; a contact sheet per group."""
    rng = np.random.default_rng(0)
    files: list[ExplanationFile] = []
    to_draw: dict[int, Explained] = {e.item_idx: e for e in explained if e.item_idx in wanted}
    sheets = []
    for name, answer, correct in GROUPS:
        group = [e for e in explained if e.split == TEST and e.label == answer and (e.predicted == answer) == correct]
        sample = [group[i] for i in sorted(rng.permutation(len(group))[:n])]
        to_draw.update({e.item_idx: e for e in sample})
        sheets.append((f"{name}-{'correct' if correct else 'wrong'}", sample))
    report.start(len(to_draw), "drawing heat maps")
    overlays = {}
    for e in to_draw.values():
        stem = f"{e.item_idx:06d}-{_safe(str(keys[e.item_idx]))}"
        original = original_image(e.picture)
        heat = heat_image(e.heat, original.size)
        overlays[e.item_idx] = draw_region(overlay_image(original, heat), e.region)
        pictures = [("original", original), ("heatmap", heat), ("overlay", overlays[e.item_idx])]
        if e.crop is not None:  # the occluded crop with its own map, before it was carried to the image
            crop = original_image(e.crop)
            pictures.append(("crop", overlay_image(crop, heat_image(e.crop_heat, crop.size))))
        for kind, picture in pictures:
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
