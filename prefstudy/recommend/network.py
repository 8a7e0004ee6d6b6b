"""Ranking with a network run: its model scores the pool, and Grad-CAM shows what drew it to the top images.

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

import numpy as np
import torch

from prefstudy.backbones import Backbone
from prefstudy.datasets.kinds import read_dataset
from prefstudy.datasets.readers.decoded import SourceOptions
from prefstudy.engine.device import resolve_device
from prefstudy.engine.folding import fold_batchnorm
from prefstudy.engine.inputs import InputAdapter, Shape
from prefstudy.engine.precision import FP32, Precision, resolve_precision
from prefstudy.engine.predict import predict_proba
from prefstudy.engine.train import image_tensor
from prefstudy.errors import PrefstudyError
from prefstudy.explain.gradcam import PREFERRED, GradCam
from prefstudy.explain.pictures import heat_image, original_image, overlay_image, save
from prefstudy.files import writable_dir
from prefstudy.progress import Reporter
from prefstudy.recommend.ranking import GRAD_CAM, Asked, RankedImage, Recommendation, Unreadable, best_first, unlabelled
from prefstudy.runs.trained import read_saved_model
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


def read_pool(root: Path, shape: Shape, report: Reporter) -> Pool:
    """Every image under ``root``, decoded to ``shape`` (C, H, W) as a folder dataset is; unreadable files listed."""
    channels, height, width = shape
    if height != width:
        raise PrefstudyError(f"the run's images are {height}x{width}; recommend decodes square images only")
    # A folder dataset's own reader, at the run's size and channels: a file of the dataset gives its cached pixels.
    decoded = read_dataset("folder", SourceOptions(path=Path(root), size=height, channels=channels), report)
    return Pool(Path(root), decoded.keys, decoded.images, decoded.sha256, decoded.skipped)


def rank_with_network(
    ws: Workspace,
    asked: Asked,
    images: Path,
    *,
    top: int,
    explain_out: Path | None,
    batch_size: int,
    device: str,
    report: Reporter,
) -> Recommendation:
    """Rank the images under ``images`` for ``row``'s subject by its model, the ``top`` first; their overlays
    under ``explain_out``."""
    row = asked.run
    backbone, plan = read_saved_model(ws, row.id).build()
    with _output_folder(explain_out):
        pool = read_pool(Path(images), plan.images, report)
        hashes = [(sha, pool.pixel_sha256(i)) for i, sha in enumerate(pool.sha256)]
        fresh = unlabelled(row.subject, pool.root, hashes, asked.seen)
        where = resolve_device(device)
        backbone.module.to(where)
        adapter = InputAdapter(plan, backbone).to(where)
        # The run's own numeric path, so an image of its dataset scores as the run scored it.
        precision = resolve_precision(row.config.get("precision", FP32), where)
        pixels = image_tensor(pool.images[fresh])
        report.start(len(fresh), f"ranking with {row.id}")
        p = _scores(backbone, adapter, pixels, precision, batch_size, report)
        order = best_first(p, [pool.keys[i] for i in fresh], top)
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
        subject=row.subject,
        run_id=row.id,
        dataset=row.dataset,
        images_dir=pool.root,
        input=plan.describe(),
        images=len(pool.keys),
        left_out_labelled=len(pool.keys) - len(fresh),
        unreadable=tuple(Unreadable(pool.root / key, why) for key, why in pool.unreadable),
        ranked=len(fresh),
        top=top,
        ranking=tuple(ranking),
        model=row.model,
        explanation=GRAD_CAM if explain_out is not None else None,
    )


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
