"""`prefstudy recommend`: rank unseen images for a subject by a finished model, each with its Grad-CAM.

The pool, any folder searched recursively, is decoded exactly as `data add` decoded the run's
dataset (same size, channels and square fit), so the model then meets it through the run's own
recorded input plan, as a transfer run meets its target images. Images the subject has already
answered, on any dataset, are recognised by sha256 and left out: the hash of the file's bytes
(how image trees hash their items) or of its decoded pixels (how Fashion-MNIST does).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from prefstudy.backbones import Backbone
from prefstudy.datasets.catalog import get_dataset, item_hashes
from prefstudy.datasets.kinds import read_dataset
from prefstudy.datasets.readers.decoded import SourceOptions
from prefstudy.engine.device import resolve_device
from prefstudy.engine.folding import fold_batchnorm
from prefstudy.engine.inputs import InputAdapter, InputPlan, Shape
from prefstudy.engine.precision import FP32, Precision, resolve_precision
from prefstudy.engine.predict import predict_proba
from prefstudy.engine.train import image_tensor
from prefstudy.errors import PrefstudyError
from prefstudy.explain.gradcam import PREFERRED, GradCam
from prefstudy.explain.pictures import heat_image, original_image, overlay_image, save
from prefstudy.files import writable_dir
from prefstudy.progress import Reporter, SilentReporter
from prefstudy.runs.record import RunRow, finished_runs, get_run
from prefstudy.runs.trained import read_saved_model
from prefstudy.subjects.labels import labelled_pairs, usable_labels
from prefstudy.subjects.roster import require_subject
from prefstudy.workspace import Workspace


@dataclass(frozen=True)
class Pool:
    """The readable images of a folder, decoded like the run's dataset."""

    root: Path
    keys: list[str]  # paths relative to the root, sorted
    images: np.ndarray  # (N, H, W, C) uint8
    sha256: list[str]  # of each file's bytes
    unreadable: list[tuple[str, str]]  # (key, why)

    def path(self, i: int) -> Path:
        return self.root / self.keys[i]

    def pixel_sha256(self, i: int) -> str:
        return hashlib.sha256(self.images[i].tobytes()).hexdigest()


@dataclass(frozen=True)
class RankedImage:
    """One recommended image."""

    rank: int  # 1 for the image the model prefers most
    path: Path
    sha256: str  # of the file's bytes
    p_preferred: float
    overlay: Path | None = None  # its Grad-CAM overlay, when asked for

    def to_dict(self) -> dict[str, Any]:
        """The entry of ``ranking`` in `prefstudy recommend --json`."""
        entry = {"rank": self.rank, "path": str(self.path), "sha256": self.sha256, "p_preferred": self.p_preferred}
        return entry if self.overlay is None else {**entry, "overlay": str(self.overlay)}


@dataclass(frozen=True)
class Unreadable:
    """A file of the pool that could not be decoded."""

    path: Path
    error: str

    def to_dict(self) -> dict[str, Any]:
        """The entry of ``unreadable`` in `prefstudy recommend --json`."""
        return {"path": str(self.path), "error": self.error}


@dataclass(frozen=True)
class Recommendation:
    """A folder of images ranked for a subject by one of its runs."""

    subject: str
    run_id: str
    dataset: str  # the run's
    images_dir: Path
    plan: InputPlan  # how the run's model meets the images
    images: int  # readable images found
    left_out_labelled: int  # of those, the ones the subject has answered
    unreadable: tuple[Unreadable, ...]
    ranked: int  # the images scored
    top: int  # the most asked for
    ranking: tuple[RankedImage, ...]  # best first

    def to_dict(self) -> dict[str, Any]:
        """The `prefstudy recommend --json` object (docs/json.md)."""
        return {
            "subject": self.subject,
            "run_id": self.run_id,
            "dataset": self.dataset,
            "images_dir": str(self.images_dir),
            "input": self.plan.describe(),
            "images": self.images,
            "left_out_labelled": self.left_out_labelled,
            "unreadable": [u.to_dict() for u in self.unreadable],
            "ranked": self.ranked,
            "top": self.top,
            "ranking": [r.to_dict() for r in self.ranking],
        }


def choose_run(ws: Workspace, subject: str, run_id: str | None, dataset: str | None) -> RunRow:
    """``run_id`` (which must be the subject's), or the subject's latest finished run on ``dataset``."""
    require_subject(ws, subject)
    if (run_id is None) == (dataset is None):
        raise PrefstudyError("give either --run RUN_ID or --dataset D (the subject's latest finished run on D)")
    if run_id is not None:
        row = get_run(ws, run_id)
        if row.subject != subject:
            raise PrefstudyError(f"run {run_id} is {row.subject}'s model, not {subject}'s; give a run of {subject}'s")
        return row
    get_dataset(ws, dataset)  # an unknown dataset is its own clear error
    runs = finished_runs(ws, subject=subject, dataset=dataset)
    if not runs:
        raise PrefstudyError(
            f"subject {subject!r} has no finished run on {dataset!r}; "
            f"make one with `prefstudy run --subject {subject} --dataset {dataset}`"
        )
    return runs[-1]


def read_pool(root: Path, shape: Shape, report: Reporter) -> Pool:
    """Every image under ``root``, decoded to ``shape`` (C, H, W) as a folder dataset is; unreadable files listed."""
    channels, height, width = shape
    if height != width:
        raise PrefstudyError(f"the run's images are {height}x{width}; recommend decodes square images only")
    # A folder dataset's own reader, at the run's size and channels: a file of the dataset gives its cached pixels.
    decoded = read_dataset("folder", SourceOptions(path=Path(root), size=height, channels=channels), report)
    return Pool(Path(root), decoded.keys, decoded.images, decoded.sha256, decoded.skipped)


def labelled_hashes(ws: Workspace, subject: str) -> set[str]:
    """The sha256 of every item the subject has answered, on any dataset."""
    hashes: set[str] = set()
    for who, dataset in labelled_pairs(ws):
        if who == subject:
            hashes.update(item_hashes(ws, dataset)[usable_labels(ws, subject, dataset).item_idx])
    return hashes


def recommend(
    ws: Workspace,
    subject: str,
    images: Path,
    *,
    run_id: str | None = None,
    dataset: str | None = None,
    top: int = 10,
    explain_out: Path | None = None,
    include_labelled: bool = False,
    batch_size: int = 256,
    device: str = "auto",
    report: Reporter | None = None,
) -> Recommendation:
    """Rank the images under ``images`` for ``subject``, the ``top`` first; their overlays under ``explain_out``."""
    report = report or SilentReporter()
    if top < 1:
        raise PrefstudyError(f"--top must be at least 1, got {top}")
    row = choose_run(ws, subject, run_id, dataset)
    backbone, plan = read_saved_model(ws, row.id).build()
    with _output_folder(explain_out):
        pool = read_pool(Path(images), plan.images, report)
        fresh = _unlabelled(ws, subject, pool, include_labelled)
        where = resolve_device(device)
        backbone.module.to(where)
        adapter = InputAdapter(plan, backbone).to(where)
        # The run's own numeric path, so an image of its dataset scores as the run scored it.
        precision = resolve_precision(row.config.get("precision", FP32), where)
        pixels = image_tensor(pool.images[fresh])
        report.start(len(fresh), f"ranking with {row.id}")
        p = _scores(backbone, adapter, pixels, precision, batch_size, report)
        order = sorted(range(len(fresh)), key=lambda j: (-p[j], pool.keys[fresh[j]]))[:top]  # ties: by path
        best = [fresh[j] for j in order]  # their indices in the pool
        overlays: list[Path | None] = [None] * len(order)
        if explain_out is not None:
            heat = _heat_maps(backbone, adapter, pixels[order], batch_size, report)
            overlays = _overlays(pool, best, heat, Path(explain_out))
    ranking = [
        RankedImage(rank, pool.path(i), pool.sha256[i], float(p[j]), overlay)
        for rank, (i, j, overlay) in enumerate(zip(best, order, overlays, strict=True), start=1)
    ]
    return Recommendation(
        subject=subject,
        run_id=row.id,
        dataset=row.dataset,
        images_dir=pool.root,
        plan=plan,
        images=len(pool.keys),
        left_out_labelled=len(pool.keys) - len(fresh),
        unreadable=tuple(Unreadable(pool.root / key, why) for key, why in pool.unreadable),
        ranked=len(fresh),
        top=top,
        ranking=tuple(ranking),
    )


def _unlabelled(ws: Workspace, subject: str, pool: Pool, include_labelled: bool) -> list[int]:
    """The pool's images the subject has not answered (all with ``include_labelled``); there must be one."""
    seen = set() if include_labelled else labelled_hashes(ws, subject)
    fresh = [i for i, sha in enumerate(pool.sha256) if sha not in seen and pool.pixel_sha256(i) not in seen]
    if not fresh:
        raise PrefstudyError(
            f"all {len(pool.keys)} images in {pool.root} are ones {subject} has labelled; "
            "add --include-labelled to rank them anyway"
        )
    return fresh


@contextmanager
def _output_folder(out: Path | None) -> Iterator[None]:
    """``out`` checked (and made) before the work; removed again if it was made here and the work fails."""
    made = out is not None and not Path(out).exists()
    if out is not None:
        writable_dir(Path(out))
    try:
        yield
    except BaseException:
        if made:
            with suppress(OSError):  # rmdir removes only an empty folder: nothing written is lost
                Path(out).rmdir()
        raise


def _scores(
    backbone: Backbone,
    adapter: InputAdapter,
    pixels: torch.Tensor,
    precision: Precision,
    batch_size: int,
    report: Reporter,
) -> np.ndarray:
    """P(preferred) of every image, ``batch_size`` at a time, in eval mode."""
    model = fold_batchnorm(backbone.module).to(memory_format=precision.memory_format)  # once, not per batch
    parts = []
    for batch in torch.split(torch.arange(len(pixels)), batch_size):
        parts.append(predict_proba(model, adapter, pixels, batch, batch_size, precision, folded=True))
        report.advance(len(batch))
    return torch.cat(parts).numpy()


def _heat_maps(
    backbone: Backbone, adapter: InputAdapter, pixels: torch.Tensor, batch_size: int, report: Reporter
) -> np.ndarray:
    """Grad-CAM of the "preferred" class: what drew the model to each recommended image."""
    report.start(len(pixels), "Grad-CAM of the top images")
    cam = GradCam(backbone.module, backbone.cam_layer)
    target = torch.full((len(pixels),), PREFERRED, dtype=torch.long)
    return cam.attribute_batched(pixels, target, batch_size, transform=adapter, advance=report.advance).numpy()


def _overlays(pool: Pool, best: list[int], heat: np.ndarray, out: Path) -> list[Path]:
    """Each image's heat map over it, as ``out/<rank>-<path>.png``."""
    paths = []
    for rank, (i, item_heat) in enumerate(zip(best, heat, strict=True), start=1):
        original = original_image(pool.images[i])
        overlay = overlay_image(original, heat_image(item_heat, original.size))
        stem = _safe(Path(pool.keys[i]).with_suffix("").as_posix())
        paths.append(save(overlay, out / f"{rank:03d}-{stem}.png"))
    return paths


def _safe(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", key)[-60:]
