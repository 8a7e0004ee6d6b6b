"""An extractor by name: a plugin's (``face``, ``imagenet-lite0``), or a finished run's feature layers.

``run:RUN_ID`` makes any trained model an extractor: its ``features``, pooled, on images at the size
the run trained on (a subject's Fashion-MNIST model is one, and so is the population's).
"""

from __future__ import annotations

from prefstudy.errors import PrefstudyError
from prefstudy.extractors.contract import Extractor, ExtractorInfo, weights_digest
from prefstudy.extractors.pooled import PooledFeatures, pooled_width
from prefstudy.extractors.registry import create_extractor
from prefstudy.runs.record import run_dir
from prefstudy.runs.trained import read_saved_model
from prefstudy.workspace import Workspace

RUN_PREFIX = "run:"


def extractor_named(ws: Workspace, name: str) -> Extractor:
    """The extractor ``name`` means in this study."""
    if not name.startswith(RUN_PREFIX):
        return create_extractor(name)
    run_id = name.removeprefix(RUN_PREFIX)
    backbone, plan = read_saved_model(ws, run_id).build()
    images = plan.images
    if images[1] != images[2]:
        raise PrefstudyError(f"run {run_id} trained on {images[1]}x{images[2]} images; an extractor takes squares")
    info = ExtractorInfo(
        name=name,
        dim=pooled_width(backbone, images),
        image_size=images[1],
        channels=images[0],
        weights=weights_digest(run_dir(ws, run_id).model),
        licence=f"trained in this study (run {run_id})",
        differentiable=True,
    )
    return PooledFeatures(backbone, images, info)
